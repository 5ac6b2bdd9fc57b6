//! A person in a real headless Chromium: signs in and consents on the pages, found by
//! their visible labels, and lands on the relying party's redirect. Screenshots of the
//! pages are saved under `test-artifacts/`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use openidconnect::{AuthorizationCode, Nonce, TokenResponse};
use serde_json::json;

use crate::helpers::listener::{serve, Reply};
use crate::helpers::relying_party::{fixture, relying_party, start};
use crate::helpers::Backend;

/// A stand-in for the relying party's callback: answers every request with a short page
/// and reports the target of each request to `/callback`.
async fn callback_server() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let port = serve(move |target: String| {
        if target.starts_with("/callback") {
            let _ = tx.send(target);
        }
        async { Reply::Page("<!doctype html><title>Reading Room</title><h1>Signed in</h1>".into()) }
    })
    .await;
    (port, rx)
}

/// The next redirect the callback listener received.
pub(super) async fn landed(
    callback: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
) -> url::Url {
    let target = tokio::time::timeout(Duration::from_secs(20), callback.recv())
        .await
        .expect("the browser landed on the callback")
        .unwrap();
    url::Url::parse(&format!("http://127.0.0.1{target}")).unwrap()
}

pub(super) fn launch() -> Browser {
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(
            std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        )))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1000, 900)))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(args)
        .build()
        .unwrap();
    Browser::new(options).expect("Chromium starts (scripts/test installs Debian's chromium)")
}

/// The input a visible label names.
pub(super) fn input_labelled<'t>(tab: &'t Tab, label: &str) -> headless_chrome::Element<'t> {
    tab.wait_for_xpath(&format!(
        "//input[@id=//label[normalize-space()='{label}']/@for]"
    ))
    .unwrap_or_else(|e| panic!("no field labelled {label}: {e}"))
}

pub(super) fn button<'t>(tab: &'t Tab, text: &str) -> headless_chrome::Element<'t> {
    tab.wait_for_xpath(&format!("//button[normalize-space()='{text}']"))
        .unwrap_or_else(|e| panic!("no button {text}: {e}"))
}

pub(super) fn screenshot(tab: &Tab, name: &str) {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

async fn a_person_signs_in_and_consents_in_chromium(backend: Backend) {
    let f = fixture(backend).await;
    let (port, mut callback) = callback_server().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    f.app.register(json!({
        "client_id": "reading-room",
        "client_secret": "reading room secret of at least 32 chars",
        "client_name": "Reading Room",
        "client_uri": "https://reading.example",
        "redirect_uris": [redirect],
        "scope": "openid profile email",
    }));
    let rp = relying_party(
        &f.app,
        "reading-room",
        Some("reading room secret of at least 32 chars"),
    )
    .await
    .set_redirect_uri(openidconnect::RedirectUrl::new(redirect.clone()).unwrap());
    let started = start(&rp, &["profile", "email"], &[]);
    let url = started.url.to_string();
    let tag = format!("{backend:?}").to_lowercase();

    tokio::task::spawn_blocking(move || {
        let browser = launch();
        let tab = browser.new_tab().unwrap();
        tab.navigate_to(&url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        assert!(tab.get_url().contains("/login"), "{}", tab.get_url());
        input_labelled(&tab, "Username").click().unwrap();
        tab.type_str("ann").unwrap();
        input_labelled(&tab, "Password").click().unwrap();
        tab.type_str("ann's password").unwrap();
        button(&tab, "Sign in");
        screenshot(&tab, &format!("login-{tag}.png"));
        // Submitting with the keyboard.
        tab.press_key("Enter").unwrap();

        button(&tab, "Allow");
        button(&tab, "Deny");
        let page = tab.get_content().unwrap();
        assert!(
            page.contains("Reading Room") && page.contains("See your email address"),
            "{page}"
        );
        assert!(page.contains("Remember this decision"));
        // The page names where the answer goes, and a lasting decision is opt-in.
        assert!(
            page.contains(&format!(
                "you will be sent to <strong>127.0.0.1:{port}</strong>"
            )),
            "{page}"
        );
        let ticked = tab
            .evaluate(
                "document.querySelector('input[name=remember]').checked",
                false,
            )
            .unwrap()
            .value;
        assert_eq!(ticked, Some(serde_json::json!(false)));
        screenshot(&tab, &format!("consent-{tag}.png"));
        button(&tab, "Allow").click().unwrap();
        tab.wait_for_xpath("//h1[normalize-space()='Signed in']")
            .unwrap();
        assert!(
            tab.get_url()
                .starts_with(&format!("http://127.0.0.1:{port}/callback?code=")),
            "{}",
            tab.get_url()
        );
    })
    .await
    .unwrap();

    let landed = landed(&mut callback).await;
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    let token = rp
        .exchange_code(AuthorizationCode::new(param("code").unwrap()))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&f.app.http)
        .await
        .unwrap();
    let claims = token
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &started.nonce)
        .unwrap();
    assert_eq!(claims.preferred_username().unwrap().as_str(), "ann");
    let _: Option<&Nonce> = claims.nonce();
}

