//! The attacks a hostile signed-up user made work, each replayed: a non-admin making
//! herself admin, her app skipping other people's consent, consent widening itself,
//! the built-in consent page bypassing a consent app, unbound shortcut codes, hidden
//! refresh-token reuse, and the smaller ones.

use base64::Engine;
use openidconnect::OAuth2TokenResponse;
use serde_json::{json, Value};

use crate::helpers::browser::{field, Browser, Landing, Person};
use crate::helpers::census::census;
use crate::helpers::relying_party::{
    exchange_with, fixture, fixture_with, relying_party, start, Fixture, CALLBACK, RP_SECRET,
};
use crate::helpers::{assert_error, json, Backend, TestApp};

const PORTAL_SECRET: &str = "portal secret of at least 32 characters";

/// A user token of ann's obtained the way a person gets one: the code flow through a
/// first-party portal the system registered, with the relying-party library.
async fn portal_token(f: &Fixture, scopes: &[&str]) -> (String, Value) {
    f.app.register_if_missing(json!({
        "client_id": "portal",
        "client_secret": PORTAL_SECRET,
        "redirect_uris": [CALLBACK],
        "scope": "openid clients:read clients:write users:read users:write tokens:introspect",
    }));
    let rp = relying_party(&f.app, "portal", Some(PORTAL_SECRET)).await;
    let (token, _) = exchange_with(&f.app, &rp, &f.browser, scopes).await;
    let secret = token.access_token().secret().clone();
    let seen = introspect(&f.app, &secret).await;
    (secret, seen)
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let introspector = app.admin_token("tokens:introspect").await;
    json(
        app.http
            .post(app.url("/oauth2/introspect"))
            .bearer_auth(introspector)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn register_as(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.register_as(token, &body).await
}

async fn is_admin(app: &TestApp, username: &str) -> bool {
    portcullis::service::users::get(&app.db, username)
        .unwrap()
        .admin
}

async fn a_non_admin_cannot_make_herself_admin(backend: Backend) {
    let f = fixture(backend).await;
    // Asked for admin scopes through the portal, she gets only what she may hold.
    let (ann, seen) = portal_token(&f, &["clients:write", "users:write"]).await;
    assert_eq!(seen["scope"], "clients:write openid", "{seen}");

    // Before: a client_credentials client of hers with users:write acted as the system.
    let before = census(&f.app);
    for (body, field_named) in [
        (
            json!({"grant_types": ["client_credentials"], "scope": "users:write clients:write"}),
            "grant_types",
        ),
        (
            json!({"grant_types": ["password"], "scope": "openid users:write"}),
            "grant_types",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "scope": "openid users:write"}),
            "scope",
        ),
        (
            json!({"redirect_uris": [CALLBACK], "scope": "openid tokens:introspect"}),
            "scope",
        ),
    ] {
        let r = register_as(&f.app, &ann, body).await;
        let error = assert_error(r, 400, "invalid_client_metadata").await;
        assert!(
            error["error_description"]
                .as_str()
                .unwrap()
                .starts_with(field_named),
            "{error}"
        );
    }
    assert_eq!(census(&f.app), before, "the refusals registered nothing");

    // A machine client an admin registered for her keeps no more than her rights.
    let (id, secret) = f.app.register(json!({
        "client_id": "anns-machine",
        "owner": "ann",
        "grant_types": ["client_credentials", "password"],
        "scope": "users:write clients:read",
    }));
    let secret = secret.unwrap();
    let machine = f.app.client_credentials_token(&id, &secret, &[]).await;
    assert_eq!(introspect(&f.app, &machine).await["scope"], "clients:read");
    let explicit = json(
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "users:write"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let via_password = json(
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", "ann's password"),
                ("scope", "users:write"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    for token in [
        machine.clone(),
        explicit["access_token"].as_str().unwrap().to_owned(),
        via_password["access_token"].as_str().unwrap().to_owned(),
        ann.clone(),
    ] {
        let r = f
            .app
            .http
            .patch(f.app.url("/admin/users/ann"))
            .bearer_auth(&token)
            .json(&json!({"admin": true}))
            .send()
            .await
            .unwrap();
        assert_error(r, 403, "insufficient_scope").await;
        let r = f.app.get_as("/admin/users", &token).await;
        assert_eq!(r.status(), 403);
    }
    assert!(!is_admin(&f.app, "ann").await);
    // Her machine token sees her clients, not everyone's.
    let listed: Vec<Value> = f
        .app
        .get_as("/admin/clients", &machine)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed.iter().all(|c| c["owner"] == "ann"), "{listed:?}");
    assert!(!listed.is_empty());

    // An admin who loses the flag loses what her token could do, at once.
    // Another admin, so that root is not the last one (who cannot be demoted).
    f.app.user_token("deputy", true, "");
    let root = f.app.user_token("root", true, "users:read");
    assert_eq!(f.app.get_as("/admin/users", &root).await.status(), 200);
    let system = f.app.admin_token("users:write").await;
    let r = f
        .app
        .http
        .patch(f.app.url("/admin/users/root"))
        .bearer_auth(&system)
        .json(&json!({"admin": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(f.app.get_as("/admin/users", &root).await.status(), 403);
}

async fn her_app_cannot_skip_other_peoples_consent(backend: Backend) {
    let f = fixture(backend).await;
    let (ann, _) = portal_token(&f, &["clients:write"]).await;
    let r = register_as(
        &f.app,
        &ann,
        json!({"client_id": "anns-app", "redirect_uris": [CALLBACK], "skip_consent": true, "scope": "openid"}),
    )
    .await;
    let error = assert_error(r, 400, "invalid_client_metadata").await;
    assert!(error["error_description"]
        .as_str()
        .unwrap()
        .starts_with("skip_consent"));
    let created = register_as(
        &f.app,
        &ann,
        json!({"client_id": "anns-app", "redirect_uris": [CALLBACK], "scope": "openid"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let secret = json(created).await["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = f
        .app
        .http
        .put(f.app.url("/admin/clients/anns-app"))
        .bearer_auth(&ann)
        .json(&json!({"redirect_uris": [CALLBACK], "scope": "openid", "skip_consent": true, "client_type": "confidential", "grant_types": ["authorization_code"]}))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_client_metadata").await;

    // A signed-in victim sent to her app with prompt=none is not handed over.
    f.app
        .cli(&["users", "create", "vic", "--password", "vic's password"]);
    let victim = Browser::new(&f.app);
    victim.sign_in("vic", "vic's password").await;
    let rp = relying_party(&f.app, "anns-app", Some(&secret)).await;
    let started = start(&rp, &[], &[("prompt", "none")]);
    let nobody = Person {
        credentials: None,
        consent: None,
    };
    let landing = victim.walk(started.url.as_str(), nobody).await.redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("consent_required")
    );
    assert!(Landing::param(&landing, "code").is_none());
}

async fn a_decision_remembered_once_does_not_remember_the_next(backend: Backend) {
    let f = fixture(backend).await;
    let remembers = Person {
        credentials: Some(("ann", "ann's password")),
        consent: Some((true, true)),
    };
    let once = Person {
        credentials: Some(("ann", "ann's password")),
        consent: Some((true, false)),
    };
    let silent = Person {
        credentials: None,
        consent: None,
    };
    let code_for = |landing: url::Url| Landing::param(&landing, "code");
    // "Remember this decision" for openid only.
    let first = f
        .browser
        .walk(start(&f.rp, &[], &[]).url.as_str(), remembers)
        .await;
    assert!(code_for(first.redirect()).is_some());
    // Profile allowed once, without remembering.
    let second = f
        .browser
        .walk(start(&f.rp, &["profile"], &[]).url.as_str(), once)
        .await;
    assert!(code_for(second.redirect()).is_some());
    assert_eq!(*f.browser.seen.borrow(), ["consent"]);
    // prompt=none gets what was remembered, and nothing more.
    let silently = f
        .browser
        .walk(
            start(&f.rp, &[], &[("prompt", "none")]).url.as_str(),
            silent,
        )
        .await
        .redirect();
    assert!(code_for(silently).is_some());
    let widened = f
        .browser
        .walk(
            start(&f.rp, &["profile"], &[("prompt", "none")])
                .url
                .as_str(),
            silent,
        )
        .await
        .redirect();
    assert_eq!(
        Landing::param(&widened, "error").as_deref(),
        Some("consent_required")
    );
    // Without prompt=none, the consent page comes back for profile.
    let again = f
        .browser
        .walk(start(&f.rp, &["profile"], &[]).url.as_str(), once)
        .await;
    assert!(code_for(again.redirect()).is_some());
    assert_eq!(*f.browser.seen.borrow(), ["consent"]);
}

async fn with_a_consent_app_the_built_in_page_decides_nothing(backend: Backend) {
    let f = fixture_with(
        backend,
        &[("PORTCULLIS_CONSENT_URL", "http://127.0.0.1:1/consent-app")],
    )
    .await;
    let started = start(&f.rp, &["profile"], &[]);
    let to_app = f
        .browser
        .walk(
            started.url.as_str(),
            crate::helpers::browser::SIGNS_IN_AND_ALLOWS,
        )
        .await
        .redirect();
    assert!(to_app
        .as_str()
        .starts_with("http://127.0.0.1:1/consent-app"));
    let flow: String = {
        use diesel::prelude::*;
        use portcullis::storage::schema::auth_flows;
        auth_flows::table
            .select(auth_flows::id)
            .first(&mut *f.app.db.conn().unwrap())
            .unwrap()
    };
    let page = f
        .browser
        .http
        .get(f.app.url(&format!("/consent?flow={flow}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    let logout = f
        .browser
        .http
        .get(f.app.url("/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&logout, "csrf_token").unwrap();
    let before = census(&f.app);
    let r = f
        .browser
        .http
        .post(f.app.url("/consent"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("flow", flow.as_str()),
            ("decision", "allow"),
            ("remember", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers().get("location").is_none(),
        "no code went anywhere"
    );
    assert_eq!(census(&f.app), before);
}

fn id_token_claims(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn shortcut_codes_are_bound_to_pkce_and_nonce(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({
        "client_id": "spa", "client_type": "public", "redirect_uris": [CALLBACK],
        "skip_consent": true, "scope": "openid profile",
    }));
    f.browser.sign_in("ann", "ann's password").await;
    let ask = |query: &str| {
        f.browser
            .http
            .get(
                f.app
                    .url(&format!("/oauth2/code?client_id=spa&scope=openid{query}")),
            )
            .send()
    };
    assert_error(ask("").await.unwrap(), 400, "invalid_request").await;
    assert_error(
        ask("&code_challenge=abc&code_challenge_method=plain")
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let query = format!(
        "&code_challenge={}&code_challenge_method=S256&nonce=n-0S6_WzA2Mj",
        challenge.as_str()
    );
    let code = json(ask(&query).await.unwrap()).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchange = |verifier: &str| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", code.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
    };
    assert_error(exchange("").await.unwrap(), 400, "invalid_request").await;
    assert_error(
        exchange(&"x".repeat(43)).await.unwrap(),
        400,
        "invalid_grant",
    )
    .await;
    let token = json(exchange(verifier.secret()).await.unwrap()).await;
    let claims = id_token_claims(token["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
}

async fn refresh_reuse_after_the_successor_was_used_revokes_the_family(backend: Backend) {
    let f = fixture(backend).await;
    let (token, _) = exchange_with(&f.app, &f.rp, &f.browser, &["offline_access", "profile"]).await;
    let refresh = |token: String, scope: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.to_owned()));
        }
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(RP_SECRET))
            .form(&form)
            .send()
    };
    let a = token.refresh_token().unwrap().secret().clone();
    // Narrowing the access token keeps the refresh token's scope (RFC 6749 §6).
    let b = json(refresh(a.clone(), Some("openid")).await.unwrap()).await;
    assert_eq!(b["scope"], "openid");
    let b_refresh = b["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        introspect(&f.app, &b_refresh).await["scope"],
        "offline_access openid profile"
    );
    // Within the grace window, a retry of A gets B again while B is unused.
    let retried = json(refresh(a.clone(), Some("openid")).await.unwrap()).await;
    assert_eq!(retried["refresh_token"], b["refresh_token"]);
    // B is used: C. Now A coming back means two parties hold the family.
    let c = json(refresh(b_refresh.clone(), None).await.unwrap()).await;
    assert_eq!(c["scope"], "offline_access openid profile");
    assert_error(refresh(a, None).await.unwrap(), 400, "invalid_grant").await;
    let c_access = c["access_token"].as_str().unwrap();
    assert_eq!(introspect(&f.app, c_access).await["active"], false);
    let c_refresh = c["refresh_token"].as_str().unwrap().to_owned();
    assert_error(
        refresh(c_refresh, None).await.unwrap(),
        400,
        "invalid_grant",
    )
    .await;
}

async fn id_token_hints_must_be_id_tokens(backend: Backend) {
    let f = fixture(backend).await;
    const SECRET: &str = "jwt app secret of at least 32 characters";
    f.app.register(json!({ "client_id": "jwt-app", "client_secret": SECRET, "redirect_uris": [CALLBACK], "scope": "openid profile", "access_token_format": "jwt" }));
    let rp = relying_party(&f.app, "jwt-app", Some(SECRET)).await;
    let (token, _) = exchange_with(&f.app, &rp, &f.browser, &["profile"]).await;
    let access = token.access_token().secret().clone();
    let id_token = openidconnect::TokenResponse::id_token(&token)
        .unwrap()
        .to_string();
    let silent = Person {
        credentials: None,
        consent: None,
    };
    let with_hint = |hint: &str| start(&rp, &[], &[("prompt", "none"), ("id_token_hint", hint)]);
    let landing = f
        .browser
        .walk(with_hint(&access).url.as_str(), silent)
        .await
        .redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("invalid_request"),
        "an access token is no ID token: {landing}"
    );
    let landing = f
        .browser
        .walk(with_hint(&id_token).url.as_str(), silent)
        .await
        .redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
}

/// The header and claims of a compact JWS, and whether the server's JWKS verifies it.
async fn read_jws(app: &TestApp, token: &str) -> (Value, Value, bool) {
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
    use openidconnect::JsonWebKey;
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&crate::helpers::relying_party::base64_url(part)).unwrap()
    };
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let jwks = json(
        app.http
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let verified = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kid"] == header["kid"])
        .filter_map(|k| serde_json::from_value::<CoreJsonWebKey>(k.clone()).ok())
        .any(|key| {
            key.verify_signature(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &crate::helpers::relying_party::base64_url(parts[2]),
            )
            .is_ok()
        });
    (header, claims, verified)
}

async fn access_tokens_and_id_tokens_cannot_pass_for_each_other(backend: Backend) {
    const SECRET: &str = "jwt app secret of at least 32 characters";
    let api = "https://api.example/orders";
    for (settings, audience) in [
        (vec![("PORTCULLIS_ACCESS_TOKEN_AUDIENCE", api)], json!(api)),
        (vec![], Value::Null),
    ] {
        let f = fixture_with(backend, &settings).await;
        let audience = if audience.is_null() {
            json!(f.app.base)
        } else {
            audience
        };
        f.app.register(json!({ "client_id": "jwt-app", "client_secret": SECRET, "redirect_uris": [CALLBACK], "scope": "openid profile", "access_token_format": "jwt" }));
        let rp = relying_party(&f.app, "jwt-app", Some(SECRET)).await;
        let (token, nonce) = exchange_with(&f.app, &rp, &f.browser, &["profile"]).await;
        let id_token = openidconnect::TokenResponse::id_token(&token).unwrap();
        id_token
            .claims(&rp.id_token_verifier(), &nonce)
            .expect("the relying-party library takes the ID token");
        let (header, claims, verified) = read_jws(&f.app, &id_token.to_string()).await;
        assert_eq!(header["typ"], "JWT", "ID tokens say what they are");
        assert_eq!(claims["aud"], json!(["jwt-app"]));
        assert!(verified);

        let access = token.access_token().secret().clone();
        let (header, claims, verified) = read_jws(&f.app, &access).await;
        assert!(verified, "resource servers verify it with the JWKS");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(
            claims["aud"], audience,
            "for the resource server, not the client"
        );
        assert_eq!(claims["client_id"], "jwt-app");
        let as_id_token: Result<openidconnect::core::CoreIdToken, _> = access.parse();
        if let Ok(forged) = as_id_token {
            assert!(
                forged.claims(&rp.id_token_verifier(), &nonce).is_err(),
                "an access token does not pass for an ID token"
            );
        }
    }
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env(
            "PORTCULLIS_ACCESS_TOKEN_AUDIENCE",
            "https://api.example/#frag",
        )
        .env("PORTCULLIS_DATABASE_URL", "sqlite://never-opened.db")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("access_token_audience"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

async fn public_clients_cannot_introspect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register(json!({"client_id": "spa", "client_type": "public", "redirect_uris": [CALLBACK]}));
    let victim = app.user_token("vic", false, "openid");
    let r = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", victim.as_str()), ("client_id", "spa")])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
}

async fn deleting_a_user_deletes_the_clients_she_owns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user_token("ann", false, "openid");
    let (id, secret) = app.register(json!({"client_id": "anns-machine", "owner": "ann", "grant_types": ["client_credentials"], "scope": "clients:read"}));
    let token = app
        .client_credentials_token(&id, &secret.unwrap(), &[])
        .await;
    let system = app.admin_token("users:write clients:read").await;
    assert_eq!(
        app.delete_as("/admin/users/ann", &system).await.status(),
        204
    );
    assert_eq!(
        app.get_as("/admin/clients/anns-machine", &system)
            .await
            .status(),
        404,
        "not left behind looking like one of the system's clients"
    );
    assert_eq!(app.get_as("/admin/clients", &token).await.status(), 401);
}

async fn unknown_methods_share_one_metrics_label(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long = "X".repeat(3000);
    for method in ["FROB", long.as_str()] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.http
            .request(method, app.url("/health/alive"))
            .send()
            .await
            .unwrap();
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
    assert!(!metrics.contains("FROB") && !metrics.contains("XXXXXXXX"));
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

async fn parallel_secret_guesses_are_counted_as_they_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let guess = |secret: String| {
        app.http
            .post(app.url("/oauth2/token"))
            .basic_auth(&id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    // A busy client with the right secret is never refused, not even on a cold start.
    let right = futures_util::future::join_all((0..32).map(|_| guess(secret.clone()))).await;
    let statuses: Vec<u16> = right
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Thirty wrong guesses at once: at most ten are judged, the rest are refused unjudged.
    let wrong = futures_util::future::join_all(
        (0..30).map(|i| guess(format!("a wrong guess number {i:02} of the secret"))),
    )
    .await;
    let mut judged = 0;
    let mut refused = 0;
    for r in wrong {
        match r.unwrap().status().as_u16() {
            401 => judged += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(judged <= 10, "{judged} guesses were judged");
    assert_eq!(judged + refused, 30);
}

async fn anonymous_sign_in_requests_are_capped_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register(json!({"client_id": "rp", "redirect_uris": [CALLBACK], "scope": "openid"}));
    let url = app.url(&format!(
        "/oauth2/auth?client_id=rp&response_type=code&scope=openid&redirect_uri={}",
        crate::helpers::relying_party::urlencode(CALLBACK)
    ));
    let cap = portcullis::service::authorize::MAX_PENDING_PER_ADDRESS as usize;
    let answers = futures_util::future::join_all((0..cap).map(|_| app.http.get(&url).send())).await;
    assert!(answers.iter().all(|r| r.as_ref().unwrap().status() == 303));
    let over = app.http.get(&url).send().await.unwrap();
    assert_eq!(over.status(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let stored: i64 = {
        use diesel::prelude::*;
        use portcullis::storage::schema::auth_flows;
        auth_flows::table
            .count()
            .get_result(&mut *app.db.conn().unwrap())
            .unwrap()
    };
    assert_eq!(stored as usize, cap);
}

/// Five wrong passwords for ann from `forwarded` (through the proxy at 127.0.0.1), then
/// what the next attempt from `next` answers.
async fn sign_in_after_failures(app: &TestApp, forwarded: &str, next: &str) -> u16 {
    let browser = Browser::new(app);
    let page = browser
        .http
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf_token").unwrap();
    let attempt = |from: &str| {
        browser
            .http
            .post(app.url("/login"))
            .header("X-Forwarded-For", from)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", "ann"),
                ("password", "not her password"),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt(forwarded).await.unwrap().status(), 401);
    }
    attempt(next).await.unwrap().status().as_u16()
}

async fn throttles_believe_forwarded_addresses_only_from_trusted_proxies(backend: Backend) {
    let behind_proxy =
        TestApp::spawn_with(backend, &[("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    behind_proxy.user_token("ann", false, "openid");
    assert_eq!(
        sign_in_after_failures(&behind_proxy, "203.0.113.5", "203.0.113.5").await,
        429
    );
    assert_eq!(
        sign_in_after_failures(&behind_proxy, "203.0.113.7", "203.0.113.8").await,
        401,
        "another address behind the proxy is not locked out"
    );
    let direct = TestApp::spawn(backend).await;
    direct.user_token("ann", false, "openid");
    assert_eq!(
        sign_in_after_failures(&direct, "203.0.113.7", "203.0.113.8").await,
        429,
        "a header from an untrusted peer changes nothing"
    );
}

/// A sign-in at the login page of `app` as if from `from` (through the proxy at
/// 127.0.0.1), in a browser of its own.
async fn sign_in_as_ann_from(app: &TestApp, from: &str, password: &str) -> reqwest::Response {
    let browser = Browser::new(app);
    let page = browser.http.get(app.url("/login")).send().await.unwrap();
    let csrf = field(&page.text().await.unwrap(), "csrf_token").unwrap();
    browser
        .http
        .post(app.url("/login"))
        .header("X-Forwarded-For", from)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "ann"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

fn ann_failures(app: &TestApp) -> i32 {
    use diesel::prelude::*;
    use portcullis::storage::schema::account_guards;
    account_guards::table
        .find(portcullis::protocol::guard::account_key(
            &portcullis::service::users::guard_pepper(&app.db).unwrap(),
            "ann",
        ))
        .select(account_guards::failures)
        .first(&mut *app.db.conn().unwrap())
        .unwrap()
}

async fn guesses_from_many_addresses_slow_the_account_on_every_node(backend: Backend) {
    use portcullis::protocol::guard::FREE_FAILURES;
    let proxy = [("PORTCULLIS_TRUSTED_PROXIES", "127.0.0.1/32")];
    let app = TestApp::spawn_with(backend, &proxy).await;
    app.user_token("ann", false, "openid");
    app.register(json!({
        "client_id": "pw",
        "client_secret": "pw secret of at least 32 characters",
        "grant_types": ["password"],
        "scope": "openid",
    }));
    let node = crate::helpers::Node::start_with(
        &app,
        &[
            proxy[0],
            ("PORTCULLIS_WORKERS", "1"),
            ("PORTCULLIS_DB_POOL_SIZE", "2"),
        ],
    )
    .await;
    let right = "a long enough password";
    let home = "198.51.100.1";
    assert_eq!(sign_in_as_ann_from(&app, home, right).await.status(), 303);

    // Each address stays under its own limits (5 per account and address).
    let addresses = FREE_FAILURES / 5;
    for a in 0..addresses {
        for _ in 0..5 {
            let r = sign_in_as_ann_from(&app, &format!("203.0.113.{a}"), "a wrong guess").await;
            assert_eq!(r.status(), 401);
        }
    }
    assert_eq!(ann_failures(&app), FREE_FAILURES);

    let fresh = sign_in_as_ann_from(&app, "203.0.113.100", "a wrong guess").await;
    assert_eq!(fresh.status(), 429, "a new address gets no fresh guesses");
    let wait: u64 = fresh.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let even_right = sign_in_as_ann_from(&app, "203.0.113.101", right).await;
    assert_eq!(
        even_right.status(),
        429,
        "the delay does not tell right from wrong"
    );
    let other_node = app
        .http
        .post(node.url("/oauth2/token"))
        .header("X-Forwarded-For", "203.0.113.102")
        .basic_auth("pw", Some("pw secret of at least 32 characters"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ANN"),
            ("password", right),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_node.status(),
        429,
        "counted on every node, in any case"
    );
    assert_eq!(ann_failures(&app), FREE_FAILURES, "refusals change nothing");

    assert_eq!(
        sign_in_as_ann_from(&app, home, right).await.status(),
        303,
        "where she signed in before, she is not locked out"
    );
    assert_eq!(
        ann_failures(&app),
        FREE_FAILURES,
        "her sign-in at home hands the guessers no fresh guesses"
    );
}

async fn sign_in_counters_with_nothing_left_to_say_are_swept(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(backend).await;
    app.user_token("ann", false, "openid");
    let browser = Browser::new(&app);
    assert_eq!(
        browser
            .sign_in("ann", "a long enough password")
            .await
            .status(),
        303
    );
    assert_eq!(browser.sign_in("nobody", "a guess").await.status(), 401);
    assert_eq!(browser.sign_in("somebody", "a guess").await.status(), 401);
    let day_and_more = portcullis::protocol::time::now() - 24 * 60 * 60 - 10;
    let pepper = portcullis::service::users::guard_pepper(&app.db).unwrap();
    let somebody = portcullis::protocol::guard::account_key(&pepper, "somebody");
    app.db
        .conn()
        .unwrap()
        .batch_execute(&format!(
            "UPDATE account_guards SET last_failure_at = {day_and_more} \
             WHERE account_key <> '{somebody}'"
        ))
        .unwrap();
    let out = app.cli(&["tokens", "flush"]);
    let flushed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        flushed["guards_deleted"], 1,
        "nobody's forgotten failures go; somebody's recent ones and ann's known network stay: {flushed}"
    );
    assert_eq!(ann_failures(&app), 0);
}

async fn chosen_client_secrets_need_32_characters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = app.admin_token("clients:write").await;
    let short = "x".repeat(31);
    let before = census(&app);
    let r = register_as(&app, &system, json!({"client_secret": short})).await;
    let error = assert_error(r, 400, "invalid_request").await;
    assert!(error["error_description"].as_str().unwrap().contains("32"));
    let out = app.cli(&["clients", "create", "--name", "x", "--secret", &short]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("32"));
    assert_eq!(census(&app), before);
    let r = register_as(&app, &system, json!({"client_secret": "y".repeat(32)})).await;
    assert_eq!(r.status(), 201);
}

on_both_backends!(
    a_non_admin_cannot_make_herself_admin,
    her_app_cannot_skip_other_peoples_consent,
    a_decision_remembered_once_does_not_remember_the_next,
    with_a_consent_app_the_built_in_page_decides_nothing,
    shortcut_codes_are_bound_to_pkce_and_nonce,
    refresh_reuse_after_the_successor_was_used_revokes_the_family,
    id_token_hints_must_be_id_tokens,
    access_tokens_and_id_tokens_cannot_pass_for_each_other,
    public_clients_cannot_introspect,
    deleting_a_user_deletes_the_clients_she_owns,
    unknown_methods_share_one_metrics_label,
    parallel_secret_guesses_are_counted_as_they_start,
    anonymous_sign_in_requests_are_capped_per_address,
    throttles_believe_forwarded_addresses_only_from_trusted_proxies,
    guesses_from_many_addresses_slow_the_account_on_every_node,
    sign_in_counters_with_nothing_left_to_say_are_swept,
    chosen_client_secrets_need_32_characters,
);
