//! The token endpoint: the client_credentials grant (RFC 6749 §4.4, §5), the password
//! grant for clients that list it, JWT access tokens (RFC 9068) and the first-party
//! shortcut `/oauth2/code`.

use diesel::prelude::*;
use openidconnect::core::{CoreErrorResponseType, CoreTokenType};
use openidconnect::{AuthType, OAuth2TokenResponse, RequestTokenError, Scope};
use serde_json::json;

use crate::helpers::browser::{Landing, SIGNS_IN_AND_ALLOWS};
use crate::helpers::relying_party::{
    base64_url, fixture, relying_party, start, CALLBACK, RP_SECRET,
};
use crate::helpers::{assert_error, json, Backend, TestApp};

async fn a_client_library_gets_a_token_with_client_secret_basic(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read clients:write");
    let client = app.oauth_client(&id, &secret, AuthType::BasicAuth);
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("clients:read".into()))
        .request_async(&app.http)
        .await
        .expect("token issued");
    assert_eq!(*token.token_type(), CoreTokenType::Bearer);
    assert_eq!(token.expires_in().map(|d| d.as_secs()), Some(3600));
    let scopes: Vec<String> = token
        .scopes()
        .expect("scope returned")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["clients:read"]);
    assert!(token.access_token().secret().starts_with("pc_at_"));

    // The token works at the admin API for the scope it holds, and only that.
    let list = app
        .get_as("/admin/clients", token.access_token().secret())
        .await;
    assert_eq!(list.status(), 200);
    let create = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(token.access_token().secret())
        .json(&serde_json::json!({ "client_name": "x" }))
        .send()
        .await
        .unwrap();
    assert_error(create, 403, "insufficient_scope").await;
}

async fn a_client_library_gets_a_token_with_client_secret_post(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let client = app.oauth_client(&id, &secret, AuthType::RequestBody);
    let token = client
        .exchange_client_credentials()
        .request_async(&app.http)
        .await
        .expect("token issued");
    let scopes: Vec<String> = token
        .scopes()
        .expect("scope returned")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        scopes,
        ["clients:read"],
        "without a scope parameter the registered scope is granted"
    );
}

async fn a_wrong_secret_is_invalid_client_and_counted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = app.machine_client("clients:read");
    let client = app.oauth_client(&id, "not-the-secret", AuthType::BasicAuth);
    let err = client
        .exchange_client_credentials()
        .request_async(&app.http)
        .await
        .unwrap_err();
    match err {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(*e.error(), CoreErrorResponseType::InvalidClient)
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }

    let raw = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.headers()["www-authenticate"],
        r#"Basic realm="portcullis""#
    );
    assert_eq!(raw.headers()["cache-control"], "no-store");
    assert_error(raw, 401, "invalid_client").await;

    // An unknown client is indistinguishable from a wrong secret.
    let unknown = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("nobody", Some("whatever"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = assert_error(unknown, 401, "invalid_client").await;
    assert_eq!(body["error_description"], "client authentication failed");

    // No credentials at all are a failed authentication too, for every grant.
    for grant in ["client_credentials", "authorization_code", "refresh_token"] {
        let none = app
            .http
            .post(app.url("/oauth2/token"))
            .form(&[("grant_type", grant)])
            .send()
            .await
            .unwrap();
        assert_error(none, 401, "invalid_client").await;
    }

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_client_authentication_failures_total 6"),
        "{metrics}"
    );
}

async fn protocol_errors_carry_their_rfc_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let (rp, rp_secret) =
        app.register(serde_json::json!({ "client_name": "rp", "scope": "openid clients:read" }));
    let rp_secret = rp_secret.unwrap();
    let post = |form: Vec<(&'static str, String)>, who: (&str, &str)| {
        app.http
            .post(app.url("/oauth2/token"))
            .basic_auth(who.0, Some(who.1))
            .form(&form)
            .send()
    };
    let cc = || ("grant_type", "client_credentials".to_owned());

    let r = post(
        vec![cc(), ("scope", "clients:read clients:write".into())],
        (&id, &secret),
    )
    .await
    .unwrap();
    let body = assert_error(r, 400, "invalid_scope").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("clients:write"));

    let r = post(vec![cc()], (&rp, &rp_secret)).await.unwrap();
    assert_error(r, 400, "unauthorized_client").await;

    let r = post(vec![("scope", "clients:read".into())], (&id, &secret))
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;

    let r = post(
        vec![("grant_type", "urn:example:magic".into())],
        (&id, &secret),
    )
    .await
    .unwrap();
    assert_error(r, 400, "unsupported_grant_type").await;

    // A repeated parameter is refused (RFC 6749 §3.2).
    let r = post(vec![cc(), cc()], (&id, &secret)).await.unwrap();
    assert_error(r, 400, "invalid_request").await;

    // Two authentication methods at once are refused (RFC 6749 §2.3).
    let r = post(
        vec![cc(), ("client_secret", secret.clone())],
        (&id, &secret),
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_request").await;

    // No authentication at all.
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;

    // JSON instead of a form.
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;

    // An oversized body.
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope={}",
            "a".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "payload_too_large").await;
}

