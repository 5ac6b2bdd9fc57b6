//! Behind an https issuer, the session cookie is `__Host-` prefixed and HSTS is sent;
//! the metrics can be kept for a scraper with a token.

use crate::helpers::{assert_error, Backend, Node, TestApp};

async fn https_issuers_get_host_cookies_and_hsts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plain = app.http.get(app.url("/login")).send().await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());
    let cookie = plain.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");

    let node = Node::start_with(
        &app,
        &[
            ("PORTCULLIS_ISSUER", "https://auth.example"),
            ("PORTCULLIS_WORKERS", "1"),
            ("PORTCULLIS_DB_POOL_SIZE", "2"),
        ],
    )
    .await;
    let page = app.http.get(node.url("/login")).send().await.unwrap();
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-portcullis_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
}

/// `PORTCULLIS_METRICS_TOKEN` keeps the metrics for whoever holds it.
async fn metrics_can_need_a_token(backend: Backend) {
    let open = TestApp::spawn(backend).await;
    let r = open.http.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200, "open by default");

    let token = "the metrics scraper's token";
    let app = TestApp::spawn_with(backend, &[("PORTCULLIS_METRICS_TOKEN", token)]).await;
    let get = |bearer: Option<&str>| {
        let mut request = app.http.get(app.url("/metrics"));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        request.send()
    };
    assert_error(get(None).await.unwrap(), 401, "unauthorized").await;
    assert_error(
        get(Some("the metrics scraper's guess")).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let r = get(Some(token)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("portcullis_"));
}

on_both_backends!(
    https_issuers_get_host_cookies_and_hsts,
    metrics_can_need_a_token,
);
