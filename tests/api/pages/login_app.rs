//! Delegated sign-in: the test plays the login app, reading and answering the sign-in
//! through the login-request API while the browser goes back and forth.

use openidconnect::core::{CoreIdTokenClaims, CoreTokenResponse};
use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};
use url::Url;

use crate::helpers::browser::{Browser, Landing, Person};
use crate::helpers::census::census;
use crate::helpers::relying_party::{fixture_with, start, Fixture, Started, CALLBACK};
use crate::helpers::{assert_error, json, Backend};

const LOGIN_URL: &str = "http://127.0.0.1:1/sign-in";

/// Someone who never types a password here: the login app signs her in.
const ALLOWS: Person<'static> = Person {
    credentials: None,
    consent: Some((true, true)),
};

struct LoginApp<'a> {
    f: &'a Fixture,
    token: String,
}

impl LoginApp<'_> {
    async fn new(f: &Fixture) -> LoginApp<'_> {
        let token = f.app.admin_token("login:manage").await;
        LoginApp { f, token }
    }

    /// Starts `started` in `browser`; the challenge the login app is handed.
    async fn asked(&self, browser: &Browser, started: &Started) -> String {
        let to_app = browser.walk(started.url.as_str(), ALLOWS).await.redirect();
        assert!(to_app.as_str().starts_with(LOGIN_URL), "{to_app}");
        Landing::param(&to_app, "login_challenge").expect("a login challenge")
    }

    async fn view(&self, challenge: &str) -> reqwest::Response {
        let url = self
            .f
            .app
            .url(&format!("/admin/login-requests/{challenge}"));
        self.f
            .app
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn answer(&self, challenge: &str, verb: &str, body: Value) -> reqwest::Response {
        let url = self
            .f
            .app
            .url(&format!("/admin/login-requests/{challenge}/{verb}"));
        self.f
            .app
            .http
            .put(url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Answers, and returns the `redirect_to` the browser is sent to.
    async fn redirect_to(&self, challenge: &str, verb: &str, body: Value) -> String {
        let r = self.answer(challenge, verb, body).await;
        assert_eq!(r.status(), 200);
        json(r).await["redirect_to"].as_str().unwrap().to_owned()
    }
}

/// The browser goes back to the server with the login app's answer.
async fn back(browser: &Browser, redirect_to: &str) -> Landing {
    let r = browser.http.get(redirect_to).send().await.unwrap();
    browser.follow(r, ALLOWS).await
}

fn settings() -> [(&'static str, &'static str); 1] {
    [("PORTCULLIS_LOGIN_URL", LOGIN_URL)]
}

fn ann_id(f: &Fixture) -> String {
    portcullis::service::users::get(&f.app.db, "ann")
        .unwrap()
        .id
}

async fn a_login_app_signs_people_in_for_the_server(backend: Backend) {
    let f = fixture_with(backend, &settings()).await;
    let app = LoginApp::new(&f).await;
    let hints = [
        ("login_hint", "ann"),
        ("ui_locales", "de"),
        ("acr_values", "urn:loa:2"),
    ];
    let started = start(&f.rp, &["email", "offline_access"], &hints);
    let challenge = app.asked(&f.browser, &started).await;
    assert!(
        f.browser.seen.borrow().is_empty(),
        "no page of the server was shown"
    );

    let view = json(app.view(&challenge).await).await;
    assert_eq!(view["challenge"], challenge.as_str());
    assert_eq!(view["client"]["client_id"], "rp");
    assert_eq!(view["client"]["name"], "Reading Room");
    assert_eq!(
        view["requested_scope"],
        json!(["email", "offline_access", "openid"])
    );
    assert_eq!(view["skip"], false, "nobody is signed in");
    assert_eq!(view["subject"], Value::Null);
    assert_eq!(view["oidc_context"]["login_hint"], "ann");
    assert_eq!(view["oidc_context"]["ui_locales"], json!(["de"]));
    assert_eq!(view["oidc_context"]["acr_values"], json!(["urn:loa:2"]));
    let request_url = Url::parse(view["request_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        Landing::param(&request_url, "state").as_deref(),
        Some(started.state.secret().as_str())
    );

    // Accepted by username, not remembered: the flow goes on to the consent page.
    let redirect_to = app
        .redirect_to(
            &challenge,
            "accept",
            json!({"subject": "ann", "acr": "urn:loa:2", "amr": ["pwd", "otp"]}),
        )
        .await;
    assert!(
        redirect_to.starts_with(&f.app.url("/oauth2/auth/resume?")),
        "{redirect_to}"
    );
    let landing = back(&f.browser, &redirect_to).await.redirect();
    assert_eq!(*f.browser.seen.borrow(), ["consent"]);
    assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    let nonce = started.nonce.clone();
    let token = exchange(&f, started, &landing).await;
    let claims = token
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), ann_id(&f));
    // The ID token says how she signed in, as the login app told it, after a refresh too.
    let said = |claims: &CoreIdTokenClaims| {
        let amr: Vec<String> = claims
            .auth_method_refs()
            .map(|refs| refs.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        (claims.auth_context_ref().map(|acr| acr.to_string()), amr)
    };
    let told = (
        Some("urn:loa:2".to_owned()),
        vec!["pwd".to_owned(), "otp".to_owned()],
    );
    assert_eq!(said(claims), told);
    let refreshed =
        f.rp.exchange_refresh_token(token.refresh_token().expect("offline access"))
            .unwrap()
            .request_async(&f.app.http)
            .await
            .expect("a refresh");
    let no_nonce = |_: Option<&openidconnect::Nonce>| Ok(());
    let again = refreshed
        .id_token()
        .expect("an ID token on refresh")
        .claims(&f.rp.id_token_verifier(), no_nonce)
        .expect("a valid ID token");
    assert_eq!(said(again), told);

    // The answer was single-use, and the challenge is spent.
    let again = f.browser.http.get(&redirect_to).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert_error(app.view(&challenge).await, 404, "not_found").await;

    // Not remembered: the next request goes to the login app again, and rejected
    // there, the client hears the app's error.
    let started = start(&f.rp, &["email"], &[]);
    let challenge = app.asked(&f.browser, &started).await;
    let body = json!({"error": "login_required", "error_description": "no such person"});
    let redirect_to = app.redirect_to(&challenge, "reject", body).await;
    let landing = back(&f.browser, &redirect_to).await.redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        Landing::param(&landing, "error_description").as_deref(),
        Some("no such person")
    );
    assert_eq!(
        Landing::param(&landing, "state").as_deref(),
        Some(started.state.secret().as_str())
    );

    // Remembered, by sub: the browser keeps a session, and the remembered consent
    // lets the next request through without either app.
    let started = start(&f.rp, &["email"], &[]);
    let challenge = app.asked(&f.browser, &started).await;
    let body = json!({"subject": ann_id(&f), "remember": true, "remember_for": 3600});
    let redirect_to = app.redirect_to(&challenge, "accept", body).await;
    let landing = back(&f.browser, &redirect_to).await.redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
    assert!(f.browser.seen.borrow().is_empty(), "consent was remembered");
    let started = start(&f.rp, &["email"], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), ALLOWS)
        .await
        .redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
    let sessions = portcullis::service::sessions::list(
        &f.app.db,
        &ann_id(&f),
        portcullis::protocol::time::now(),
    )
    .unwrap();
    assert_eq!(sessions.len(), 1);

    // prompt=none, nobody signed in: the client hears login_required, no app is asked.
    let stranger = Browser::new(&f.app);
    let started = start(&f.rp, &["email"], &[("prompt", "none")]);
    let landing = stranger.walk(started.url.as_str(), ALLOWS).await.redirect();
    assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("login_required")
    );
}

