//! Consent you can see and take back: the user API, the admin grant and user APIs, and
//! the connections page.

use serde_json::json;

use crate::helpers::browser::{field, Browser};
use crate::helpers::relying_party::{
    exchange_with, fixture, relying_party, sign_in_and_exchange, Fixture, CALLBACK,
};
use crate::helpers::{assert_error, json, Backend};

/// A first-party portal the user can get an API token from, with `scope`.
pub async fn user_api_token(f: &Fixture, browser: &Browser, scope: &str) -> String {
    f.app.register_if_missing(json!({
        "client_id": "portal",
        "client_secret": "portal secret value of at least 32 chars",
        "redirect_uris": [CALLBACK],
        "skip_consent": true,
        "scope": "openid connections:read connections:write",
    }));
    let url = f.app.url(&format!(
        "/oauth2/code?client_id=portal&type=token&scope={}",
        scope.replace(' ', "%20")
    ));
    let body = json(browser.http.get(url).send().await.unwrap()).await;
    body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Signs ann in to a second relying party, `rp2`, and returns its access token.
async fn second_app_token(f: &Fixture) -> String {
    f.app.register_if_missing(json!({ "client_id": "rp2", "client_secret": "second rp secret of at least 32 chars", "client_name": "Second App", "redirect_uris": [CALLBACK], "scope": "openid email" }));
    let rp2 = relying_party(&f.app, "rp2", Some("second rp secret of at least 32 chars")).await;
    let (token, _) = exchange_with(&f.app, &rp2, &f.browser, &["email"]).await;
    use openidconnect::OAuth2TokenResponse;
    token.access_token().secret().clone()
}

async fn active(f: &Fixture, token: &str) -> bool {
    let introspector = f.app.admin_token("tokens:introspect").await;
    let body = json(
        f.app
            .http
            .post(f.app.url("/oauth2/introspect"))
            .bearer_auth(introspector)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["active"].as_bool().unwrap()
}

async fn the_connections_api_lists_and_revokes_only_the_users_own_apps(backend: Backend) {
    let f = fixture(backend).await;
    let (rp_token, _) = sign_in_and_exchange(&f, &["profile"]).await;
    use openidconnect::OAuth2TokenResponse;
    let rp_token = rp_token.access_token().secret().clone();
    let rp2_token = second_app_token(&f).await;
    let token = user_api_token(&f, &f.browser, "connections:read connections:write").await;

    let list = json(f.app.get_as("/api/connections", &token).await).await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"rp") && ids.contains(&"rp2"), "{list}");
    let one = json(f.app.get_as("/api/connections/rp", &token).await).await;
    assert_eq!(one["client_name"], "Reading Room");
    assert_eq!(one["scopes"], json!(["openid", "profile"]));
    assert!(one["created_at"].is_string() && one["last_used"].is_string());
    let r = f
        .app
        .http
        .get(f.app.url("/api/connections/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;

    // Another user sees none of ann's connections and cannot revoke them.
    f.app
        .cli(&["users", "create", "bob", "--password", "bob's password"]);
    let bob_browser = Browser::new(&f.app);
    bob_browser.sign_in("bob", "bob's password").await;
    let bob = user_api_token(&f, &bob_browser, "connections:read connections:write").await;
    let r = f
        .app
        .http
        .get(f.app.url("/api/connections/rp"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    let r = f
        .app
        .http
        .delete(f.app.url("/api/connections/rp"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    assert!(active(&f, &rp_token).await);

    // Scopes are enforced, and machine tokens have no connections.
    let reader = user_api_token(&f, &f.browser, "connections:read").await;
    let r = f
        .app
        .http
        .delete(f.app.url("/api/connections/rp"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    let machine = f.app.admin_token("clients:read").await;
    let r = f
        .app
        .http
        .get(f.app.url("/api/connections"))
        .bearer_auth(&machine)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    let r = f
        .app
        .http
        .get(f.app.url("/api/connections"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;

    // Revoking rp ends rp's tokens at once and leaves rp2's alone.
    let r = f
        .app
        .http
        .delete(f.app.url("/api/connections/rp"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!active(&f, &rp_token).await);
    assert!(active(&f, &rp2_token).await);
    let r = f
        .app
        .http
        .get(f.app.url("/api/connections/rp"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

async fn admins_audit_and_remove_grants(backend: Backend) {
    let f = fixture(backend).await;
    let (rp_token, _) = sign_in_and_exchange(&f, &["profile"]).await;
    use openidconnect::OAuth2TokenResponse;
    let rp_token = rp_token.access_token().secret().clone();
    let rp2_token = second_app_token(&f).await;
    let reader = f.app.admin_token("authorizations:read").await;
    let writer = f.app.admin_token("authorizations:write").await;

    let r = f
        .app
        .http
        .get(f.app.url("/admin/authorizations?subject=ann&limit=1"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "2");
    assert!(r.headers()["link"].to_str().unwrap().contains("offset=1"));
    let page = json(r).await;
    let first = &page[0];
    for key in [
        "id",
        "subject",
        "username",
        "client_id",
        "scopes",
        "created_at",
        "auth_time",
        "access_time",
    ] {
        assert!(!first[key].is_null(), "{key}: {first}");
    }
    assert_eq!(first["username"], "ann");
    let sub = first["subject"].as_str().unwrap().to_owned();
    let by_sub = json(
        f.app
            .get_as(
                &format!("/admin/authorizations?subject={sub}&client_id=rp2"),
                &reader,
            )
            .await,
    )
    .await;
    assert_eq!(by_sub.as_array().unwrap().len(), 1);
    let rp2_grant = by_sub[0]["id"].as_str().unwrap().to_owned();
    let nobody = json(
        f.app
            .get_as("/admin/authorizations?subject=nobody", &reader)
            .await,
    )
    .await;
    assert_eq!(nobody, json!([]));

    let r = f
        .app
        .http
        .delete(f.app.url(&format!("/admin/authorizations/{rp2_grant}")))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    let r = f
        .app
        .http
        .delete(f.app.url(&format!("/admin/authorizations/{rp2_grant}")))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!active(&f, &rp2_token).await);
    assert!(active(&f, &rp_token).await);
    let r = f
        .app
        .http
        .delete(f.app.url(&format!("/admin/authorizations/{rp2_grant}")))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;

    let r = f
        .app
        .http
        .delete(f.app.url("/admin/authorizations?subject=ann"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = f
        .app
        .http
        .delete(f.app.url("/admin/authorizations?subject=ann&client_id=rp"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!active(&f, &rp_token).await);
    let r = f
        .app
        .http
        .get(f.app.url("/admin/authorizations"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "unauthorized").await;
}

async fn admins_manage_users_and_deleting_one_ends_their_grants(backend: Backend) {
    let f = fixture(backend).await;
    let (rp_token, _) = sign_in_and_exchange(&f, &[]).await;
    use openidconnect::OAuth2TokenResponse;
    let rp_token = rp_token.access_token().secret().clone();
    let admin = f.app.admin_token("users:read users:write").await;
    let reader = f.app.admin_token("users:read").await;

    let create = |body: serde_json::Value| {
        f.app
            .http
            .post(f.app.url("/admin/users"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let r = create(json!({ "username": "carol", "password": "carol's password", "email": "carol@example.com", "phone_number": "+1 555 0100" })).await.unwrap();
    assert_eq!(r.status(), 201);
    let carol = json(r).await;
    assert!(carol.get("password").is_none() && carol.get("password_hash").is_none());
    assert_eq!(carol["phone_number"], "+1 555 0100");
    assert_error(
        create(json!({ "username": "carol", "password": "another password" }))
            .await
            .unwrap(),
        409,
        "conflict",
    )
    .await;
    assert_error(
        create(json!({ "username": "bad name", "password": "long enough" }))
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        create(json!({ "username": "dave", "password": "short" }))
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        create(json!({ "username": "dave", "password": "long enough", "role": "x" }))
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let r = f
        .app
        .http
        .post(f.app.url("/admin/users"))
        .bearer_auth(&reader)
        .json(&json!({ "username": "x", "password": "long enough" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;

    let r = f
        .app
        .http
        .get(f.app.url("/admin/users?limit=1"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "2");
    let got = json(f.app.get_as("/admin/users/carol", &reader).await).await;
    assert_eq!(got["email"], "carol@example.com");

    // PATCH: null clears, absent keeps, a new password works at once.
    let patched = json(
        f.app.http.patch(f.app.url("/admin/users/carol")).bearer_auth(&admin)
            .json(&json!({ "email": null, "name": "Carol C", "password": "carol's new password", "admin": true }))
            .send().await.unwrap(),
    )
    .await;
    assert!(patched["email"].is_null());
    assert_eq!(patched["name"], "Carol C");
    assert_eq!(patched["phone_number"], "+1 555 0100");
    assert_eq!(patched["admin"], true);
    let carol_browser = Browser::new(&f.app);
    assert_eq!(
        carol_browser
            .sign_in("carol", "carol's new password")
            .await
            .status(),
        303
    );
    let r = f
        .app
        .http
        .patch(f.app.url("/admin/users/carol"))
        .bearer_auth(&admin)
        .json(&json!({ "email": "not-an-email" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = f
        .app
        .http
        .patch(f.app.url("/admin/users/nobody"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;

    // Deleting ann removes her grants and tokens.
    let r = f
        .app
        .http
        .delete(f.app.url("/admin/users/ann"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!active(&f, &rp_token).await);
    let grants = f.app.admin_token("authorizations:read").await;
    let left = json(
        f.app
            .get_as("/admin/authorizations?client_id=rp", grants)
            .await,
    )
    .await;
    assert_eq!(left, json!([]));
    let r = f
        .app
        .http
        .get(f.app.url("/admin/users/ann"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

/// A grant only grows with new requests; a narrower request (here by the password
/// grant) leaves what the user already granted in place.
async fn a_narrower_request_does_not_narrow_a_grant(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({
        "client_id": "pw",
        "client_secret": "pw secret of at least 32 characters",
        "grant_types": ["password"],
        "scope": "openid profile email",
    }));
    let password_grant = |scope: &'static str| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("pw", Some("pw secret of at least 32 characters"))
            .form(&[
                ("grant_type", "password"),
                ("username", "ann"),
                ("password", "ann's password"),
                ("scope", scope),
            ])
            .send()
    };
    assert_eq!(
        password_grant("openid profile email")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(password_grant("openid").await.unwrap().status(), 200);
    let reader = f.app.admin_token("authorizations:read").await;
    let r = f
        .app
        .http
        .get(f.app.url("/admin/authorizations?subject=ann&client_id=pw"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    let page = json(r).await;
    let scopes = page[0]["scopes"].as_array().expect("scopes").clone();
    for scope in ["openid", "profile", "email"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} kept: {page}");
    }
}

async fn the_connections_page_lists_apps_and_admins_see_every_grant(backend: Backend) {
    let f = fixture(backend).await;
    let r = f
        .browser
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login?next=/connections");
    sign_in_and_exchange(&f, &["profile"]).await;
    let html = f
        .browser
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Reading Room") && html.contains("See your name and username"),
        "{html}"
    );
    assert!(html.contains(">Revoke access</button>"));
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        html.contains("First granted ")
            && html.contains(&format!("{year}, "))
            && html.contains(" UTC"),
        "{html}"
    );
    assert!(!html.contains("All grants"), "ann is not an admin");

    // A forged revoke without the CSRF token changes nothing.
    let r = f
        .browser
        .http
        .post(f.app.url("/connections/revoke"))
        .form(&[("client_id", "rp")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // An admin sees everybody's grants, read-only.
    f.app.cli(&[
        "users",
        "create",
        "root",
        "--admin",
        "--password",
        "root's password",
    ]);
    let admin = Browser::new(&f.app);
    let signed_in = admin.sign_in("root", "root's password").await;
    assert_eq!(signed_in.status(), 303);
    let html = admin
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("All grants") && html.contains("<td>ann</td>"),
        "{html}"
    );

    // Sign-in from the connections link comes back to it.
    let other = Browser::new(&f.app);
    let page = other
        .http
        .get(f.app.url("/login?next=/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = other
        .http
        .post(f.app.url("/login"))
        .form(&[
            ("csrf_token", field(&page, "csrf_token").unwrap()),
            ("username", "ann".into()),
            ("password", "ann's password".into()),
            ("next", field(&page, "next").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/connections");
    // ...but never to another site.
    let page = other
        .http
        .get(f.app.url("/login?next=https://evil.example/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(field(&page, "next").is_none());
}

on_both_backends!(
    the_connections_api_lists_and_revokes_only_the_users_own_apps,
    admins_audit_and_remove_grants,
    admins_manage_users_and_deleting_one_ends_their_grants,
    the_connections_page_lists_apps_and_admins_see_every_grant,
    a_narrower_request_does_not_narrow_a_grant,
);
