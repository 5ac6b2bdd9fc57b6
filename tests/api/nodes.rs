//! Several nodes on one database: the in-process test server and a second `portcullis
//! serve` process. What one node issues, the other sees at once; what one node revokes
//! or deletes, it stops honouring at once, and the other within the memo bound.

use std::time::{Duration, Instant};

use portcullis::storage::memo::MEMO_BOUND;

use crate::helpers::{json, Backend, Node, TestApp};

async fn introspect_at(app: &TestApp, url: String, id: &str, secret: &str, token: &str) -> bool {
    let response = app
        .http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection answered");
    assert_eq!(response.status(), 200);
    json(response).await["active"]
        .as_bool()
        .expect("an active flag")
}

async fn token_at(app: &TestApp, url: String, id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token endpoint answered")
}

/// Polls until `check` is true; returns how long that took, or panics after `limit`.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tokens_issued_concurrently_on_one_node_are_active_on_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let (id, secret) = app.machine_client("clients:read");
    // Concurrent requests share commits; each response still means "written".
    let requests = (0..32).map(|_| token_at(&app, app.url("/oauth2/token"), &id, &secret));
    let mut tokens = Vec::new();
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
        tokens.push(
            json(response).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for token in &tokens {
        assert!(
            introspect_at(&app, node.url("/oauth2/introspect"), &id, &secret, token).await,
            "a token answered on one node is active on the other"
        );
    }
}

async fn a_revocation_is_honoured_at_once_here_and_within_the_bound_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let (id, secret) = app.machine_client("clients:read");
    let token = app.client_credentials_token(&id, &secret, &[]).await;
    // Both nodes have now read (and remember) the token.
    for url in [
        app.url("/oauth2/introspect"),
        node.url("/oauth2/introspect"),
    ] {
        assert!(introspect_at(&app, url, &id, &secret, &token).await);
    }

    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(
        !introspect_at(&app, app.url("/oauth2/introspect"), &id, &secret, &token).await,
        "the revoking node stops honouring the token at once"
    );
    let took = within(MEMO_BOUND + Duration::from_secs(2), || {
        let url = node.url("/oauth2/introspect");
        let (id, secret, token) = (&id, &secret, &token);
        let app = &app;
        async move { !introspect_at(app, url, id, secret, token).await }
    })
    .await;
    assert!(took <= MEMO_BOUND + Duration::from_millis(500), "{took:?}");
}

async fn a_deleted_client_is_refused_at_once_here_and_within_the_bound_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let admin = app.admin_token("clients:write").await;
    let (id, secret) = app.machine_client("clients:read");
    for url in [app.url("/oauth2/token"), node.url("/oauth2/token")] {
        assert_eq!(token_at(&app, url, &id, &secret).await.status(), 200);
    }

    let deleted = app.delete_as(&format!("/admin/clients/{id}"), &admin).await;
    assert_eq!(deleted.status(), 204);
    let here = token_at(&app, app.url("/oauth2/token"), &id, &secret).await;
    assert_eq!(
        here.status(),
        401,
        "the deleting node refuses the client at once"
    );
    within(MEMO_BOUND + Duration::from_secs(2), || {
        let url = node.url("/oauth2/token");
        let (id, secret) = (&id, &secret);
        let app = &app;
        async move { token_at(app, url, id, secret).await.status() == 401 }
    })
    .await;
}

on_both_backends!(
    tokens_issued_concurrently_on_one_node_are_active_on_another,
    a_revocation_is_honoured_at_once_here_and_within_the_bound_elsewhere,
    a_deleted_client_is_refused_at_once_here_and_within_the_bound_elsewhere,
);
