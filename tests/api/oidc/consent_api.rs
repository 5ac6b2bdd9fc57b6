//! Consent by API: a first-party app an admin registered with `consent:grant` shows its
//! own consent screen, records the user's decision with `POST /api/consent` and hands
//! the code to the relying party, which exchanges it as any other.

use openidconnect::{AuthorizationCode, Nonce, OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use crate::helpers::census::census;
use crate::helpers::relying_party::{exchange_with, fixture, relying_party, Fixture, CALLBACK};
use crate::helpers::{assert_error, json, Backend};

const PORTAL_SECRET: &str = "the portal's secret, long enough to pass";

async fn consent(f: &Fixture, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = f.app.http.post(f.app.url("/api/consent")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Ann's token for the first-party portal, with `consent:grant`, from a real sign-in.
async fn portal_token(f: &Fixture) -> String {
    f.app.register(json!({
        "client_id": "portal", "client_secret": PORTAL_SECRET, "client_name": "Portal",
        "redirect_uris": [CALLBACK], "scope": "openid consent:grant",
    }));
    let portal = relying_party(&f.app, "portal", Some(PORTAL_SECRET)).await;
    let (token, _) = exchange_with(&f.app, &portal, &f.browser, &["consent:grant"]).await;
    token.access_token().secret().clone()
}

async fn a_first_party_app_records_consent_and_receives_the_code(backend: Backend) {
    let f = fixture(backend).await;
    let portal = portal_token(&f).await;

    let r = consent(
        &f,
        Some(&portal),
        &json!({"client_id": "rp", "scope": "openid profile", "redirect_uri": CALLBACK, "nonce": "n-1"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let code = json(r).await["code"].as_str().unwrap().to_owned();
    // The relying party exchanges it with its library and verifies the ID token.
    let token =
        f.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .request_async(&f.app.http)
            .await
            .expect("the code is exchanged");
    let verifier = f.rp.id_token_verifier();
    let claims = token
        .id_token()
        .expect("an ID token")
        .claims(&verifier, &Nonce::new("n-1".into()))
        .expect("a valid ID token with the nonce");
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ann"));
    assert!(claims.auth_time().is_some());

    // Not remembered unless asked, as on the pages: the shortcut still needs consent.
    let shortcut = f
        .app
        .url("/oauth2/code?client_id=rp&scope=openid%20profile");
    let r = f.browser.http.get(&shortcut).send().await.unwrap();
    assert_error(r, 403, "consent_required").await;
    let r = consent(
        &f,
        Some(&portal),
        &json!({"client_id": "rp", "scope": "openid profile", "redirect_uri": CALLBACK, "remember": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = f.browser.http.get(&shortcut).send().await.unwrap();
    assert_eq!(r.status(), 200, "remembered");

    // A public client needs PKCE, S256.
    f.app.register(json!({
        "client_id": "phone", "client_type": "public",
        "redirect_uris": ["com.example.phone:/cb"], "scope": "openid profile",
    }));
    let phone =
        json!({"client_id": "phone", "scope": "openid", "redirect_uri": "com.example.phone:/cb"});
    let r = consent(&f, Some(&portal), &phone).await;
    let body = assert_error(r, 400, "invalid_request").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("code_challenge"));
    let verifier = "a-verifier-of-at-least-forty-three-characters-long";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let mut with_pkce = phone.clone();
    with_pkce["code_challenge"] = json!(challenge);
    with_pkce["code_challenge_method"] = json!("S256");
    let code = json(consent(&f, Some(&portal), &with_pkce).await).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "phone"),
            ("code", &code),
            ("redirect_uri", "com.example.phone:/cb"),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn only_a_user_token_with_consent_grant_may_record_consent(backend: Backend) {
    let f = fixture(backend).await;
    let portal = portal_token(&f).await;
    let ann_rp = {
        let (token, _) = exchange_with(&f.app, &f.rp, &f.browser, &["profile"]).await;
        token.access_token().secret().clone()
    };
    let machine = f.app.admin_token("consent:grant").await;
    let good = json!({"client_id": "rp", "scope": "openid", "redirect_uri": CALLBACK});

    let before = census(&f.app);
    let cases: Vec<(Option<&str>, Value, u16, &str)> = vec![
        (None, good.clone(), 401, "unauthorized"),
        (Some("made-up"), good.clone(), 401, "unauthorized"),
        (Some(&ann_rp), good.clone(), 403, "insufficient_scope"),
        (Some(&machine), good.clone(), 401, "unauthorized"),
        (
            Some(&portal),
            json!({"client_id": "rp", "scope": "openid", "redirect_uri": "https://elsewhere.example/cb"}),
            400,
            "invalid_request",
        ),
        (
            Some(&portal),
            json!({"client_id": "rp", "scope": "openid"}),
            400,
            "invalid_request",
        ),
        (
            Some(&portal),
            json!({"client_id": "rp", "scope": "openid clients:read", "redirect_uri": CALLBACK}),
            400,
            "invalid_scope",
        ),
        (
            Some(&portal),
            json!({"client_id": "nobody", "scope": "openid", "redirect_uri": CALLBACK}),
            400,
            "invalid_request",
        ),
        (
            Some(&portal),
            json!({"client_id": "rp", "scope": "openid", "redirect_uri": CALLBACK, "nonce": "n".repeat(513)}),
            400,
            "invalid_request",
        ),
        (
            Some(&portal),
            json!({"client_id": "rp", "scope": "openid", "redirect_uri": CALLBACK, "state": "x"}),
            400,
            "invalid_request",
        ),
    ];
    for (token, body, status, code) in cases {
        let r = consent(&f, token, &body).await;
        assert_error(r, status, code).await;
        assert_eq!(census(&f.app), before, "{body} changed something");
    }

    // The scope counts only through an app no user but an admin owns: one an admin
    // registered for ann gives her tokens nothing.
    f.app.register(json!({
        "client_id": "anns-portal", "client_secret": PORTAL_SECRET, "owner": "ann",
        "redirect_uris": [CALLBACK], "scope": "openid consent:grant",
    }));
    let anns_portal = relying_party(&f.app, "anns-portal", Some(PORTAL_SECRET)).await;
    let (token, _) = exchange_with(&f.app, &anns_portal, &f.browser, &["consent:grant"]).await;
    let before = census(&f.app);
    let r = consent(&f, Some(token.access_token().secret()), &good).await;
    assert_error(r, 403, "insufficient_scope").await;
    assert_eq!(census(&f.app), before);

    // Only admins register clients that may carry it.
    let mal = f.app.user_token("mal", false, "clients:write");
    let r = f
        .app
        .register_as(
            &mal,
            &json!({"client_id": "mals-portal", "redirect_uris": [CALLBACK], "scope": "openid consent:grant"}),
        )
        .await;
    assert_error(r, 400, "invalid_client_metadata").await;
    let r = consent(&f, Some(&portal), &good).await;
    assert_eq!(r.status(), 200);
}

on_both_backends!(
    a_first_party_app_records_consent_and_receives_the_code,
    only_a_user_token_with_consent_grant_may_record_consent,
);
