//! What comes back to a relying party is what this server says, not what a caller sent:
//! an over-long `state` is refused without being echoed, unvalidated values never reach
//! `error_description`, and every description is short.

use url::Url;

use crate::helpers::browser::Landing;
use crate::helpers::relying_party::{urlencode, CALLBACK};
use crate::helpers::{Backend, TestApp};

const MESSAGE: &str = "Your account is locked. Call +1 555 0100 now. ";

async fn redirected_error(app: &TestApp, query: &str) -> (usize, Url) {
    let r = app
        .http
        .get(app.url(&format!("/oauth2/auth?{query}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    (location.len(), Url::parse(&location).unwrap())
}

async fn authorization_errors_echo_nothing_they_did_not_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register(serde_json::json!({
        "client_id": "rp",
        "redirect_uris": [CALLBACK],
        "scope": "openid profile",
    }));
    let base = format!(
        "client_id=rp&redirect_uri={}&scope=openid",
        urlencode(CALLBACK)
    );
    let long_state = "s".repeat(60_000);
    let (length, url) = redirected_error(&app, &format!("{base}&state={long_state}")).await;
    assert!(length < 1_000, "a {length}-byte Location");
    assert_eq!(
        Landing::param(&url, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        Landing::param(&url, "state"),
        None,
        "the state is not echoed"
    );
    assert!(Landing::param(&url, "error_description")
        .unwrap()
        .contains("state"));

    let shouting = urlencode(&MESSAGE.repeat(150));
    for (parameter, query) in [
        ("response_type", format!("{base}&state=ok&response_type={shouting}")),
        ("prompt", format!("{base}&state=ok&response_type=code&prompt={shouting}")),
        (
            "response_mode",
            format!("{base}&state=ok&response_type=code&response_mode={shouting}"),
        ),
        (
            "code_challenge_method",
            format!(
                "{base}&state=ok&response_type=code&code_challenge={}&code_challenge_method={shouting}",
                "a".repeat(43)
            ),
        ),
        (
            "a repeated unknown parameter",
            format!("{base}&state=ok&response_type=code&{shouting}=1&{shouting}=2"),
        ),
        (
            "scope",
            format!(
                "client_id=rp&redirect_uri={}&state=ok&response_type=code&scope=openid+{}",
                urlencode(CALLBACK),
                (0..400).map(|i| format!("locked{i:03}")).collect::<Vec<_>>().join("+")
            ),
        ),
    ] {
        let (length, url) = redirected_error(&app, &query).await;
        let description = Landing::param(&url, "error_description").unwrap_or_default();
        assert!(length < 1_000, "{parameter}: a {length}-byte Location");
        assert!(
            description.chars().count() <= 300,
            "{parameter}: {description}"
        );
        assert!(!description.contains("locked"), "{parameter}: {description}");
        assert_eq!(Landing::param(&url, "state").as_deref(), Some("ok"), "{parameter}");
    }
}

/// The token endpoint answers in JSON, with the same bound.
async fn token_errors_are_short(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    for form in [
        vec![("grant_type", MESSAGE.repeat(50))],
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("scope", MESSAGE.repeat(50).replace(['.', '+'], "")),
        ],
    ] {
        let r = app
            .http
            .post(app.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body = r.text().await.unwrap();
        assert!(body.len() < 400, "{body}");
        assert!(!body.contains("locked"), "{body}");
    }
}

on_both_backends!(
    authorization_errors_echo_nothing_they_did_not_check,
    token_errors_are_short,
);
