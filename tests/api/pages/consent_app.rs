//! Delegated consent: a small consent app, written here, answers through the
//! consent-request API.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::helpers::browser::{Landing, Person, SIGNS_IN_AND_ALLOWS};
use crate::helpers::listener::{serve, Reply};
use crate::helpers::relying_party::{fixture_with, start, Fixture, Started, CALLBACK};
use crate::helpers::{assert_error, json, Backend};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Mode {
    /// Accept with `openid email` and remember.
    Accept,
    /// Reject with access_denied.
    Reject,
    /// Show a page and wait (the test answers).
    Hold,
}

#[derive(Default)]
pub(super) struct Shared {
    base: String,
    token: String,
    mode: Option<Mode>,
    seen: Vec<Value>,
    challenges: Vec<String>,
}

impl Shared {
    pub(super) fn set(&mut self, base: &str, token: &str, mode: Mode) {
        self.base = base.to_owned();
        self.token = token.to_owned();
        self.mode = Some(mode);
    }
}

/// The consent app: reads the request, answers it per `mode`, and redirects the browser
/// to where the server says.
pub(super) async fn consent_app() -> (u16, Arc<Mutex<Shared>>) {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let state = shared.clone();
    let http = reqwest::Client::new();
    let port = serve(move |target: String| {
        let (state, http) = (state.clone(), http.clone());
        async move { answer(&state, &http, &target).await }
    })
    .await;
    (port, shared)
}

