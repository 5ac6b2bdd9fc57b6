//! A strict admin API: list filters it does not know are refused, PATCH changes only what
//! it names (RFC 7396), PUT names everything its defaults would reset, and the client
//! fields other providers' users send are kept.

use serde_json::{json, Value};

use crate::helpers::census::census;
use crate::helpers::{assert_error, json, Backend, TestApp};

async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.http
        .patch(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(token)
        .header("Content-Type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn put(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.http
        .put(app.url(&format!("/admin/clients/{id}")))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn registration(app: &TestApp, token: &str, id: &str) -> Value {
    json(app.get_as(format!("/admin/clients/{id}"), token).await).await
}

/// Asserts a 400 naming `field`, and that nothing changed.
async fn refused(app: &TestApp, r: reqwest::Response, field: &str, before: &[String]) {
    let body = assert_error(r, 400, "invalid_request").await;
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(field), "{field}: {description}");
    assert_eq!(census(app), before, "a refused request changed something");
}

async fn unknown_list_parameters_are_refused_and_username_means_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app
        .admin_token("clients:read users:read authorizations:read authorizations:write")
        .await;
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    app.cli(&["users", "create", "bob", "--password", "bob's password"]);
    app.register(json!({"client_id": "anns", "owner": "ann"}));
    app.register(json!({"client_id": "bobs", "owner": "bob"}));

    // The name Qorus' plugin used filters as `owner` does.
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_owner = ids(json(app.get_as("/admin/clients?owner=ann", &admin).await).await);
    let by_username = ids(json(app.get_as("/admin/clients?username=ann", &admin).await).await);
    assert_eq!(by_owner, ["anns"]);
    assert_eq!(by_username, by_owner);
    let both = ids(json(
        app.get_as("/admin/clients?owner=ann&username=ann", &admin)
            .await,
    )
    .await);
    assert_eq!(both, ["anns"]);
    let r = app
        .get_as("/admin/clients?owner=ann&username=bob", &admin)
        .await;
    assert_error(r, 400, "invalid_request").await;

    for (path, name) in [
        ("/admin/clients?user=ann", "user"),
        ("/admin/clients?limit=10&ownr=ann", "ownr"),
        ("/admin/users?owner=ann", "owner"),
        ("/admin/authorizations?user=ann", "user"),
        ("/admin/authorizations?subject=ann&client=anns", "client"),
    ] {
        let body = assert_error(app.get_as(path, &admin).await, 400, "invalid_request").await;
        assert_eq!(
            body["error_description"]
                .as_str()
                .unwrap()
                .split(';')
                .next(),
            Some(format!("unknown query parameter {name:?}").as_str()),
            "{path}"
        );
    }
    // A long made-up name is not repeated whole.
    let long = "x".repeat(5000);
    let body = assert_error(
        app.get_as(format!("/admin/users?{long}=1"), &admin).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(body["error_description"].as_str().unwrap().len() < 200);

    // Deleting by a filter it does not know removes nothing.
    let before = census(&app);
    let r = app
        .delete_as(
            "/admin/authorizations?subject=ann&client_id=anns&everything=1",
            &admin,
        )
        .await;
    refused(&app, r, "everything", &before).await;
}

async fn patch_changes_only_the_fields_it_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read clients:write").await;
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    let (id, secret) = app.register(json!({
        "client_id": "reading-room",
        "client_name": "Reading Room",
        "redirect_uris": ["https://reading.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid profile clients:read",
        "owner": "ann",
        "contacts": ["books@reading.example"],
        "policy_uri": "https://reading.example/privacy",
        "tos_uri": "https://reading.example/terms",
        "audience": ["https://api.reading.example"],
        "allowed_cors_origins": ["https://reading.example"],
        "metadata": {"team": "books", "tier": 2},
    }));
    let secret = secret.expect("a secret");
    let original = registration(&app, &admin, &id).await;
    for (field, value) in [
        ("contacts", json!(["books@reading.example"])),
        ("policy_uri", json!("https://reading.example/privacy")),
        ("tos_uri", json!("https://reading.example/terms")),
        ("audience", json!(["https://api.reading.example"])),
        ("allowed_cors_origins", json!(["https://reading.example"])),
        ("metadata", json!({"team": "books", "tier": 2})),
    ] {
        assert_eq!(original[field], value, "{field} is stored and returned");
    }

    let r = patch(
        &app,
        &admin,
        &id,
        &json!({"client_name": "Reading Room 2", "metadata": {"tier": null, "shelf": "b"}, "contacts": null}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let patched = json(r).await;
    assert!(patched.get("client_secret").is_none(), "no new secret");
    let mut expected = original.clone();
    expected["client_name"] = json!("Reading Room 2");
    expected["metadata"] = json!({"team": "books", "shelf": "b"});
    expected["contacts"] = json!([]);
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected, "only the named fields changed");
    assert_eq!(registration(&app, &admin, &id).await, patched);
    app.client_credentials_token(&id, &secret, &["clients:read"])
        .await;

    // Refusals change nothing.
    let before = census(&app);
    let cases = [
        (json!({"colour": "red"}), "colour"),
        (
            json!({"allowed_cors_origins": ["https://reading.example/app"]}),
            "allowed_cors_origins",
        ),
        (
            json!({"metadata": {"blob": "x".repeat(17 * 1024)}}),
            "metadata",
        ),
        (json!({"metadata": "text"}), "metadata"),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "token_endpoint_auth_method",
        ),
        (json!({"client_id": "another"}), "client_id"),
        (json!({"client_id": null}), "client_id"),
        (json!(["client_name"]), "JSON object"),
        // A null would vanish in the merge; the name is still checked.
        (json!({"skip_consnet": null}), "skip_consnet"),
        (json!({"skip_consent": "x".repeat(5000)}), "skip_consent"),
    ];
    for (body, field) in cases {
        let r = patch(&app, &admin, &id, &body).await;
        let text = r.text().await.unwrap();
        assert!(
            text.len() < 600,
            "errors quote little of what was sent: {text}"
        );
        assert!(
            text.contains("invalid_request") && text.contains(field),
            "{body}: {text}"
        );
        assert_eq!(census(&app), before, "{body}");
        assert_eq!(registration(&app, &admin, &id).await, patched, "{body}");
    }
    // Field by field, a registration cannot grow past what one request may carry.
    let uris = |path: &str| -> Vec<String> {
        (0..30)
            .map(|i| format!("https://reading.example/{path}/{i}/{}", "p".repeat(1000)))
            .collect()
    };
    for step in [
        json!({"metadata": {"notes": "n".repeat(15 * 1024)}}),
        json!({"redirect_uris": uris("cb")}),
    ] {
        assert_eq!(patch(&app, &admin, &id, &step).await.status(), 200);
    }
    let grown = registration(&app, &admin, &id).await;
    let r = patch(
        &app,
        &admin,
        &id,
        &json!({"post_logout_redirect_uris": uris("bye")}),
    )
    .await;
    assert_error(r, 413, "payload_too_large").await;
    assert_eq!(registration(&app, &admin, &id).await, grown);
    app.client_credentials_token(&id, &secret, &["clients:read"])
        .await;
    let r = patch(&app, &admin, "nobodys", &json!({"client_name": "x"})).await;
    assert_error(r, 404, "not_found").await;

    // A secret sent in a patch replaces the old one, which stops working at once.
    let r = patch(
        &app,
        &admin,
        &id,
        &json!({"client_secret": "the reading room's next secret, 32+"}),
    )
    .await;
    assert_eq!(
        json(r).await["client_secret"],
        "the reading room's next secret, 32+"
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
    app.client_credentials_token(&id, "the reading room's next secret, 32+", &[])
        .await;

    // A public client by patch: both fields that say so, and its secret goes.
    let r = patch(
        &app,
        &admin,
        &id,
        &json!({"client_type": "public", "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["client_type"], "public");
}

async fn put_names_every_field_its_defaults_would_reset(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read clients:write").await;
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    app.register(json!({
        "client_id": "phone-app",
        "client_type": "public",
        "redirect_uris": ["com.example.phone:/cb"],
        "post_logout_redirect_uris": ["com.example.phone:/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid offline_access",
        "owner": "ann",
    }));
    let original = registration(&app, &admin, "phone-app").await;
    let before = census(&app);

    // Left out, these would make it confidential, drop its grants, scopes and URIs, and
    // take it from its owner.
    let body = assert_error(
        put(&app, &admin, "phone-app", &json!({"client_name": "Phone"})).await,
        400,
        "invalid_request",
    )
    .await;
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(
            "missing: client_type, grant_types, scope, redirect_uris, post_logout_redirect_uris, owner"
        ),
        "{description}"
    );
    let partial = json!({
        "client_name": "Phone",
        "client_type": "public",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid offline_access",
        "redirect_uris": ["com.example.phone:/cb"],
        "post_logout_redirect_uris": ["com.example.phone:/bye"],
    });
    refused(
        &app,
        put(&app, &admin, "phone-app", &partial).await,
        "missing: owner",
        &before,
    )
    .await;
    assert_eq!(registration(&app, &admin, "phone-app").await, original);

    let mut complete = partial.clone();
    complete["owner"] = json!("ann");
    let r = put(&app, &admin, "phone-app", &complete).await;
    assert_eq!(r.status(), 200);
    let replaced = json(r).await;
    assert_eq!(replaced["client_name"], "Phone");
    assert_eq!(replaced["client_type"], "public");
    assert_eq!(replaced["owner"], "ann");
    assert!(replaced.get("client_secret").is_none());

    // What GET shows can always be sent back.
    let shown = registration(&app, &admin, "phone-app").await;
    assert_eq!(put(&app, &admin, "phone-app", &shown).await.status(), 200);
}

/// A replacement checked against one owner is not written once the client has another:
/// an owner's slow PATCH cannot take back a client an admin just moved.
async fn a_replacement_checked_against_an_old_owner_is_a_conflict(backend: Backend) {
    use portcullis::protocol::client::ClientRequest;
    use portcullis::storage::clients::{self, ClientWrite};
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:read clients:write").await;
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    app.cli(&["users", "create", "bob", "--password", "bob's password"]);
    app.register(
        json!({"client_id": "shared", "owner": "ann", "redirect_uris": ["https://app.example/cb"]}),
    );
    let ann_id = {
        let conn = &mut *app.db.conn().unwrap();
        portcullis::storage::users::id_of(conn, "ann")
            .unwrap()
            .unwrap()
    };
    // Meanwhile an admin gives the client to bob.
    let r = patch(&app, &admin, "shared", &json!({"owner": "bob"})).await;
    assert_eq!(r.status(), 200);

    let draft: ClientRequest =
        serde_json::from_value(json!({"client_name": "Ann's again", "owner": "ann"})).unwrap();
    let draft = draft.validate().unwrap();
    let write = ClientWrite {
        id: "shared",
        draft: &draft,
        secret_hash: None,
        owner_id: Some(ann_id.clone()),
    };
    let now = portcullis::protocol::time::now();
    let stale = app
        .db
        .change(|tx| clients::replace(tx, &write, true, Some(&ann_id), now));
    assert!(
        matches!(stale, Err(portcullis::error::Error::Conflict(_))),
        "{stale:?}"
    );
    assert_eq!(registration(&app, &admin, "shared").await["owner"], "bob");
}

on_both_backends!(
    unknown_list_parameters_are_refused_and_username_means_owner,
    a_replacement_checked_against_an_old_owner_is_a_conflict,
    patch_changes_only_the_fields_it_names,
    put_names_every_field_its_defaults_would_reset,
);