/// Exchanges the code `landing` carries for `started`.
async fn exchange(f: &Fixture, started: Started, landing: &Url) -> CoreTokenResponse {
    let code = Landing::param(landing, "code").unwrap_or_else(|| panic!("no code: {landing}"));
    f.rp.exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&f.app.http)
        .await
        .expect("the code is exchanged")
}

/// [`exchange`], then the verified claims of the ID token.
async fn id_token_of(f: &Fixture, started: Started, landing: &Url) -> CoreIdTokenClaims {
    let nonce = started.nonce.clone();
    exchange(f, started, landing)
        .await
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), &nonce)
        .expect("a valid ID token")
        .clone()
}

async fn a_skip_takes_her_as_she_was_while_her_session_lives(backend: Backend) {
    let f = fixture_with(backend, &settings()).await;
    let app = LoginApp::new(&f).await;
    let started = start(&f.rp, &["email"], &[]);
    let challenge = app.asked(&f.browser, &started).await;
    let body = json!({"subject": "ann", "remember": true});
    let redirect_to = app.redirect_to(&challenge, "accept", body).await;
    back(&f.browser, &redirect_to).await.redirect();
    // She signed in to her session a while ago.
    let signed_in_at = portcullis::protocol::time::now() - 1000;
    {
        use diesel::prelude::*;
        use portcullis::storage::schema::sessions;
        diesel::update(sessions::table)
            .set(sessions::auth_time.eq(signed_in_at))
            .execute(&mut *f.app.db.conn().unwrap())
            .unwrap();
    }

    // Signed in, asked to choose an account: the app may take her as she is, and then
    // her sign-in is the session's, and she keeps the one session.
    let started = start(&f.rp, &["email"], &[("prompt", "select_account")]);
    let challenge = app.asked(&f.browser, &started).await;
    let view = json(app.view(&challenge).await).await;
    assert_eq!(view["skip"], true);
    assert_eq!(view["subject"], ann_id(&f).as_str());
    assert_eq!(view["username"], "ann");
    let body = json!({"subject": ann_id(&f), "remember": true});
    let redirect_to = app.redirect_to(&challenge, "accept", body).await;
    let landing = back(&f.browser, &redirect_to).await.redirect();
    let claims = id_token_of(&f, started, &landing).await;
    assert_eq!(
        claims.auth_time().map(|t| t.timestamp()),
        Some(signed_in_at)
    );
    let now = portcullis::protocol::time::now();
    let sessions = portcullis::service::sessions::list(&f.app.db, &ann_id(&f), now).unwrap();
    assert_eq!(sessions.len(), 1);

    // Asked to sign in again: not skippable, though the app is told who it was.
    let started = start(&f.rp, &["email"], &[("prompt", "login")]);
    let challenge = app.asked(&f.browser, &started).await;
    let view = json(app.view(&challenge).await).await;
    assert_eq!(view["skip"], false);
    assert_eq!(view["subject"], ann_id(&f).as_str());

    // Her sessions ended while the app was asked: she is nobody's to skip to.
    let started = start(&f.rp, &["email"], &[("prompt", "select_account")]);
    let challenge = app.asked(&f.browser, &started).await;
    portcullis::service::users::end_sessions(&f.app.db, "ann").unwrap();
    let view = json(app.view(&challenge).await).await;
    assert_eq!(view["skip"], false);
    assert_eq!(view["subject"], Value::Null);
    let body = json!({"subject": "ann"});
    let redirect_to = app.redirect_to(&challenge, "accept", body).await;
    let landing = back(&f.browser, &redirect_to).await.redirect();
    let claims = id_token_of(&f, started, &landing).await;
    let auth_time = claims.auth_time().map(|t| t.timestamp()).unwrap();
    assert!(auth_time >= now, "a new sign-in: {auth_time} < {now}");
}