/// Signs in (if asked) and allows, in Chromium, for an authorization URL.
fn sign_in_and_allow(tab: &Tab, url: &str) {
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    if tab.get_url().contains("/login") {
        input_labelled(tab, "Username").click().unwrap();
        tab.type_str("ann").unwrap();
        input_labelled(tab, "Password").click().unwrap();
        tab.type_str("ann's password").unwrap();
        button(tab, "Sign in").click().unwrap();
    }
    button(tab, "Allow").click().unwrap();
    tab.wait_for_xpath("//h1[normalize-space()='Signed in']")
        .unwrap();
}

async fn revoking_a_connection_in_chromium_ends_only_that_apps_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let (port, mut callback) = callback_server().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let mut apps = Vec::new();
    for (id, name) in [("reading-room", "Reading Room"), ("photo-box", "Photo Box")] {
        f.app.register(json!({
            "client_id": id, "client_secret": format!("{id} secret of at least 32 chars"), "client_name": name,
            "redirect_uris": [redirect], "scope": "openid profile",
        }));
        let rp = relying_party(
            &f.app,
            id,
            Some(&format!("{id} secret of at least 32 chars")),
        )
        .await
        .set_redirect_uri(openidconnect::RedirectUrl::new(redirect.clone()).unwrap());
        apps.push(rp);
    }
    let starts: Vec<_> = apps.iter().map(|rp| start(rp, &["profile"], &[])).collect();
    let urls: Vec<String> = starts.iter().map(|s| s.url.to_string()).collect();
    let base = f.app.base.clone();
    let tag = format!("{backend:?}").to_lowercase();

    // Sign in and allow both apps in one browser, then revoke the first on the page.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (allowed_tx, allowed_rx) = std::sync::mpsc::channel::<()>();
    let driver = tokio::task::spawn_blocking(move || {
        let browser = launch();
        let tab = browser.new_tab().unwrap();
        for url in &urls {
            sign_in_and_allow(&tab, url);
        }
        allowed_tx.send(()).unwrap();
        // Wait until the test has exchanged both codes for tokens.
        go_rx.recv().unwrap();
        tab.navigate_to(&format!("{base}/connections"))
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        tab.wait_for_xpath("//h1[normalize-space()='Connected apps']")
            .unwrap();
        screenshot(&tab, &format!("connections-{tag}.png"));
        tab.wait_for_xpath("//section[.//h2[normalize-space()='Reading Room']]//button[normalize-space()='Revoke access']")
            .unwrap()
            .click()
            .unwrap();
        tab.wait_for_xpath("//p[normalize-space()='Access was revoked.']")
            .unwrap();
        let page = tab.get_content().unwrap();
        assert!(
            !page.contains("<h2>Reading Room</h2>") && page.contains("<h2>Photo Box</h2>"),
            "{page}"
        );
    });

    tokio::task::spawn_blocking(move || allowed_rx.recv().unwrap())
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for (rp, started) in apps.iter().zip(starts) {
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
        use openidconnect::OAuth2TokenResponse;
        tokens.push(token.access_token().secret().clone());
    }
    go_tx.send(()).unwrap();
    driver.await.unwrap();

    let introspector = f.app.admin_token("tokens:introspect").await;
    for (token, expected) in tokens.iter().zip([false, true]) {
        let request = f
            .app
            .http
            .post(f.app.url("/oauth2/introspect"))
            .bearer_auth(&introspector)
            .form(&[("token", token)]);
        let body = crate::helpers::json(request.send().await.unwrap()).await;
        assert_eq!(
            body["active"], expected,
            "only the revoked app's token is inactive"
        );
    }
}

on_both_backends!(
    a_person_signs_in_and_consents_in_chromium,
    revoking_a_connection_in_chromium_ends_only_that_apps_tokens,
);
