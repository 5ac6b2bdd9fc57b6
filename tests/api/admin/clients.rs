//! The client registry's admin API.

use serde_json::json;

use crate::helpers::{assert_error, json, Backend, TestApp};

async fn register_read_replace_and_delete_a_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read clients:write").await;

    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&json!({
            "client_name": "Example App",
            "description": "Books and more",
            "client_uri": "https://app.example.com",
            "logo_uri": "https://app.example.com/logo.png",
            "redirect_uris": ["https://app.example.com/cb"],
            "post_logout_redirect_uris": ["https://app.example.com/bye"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scope": "openid profile clients:read",
            "token_endpoint_auth_method": "client_secret_post",
            "skip_consent": true,
            "access_token_format": "jwt"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"]
        .as_str()
        .expect("the secret is shown once")
        .to_owned();
    assert!(
        secret.len() >= 43,
        "a generated secret has at least 256 bits"
    );
    assert_eq!(created["client_type"], "confidential");
    assert_eq!(created["response_types"], json!(["code"]));
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_post");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let got = json(app.get_as(&format!("/admin/clients/{id}"), &admin).await).await;
    assert!(
        got.get("client_secret").is_none(),
        "secrets are never shown again: {got}"
    );
    for field in [
        "client_name",
        "description",
        "client_uri",
        "logo_uri",
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "response_types",
        "scope",
        "token_endpoint_auth_method",
        "client_type",
        "owner",
        "skip_consent",
        "access_token_format",
        "created_at",
        "updated_at",
    ] {
        assert_eq!(got[field], created[field], "{field}");
    }

    // The secret works at the token endpoint.
    let token = app
        .client_credentials_token(&id, &secret, &["clients:read"])
        .await;
    assert!(!token.is_empty());

    // Replace without a secret: the old secret stays.
    let mut replacement = got.clone();
    replacement["client_name"] = json!("Renamed App");
    replacement["redirect_uris"] = json!(["https://app.example.com/cb2"]);
    let r = app
        .http
        .put(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(&admin)
        .json(&replacement)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let replaced = json(r).await;
    assert_eq!(replaced["client_name"], "Renamed App");
    assert_eq!(
        replaced["redirect_uris"],
        json!(["https://app.example.com/cb2"])
    );
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert!(replaced.get("client_secret").is_none());
    app.client_credentials_token(&id, &secret, &[]).await;

    // Replace with a new secret: returned once, and the old one stops working.
    replacement["client_secret"] = json!("a brand new secret value of 32 characters");
    let replaced = json(
        app.http
            .put(app.url(&format!("/admin/clients/{id}")))
            .bearer_auth(&admin)
            .json(&replacement)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        replaced["client_secret"],
        "a brand new secret value of 32 characters"
    );
    let old = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(old, 401, "invalid_client").await;
    let live = app
        .client_credentials_token(&id, "a brand new secret value of 32 characters", &[])
        .await;

    // Delete: the client and its tokens are gone.
    let r = app.delete_as(&format!("/admin/clients/{id}"), &admin).await;
    assert_eq!(r.status(), 204);
    let r = app.get_as(&format!("/admin/clients/{id}"), &admin).await;
    assert_error(r, 404, "not_found").await;
    let r = app.delete_as(&format!("/admin/clients/{id}"), &admin).await;
    assert_error(r, 404, "not_found").await;
    let introspector = app.admin_token("tokens:introspect").await;
    let body = json(
        app.http
            .post(app.url("/oauth2/introspect"))
            .bearer_auth(introspector)
            .form(&[("token", &live)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false);
}

async fn a_duplicate_client_id_is_a_conflict(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:write").await;
    let create = || {
        app.http
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .json(&json!({ "client_id": "billing", "client_name": "Billing" }))
            .send()
    };
    assert_eq!(create().await.unwrap().status(), 201);
    assert_error(create().await.unwrap(), 409, "conflict").await;
}

async fn rotating_a_secret_replaces_it_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:write").await;
    let (id, old) = app.machine_client("clients:read");
    let r = app
        .http
        .post(app.url(&format!("/admin/clients/{id}/secret")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["client_id"], id.as_str());
    let new = body["client_secret"].as_str().unwrap();
    assert_ne!(new, old);
    app.client_credentials_token(&id, new, &[]).await;
    let r = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&old))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;

    let (public, _) = app.register(json!({ "client_type": "public", "client_name": "spa" }));
    let r = app
        .http
        .post(app.url(&format!("/admin/clients/{public}/secret")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = app
        .http
        .post(app.url("/admin/clients/nope/secret"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

async fn lists_page_with_total_count_and_next_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read").await; // registers one machine client
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    for i in 0..4 {
        app.register(json!({ "client_id": format!("app-{i}"), "client_name": format!("App {i}"), "owner": if i % 2 == 0 { Some("ann") } else { None } }));
    }
    let r = app.get_as("/admin/clients?limit=2", &admin).await;
    assert_eq!(r.headers()["x-total-count"], "5");
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(
        link,
        format!(
            "<{}/admin/clients?limit=2&offset=2>; rel=\"next\"",
            app.base
        )
    );
    assert_eq!(json(r).await.as_array().unwrap().len(), 2);

    let r = app.get_as("/admin/clients?limit=2&offset=4", &admin).await;
    assert!(
        r.headers().get("link").is_none(),
        "no next page after the last"
    );
    let last = json(r).await;
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert!(last[0].get("client_secret").is_none());

    let r = app.get_as("/admin/clients?owner=ann&limit=1", &admin).await;
    assert_eq!(r.headers()["x-total-count"], "2");
    assert_eq!(
        r.headers()["link"].to_str().unwrap(),
        format!(
            "<{}/admin/clients?owner=ann&limit=1&offset=1>; rel=\"next\"",
            app.base
        )
    );
    let owned = json(r).await;
    assert_eq!(owned[0]["owner"], "ann");

    for bad in ["limit=0", "limit=501", "offset=-1", "limit=ten"] {
        let r = app.get_as(&format!("/admin/clients?{bad}"), &admin).await;
        assert_error(r, 400, "invalid_request").await;
    }
}

async fn the_admin_api_needs_a_token_with_the_right_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .http
        .get(app.url("/admin/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer realm="portcullis""#
    );
    assert_error(r, 401, "unauthorized").await;
    let r = app
        .http
        .get(app.url("/admin/clients"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;

    let reader = app.admin_token("clients:read").await;
    for (method, path) in [
        ("POST", "/admin/clients"),
        ("PUT", "/admin/clients/x"),
        ("DELETE", "/admin/clients/x"),
        ("POST", "/admin/clients/x/secret"),
        ("PUT", "/admin/clients/x/logo"),
        ("DELETE", "/admin/clients/x/logo"),
    ] {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&reader)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["www-authenticate"],
            r#"Bearer realm="portcullis", error="insufficient_scope", scope="clients:write""#
        );
        assert_error(r, 403, "insufficient_scope").await;
    }
    let writer = app.admin_token("clients:write").await;
    let r = app.get_as("/admin/clients", &writer).await;
    assert_error(r, 403, "insufficient_scope").await;
}

async fn bad_input_gets_a_clear_error_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read clients:write").await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_error(
        post_raw("{\"client_name\": ", "application/json")
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        post_raw("[]", "application/json").await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        post_raw("client_name=x", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        post_raw(
            "{\"client_name\": \"x\", \"colour\": \"red\"}",
            "application/json",
        )
        .await
        .unwrap(),
        400,
        "invalid_request",
    )
    .await;

    let big = json!({ "client_name": "x", "description": "y".repeat(100_000) });
    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&admin)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "payload_too_large").await;

    for bad in [
        json!({ "redirect_uris": ["/relative"] }),
        json!({ "redirect_uris": ["https://a.example/cb#x"] }),
        json!({ "redirect_uris": ["javascript:alert(1)"] }),
        json!({ "grant_types": ["implicit"] }),
        json!({ "client_type": "public", "client_secret": "0123456789" }),
        json!({ "client_id": "../etc/passwd" }),
        json!({ "client_id": "x' OR '1'='1" }),
        json!({ "scope": "a\"b" }),
        json!({ "owner": "nobody" }),
        json!({ "client_secret": "short" }),
        json!({ "access_token_format": "xml" }),
        json!({ "skip_consent": "yes" }),
    ] {
        let r = app
            .http
            .post(app.url("/admin/clients"))
            .bearer_auth(&admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "invalid_request").await;
    }
    let r = app.get_as("/admin/clients", &admin).await;
    assert_eq!(
        r.headers()["x-total-count"],
        "1",
        "only the admin's own client exists"
    );

    // Ids that are not ids, and SQL in them, are simply unknown.
    for path in [
        "/admin/clients/..%2F..%2Fetc",
        "/admin/clients/x'%20OR%20'1'='1",
        "/admin/clients/nope",
    ] {
        let r = app.get_as(path, &admin).await;
        assert_error(r, 404, "not_found").await;
    }
    // No id holds a NUL: refused before anything is looked up.
    let r = app.get_as("/admin/clients/%00", &admin).await;
    assert_error(r, 400, "invalid_request").await;
    let r = app
        .http
        .put(app.url("/admin/clients/nope"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    let r = app
        .http
        .put(app.url("/admin/clients/a"))
        .bearer_auth(&admin)
        .json(&json!({ "client_id": "b" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
}

async fn users_manage_only_the_clients_they_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.user_token("ann", false, "clients:read clients:write");
    let bob = app.user_token("bob", false, "clients:read clients:write");
    let root = app.user_token("root", true, "clients:read clients:write");

    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&ann)
        .json(&json!({ "client_name": "Ann's" }))
        .send()
        .await
        .unwrap();
    let anns = json(r).await;
    assert_eq!(anns["owner"], "ann", "a user owns what they register");
    let id = anns["client_id"].as_str().unwrap();

    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&ann)
        .json(&json!({ "owner": "bob" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;

    for token in [&ann, &root] {
        let r = app.get_as(&format!("/admin/clients/{id}"), token).await;
        assert_eq!(r.status(), 200);
    }
    let r = app.get_as(&format!("/admin/clients/{id}"), &bob).await;
    assert_error(r, 404, "not_found").await;
    let r = app.delete_as(&format!("/admin/clients/{id}"), &bob).await;
    assert_error(r, 404, "not_found").await;

    let r = app.get_as("/admin/clients", &bob).await;
    assert_eq!(
        r.headers()["x-total-count"],
        "0",
        "bob sees none of the others' clients"
    );
    let r = app.get_as("/admin/clients?owner=ann", &bob).await;
    assert_eq!(json(r).await, json!([]));
    let r = app.get_as("/admin/clients?owner=ann", &root).await;
    assert_eq!(r.headers()["x-total-count"], "1");

    let r = app.delete_as(&format!("/admin/clients/{id}"), &ann).await;
    assert_eq!(r.status(), 204);
}

on_both_backends!(
    register_read_replace_and_delete_a_client,
    a_duplicate_client_id_is_a_conflict,
    rotating_a_secret_replaces_it_at_once,
    lists_page_with_total_count_and_next_link,
    the_admin_api_needs_a_token_with_the_right_scope,
    bad_input_gets_a_clear_error_and_changes_nothing,
    users_manage_only_the_clients_they_own,
);
