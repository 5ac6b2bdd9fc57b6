//! An organisation's own sign-in and consent pages: a small app, written here, replaces
//! both of the server's pages through the login- and consent-request APIs, and a person
//! goes through it in headless Chromium.

use std::sync::{Arc, Mutex};

use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use super::e2e::{button, input_labelled, landed, launch, screenshot};
use crate::helpers::listener::{serve, Reply};
use crate::helpers::relying_party::{fixture_with, relying_party, start};
use crate::helpers::{json, Backend};

/// What the app saw of the server's requests.
#[derive(Default)]
struct Seen {
    login_views: Vec<Value>,
    consent_views: Vec<Value>,
    login_challenges: Vec<String>,
}

struct OwnUi {
    base: String,
    token: String,
    http: reqwest::Client,
    seen: Mutex<Seen>,
    callback: tokio::sync::mpsc::UnboundedSender<String>,
}

fn param(target: &str, name: &str) -> String {
    let url = url::Url::parse(&format!("http://app{target}")).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn page(title: &str, body: &str) -> Reply {
    Reply::Page(format!(
        "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}"
    ))
}

impl OwnUi {
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        json(r.send().await.unwrap()).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        let answer = json(r.json(&body).send().await.unwrap()).await;
        Reply::Redirect(
            answer["redirect_to"]
                .as_str()
                .expect("redirect_to")
                .to_owned(),
        )
    }

    async fn handle(&self, target: String) -> Reply {
        let path = target.split('?').next().unwrap_or_default().to_owned();
        match path.as_str() {
            "/sign-in" => {
                let challenge = param(&target, "login_challenge");
                let view = self
                    .get(&format!("/admin/login-requests/{challenge}"))
                    .await;
                let app = view["client"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.seen.lock().unwrap().login_views.push(view);
                page(
                    "Company sign-in",
                    &format!(
                        "<p>to {app}</p><form action=/sign-in/done method=get>\
                         <input type=hidden name=challenge value={challenge}>\
                         <label for=who>Staff name</label><input id=who name=who>\
                         <button>Continue</button></form>"
                    ),
                )
            }
            "/sign-in/done" => {
                let challenge = param(&target, "challenge");
                self.seen
                    .lock()
                    .unwrap()
                    .login_challenges
                    .push(challenge.clone());
                let body = json!({
                    "subject": param(&target, "who"), "remember": true,
                    "acr": "urn:example:badge", "amr": ["hwk", "pin"],
                });
                self.put(&format!("/admin/login-requests/{challenge}/accept"), body)
                    .await
            }
            "/consent" => {
                let challenge = param(&target, "consent_challenge");
                let view = self
                    .get(&format!("/admin/consent-requests/{challenge}"))
                    .await;
                self.seen.lock().unwrap().consent_views.push(view);
                page(
                    "Company consent",
                    &format!(
                        "<form action=/consent/done method=get>\
                         <input type=hidden name=challenge value={challenge}>\
                         <button>Share</button></form>"
                    ),
                )
            }
            "/consent/done" => {
                let challenge = param(&target, "challenge");
                let body = json!({
                    "grant_scope": ["openid", "email"],
                    "session": {
                        "access_token": {"department": "archive"},
                        "id_token": {"badge": "B-7"},
                    },
                });
                self.put(&format!("/admin/consent-requests/{challenge}/accept"), body)
                    .await
            }
            "/callback" => {
                let _ = self.callback.send(target);
                page("Signed in", "")
            }
            _ => Reply::Page(String::new()),
        }
    }
}

async fn an_own_sign_in_and_consent_app_replaces_both_pages_in_chromium(backend: Backend) {
    let (tx, mut callback) = tokio::sync::mpsc::unbounded_channel();
    let ui = Arc::new(Mutex::new(None::<Arc<OwnUi>>));
    let slot = ui.clone();
    let port = serve(move |target: String| {
        let app = slot.lock().unwrap().clone();
        async move {
            match app {
                Some(app) => app.handle(target).await,
                None => Reply::Page(String::new()),
            }
        }
    })
    .await;
    let own = format!("http://127.0.0.1:{port}");
    let f = fixture_with(
        backend,
        &[
            ("PORTCULLIS_LOGIN_URL", &format!("{own}/sign-in")),
            ("PORTCULLIS_CONSENT_URL", &format!("{own}/consent")),
        ],
    )
    .await;
    let app = Arc::new(OwnUi {
        base: f.app.base.clone(),
        token: f.app.admin_token("login:manage consent:manage").await,
        http: reqwest::Client::new(),
        seen: Mutex::default(),
        callback: tx,
    });
    *ui.lock().unwrap() = Some(app.clone());
    let redirect = format!("{own}/callback");
    f.app.register(json!({
        "client_id": "reading-room",
        "client_secret": "reading room secret of at least 32 chars",
        "client_name": "Reading Room",
        "redirect_uris": [redirect],
        "scope": "openid profile email",
        "access_token_format": "jwt",
    }));
    let rp = relying_party(
        &f.app,
        "reading-room",
        Some("reading room secret of at least 32 chars"),
    )
    .await
    .set_redirect_uri(openidconnect::RedirectUrl::new(redirect.clone()).unwrap());
    let started = start(&rp, &["profile", "email"], &[("login_hint", "ann")]);
    let url = started.url.to_string();
    let (server, tag) = (f.app.base.clone(), format!("{backend:?}").to_lowercase());

    tokio::task::spawn_blocking(move || {
        let browser = launch();
        let tab = browser.new_tab().unwrap();
        tab.navigate_to(&url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.wait_for_xpath("//h1[normalize-space()='Company sign-in']")
            .unwrap();
        assert!(tab
            .get_url()
            .starts_with(&format!("{own}/sign-in?login_challenge=")));
        assert!(tab.get_content().unwrap().contains("to Reading Room"));
        input_labelled(&tab, "Staff name").click().unwrap();
        tab.type_str("ann").unwrap();
        screenshot(&tab, &format!("own-sign-in-{tag}.png"));
        button(&tab, "Continue").click().unwrap();
        tab.wait_for_xpath("//h1[normalize-space()='Company consent']")
            .unwrap();
        assert!(!tab.get_url().starts_with(&server), "{}", tab.get_url());
        button(&tab, "Share").click().unwrap();
        tab.wait_for_xpath("//h1[normalize-space()='Signed in']")
            .unwrap();
        assert!(
            tab.get_url().starts_with(&format!("{own}/callback?code=")),
            "{}",
            tab.get_url()
        );
    })
    .await
    .unwrap();

    let landed = landed(&mut callback).await;
    let code = landed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&f.app.http)
        .await
        .unwrap();
    let ann = portcullis::service::users::get(&f.app.db, "ann")
        .unwrap()
        .id;
    let id_token = token.id_token().unwrap();
    let claims = id_token
        .claims(&rp.id_token_verifier(), &started.nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), ann);
    let payload = id_token.to_string();
    let payload: Value = serde_json::from_slice(&crate::helpers::relying_party::base64_url(
        payload.split('.').nth(1).unwrap(),
    ))
    .unwrap();
    assert_eq!(payload["badge"], "B-7", "the consent app's ID token claim");
    assert_eq!(payload["acr"], "urn:example:badge", "as the login app said");
    assert_eq!(payload["amr"], json!(["hwk", "pin"]));
    let access: Value = serde_json::from_slice(&crate::helpers::relying_party::base64_url(
        token.access_token().secret().split('.').nth(1).unwrap(),
    ))
    .unwrap();
    assert_eq!(access["department"], "archive");
    assert_eq!(
        access["scope"], "email openid",
        "what the consent app granted"
    );

    let seen = app.seen.lock().unwrap();
    let login = &seen.login_views[0];
    assert_eq!(login["client"]["client_id"], "reading-room");
    assert_eq!(
        login["requested_scope"],
        json!(["email", "openid", "profile"])
    );
    assert_eq!(login["oidc_context"]["login_hint"], "ann");
    assert_eq!(login["skip"], false);
    let consent = &seen.consent_views[0];
    assert_eq!(consent["subject"], ann.as_str());
    assert_eq!(
        consent["login_challenge"],
        seen.login_challenges[0].as_str()
    );
    assert_eq!(consent["acr"], "urn:example:badge");
    assert_eq!(consent["amr"], json!(["hwk", "pin"]));
}

on_both_backends!(an_own_sign_in_and_consent_app_replaces_both_pages_in_chromium);
