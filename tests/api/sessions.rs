//! Sign-in pages, sessions, logout, the first-party shortcut, JWT access tokens and the
//! password grant.

use serde_json::json;

use crate::browser::{field, Browser, Landing, Person, SIGNS_IN_AND_ALLOWS};
use crate::helpers::{assert_error, json, Backend};
use crate::oidc::{
    base64_url, fixture, relying_party, sign_in_and_exchange, start, urlencode, CALLBACK, RP_SECRET,
};

async fn the_sign_in_page_is_safe_and_says_little_on_failure(backend: Backend) {
    let f = fixture(backend).await;
    let page = f
        .browser
        .http
        .get(f.app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["cache-control"], "no-store");
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let html = page.text().await.unwrap();
    for label in [
        "<label for=\"username\">Username</label>",
        "<label for=\"password\">Password</label>",
        ">Sign in</button>",
    ] {
        assert!(html.contains(label), "{label}");
    }
    let csrf = field(&html, "csrf_token").unwrap();

    let post = |form: Vec<(&'static str, String)>| {
        f.browser.http.post(f.app.url("/login")).form(&form).send()
    };
    let wrong_password = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "ann".into()),
        ("password", "nope nope".into()),
    ])
    .await
    .unwrap();
    assert_eq!(wrong_password.status(), 401);
    let wrong_password = wrong_password.text().await.unwrap();
    let unknown_user = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "nobody".into()),
        ("password", "nope nope".into()),
    ])
    .await
    .unwrap();
    let unknown_user = unknown_user.text().await.unwrap();
    let message = "The username or password is incorrect.";
    assert!(wrong_password.contains(message) && unknown_user.contains(message));

    // Without the form's CSRF token, or with another session's, nothing happens.
    let r = post(vec![
        ("username", "ann".into()),
        ("password", "ann's password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let other = Browser::new(&f.app);
    let r = other
        .http
        .post(f.app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "ann"),
            ("password", "ann's password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The session cookie changes at sign-in.
    let signed_in = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "ann".into()),
        ("password", "ann's password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(signed_in.status(), 303);
    let new_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_cookie.split(';').next(), cookie.split(';').next());
}

async fn repeated_failures_are_throttled_for_that_account_only(backend: Backend) {
    let f = fixture(backend).await;
    f.app
        .cli(&["users", "create", "bob", "--password", "bob's password"]);
    let page = f
        .browser
        .http
        .get(f.app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf_token").unwrap();
    let attempt = |user: &'static str, password: &'static str| {
        f.browser
            .http
            .post(f.app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("ann", "guess guess").await.unwrap().status(), 401);
    }
    let blocked = attempt("ann", "ann's password").await.unwrap();
    assert_eq!(blocked.status(), 429);
    assert!(
        blocked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(
        attempt("bob", "bob's password").await.unwrap().status(),
        303,
        "other accounts are unaffected"
    );
}

async fn rp_initiated_logout_returns_to_a_registered_uri_only(backend: Backend) {
    let f = fixture(backend).await;
    let (token, _) = sign_in_and_exchange(&f, &[]).await;
    let hint = token.id_token().unwrap().to_string();
    use openidconnect::TokenResponse;

    let bad = format!(
        "{}/oauth2/sessions/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
        f.app.base,
        urlencode("http://evil.example/")
    );
    let r = f.browser.http.get(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());

    let url = format!(
        "{}/oauth2/sessions/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        f.app.base,
        urlencode("http://127.0.0.1:1/signed-out")
    );
    let page = f
        .browser
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">Sign out</button>") && page.contains("Reading Room"),
        "{page}"
    );
    let form = [
        ("csrf_token", field(&page, "csrf_token").unwrap()),
        (
            "post_logout_redirect_uri",
            field(&page, "post_logout_redirect_uri").unwrap(),
        ),
        ("client_id", field(&page, "client_id").unwrap()),
        ("state", field(&page, "state").unwrap()),
    ];
    let r = f
        .browser
        .http
        .post(f.app.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "http://127.0.0.1:1/signed-out?state=bye"
    );

    // Signed out: prompt=none now needs a sign-in.
    let started = start(&f.rp, &[], &[("prompt", "none")]);
    let landing = f
        .browser
        .walk(
            started.url.as_str(),
            Person {
                credentials: None,
                consent: None,
            },
        )
        .await
        .redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("login_required")
    );

    // The plain /logout page signs out too.
    f.browser.sign_in("ann", "ann's password").await;
    let page = f
        .browser
        .http
        .get(f.app.url("/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = f
        .browser
        .http
        .post(f.app.url("/logout"))
        .form(&[("csrf_token", field(&page, "csrf_token").unwrap())])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("You are signed out."));
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

async fn flush_also_removes_expired_codes_and_sign_in_requests(backend: Backend) {
    let f = fixture(backend).await;
    // A sign-in request left waiting, and a code never exchanged.
    let waiting = Browser::new(&f.app);
    let started = start(&f.rp, &[], &[]);
    waiting.http.get(started.url.as_str()).send().await.unwrap();
    let started = start(&f.rp, &[], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let code = Landing::param(&landing, "code").unwrap();

    let flusher = f.app.admin_token("tokens:flush").await;
    let body = json(
        f.app
            .http
            .post(f.app.url("/admin/tokens/flush"))
            .bearer_auth(&flusher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (
            body["codes_deleted"].as_u64(),
            body["flows_deleted"].as_u64()
        ),
        (Some(0), Some(0)),
        "nothing has expired yet"
    );

    {
        use diesel::prelude::*;
        use portcullis::storage::schema::{auth_codes, auth_flows};
        let past = portcullis::protocol::time::now() - 10;
        let mut conn = f.app.db.conn().unwrap();
        diesel::update(auth_codes::table)
            .set(auth_codes::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
        diesel::update(auth_flows::table)
            .set(auth_flows::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
    }
    let body = json(
        f.app
            .http
            .post(f.app.url("/admin/tokens/flush"))
            .bearer_auth(&flusher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(body["codes_deleted"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["flows_deleted"].as_u64().unwrap() >= 1, "{body}");
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", started.verifier.secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_grant").await;
}

on_both_backends!(
    flush_also_removes_expired_codes_and_sign_in_requests,
    the_sign_in_page_is_safe_and_says_little_on_failure,
    repeated_failures_are_throttled_for_that_account_only,
    rp_initiated_logout_returns_to_a_registered_uri_only,
    the_first_party_shortcut_needs_a_session_and_a_grant,
    jwt_access_tokens_are_signed_rfc_9068_tokens,
    the_password_grant_is_only_for_clients_that_list_it,
);
