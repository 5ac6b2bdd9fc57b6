//! Claims a consent app adds to a grant's tokens: in the ID token (verified by the
//! relying party's library), at userinfo, in introspection's `ext` and in JWT access
//! tokens, again after a refresh; reserved names refused.

use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use super::consent_app::{consent_app, hold_flow, Mode};
use crate::helpers::browser::{Landing, Person};
use crate::helpers::census::census;
use crate::helpers::relying_party::{base64_url, fixture_with, start, Fixture};
use crate::helpers::{assert_error, json, Backend};

const NOBODY: Person<'static> = Person {
    credentials: None,
    consent: None,
};

/// The claims of a JWT, read after its signature was checked elsewhere.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64_url(part)).expect("JSON claims")
}

async fn introspect(f: &Fixture, token: &str) -> Value {
    let introspector = f.app.admin_token("tokens:introspect").await;
    json(
        f.app
            .http
            .post(f.app.url("/oauth2/introspect"))
            .bearer_auth(introspector)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn answer(f: &Fixture, token: &str, path: &str, body: Value) -> reqwest::Response {
    f.app
        .http
        .put(f.app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn a_consent_app_puts_claims_of_its_own_into_the_grants_tokens(backend: Backend) {
    let (port, shared) = consent_app().await;
    let consent_url = format!("http://127.0.0.1:{port}/consent");
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_URL", &consent_url)]).await;
    let manager = f.app.admin_token("consent:manage").await;
    shared
        .lock()
        .unwrap()
        .set(&f.app.base, &manager, Mode::Hold);
    let admin = f.app.admin_token("clients:write").await;
    let r = f
        .app
        .patch_as(
            "/admin/clients/rp",
            &admin,
            &json!({"access_token_format": "jwt"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let started = start(&f.rp, &["profile", "offline_access"], &[]);
    let challenge = hold_flow(&f, &started).await;
    let accept = format!("/admin/consent-requests/{challenge}/accept");

    // Refused: reserved names, a claim a scope releases, too much, an unknown set.
    let before = census(&f.app);
    for session in [
        json!({"id_token": {"sub": "someone else"}}),
        json!({"access_token": {"scope": "users:write"}}),
        json!({"id_token": {"email": "forged@example.com"}}),
        json!({"access_token": {"blob": "x".repeat(5000)}}),
        json!({"refresh_token": {"a": 1}}),
        json!({"id_token": ["not", "an", "object"]}),
    ] {
        let r = answer(&f, &manager, &accept, json!({"session": session})).await;
        assert_error(r, 400, "invalid_request").await;
        assert_eq!(census(&f.app), before, "{session}");
    }

    let r = answer(
        &f,
        &manager,
        &accept,
        json!({"session": {
            "access_token": {"team": "books", "tier": 2},
            "id_token": {"department": "lending"},
        }}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let redirect_to = json(r).await["redirect_to"].as_str().unwrap().to_owned();
    let back = f.browser.http.get(&redirect_to).send().await.unwrap();
    let landing = f.browser.follow(back, NOBODY).await.redirect();
    let code = Landing::param(&landing, "code").expect("a code");
    let token =
        f.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&f.app.http)
            .await
            .expect("the code is exchanged");

    let check = |token: &openidconnect::core::CoreTokenResponse,
                 nonce: Option<&openidconnect::Nonce>| {
        let id_token = token.id_token().expect("an ID token");
        let verifier = f.rp.id_token_verifier();
        match nonce {
            Some(n) => {
                id_token.claims(&verifier, n).expect("a valid ID token");
            }
            None => {
                id_token
                    .claims(&verifier, |_: Option<&openidconnect::Nonce>| Ok(()))
                    .expect("a valid ID token");
            }
        }
        let id_claims = payload(&id_token.to_string());
        assert_eq!(id_claims["department"], "lending");
        assert!(
            id_claims.get("team").is_none(),
            "access token claims stay there"
        );
        let access = payload(token.access_token().secret());
        assert_eq!(access["team"], "books");
        assert_eq!(access["tier"], 2);
        assert!(access.get("department").is_none());
        assert_eq!(
            access["sub"], id_claims["sub"],
            "the server's own claims stand"
        );
    };
    check(&token, Some(&started.nonce));

    let userinfo = json(
        f.app
            .http
            .get(f.app.url("/userinfo"))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(userinfo["department"], "lending");
    assert_eq!(userinfo["preferred_username"], "ann");
    assert!(userinfo.get("team").is_none());
    let introspection = introspect(&f, token.access_token().secret()).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["ext"], json!({"team": "books", "tier": 2}));

    // Kept for the grant's refreshes.
    let refreshed =
        f.rp.exchange_refresh_token(token.refresh_token().expect("a refresh token"))
            .unwrap()
            .request_async(&f.app.http)
            .await
            .expect("refreshed");
    check(&refreshed, None);
    let introspection = introspect(&f, refreshed.access_token().secret()).await;
    assert_eq!(introspection["ext"], json!({"team": "books", "tier": 2}));
    let refresh_view = introspect(&f, refreshed.refresh_token().unwrap().secret()).await;
    assert!(
        refresh_view.get("ext").is_none(),
        "only access tokens carry them"
    );

    // The Hydra 0.x names carry them too.
    let started = start(&f.rp, &["profile"], &[]);
    let id = hold_flow(&f, &started).await;
    let redirect_url = json(
        f.app
            .http
            .get(f.app.url(&format!("/oauth2/consent/requests/{id}")))
            .bearer_auth(&manager)
            .send()
            .await
            .unwrap(),
    )
    .await["redirectUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = f
        .app
        .http
        .patch(f.app.url(&format!("/oauth2/consent/requests/{id}/accept")))
        .bearer_auth(&manager)
        .json(
            &json!({"accessTokenExtra": {"team": "maps"}, "idTokenExtra": {"department": "atlas"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let back = f.browser.http.get(&redirect_url).send().await.unwrap();
    let landing = f.browser.follow(back, NOBODY).await.redirect();
    let code = Landing::param(&landing, "code").expect("a code");
    let token =
        f.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&f.app.http)
            .await
            .expect("exchanged");
    assert_eq!(payload(token.access_token().secret())["team"], "maps");
    assert_eq!(
        payload(&token.id_token().unwrap().to_string())["department"],
        "atlas"
    );
}

/// `remember_for` bounds how long an accepted, remembered decision skips the app.
async fn a_remembered_answer_counts_for_remember_for_seconds(backend: Backend) {
    let (port, shared) = consent_app().await;
    let consent_url = format!("http://127.0.0.1:{port}/consent");
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_URL", &consent_url)]).await;
    let manager = f.app.admin_token("consent:manage").await;
    shared
        .lock()
        .unwrap()
        .set(&f.app.base, &manager, Mode::Hold);

    let started = start(&f.rp, &["profile"], &[]);
    let challenge = hold_flow(&f, &started).await;
    let accept = format!("/admin/consent-requests/{challenge}/accept");
    for bad in [json!(-1), json!(400_000_000), json!("an hour")] {
        let r = answer(
            &f,
            &manager,
            &accept,
            json!({"remember": true, "remember_for": bad}),
        )
        .await;
        assert_error(r, 400, "invalid_request").await;
    }
    let r = answer(
        &f,
        &manager,
        &accept,
        json!({"remember": true, "remember_for": 3600}),
    )
    .await;
    let redirect_to = json(r).await["redirect_to"].as_str().unwrap().to_owned();
    let back = f.browser.http.get(&redirect_to).send().await.unwrap();
    assert!(Landing::param(&f.browser.follow(back, NOBODY).await.redirect(), "code").is_some());

    // Within the hour: no consent app.
    let again = start(&f.rp, &["profile"], &[]);
    let landing = f.browser.walk(again.url.as_str(), NOBODY).await.redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");

    // Once the hour is over, the app is asked again.
    {
        use diesel::prelude::*;
        use portcullis::storage::schema::grants;
        diesel::update(grants::table)
            .set(grants::remembered_until.eq(Some(portcullis::protocol::time::now() - 1)))
            .execute(&mut *f.app.db.conn().unwrap())
            .unwrap();
    }
    let later = start(&f.rp, &["profile"], &[]);
    let landing = f.browser.walk(later.url.as_str(), NOBODY).await.redirect();
    assert!(landing.as_str().starts_with(&consent_url), "{landing}");
}

on_both_backends!(
    a_consent_app_puts_claims_of_its_own_into_the_grants_tokens,
    a_remembered_answer_counts_for_remember_for_seconds,
);
