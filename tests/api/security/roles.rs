//! Who may do what: every admin and API route asked by every kind of caller, with the
//! status each must get, and a census showing that the refused requests changed nothing.

use std::collections::HashMap;

use base64::Engine;
use portcullis::protocol::authorize::{AuthorizationRequest, ResponseMode};
use portcullis::protocol::client::RedirectUri;
use portcullis::protocol::time;
use portcullis::storage::flows::{self, FlowRow};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::census::census;
use crate::helpers::{Backend, TestApp};

/// Every scope the API knows: the tokens below carry all of them, so that what decides
/// each answer is who the token acts for, not what it names.
const ALL_SCOPES: &str = "clients:read clients:write users:read users:write \
    authorizations:read authorizations:write consent:manage login:manage tokens:introspect \
    tokens:flush \
    connections:read connections:write consent:grant";

/// The kinds of caller, in the order of every expectation row.
const PRINCIPALS: [&str; 6] = ["system", "admin", "user", "owned", "public", "anonymous"];

enum Credential {
    Bearer(String),
    /// A public client's id alone, the only thing it can show.
    PublicClient(String),
    None,
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Png,
}

struct Route {
    method: &'static str,
    /// `{P}` is replaced by the principal's name: each has objects of its own.
    path: &'static str,
    body: fn(&Setup, &str) -> Body,
    expect: [u16; 6],
}

