//! The consent page tells the truth: where the answer goes, whether the app is vouched
//! for by the server's administrators, no remote images, no name that reads as the
//! server's or as something it is not, and no lasting decision unless chosen.

use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::relying_party::{fixture_with, urlencode, CALLBACK};
use crate::helpers::{assert_error, json, Backend, TestApp};

/// Follows the flow for `client_id` inside this server until a page is shown.
async fn consent_page(
    app: &TestApp,
    browser: &Browser,
    client_id: &str,
    redirect: &str,
) -> (String, String) {
    let mut url = app.url(&format!(
        "/oauth2/auth?client_id={client_id}&response_type=code&scope=openid%20email&state=s\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\
         &redirect_uri={}",
        urlencode(redirect)
    ));
    for _ in 0..5 {
        let r = browser.http.get(&url).send().await.unwrap();
        if r.status().is_redirection() {
            let location = r.headers()["location"].to_str().unwrap().to_owned();
            url = if location.starts_with('/') {
                app.url(&location)
            } else {
                location
            };
            continue;
        }
        assert_eq!(r.status(), 200, "{url}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        return (r.text().await.unwrap(), csp);
    }
    panic!("no page for {client_id}");
}

async fn the_consent_page_tells_the_truth(backend: Backend) {
    let f = fixture_with(backend, &[]).await;
    let mallory = f.app.user_token("mallory", false, "clients:write");
    let register = |token: String, body: serde_json::Value| {
        let app = &f.app;
        async move { app.register_as(&token, &body).await }
    };
    // Names that read as something else, or as the server.
    for name in [
        "Portcullis Admin \u{202e}gnp.exe\u{202c}\u{200b}\nSecurity check",
        "Reading\u{200b}Room",
        "Two\nlines",
    ] {
        let r = register(
            mallory.clone(),
            json!({"client_name": name, "redirect_uris": ["https://evil.example/cb"]}),
        )
        .await;
        assert_error(r, 400, "invalid_request").await;
    }
    for name in [
        "Portcullis Admin",
        "PORTCULLIS security check",
        "p-o-r-t-c-u-l-l-i-s",
    ] {
        let r = register(
            mallory.clone(),
            json!({"client_name": name, "redirect_uris": ["https://evil.example/cb"]}),
        )
        .await;
        let body = assert_error(r, 400, "invalid_client_metadata").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("client_name"),
            "{body}"
        );
    }
    let admin = f.app.admin_token("clients:write").await;
    let r = register(
        admin,
        json!({"client_name": "Portcullis Account Portal", "redirect_uris": [CALLBACK]}),
    )
    .await;
    assert_eq!(r.status(), 201, "admins may use the server's name");

    let r = register(
        mallory.clone(),
        json!({
            "client_name": "Reading Helper",
            "client_uri": "https://accounts.google.com/",
            "logo_uri": "https://www.google.com/images/branding/googlelogo.png",
            "redirect_uris": ["https://evil.example/cb"],
            "scope": "openid email",
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let helper = json(r).await["client_id"].as_str().unwrap().to_owned();

    let browser = Browser::new(&f.app);
    assert_eq!(browser.sign_in("ann", "ann's password").await.status(), 303);
    let (page, csp) = consent_page(&f.app, &browser, &helper, "https://evil.example/cb").await;
    assert!(page.contains("Unverified app"), "{page}");
    assert!(
        page.contains("you will be sent to <strong>evil.example</strong>"),
        "{page}"
    );
    assert!(
        !page.contains("class=\"logo\"") && !page.contains("googlelogo"),
        "no remote logo: {page}"
    );
    assert!(
        !page.contains(" checked"),
        "Remember this decision starts unticked: {page}"
    );
    assert!(csp.contains("img-src 'self';"), "{csp}");
    assert!(!csp.contains("https:"), "{csp}");

    // The system's own relying party is not marked.
    let (page, _) = consent_page(&f.app, &browser, "rp", CALLBACK).await;
    assert!(!page.contains("Unverified app"), "{page}");
    assert!(
        page.contains("you will be sent to <strong>127.0.0.1:1</strong>"),
        "{page}"
    );
}

/// The setting that ticks "Remember this decision" by default.
async fn remembering_by_default_is_a_setting(backend: Backend) {
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_REMEMBER_DEFAULT", "true")]).await;
    let browser = Browser::new(&f.app);
    browser.sign_in("ann", "ann's password").await;
    let (page, _) = consent_page(&f.app, &browser, "rp", CALLBACK).await;
    assert!(
        page.contains("name=\"remember\" value=\"yes\" checked"),
        "{page}"
    );
}

on_both_backends!(
    the_consent_page_tells_the_truth,
    remembering_by_default_is_a_setting
);