async fn a_public_client_cannot_use_client_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) =
        app.register(serde_json::json!({ "client_name": "spa", "client_type": "public" }));
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "unauthorized_client").await;
}

async fn token_responses_are_not_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    let body = json(r).await;
    assert_eq!(body["token_type"], "Bearer");
}

async fn tokens_and_secrets_are_stored_only_as_hashes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let token = app.client_credentials_token(&id, &secret, &[]).await;

    use portcullis::storage::schema::{clients, tokens};
    let mut conn = app.db.conn().unwrap();
    let hashes: Vec<Vec<u8>> = tokens::table.select(tokens::hash).load(&mut *conn).unwrap();
    assert_eq!(
        hashes,
        vec![portcullis::protocol::secret::token_hash(&token)]
    );
    assert!(!hashes[0]
        .windows(8)
        .any(|w| token.as_bytes().windows(8).any(|t| t == w)));

    let stored: Option<String> = clients::table
        .find(&id)
        .select(clients::secret_hash)
        .first(&mut *conn)
        .unwrap();
    let stored = stored.unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(&secret));
}

async fn the_first_party_shortcut_needs_a_session_and_a_grant(backend: Backend) {
    let f = fixture(backend).await;
    let url = |kind: &str| {
        f.app.url(&format!(
            "/oauth2/code?client_id=rp&scope=openid%20profile&type={kind}"
        ))
    };
    let r = f.browser.http.get(url("code")).send().await.unwrap();
    assert_error(r, 401, "login_required").await;
    f.browser.sign_in("ann", "ann's password").await;
    let r = f.browser.http.get(url("code")).send().await.unwrap();
    assert_error(r, 403, "consent_required").await;

    // After a remembered consent, the shortcut answers.
    let started = start(&f.rp, &["profile"], &[]);
    f.browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let body = json(f.browser.http.get(url("code")).send().await.unwrap()).await;
    assert_eq!(body["type"], "code");
    let code = body["code"].as_str().unwrap();
    let exchanged = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 200);
    let body = json(f.browser.http.get(url("token")).send().await.unwrap()).await;
    assert_eq!(body["type"], "token");
    let userinfo = json(
        f.app
            .get_as("/userinfo", body["token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(userinfo["preferred_username"], "ann");
    let r = f
        .browser
        .http
        .get(f.app.url("/oauth2/code?client_id=rp&scope=users:write"))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_scope").await;
}

/// A first-party client that registered no redirect URI still gets a code from the
/// shortcut (SPEC: whenever the scopes are granted). The code is bound to no redirect
/// URI: its exchange names none, and one that names any is refused without spending it.
async fn the_shortcut_code_of_a_client_without_a_redirect_uri_is_bound_to_none(backend: Backend) {
    let f = fixture(backend).await;
    let secret = "portal secret of at least 32 chars";
    f.app.register(json!({ "client_id": "portal", "client_secret": secret, "skip_consent": true, "scope": "openid profile" }));
    f.browser.sign_in("ann", "ann's password").await;
    let got = f
        .browser
        .http
        .get(f.app.url("/oauth2/code?client_id=portal&scope=openid"))
        .send()
        .await
        .unwrap();
    let body = json(got).await;
    assert_eq!(body["type"], "code", "{body}");
    let code = body["code"].as_str().unwrap();
    let exchange = |extra: Option<(&'static str, &'static str)>| {
        let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
        form.extend(extra);
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("portal", Some(secret))
            .form(&form)
            .send()
    };
    let named = exchange(Some(("redirect_uri", CALLBACK))).await.unwrap();
    assert_error(named, 400, "invalid_grant").await;
    let exchanged = exchange(None).await.unwrap();
    assert_eq!(exchanged.status(), 200);
}

async fn jwt_access_tokens_are_signed_rfc_9068_tokens(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({ "client_id": "api-rp", "client_secret": "api rp secret of at least 32 chars", "redirect_uris": [CALLBACK], "scope": "openid profile", "access_token_format": "jwt" }));
    let rp = relying_party(&f.app, "api-rp", Some("api rp secret of at least 32 chars")).await;
    let started = start(&rp, &["profile"], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let code = Landing::param(&landing, "code").unwrap();
    let token = json(
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("api-rp", Some("api rp secret of at least 32 chars"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", started.verifier.secret().as_str()),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let at = token["access_token"].as_str().unwrap();
    let parts: Vec<&str> = at.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let header: serde_json::Value = serde_json::from_slice(&base64_url(parts[0])).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&base64_url(parts[1])).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let jwks = json(
        f.app
            .http
            .get(f.app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"]));
    assert_eq!(claims["iss"], f.app.base.as_str());
    assert_eq!(claims["client_id"], "api-rp");
    assert_eq!(claims["scope"], "openid profile");
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    // Verify the signature with the published key.
    use openidconnect::JsonWebKey;
    let key: openidconnect::core::CoreJsonWebKey = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap()
            .clone(),
    )
    .unwrap();
    key.verify_signature(
        &openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &base64_url(parts[2]),
    )
    .expect("the access token's signature verifies");
    // It is still revocable and introspectable like any token.
    let body = json(
        f.app
            .introspect_as("api-rp", "api rp secret of at least 32 chars", at)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true);
    let userinfo = f
        .app
        .http
        .get(f.app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
}

async fn the_password_grant_is_only_for_clients_that_list_it(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({ "client_id": "legacy", "client_secret": "legacy secret of at least 32 chars", "grant_types": ["password", "refresh_token"], "scope": "openid profile offline_access" }));
    let post = |client: (&'static str, &'static str), password: &'static str| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth(client.0, Some(client.1))
            .form(&[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", password),
                ("scope", "openid offline_access"),
            ])
            .send()
    };
    let body = json(
        post(
            ("legacy", "legacy secret of at least 32 chars"),
            "ann's password",
        )
        .await
        .unwrap(),
    )
    .await;
    assert!(
        body["access_token"].is_string()
            && body["refresh_token"].is_string()
            && body["id_token"].is_string(),
        "{body}"
    );
    assert_error(
        post(("rp", RP_SECRET), "ann's password").await.unwrap(),
        400,
        "unauthorized_client",
    )
    .await;
    assert_error(
        post(
            ("legacy", "legacy secret of at least 32 chars"),
            "wrong password",
        )
        .await
        .unwrap(),
        400,
        "invalid_grant",
    )
    .await;
    for _ in 0..4 {
        post(
            ("legacy", "legacy secret of at least 32 chars"),
            "wrong password",
        )
        .await
        .unwrap();
    }
    let r = post(
        ("legacy", "legacy secret of at least 32 chars"),
        "ann's password",
    )
    .await
    .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "too_many_requests").await;
}

on_both_backends!(
    a_client_library_gets_a_token_with_client_secret_basic,
    a_client_library_gets_a_token_with_client_secret_post,
    a_wrong_secret_is_invalid_client_and_counted,
    protocol_errors_carry_their_rfc_codes,
    a_public_client_cannot_use_client_credentials,
    token_responses_are_not_cached,
    tokens_and_secrets_are_stored_only_as_hashes,
    concurrent_writers_all_succeed,
    the_first_party_shortcut_needs_a_session_and_a_grant,
    the_shortcut_code_of_a_client_without_a_redirect_uri_is_bound_to_none,
    jwt_access_tokens_are_signed_rfc_9068_tokens,
    the_password_grant_is_only_for_clients_that_list_it,
);

/// Many requests writing at once: on SQLite they queue on the write lock instead of
/// failing with "database is locked".
async fn concurrent_writers_all_succeed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let issue = (0..64).map(|_| {
        app.http
            .post(app.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    });
    let mut tokens = Vec::new();
    for response in futures_util::future::join_all(issue).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        tokens.push(
            json(response).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let revoke = tokens.iter().map(|t| {
        app.http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", t)])
            .send()
    });
    for response in futures_util::future::join_all(revoke).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    use diesel::dsl::count_star;
    use portcullis::storage::schema::tokens;
    let revoked: i64 = tokens::table
        .filter(tokens::revoked_at.is_not_null())
        .select(count_star())
        .first(&mut *app.db.conn().unwrap())
        .unwrap();
    assert_eq!(revoked, 64);
}
