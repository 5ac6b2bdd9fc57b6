//! Health, metrics, the OpenAPI document, the home page and robustness of the surface.

use crate::helpers::{assert_error, json, Backend, TestApp};

async fn health_endpoints_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alive = json(app.http.get(app.url("/health/alive")).send().await.unwrap()).await;
    assert_eq!(alive["status"], "ok");
    let ready = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

async fn metrics_count_requests_and_issued_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    app.client_credentials_token(&id, &secret, &[]).await;
    app.http.get(app.url("/apps/x")).send().await.unwrap();
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"portcullis_tokens_issued_total{grant_type="client_credentials"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{method="POST",route="/oauth2/token",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"portcullis_http_requests_total{method="GET",route="/apps/{client_id}",status="404"} 1"#), "{text}");
    assert!(
        text.contains(
            r#"portcullis_http_request_duration_seconds_bucket{method="POST",route="/oauth2/token""#
        ),
        "{text}"
    );
}

async fn the_openapi_document_describes_every_json_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("/oauth2/token", "post"),
        ("/oauth2/introspect", "post"),
        ("/oauth2/revoke", "post"),
        ("/oauth2/code", "get"),
        ("/userinfo", "get"),
        ("/userinfo", "post"),
        ("/.well-known/openid-configuration", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/admin/clients", "get"),
        ("/admin/clients", "post"),
        ("/admin/clients/{client_id}", "get"),
        ("/admin/clients/{client_id}", "put"),
        ("/admin/clients/{client_id}", "patch"),
        ("/admin/clients/{client_id}", "delete"),
        ("/admin/clients/{client_id}/secret", "post"),
        ("/admin/clients/{client_id}/logo", "put"),
        ("/admin/clients/{client_id}/logo", "delete"),
        ("/admin/tokens/flush", "post"),
        ("/admin/users", "get"),
        ("/admin/users", "post"),
        ("/admin/users/{username}", "get"),
        ("/admin/users/{username}", "patch"),
        ("/admin/users/{username}", "delete"),
        ("/admin/users/{username}/sessions", "delete"),
        ("/admin/authorizations", "get"),
        ("/admin/authorizations", "delete"),
        ("/admin/authorizations/{id}", "delete"),
        ("/admin/consent-requests/{challenge}", "get"),
        ("/admin/consent-requests/{challenge}/accept", "put"),
        ("/admin/consent-requests/{challenge}/reject", "put"),
        ("/admin/consent-requests/{challenge}/accept", "patch"),
        ("/admin/consent-requests/{challenge}/reject", "patch"),
        ("/admin/login-requests/{challenge}", "get"),
        ("/admin/login-requests/{challenge}/accept", "put"),
        ("/admin/login-requests/{challenge}/reject", "put"),
        ("/admin/login-requests/{challenge}/accept", "patch"),
        ("/admin/login-requests/{challenge}/reject", "patch"),
        ("/oauth2/consent/requests/{id}", "get"),
        ("/oauth2/consent/requests/{id}/accept", "patch"),
        ("/oauth2/consent/requests/{id}/reject", "patch"),
        ("/api/connections", "get"),
        ("/api/connections/{client_id}", "get"),
        ("/api/connections/{client_id}", "delete"),
        ("/api/consent", "post"),
        ("/apps", "get"),
        ("/apps/{client_id}", "get"),
        ("/apps/{client_id}/logo", "get"),
        ("/health/alive", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "every documented operation is listed here"
    );
    assert!(doc["components"]["schemas"]["ClientView"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

async fn the_home_page_renders_with_its_stylesheet(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(
        page.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(&app.base), "the page names the issuer");
    let css = app
        .http
        .get(app.url("/static/css/portcullis.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let missing = app
        .http
        .get(app.url("/static/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_error(
        app.http.get(app.url("/nowhere")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    // A path that exists, asked with another method: 405 with the methods it has.
    for (method, path, allow) in [
        ("GET", "/oauth2/token", "POST"),
        ("DELETE", "/oauth2/token", "POST"),
        ("TRACE", "/admin/clients", "GET, POST"),
        ("POST", "/admin/clients/some-id", "GET, PUT, PATCH, DELETE"),
        ("PUT", "/login", "GET, POST"),
        ("PATCH", "/.well-known/jwks.json", "GET"),
        ("DELETE", "/static/style.css", "GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        assert_error(r, 405, "method_not_allowed").await;
    }
    // Garbage to every protocol endpoint is a 4xx, never a 5xx.
    for path in [
        "/oauth2/token",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/admin/clients",
        "/admin/tokens/flush",
    ] {
        for (content_type, body) in [
            ("application/x-www-form-urlencoded", "%%%=&&=%zz"),
            ("application/json", "{\"a\":"),
            ("text/plain", "\u{0}\u{1}binary"),
        ] {
            let r = app
                .http
                .post(app.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_client_error(),
                "{path} with {content_type}: {}",
                r.status()
            );
            let body = json(r).await;
            assert!(body["error"].is_string(), "{body}");
        }
    }
}

on_both_backends!(
    health_endpoints_answer,
    metrics_count_requests_and_issued_tokens,
    the_openapi_document_describes_every_json_endpoint,
    the_home_page_renders_with_its_stylesheet,
    unknown_routes_and_methods_get_json_errors,
);