/// Objects each principal works on, and who owns what.
struct Setup {
    grants: HashMap<String, String>,
    victim_token: String,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn no_body(_: &Setup, _: &str) -> Body {
    Body::None
}

fn hex_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn routes() -> Vec<Route> {
    let r = |method, path, body, expect| Route {
        method,
        path,
        body,
        expect,
    };
    vec![
        r(
            "GET",
            "/admin/clients",
            no_body,
            [200, 200, 200, 200, 401, 401],
        ),
        r(
            "GET",
            "/admin/clients/c-{P}",
            no_body,
            [200, 200, 404, 404, 401, 401],
        ),
        r(
            "GET",
            "/admin/clients/own-{P}",
            no_body,
            [200, 200, 200, 200, 401, 401],
        ),
        r(
            "PUT",
            "/admin/clients/c-{P}",
            |_, _| {
                Body::Json(
                    json!({"client_name": "Renamed", "redirect_uris": ["https://app.example/cb"], "client_type": "confidential", "grant_types": ["authorization_code", "refresh_token"], "scope": "openid", "owner": "vic"}),
                )
            },
            [200, 200, 404, 404, 401, 401],
        ),
        r(
            "PUT",
            "/admin/clients/own-{P}",
            |_, _| {
                Body::Json(
                    json!({"client_name": "Mine", "redirect_uris": ["https://app.example/cb"], "skip_consent": true, "client_type": "confidential", "grant_types": ["authorization_code", "refresh_token"], "scope": "openid", "owner": "mal"}),
                )
            },
            [200, 200, 400, 400, 401, 401],
        ),
        r(
            "PUT",
            "/admin/clients/own-{P}",
            |_, _| {
                Body::Json(
                    json!({"client_name": "Mine", "redirect_uris": ["https://app.example/cb"], "scope": "openid profile", "client_type": "confidential", "grant_types": ["authorization_code", "refresh_token"], "owner": "mal"}),
                )
            },
            [200, 200, 200, 200, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/clients/c-{P}",
            |_, _| Body::Json(json!({"client_name": "Patched"})),
            [200, 200, 404, 404, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/clients/own-{P}",
            |_, _| Body::Json(json!({"skip_consent": true})),
            [200, 200, 400, 400, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/clients/own-{P}",
            |_, _| Body::Json(json!({"metadata": {"team": "books"}})),
            [200, 200, 200, 200, 401, 401],
        ),
        r(
            "POST",
            "/admin/clients",
            |_, p| {
                Body::Json(
                    json!({"client_id": format!("machine-{p}"), "grant_types": ["client_credentials"], "scope": "users:write clients:write"}),
                )
            },
            [201, 201, 400, 400, 401, 401],
        ),
        r(
            "POST",
            "/admin/clients",
            |_, p| {
                Body::Json(
                    json!({"client_id": format!("app-{p}"), "redirect_uris": ["https://app.example/cb"], "scope": "openid email"}),
                )
            },
            [201, 201, 201, 201, 401, 401],
        ),
        r(
            "POST",
            "/admin/clients/c-{P}/secret",
            no_body,
            [200, 200, 404, 404, 401, 401],
        ),
        r(
            "PUT",
            "/admin/clients/c-{P}/logo",
            |_, _| Body::Png,
            [204, 204, 404, 404, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/clients/c-{P}/logo",
            no_body,
            [204, 204, 404, 404, 401, 401],
        ),
        r(
            "GET",
            "/admin/users",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "POST",
            "/admin/users",
            |_, p| {
                Body::Json(
                    json!({"username": format!("new-{p}"), "password": "a long enough password"}),
                )
            },
            [201, 201, 403, 403, 401, 401],
        ),
        r(
            "GET",
            "/admin/users/u-{P}",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/users/u-{P}",
            |_, _| Body::Json(json!({"admin": true})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/users/u-{P}/sessions",
            no_body,
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "GET",
            "/admin/authorizations",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "GET",
            "/admin/consent-requests/ch-{P}",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PUT",
            "/admin/consent-requests/ch-{P}/accept",
            |_, _| Body::Json(json!({})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PUT",
            "/admin/consent-requests/chr-{P}/reject",
            |_, _| Body::Json(json!({})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/consent-requests/chp-{P}/accept",
            |_, _| Body::Json(json!({})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "GET",
            "/admin/login-requests/lg-{P}",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PUT",
            "/admin/login-requests/lg-{P}/accept",
            |_, _| Body::Json(json!({"subject": "vic"})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PATCH",
            "/admin/login-requests/lgr-{P}/reject",
            |_, _| Body::Json(json!({})),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "GET",
            "/oauth2/consent/requests/chl-{P}",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "PATCH",
            "/oauth2/consent/requests/chl-{P}/accept",
            |_, _| Body::Json(json!({"grantScopes": ["openid"]})),
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "PATCH",
            "/oauth2/consent/requests/chlr-{P}/reject",
            |_, _| Body::Json(json!({"reason": "no"})),
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/authorizations/{G}",
            no_body,
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/authorizations?subject=vic&client_id=c2-{P}",
            no_body,
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "POST",
            "/admin/tokens/flush",
            no_body,
            [200, 200, 403, 403, 401, 401],
        ),
        // Machine tokens carry no connections:* (a client has no connections of its own).
        r(
            "POST",
            "/api/consent",
            |_, p| {
                Body::Json(
                    json!({"client_id": format!("c2-{p}"), "scope": "openid", "redirect_uri": "https://app.example/cb"}),
                )
            },
            [401, 200, 200, 401, 401, 401],
        ),
        r(
            "GET",
            "/api/connections",
            no_body,
            [403, 200, 200, 403, 401, 401],
        ),
        r(
            "GET",
            "/api/connections/c-{P}",
            no_body,
            [403, 404, 404, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/api/connections/c-{P}",
            no_body,
            [403, 404, 404, 403, 401, 401],
        ),
        r(
            "POST",
            "/oauth2/introspect",
            |s, _| Body::Form(vec![("token", s.victim_token.clone())]),
            [200, 200, 403, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/users/u-{P}",
            no_body,
            [204, 204, 403, 403, 401, 401],
        ),
        r(
            "DELETE",
            "/admin/clients/c-{P}",
            no_body,
            [204, 204, 404, 404, 401, 401],
        ),
    ]
}

/// A consent request waiting for the consent app, for `client_id`, asked of `user_id`.
fn pending_consent(app: &TestApp, challenge: &str, client_id: &str, user_id: &str) {
    pending_flow(app, challenge, client_id, Some(user_id));
    let conn = &mut *app.db.conn().expect("a connection");
    flows::set_challenge(conn, &format!("flow-{challenge}"), &hex_sha256(challenge))
        .expect("a challenge");
}

/// A flow `flow-{challenge}` for `client_id`, `user_id` signed in to it or nobody.
fn pending_flow(app: &TestApp, challenge: &str, client_id: &str, user_id: Option<&str>) {
    let now = time::now();
    let request = AuthorizationRequest {
        client_id: client_id.to_owned(),
        redirect_uri: RedirectUri::registered("https://app.example/cb").expect("a URI"),
        redirect_uri_given: true,
        response_mode: ResponseMode::Query,
        scope: ["openid"].into_iter().collect(),
        state: None,
        nonce: None,
        code_challenge: None,
        prompt: Vec::new(),
        max_age: None,
        login_hint: None,
        id_token_hint: None,
        acr_values: None,
        ui_locales: None,
        display: None,
    };
    let conn = &mut *app.db.conn().expect("a connection");
    flows::insert(
        conn,
        &FlowRow {
            id: format!("flow-{challenge}"),
            session_binding: "b".into(),
            client_id: client_id.to_owned(),
            request: serde_json::to_string(&request).expect("JSON"),
            user_id: user_id.map(str::to_owned),
            auth_time: user_id.map(|_| now),
            created_at: now,
            expires_at: now + 600,
            consent_challenge: None,
            consent_verifier: None,
            consent_answer: None,
            address: String::new(),
            login_challenge: None,
            login_verifier: None,
            login_state: None,
            sign_in: None,
        },
    )
    .expect("a flow");
}

/// A sign-in waiting for the login app, for `client_id`.
fn pending_login(app: &TestApp, challenge: &str, client_id: &str) {
    let flow = format!("flow-{challenge}");
    pending_flow(app, challenge, client_id, None);
    let conn = &mut *app.db.conn().expect("a connection");
    flows::set_login_challenge(conn, &flow, &hex_sha256(challenge), "{}").expect("a challenge");
}

fn user_id(app: &TestApp, username: &str) -> String {
    portcullis::service::users::get(&app.db, username)
        .expect("the user")
        .id
}

async fn every_route_answers_every_kind_of_caller_as_its_role_allows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let victim_token = app.user_token("vic", false, "openid");
    let vic = user_id(&app, "vic");
    let system = app.admin_token(ALL_SCOPES).await;
    let admin = app.user_token("root", true, ALL_SCOPES);
    // A token of a non-admin that names every scope (as one issued before she lost the
    // admin flag would): the scopes alone must not let her in.
    let user = app.user_token("mal", false, ALL_SCOPES);
    // A machine client the system registered for mal, with every scope: its tokens act
    // for mal, so they are cut to what she may hold.
    let (owned_id, owned_secret) = app.register(json!({
        "client_id": "mal-machine",
        "grant_types": ["client_credentials"],
        "scope": ALL_SCOPES,
        "owner": "mal",
    }));
    let owned = app
        .client_credentials_token(&owned_id, &owned_secret.expect("a secret"), &[])
        .await;
    app.register(json!({"client_id": "public-app", "client_type": "public", "redirect_uris": ["https://app.example/cb"]}));

    let mut grants = HashMap::new();
    for p in PRINCIPALS {
        for (id, owner) in [
            (format!("c-{p}"), "vic"),
            (format!("c2-{p}"), "vic"),
            (format!("own-{p}"), "mal"),
        ] {
            app.register(json!({"client_id": id, "owner": owner, "redirect_uris": ["https://app.example/cb"]}));
        }
        portcullis::service::clients::set_logo(
            &app.db,
            None,
            &Default::default(),
            &format!("c-{p}"),
            PNG,
            time::now(),
        )
        .expect("a logo");
        app.cli_with_stdin(
            &["users", "create", &format!("u-{p}"), "--password-stdin"],
            Some("a long enough password\n"),
        );
        let conn = &mut *app.db.conn().expect("a connection");
        let now = time::now();
        for client in [format!("c-{p}"), format!("c2-{p}")] {
            let id =
                portcullis::storage::grants::upsert(conn, &vic, &client, "openid", true, now, now)
                    .expect("a grant");
            if client.starts_with("c-") {
                grants.insert(p.to_owned(), id);
            }
        }
        pending_consent(&app, &format!("ch-{p}"), &format!("c-{p}"), &vic);
        pending_consent(&app, &format!("chr-{p}"), &format!("c-{p}"), &vic);
        for prefix in ["chp", "chl", "chlr"] {
            pending_consent(&app, &format!("{prefix}-{p}"), &format!("c-{p}"), &vic);
        }
        for prefix in ["lg", "lgr"] {
            pending_login(&app, &format!("{prefix}-{p}"), &format!("c-{p}"));
        }
    }
    let setup = Setup {
        grants,
        victim_token,
    };
    let credential = |p: &str| match p {
        "system" => Credential::Bearer(system.clone()),
        "admin" => Credential::Bearer(admin.clone()),
        "user" => Credential::Bearer(user.clone()),
        "owned" => Credential::Bearer(owned.clone()),
        "public" => Credential::PublicClient("public-app".into()),
        _ => Credential::None,
    };
    let send = |route: &Route, p: &str| {
        let path = route
            .path
            .replace("{P}", p)
            .replace("{G}", &setup.grants[p]);
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).expect("a method");
        let mut request = app.http.request(method, app.url(&path));
        request = match credential(p) {
            Credential::Bearer(token) => request.bearer_auth(token),
            Credential::PublicClient(id) => request.header(
                "Authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:"))
                ),
            ),
            Credential::None => request,
        };
        request = match (route.body)(&setup, p) {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Form(f) => request.form(&f),
            Body::Png => request
                .header("Content-Type", "image/png")
                .body(PNG.to_vec()),
        };
        async move {
            let r = request.send().await.expect("an answer");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            (status, body)
        }
    };

    let mut wrong = Vec::new();
    // Refusals first, all of them: they must leave everything as it was.
    let before = census(&app);
    for route in routes() {
        for (i, p) in PRINCIPALS.iter().enumerate() {
            let expected = route.expect[i];
            if expected < 400 {
                continue;
            }
            let (status, body) = send(&route, p).await;
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if status != expected || !parsed["error"].is_string() {
                wrong.push(format!(
                    "{} {} as {p}: {status} (expected {expected}) {body}",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "refusals:\n{}", wrong.join("\n"));
    assert_eq!(census(&app), before, "a refused request changed something");

    // Then what each may do, in order (deletions last).
    for route in routes() {
        for (i, p) in PRINCIPALS.iter().enumerate() {
            let expected = route.expect[i];
            if expected >= 400 {
                continue;
            }
            let (status, body) = send(&route, p).await;
            if status != expected {
                wrong.push(format!(
                    "{} {} as {p}: {status} (expected {expected}) {body}",
                    route.method, route.path
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "permitted requests:\n{}",
        wrong.join("\n")
    );
}

async fn a_non_admin_lists_only_her_own_clients_and_registers_only_for_herself(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user_token("vic", false, "openid");
    let mal = app.user_token("mal", false, "clients:read clients:write");
    app.register(json!({"client_id": "vics-app", "owner": "vic"}));
    app.register(json!({"client_id": "mals-app", "owner": "mal"}));
    let listed: Vec<Value> = app
        .get_as("/admin/clients", &mal)
        .await
        .json()
        .await
        .expect("a list");
    let ids: Vec<&str> = listed
        .iter()
        .filter_map(|c| c["client_id"].as_str())
        .collect();
    assert_eq!(ids, ["mals-app"]);
    let r = app
        .get_as("/admin/clients?owner=vic", &mal)
        .await
        .json::<Vec<Value>>()
        .await
        .expect("a list");
    assert!(
        r.is_empty(),
        "another owner's list is empty, not an error that confirms her"
    );
    let before = census(&app);
    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&mal)
        .json(&json!({"client_name": "x", "owner": "vic"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 400);
    assert_eq!(census(&app), before);
}

on_both_backends!(
    every_route_answers_every_kind_of_caller_as_its_role_allows,
    a_non_admin_lists_only_her_own_clients_and_registers_only_for_herself,
);