async fn answer(state: &Mutex<Shared>, http: &reqwest::Client, target: &str) -> Reply {
    if !target.starts_with("/consent") {
        return Reply::Page(String::new());
    }
    let url = url::Url::parse(&format!("http://app{target}")).unwrap();
    let challenge = url
        .query_pairs()
        .find(|(k, _)| k == "consent_challenge")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (base, token, mode) = {
        let s = state.lock().unwrap();
        (
            s.base.clone(),
            s.token.clone(),
            s.mode.unwrap_or(Mode::Hold),
        )
    };
    let view: Value = http
        .get(format!("{base}/admin/consent-requests/{challenge}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    {
        let mut s = state.lock().unwrap();
        s.seen.push(view);
        s.challenges.push(challenge.clone());
    }
    let (verb, body) = match mode {
        Mode::Accept => (
            "accept",
            json!({ "grant_scope": ["openid", "email"], "remember": true }),
        ),
        Mode::Reject => (
            "reject",
            json!({ "error": "access_denied", "error_description": "not today" }),
        ),
        Mode::Hold => return Reply::Page("wait".into()),
    };
    let reply: Value = http
        .put(format!("{base}/admin/consent-requests/{challenge}/{verb}"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Reply::Redirect(reply["redirect_to"].as_str().unwrap().to_owned())
}

async fn a_consent_app_answers_for_the_server(backend: Backend) {
    let (port, shared) = consent_app().await;
    let consent_url = format!("http://127.0.0.1:{port}/consent");
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_URL", &consent_url)]).await;
    let token = f.app.admin_token("consent:manage").await;
    {
        let mut s = shared.lock().unwrap();
        s.base = f.app.base.clone();
        s.token = token;
        s.mode = Some(Mode::Accept);
    }
    let nobody = Person {
        credentials: None,
        consent: None,
    };

    // Sign in, then the browser goes to the consent app, which accepts openid and email.
    let hints = [
        ("login_hint", "ann"),
        ("ui_locales", "fr en"),
        ("acr_values", "urn:example:loa:1"),
        ("display", "page"),
    ];
    let started = start(&f.rp, &["email", "profile"], &hints);
    let to_app = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert!(to_app.as_str().starts_with(&consent_url), "{to_app}");
    let back = f.browser.http.get(to_app.as_str()).send().await.unwrap();
    let landing = f.browser.follow(back, nobody).await.redirect();
    assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    let code = Landing::param(&landing, "code").unwrap();
    let token = json(
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(crate::helpers::relying_party::RP_SECRET))
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
    assert_eq!(
        token["scope"], "email openid",
        "only what the consent app granted"
    );
    let (view, challenge) = {
        let s = shared.lock().unwrap();
        (s.seen[0].clone(), s.challenges[0].clone())
    };
    assert_eq!(view["username"], "ann");
    assert_eq!(view["client"]["client_id"], "rp");
    assert_eq!(view["client"]["name"], "Reading Room");
    assert_eq!(
        view["requested_scope"],
        json!(["email", "openid", "profile"])
    );
    assert_eq!(view["skip"], false, "nothing remembered yet");
    assert_eq!(view["amr"], json!(["pwd"]));
    assert_eq!(
        view["oidc_context"],
        json!({
            "acr_values": ["urn:example:loa:1"], "ui_locales": ["fr", "en"],
            "login_hint": "ann", "display": "page", "id_token_hint_claims": null,
        })
    );
    let request_url = url::Url::parse(view["request_url"].as_str().unwrap()).unwrap();
    assert!(request_url
        .as_str()
        .starts_with(&f.app.url("/oauth2/auth?")));
    let param = |name: &str| Landing::param(&request_url, name);
    assert_eq!(param("client_id").as_deref(), Some("rp"));
    assert_eq!(param("scope").as_deref(), Some("email openid profile"));
    assert_eq!(
        param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("ui_locales").as_deref(), Some("fr en"));

    // The challenge was single-use.
    let consent_manager = f.app.admin_token("consent:manage").await;
    let r = f
        .app
        .http
        .put(
            f.app
                .url(&format!("/admin/consent-requests/{challenge}/accept")),
        )
        .bearer_auth(&consent_manager)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;

    // Remembered: the same scopes again need no consent app.
    let started = start(&f.rp, &["email"], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), nobody)
        .await
        .redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");

    // Asked again with prompt=consent, the app is told the decision is remembered.
    let started = start(&f.rp, &["email"], &[("prompt", "consent")]);
    let to_app = f
        .browser
        .walk(started.url.as_str(), nobody)
        .await
        .redirect();
    let back = f.browser.http.get(to_app.as_str()).send().await.unwrap();
    let landing = f.browser.follow(back, nobody).await.redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
    let last = shared.lock().unwrap().seen.last().cloned().unwrap();
    assert_eq!(last["skip"], true);
    assert_eq!(last["oidc_context"]["login_hint"], Value::Null);

    // Rejected: the client hears access_denied.
    shared.lock().unwrap().mode = Some(Mode::Reject);
    let started = start(&f.rp, &["profile"], &[]);
    let to_app = f
        .browser
        .walk(started.url.as_str(), nobody)
        .await
        .redirect();
    let back = f.browser.http.get(to_app.as_str()).send().await.unwrap();
    let landing = f.browser.follow(back, nobody).await.redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        Landing::param(&landing, "error_description").as_deref(),
        Some("not today")
    );
}

/// Starts a flow, signs in, and lets the (holding) consent app see it; returns the challenge.
pub(super) async fn hold(f: &Fixture, scopes: &[&str]) -> String {
    hold_flow(f, &start(&f.rp, scopes, &[])).await
}

/// [`hold`] for a flow already started. The app is handed the challenge under both the
/// current name and the Hydra 0.x one.
pub(super) async fn hold_flow(f: &Fixture, started: &Started) -> String {
    let to_app = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    f.browser.http.get(to_app.as_str()).send().await.unwrap();
    let challenge = Landing::param(&to_app, "consent_challenge").unwrap();
    assert_eq!(Landing::param(&to_app, "consent"), Some(challenge.clone()));
    challenge
}

async fn replayed_expired_and_wrong_answers_are_refused(backend: Backend) {
    let (port, shared) = consent_app().await;
    let consent_url = format!("http://127.0.0.1:{port}/consent");
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_URL", &consent_url)]).await;
    let manager = f.app.admin_token("consent:manage").await;
    {
        let mut s = shared.lock().unwrap();
        s.base = f.app.base.clone();
        s.token = manager.clone();
        s.mode = Some(Mode::Hold);
    }
    let nobody = Person {
        credentials: None,
        consent: None,
    };
    let put = |challenge: String, verb: &'static str, body: Value| {
        f.app
            .http
            .put(
                f.app
                    .url(&format!("/admin/consent-requests/{challenge}/{verb}")),
            )
            .bearer_auth(&manager)
            .json(&body)
            .send()
    };

    let challenge = hold(&f, &["email"]).await;
    // Only consent:manage may read or answer.
    let other = f.app.admin_token("clients:read").await;
    let r = f
        .app
        .http
        .get(f.app.url(&format!("/admin/consent-requests/{challenge}")))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    // Scopes that were not requested cannot be granted.
    let r = put(
        challenge.clone(),
        "accept",
        json!({ "grant_scope": ["openid", "phone"] }),
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_request").await;
    // A malformed answer is refused, not read as "accept everything".
    let r = put(
        challenge.clone(),
        "accept",
        json!({ "grant_scope": "openid" }),
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = put(
        challenge.clone(),
        "accept",
        json!({ "remember": true, "scope": ["openid"] }),
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = put(challenge.clone(), "reject", json!({ "error": "<script>" }))
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let first = put(challenge.clone(), "accept", json!({})).await.unwrap();
    assert_eq!(first.status(), 200);
    let redirect_to = json(first).await["redirect_to"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        redirect_to.starts_with(&f.app.url("/oauth2/auth/resume?")),
        "{redirect_to}"
    );
    let r = put(challenge.clone(), "accept", json!({})).await.unwrap();
    assert_error(r, 409, "conflict").await;
    let r = put(challenge.clone(), "reject", json!({})).await.unwrap();
    assert_error(r, 409, "conflict").await;

    // The verifier must come back with the browser, and only from the browser that began.
    let tampered = redirect_to.replace("consent_verifier=", "consent_verifier=x");
    let r = f.browser.http.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let stranger = crate::helpers::browser::Browser::new(&f.app);
    let r = stranger.http.get(&redirect_to).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let ok = f.browser.http.get(&redirect_to).send().await.unwrap();
    let landing = f.browser.follow(ok, nobody).await.redirect();
    assert!(Landing::param(&landing, "code").is_some());

    // An expired challenge is gone.
    let challenge = hold(&f, &["profile"]).await;
    {
        use diesel::prelude::*;
        use portcullis::storage::schema::auth_flows;
        diesel::update(auth_flows::table)
            .set(auth_flows::expires_at.eq(portcullis::protocol::time::now() - 1))
            .execute(&mut *f.app.db.conn().unwrap())
            .unwrap();
    }
    let r = f
        .app
        .http
        .get(f.app.url(&format!("/admin/consent-requests/{challenge}")))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    let r = put(challenge, "accept", json!({})).await.unwrap();
    assert_error(r, 404, "not_found").await;
    let r = f
        .app
        .http
        .get(f.app.url("/admin/consent-requests/made-up"))
        .bearer_auth(&manager)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

on_both_backends!(
    a_consent_app_answers_for_the_server,
    replayed_expired_and_wrong_answers_are_refused
);