async fn the_sign_in_page_is_off_with_a_login_app(backend: Backend) {
    let f = fixture_with(backend, &settings()).await;
    let app = LoginApp::new(&f).await;
    app.asked(&f.browser, &start(&f.rp, &["email"], &[])).await;
    let flow = {
        use diesel::prelude::*;
        use portcullis::storage::schema::auth_flows;
        auth_flows::table
            .select(auth_flows::id)
            .first::<String>(&mut *f.app.db.conn().unwrap())
            .unwrap()
    };
    let page = f
        .browser
        .http
        .get(f.app.url("/logout"))
        .send()
        .await
        .unwrap();
    let csrf = crate::helpers::browser::field(&page.text().await.unwrap(), "csrf_token")
        .expect("a CSRF token");
    let before = census(&f.app);
    let r = f
        .browser
        .http
        .get(f.app.url(&format!("/login?flow={flow}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A password typed here would go around the login app.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("flow", flow.as_str()),
        ("username", "ann"),
        ("password", "ann's password"),
    ];
    let r = f
        .browser
        .http
        .post(f.app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("sign-in app"));
    assert_eq!(census(&f.app), before, "nobody was signed in");
}

async fn login_answers_are_checked_and_a_refusal_changes_nothing(backend: Backend) {
    let f = fixture_with(backend, &settings()).await;
    let app = LoginApp::new(&f).await;
    let consent_manager = f.app.admin_token("consent:manage").await;
    let user = f.app.user_token("mal", false, "login:manage");
    let started = start(&f.rp, &["email"], &[]);
    let challenge = app.asked(&f.browser, &started).await;
    let before = census(&f.app);
    let refused = [
        json!({}),
        json!({"subject": "nobody-here"}),
        json!({"subject": ""}),
        json!({"subject": "ann\u{0}"}),
        json!({"subject": "ann", "amr": ["<b>"]}),
        json!({"subject": "ann", "amr": "pwd"}),
        json!({"subject": "ann", "acr": ""}),
        json!({"subject": "ann", "remember": true, "remember_for": -1}),
        json!({"subject": "ann", "grant_scope": ["openid"]}),
    ];
    for body in refused {
        let r = app.answer(&challenge, "accept", body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        assert_error(r, 400, "invalid_request").await;
    }
    let r = app
        .answer(&challenge, "reject", json!({"error": "<script>"}))
        .await;
    assert_error(r, 400, "invalid_request").await;
    // Only login:manage may read or answer, and only the system or an admin holds it.
    let url = f
        .app
        .url(&format!("/admin/login-requests/{challenge}/accept"));
    let r = f
        .app
        .http
        .put(&url)
        .bearer_auth(&consent_manager)
        .json(&json!({"subject": "ann"}))
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    let r = f
        .app
        .http
        .put(&url)
        .bearer_auth(&user)
        .json(&json!({"subject": "mal"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = f
        .app
        .http
        .put(&url)
        .json(&json!({"subject": "ann"}))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
    assert_eq!(census(&f.app), before, "a refused answer changed something");

    // The first answer counts; the verifier must come back in the browser that began.
    let redirect_to = app
        .redirect_to(&challenge, "accept", json!({"subject": "ann"}))
        .await;
    let r = app
        .answer(&challenge, "accept", json!({"subject": "ann"}))
        .await;
    assert_error(r, 409, "conflict").await;
    let r = app.answer(&challenge, "reject", json!({})).await;
    assert_error(r, 409, "conflict").await;
    let stranger = Browser::new(&f.app);
    let r = stranger.http.get(&redirect_to).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let tampered = redirect_to.replace("login_verifier=", "login_verifier=x");
    let r = f.browser.http.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let landing = back(&f.browser, &redirect_to).await.redirect();
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");

    // Unknown and expired challenges are gone.
    assert_error(app.view("made-up").await, 404, "not_found").await;
    let challenge = app.asked(&f.browser, &start(&f.rp, &["email"], &[])).await;
    {
        use diesel::prelude::*;
        use portcullis::storage::schema::auth_flows;
        diesel::update(auth_flows::table)
            .set(auth_flows::expires_at.eq(portcullis::protocol::time::now() - 1))
            .execute(&mut *f.app.db.conn().unwrap())
            .unwrap();
    }
    assert_error(app.view(&challenge).await, 404, "not_found").await;
    let r = app
        .answer(&challenge, "accept", json!({"subject": "ann"}))
        .await;
    assert_error(r, 404, "not_found").await;
}

async fn outside_identifiers_become_users_only_when_allowed(backend: Backend) {
    let mut with = settings().to_vec();
    with.push(("PORTCULLIS_LOGIN_APP_CREATES_USERS", "true"));
    let f = fixture_with(backend, &with).await;
    let app = LoginApp::new(&f).await;
    let started = start(&f.rp, &["email"], &[]);
    let challenge = app.asked(&f.browser, &started).await;
    let r = app
        .answer(&challenge, "accept", json!({"subject": "ldap|7"}))
        .await;
    assert_error(r, 400, "invalid_request").await;
    let redirect_to = app
        .redirect_to(&challenge, "accept", json!({"subject": "ldap.7"}))
        .await;
    let landing = back(&f.browser, &redirect_to).await.redirect();
    let claims = id_token_of(&f, started, &landing).await;
    let user = portcullis::service::users::get(&f.app.db, "ldap.7").expect("recorded as a user");
    assert_eq!(claims.subject().as_str(), user.id);
    assert!(!user.admin);
    // She has no password here: only the login app can sign her in.
    for password in ["", "anything at all"] {
        let now = portcullis::protocol::time::now();
        let tried = portcullis::service::users::sign_in(&f.app.db, "ldap.7", password, "n", now);
        assert!(matches!(
            tried,
            Ok(portcullis::service::users::SignIn::Wrong)
        ));
    }

    // Without the setting, an unknown subject is refused and nobody is recorded.
    let f = fixture_with(backend, &settings()).await;
    let app = LoginApp::new(&f).await;
    let challenge = app.asked(&f.browser, &start(&f.rp, &["email"], &[])).await;
    let r = app
        .answer(&challenge, "accept", json!({"subject": "ldap.7"}))
        .await;
    assert_error(r, 400, "invalid_request").await;
    assert!(portcullis::service::users::get(&f.app.db, "ldap.7").is_err());
}

on_both_backends!(
    a_login_app_signs_people_in_for_the_server,
    a_skip_takes_her_as_she_was_while_her_session_lives,
    the_sign_in_page_is_off_with_a_login_app,
    login_answers_are_checked_and_a_refusal_changes_nothing,
    outside_identifiers_become_users_only_when_allowed
);
