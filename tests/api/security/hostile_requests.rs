//! Hostile requests to everything behind a credential: introspection and revocation,
//! userinfo, the admin and user APIs, the browser pages' forms, and guessing of user
//! passwords and client secrets. Each case has its exact expected answer, and none of
//! them changes anything.

use serde_json::{json, Value};

use crate::helpers::browser::{field, Browser};
use crate::helpers::census::census;
use crate::helpers::relying_party::fixture;
use crate::helpers::{json, Backend, TestApp};

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
    Header(&'a str),
}

enum Body {
    Empty,
    Form(String),
    Json(String),
    Raw(&'static str, Vec<u8>),
}

/// What a case must answer.
enum Expect {
    /// This status and error code; `challenge` must appear in `WWW-Authenticate`.
    Error {
        status: u16,
        code: &'static str,
        challenge: Option<&'static str>,
    },
    /// RFC 7662: 200 with `{"active": false}` and nothing else.
    Inactive,
    /// 200 with an empty body (RFC 7009: unknown tokens are not an error).
    EmptyOk,
    /// 200 with an empty list: a filter that matches nothing.
    EmptyList,
}

fn error(status: u16, code: &'static str) -> Expect {
    Expect::Error {
        status,
        code,
        challenge: None,
    }
}

fn challenged(status: u16, code: &'static str, challenge: &'static str) -> Expect {
    Expect::Error {
        status,
        code,
        challenge: Some(challenge),
    }
}

struct Case<'a> {
    name: &'static str,
    method: &'static str,
    path: String,
    auth: Auth<'a>,
    body: Body,
    expect: Expect,
}

fn case<'a>(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    auth: Auth<'a>,
    body: Body,
    expect: Expect,
) -> Case<'a> {
    Case {
        name,
        method,
        path: path.into(),
        auth,
        body,
        expect,
    }
}

async fn send(app: &TestApp, c: &Case<'_>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).expect("a method");
    let mut request = app.http.request(method, app.url(&c.path));
    request = match c.auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(id, secret) => request.basic_auth(id, Some(secret)),
        Auth::Header(value) => request.header("authorization", value),
    };
    request = match &c.body {
        Body::Empty => request,
        Body::Form(form) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone()),
        Body::Json(text) => request
            .header("content-type", "application/json")
            .body(text.clone()),
        Body::Raw(content_type, bytes) => request
            .header("content-type", *content_type)
            .body(bytes.clone()),
    };
    request.send().await.expect("an answer")
}

async fn check(app: &TestApp, c: &Case<'_>) {
    let response = send(app, c).await;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("a body");
    match &c.expect {
        Expect::Error {
            status: want,
            code,
            challenge: want_challenge,
        } => {
            assert_eq!(status, *want, "{}: {text}", c.name);
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{}: not JSON: {text}", c.name));
            assert_eq!(body["error"], *code, "{}: {body}", c.name);
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{}: {body}",
                c.name
            );
            for leak in ["SELECT", "INSERT", "diesel", "panicked", "$argon2"] {
                assert!(!text.contains(leak), "{}: leaks {leak}: {text}", c.name);
            }
            if let Some(want_challenge) = want_challenge {
                let got = challenge.unwrap_or_default();
                assert!(
                    got.starts_with("Bearer") && got.contains(want_challenge),
                    "{}: WWW-Authenticate {got:?}",
                    c.name
                );
            }
        }
        Expect::Inactive => {
            assert_eq!(status, 200, "{}: {text}", c.name);
            let body: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(body, json!({ "active": false }), "{}", c.name);
        }
        Expect::EmptyOk => {
            assert_eq!(status, 200, "{}: {text}", c.name);
            assert!(text.is_empty(), "{}: {text}", c.name);
        }
        Expect::EmptyList => {
            assert_eq!(status, 200, "{}: {text}", c.name);
            assert_eq!(text, "[]", "{}", c.name);
        }
    }
}

async fn bad_requests_to_protected_endpoints_fail_with_their_exact_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cc, cc_secret) = app.machine_client("clients:read");
    let (other, other_secret) = app.machine_client("clients:read");
    let others_token = app
        .client_credentials_token(&other, &other_secret, &[])
        .await;
    let revoked = app.client_credentials_token(&cc, &cc_secret, &[]).await;
    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&cc, Some(&cc_secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .expect("revoked");
    assert_eq!(r.status(), 200);
    let clients_read = app.admin_token("clients:read").await;
    let clients_write = app.admin_token("clients:write").await;
    let users_write = app.admin_token("users:read users:write").await;
    let ann = app.user_token("ann", false, "openid clients:read clients:write");
    let ann_profile_only = app.user_token("ann2", false, "profile connections:read");
    let bob = app.user_token("bob", false, "clients:read clients:write");
    let r = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&bob)
        .json(&json!({ "client_name": "Bob's app" }))
        .send()
        .await
        .expect("registered");
    let bobs_client = json(r).await["client_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let bobs = format!("/admin/clients/{bobs_client}");
    let png_header = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut oversized = png_header.clone();
    oversized.resize(256 * 1024 + 1, 0);

    let (cc, cc_secret) = (cc.as_str(), cc_secret.as_str());
    let token_form = |t: &str| Body::Form(format!("token={t}"));
    let introspect = "/oauth2/introspect";
    let revoke = "/oauth2/revoke";
    let unauthorized = || challenged(401, "unauthorized", "Bearer");
    let unauthorized_token = || challenged(401, "unauthorized", "error=\"invalid_token\"");
    let bad_token = || challenged(401, "invalid_token", "error=\"invalid_token\"");
    let cases = vec![
        // Introspection (RFC 7662).
        case(
            "introspect without authentication",
            "POST",
            introspect,
            Auth::None,
            token_form(&others_token),
            error(401, "invalid_client"),
        ),
        case(
            "introspect with a wrong secret",
            "POST",
            introspect,
            Auth::Basic(cc, "wrong"),
            token_form(&others_token),
            error(401, "invalid_client"),
        ),
        case(
            "introspect with an unknown client",
            "POST",
            introspect,
            Auth::Basic("nobody", "x"),
            token_form(&others_token),
            error(401, "invalid_client"),
        ),
        case(
            "introspect another client's token",
            "POST",
            introspect,
            Auth::Basic(cc, cc_secret),
            token_form(&others_token),
            Expect::Inactive,
        ),
        case(
            "introspect an unknown token",
            "POST",
            introspect,
            Auth::Basic(cc, cc_secret),
            token_form("pc_at_unknown"),
            Expect::Inactive,
        ),
        case(
            "introspect a revoked token",
            "POST",
            introspect,
            Auth::Basic(cc, cc_secret),
            token_form(&revoked),
            Expect::Inactive,
        ),
        case(
            "introspect SQL as a token",
            "POST",
            introspect,
            Auth::Basic(cc, cc_secret),
            token_form("x'%20OR%20'1'%3D'1"),
            Expect::Inactive,
        ),
        case(
            "introspect without a token",
            "POST",
            introspect,
            Auth::Basic(cc, cc_secret),
            Body::Form(String::new()),
            error(400, "invalid_request"),
        ),
        case(
            "introspect with a bearer lacking tokens:introspect",
            "POST",
            introspect,
            Auth::Bearer(&clients_read),
            token_form(&others_token),
            challenged(403, "insufficient_scope", "tokens:introspect"),
        ),
        case(
            "introspect with a revoked bearer",
            "POST",
            introspect,
            Auth::Bearer(&revoked),
            token_form(&others_token),
            bad_token(),
        ),
        // Revocation (RFC 7009).
        case(
            "revoke without authentication",
            "POST",
            revoke,
            Auth::None,
            token_form(&others_token),
            error(401, "invalid_client"),
        ),
        case(
            "revoke with a wrong secret",
            "POST",
            revoke,
            Auth::Basic(cc, "wrong"),
            token_form(&others_token),
            error(401, "invalid_client"),
        ),
        case(
            // RFC 7009 §2.2: answered like an unknown token (the token survives:
            // introspection::a_client_cannot_revoke_another_clients_token).
            "revoke another client's token",
            "POST",
            revoke,
            Auth::Basic(cc, cc_secret),
            token_form(&others_token),
            Expect::EmptyOk,
        ),
        case(
            "revoke an unknown token",
            "POST",
            revoke,
            Auth::Basic(cc, cc_secret),
            token_form("pc_at_unknown"),
            Expect::EmptyOk,
        ),
        case(
            "revoke without a token",
            "POST",
            revoke,
            Auth::Basic(cc, cc_secret),
            Body::Form(String::new()),
            error(400, "invalid_request"),
        ),
        // Userinfo (OIDC Core §5.3, RFC 6750 §3).
        case(
            "userinfo without a token",
            "GET",
            "/userinfo",
            Auth::None,
            Body::Empty,
            challenged(401, "invalid_token", "Bearer"),
        ),
        case(
            "userinfo with an unknown token",
            "GET",
            "/userinfo",
            Auth::Bearer("pc_at_unknown"),
            Body::Empty,
            bad_token(),
        ),
        case(
            "userinfo with a revoked token",
            "GET",
            "/userinfo",
            Auth::Bearer(&revoked),
            Body::Empty,
            bad_token(),
        ),
        case(
            "userinfo with an empty bearer",
            "GET",
            "/userinfo",
            Auth::Header("Bearer "),
            Body::Empty,
            challenged(401, "invalid_token", "Bearer"),
        ),
        case(
            "userinfo with a Basic header",
            "GET",
            "/userinfo",
            Auth::Basic(cc, cc_secret),
            Body::Empty,
            challenged(401, "invalid_token", "Bearer"),
        ),
        case(
            "userinfo without the openid scope",
            "GET",
            "/userinfo",
            Auth::Bearer(&ann_profile_only),
            Body::Empty,
            challenged(403, "insufficient_scope", "error=\"insufficient_scope\""),
        ),
        case(
            "userinfo with a machine token",
            "GET",
            "/userinfo",
            Auth::Bearer(&clients_read),
            Body::Empty,
            bad_token(),
        ),
        // Admin API: credentials and scopes.
        case(
            "admin without a token",
            "GET",
            "/admin/clients",
            Auth::None,
            Body::Empty,
            unauthorized(),
        ),
        case(
            "admin with an unknown token",
            "GET",
            "/admin/clients",
            Auth::Bearer("pc_at_unknown"),
            Body::Empty,
            unauthorized_token(),
        ),
        case(
            "admin with a revoked token",
            "GET",
            "/admin/clients",
            Auth::Bearer(&revoked),
            Body::Empty,
            unauthorized_token(),
        ),
        case(
            "admin with Basic credentials",
            "GET",
            "/admin/clients",
            Auth::Basic(cc, cc_secret),
            Body::Empty,
            unauthorized(),
        ),
        case(
            "admin with a lower-case scheme and junk",
            "GET",
            "/admin/clients",
            Auth::Header("bearer"),
            Body::Empty,
            unauthorized(),
        ),
        case(
            "admin write with a read scope",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_read),
            Body::Json("{}".into()),
            challenged(403, "insufficient_scope", "clients:write"),
        ),
        case(
            "admin clients with a users scope",
            "GET",
            "/admin/clients",
            Auth::Bearer(&users_write),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "admin users with a clients scope",
            "GET",
            "/admin/users",
            Auth::Bearer(&clients_write),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "delete a user with a clients scope",
            "DELETE",
            "/admin/users/ann",
            Auth::Bearer(&clients_write),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "flush with a clients scope",
            "POST",
            "/admin/tokens/flush",
            Auth::Bearer(&clients_write),
            Body::Json("{}".into()),
            error(403, "insufficient_scope"),
        ),
        case(
            "consent requests with a clients scope",
            "GET",
            "/admin/consent-requests/x",
            Auth::Bearer(&clients_write),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        // Admin API: other owners' objects.
        case(
            "read another owner's client",
            "GET",
            bobs.clone(),
            Auth::Bearer(&ann),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "replace another owner's client",
            "PUT",
            bobs.clone(),
            Auth::Bearer(&ann),
            Body::Json(r#"{"client_name":"mine now"}"#.into()),
            error(404, "not_found"),
        ),
        case(
            "delete another owner's client",
            "DELETE",
            bobs.clone(),
            Auth::Bearer(&ann),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "rotate another owner's secret",
            "POST",
            format!("{bobs}/secret"),
            Auth::Bearer(&ann),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "upload another owner's logo",
            "PUT",
            format!("{bobs}/logo"),
            Auth::Bearer(&ann),
            Body::Raw("image/png", png_header.clone()),
            error(404, "not_found"),
        ),
        case(
            "register a client for another owner",
            "POST",
            "/admin/clients",
            Auth::Bearer(&ann),
            Body::Json(r#"{"owner":"bob"}"#.into()),
            error(400, "invalid_request"),
        ),
        // Admin API: malformed bodies.
        case(
            "invalid JSON",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json("{\"client_name\":".into()),
            error(400, "invalid_request"),
        ),
        case(
            "JSON of the wrong type",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json("[1,2,3]".into()),
            error(400, "invalid_request"),
        ),
        case(
            "unknown field",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json(r#"{"client_name":"x","is_admin":true}"#.into()),
            error(400, "invalid_request"),
        ),
        case(
            "field of the wrong type",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json(r#"{"redirect_uris":"http://x/cb"}"#.into()),
            error(400, "invalid_request"),
        ),
        case(
            "form instead of JSON",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Form("client_name=x".into()),
            error(415, "unsupported_media_type"),
        ),
        case(
            "oversized JSON",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json(format!(
                r#"{{"client_name":"{}"}}"#,
                "x".repeat(2 * 1024 * 1024)
            )),
            error(413, "payload_too_large"),
        ),
        case(
            "unknown field on a user",
            "POST",
            "/admin/users",
            Auth::Bearer(&users_write),
            Body::Json(r#"{"username":"eve","password":"long enough pass","role":"root"}"#.into()),
            error(400, "invalid_request"),
        ),
        case(
            "unknown field in a user patch",
            "PATCH",
            "/admin/users/ann",
            Auth::Bearer(&users_write),
            Body::Json(r#"{"admin":true,"sub":"other"}"#.into()),
            error(400, "invalid_request"),
        ),
        case(
            "a list limit above the maximum",
            "GET",
            "/admin/clients?limit=100000",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(400, "invalid_request"),
        ),
        case(
            "a negative offset",
            "GET",
            "/admin/clients?offset=-1",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(400, "invalid_request"),
        ),
        // Admin API: ids with path tricks and SQL metacharacters.
        case(
            "dot segments in an id",
            "GET",
            "/admin/clients/..%2Fusers",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "SQL in a client id",
            "GET",
            "/admin/clients/x'%20OR%20'1'%3D'1",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "SQL in a delete",
            "DELETE",
            "/admin/clients/x'%3B%20DELETE%20FROM%20clients%3B--",
            Auth::Bearer(&clients_write),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "a NUL byte in a username",
            "GET",
            "/admin/users/ann%00",
            Auth::Bearer(&users_write),
            Body::Empty,
            error(400, "invalid_request"),
        ),
        case(
            "a wildcard as a username",
            "DELETE",
            "/admin/users/%25",
            Auth::Bearer(&users_write),
            Body::Empty,
            error(404, "not_found"),
        ),
        case(
            "SQL in an authorization id",
            "DELETE",
            "/admin/authorizations/1%20OR%201%3D1",
            Auth::Bearer(&clients_write),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "SQL in a list filter",
            "GET",
            "/admin/clients?owner=x'%20OR%20'1'%3D'1",
            Auth::Bearer(&clients_read),
            Body::Empty,
            Expect::EmptyList,
        ),
        case(
            "a NUL byte in a list filter",
            "GET",
            "/admin/clients?owner=ann%00",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(400, "invalid_request"),
        ),
        case(
            "a NUL byte in a client name",
            "POST",
            "/admin/clients",
            Auth::Bearer(&clients_write),
            Body::Json(r#"{"client_name":"a\u0000b"}"#.into()),
            error(400, "invalid_request"),
        ),
        case(
            "a NUL byte in a Basic client id",
            "POST",
            "/oauth2/token",
            Auth::Basic("a\0b", "x"),
            Body::Form("grant_type=client_credentials".into()),
            error(401, "invalid_client"),
        ),
        case(
            "a NUL byte in a body client id",
            "POST",
            "/oauth2/token",
            Auth::None,
            Body::Form("grant_type=client_credentials&client_id=a%00b&client_secret=x".into()),
            error(401, "invalid_client"),
        ),
        case(
            "a NUL byte in a public client id",
            "POST",
            "/oauth2/token",
            Auth::None,
            Body::Form("grant_type=authorization_code&code=x&client_id=%00".into()),
            error(401, "invalid_client"),
        ),
        // Logos: by content, 256 KiB at most, no SVG.
        case(
            "an SVG logo",
            "PUT",
            format!("{bobs}/logo"),
            Auth::Bearer(&bob),
            Body::Raw(
                "image/svg+xml",
                br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#
                    .to_vec(),
            ),
            error(415, "unsupported_media_type"),
        ),
        case(
            "HTML disguised as a PNG",
            "PUT",
            format!("{bobs}/logo"),
            Auth::Bearer(&bob),
            Body::Raw(
                "image/png",
                b"<html><script>alert(1)</script></html>".to_vec(),
            ),
            error(415, "unsupported_media_type"),
        ),
        case(
            "an oversized PNG",
            "PUT",
            format!("{bobs}/logo"),
            Auth::Bearer(&bob),
            Body::Raw("image/png", oversized),
            error(413, "payload_too_large"),
        ),
        case(
            "an empty logo",
            "PUT",
            format!("{bobs}/logo"),
            Auth::Bearer(&bob),
            Body::Raw("image/png", Vec::new()),
            error(400, "invalid_request"),
        ),
        // A user's own API.
        case(
            "connections without a token",
            "GET",
            "/api/connections",
            Auth::None,
            Body::Empty,
            unauthorized(),
        ),
        case(
            "connections with a machine token",
            "GET",
            "/api/connections",
            Auth::Bearer(&clients_read),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "connections without the read scope",
            "GET",
            "/api/connections",
            Auth::Bearer(&ann),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "revoke a connection without the write scope",
            "DELETE",
            format!("/api/connections/{bobs_client}"),
            Auth::Bearer(&ann_profile_only),
            Body::Empty,
            error(403, "insufficient_scope"),
        ),
        case(
            "a connection the user does not have",
            "GET",
            format!("/api/connections/{bobs_client}"),
            Auth::Bearer(&ann_profile_only),
            Body::Empty,
            error(404, "not_found"),
        ),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let before = census(&app);
    for c in &cases {
        check(&app, c).await;
    }
    assert_eq!(census(&app), before, "a refused request changed something");
    // The cases above refused, they did not lock anyone out: Bob still manages his client.
    let r = app.get_as(&bobs, &bob).await;
    assert_eq!(r.status(), 200);
}

/// Forged page forms do nothing, return URLs only lead back to this server's own pages,
/// and every page refuses to be framed.
async fn page_forms_refuse_forgery_and_foreign_return_urls(backend: Backend) {
    let f = fixture(backend).await;
    let ann = Browser::new(&f.app);
    let r = ann.sign_in("ann", "ann's password").await;
    assert_eq!(r.status(), 303);
    let page = ann
        .http
        .get(f.app.url("/logout"))
        .send()
        .await
        .expect("the page");
    let csrf = field(&page.text().await.expect("html"), "csrf_token").expect("a CSRF token");
    let mallory = Browser::new(&f.app);
    let r = mallory.sign_in("ann", "ann's password").await;
    assert_eq!(r.status(), 303);

    let before = census(&f.app);
    // (path, form) posted by Ann's browser without a token, with Mallory's session's token
    // (Mallory is signed in as Ann too, on her own session), and with a made-up token.
    let mallorys = {
        let page = mallory
            .http
            .get(f.app.url("/logout"))
            .send()
            .await
            .expect("the page");
        field(&page.text().await.expect("html"), "csrf_token").expect("a CSRF token")
    };
    assert_ne!(csrf, mallorys);
    for path in ["/connections/revoke", "/logout", "/consent", "/login"] {
        for token in [None, Some(mallorys.as_str()), Some("forged"), Some("")] {
            let mut form = vec![("client_id", "rp"), ("flow", "x")];
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let r = ann
                .http
                .post(f.app.url(path))
                .form(&form)
                .send()
                .await
                .expect("an answer");
            assert_eq!(r.status(), 403, "{path} with {token:?}");
        }
    }
    assert_eq!(census(&f.app), before);
    let still_signed_in = ann
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .expect("the page");
    assert_eq!(still_signed_in.status(), 200, "a forged logout did nothing");

    // Forms a page cannot read get the page's HTML error, not the API's JSON.
    for (path, content_type, body, status) in [
        (
            "/login",
            "application/x-www-form-urlencoded",
            "username=a&username=b".to_owned(),
            400,
        ),
        (
            "/consent",
            "application/json",
            r#"{"decision":"allow"}"#.to_owned(),
            400,
        ),
        (
            "/connections/revoke",
            "application/x-www-form-urlencoded",
            "a=".repeat(10_000),
            413,
        ),
    ] {
        let r = ann
            .http
            .post(f.app.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), status, "{path}");
        let html = r.headers()["content-type"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(html.starts_with("text/html"), "{path}: {html}");
        let page = r.text().await.expect("a page");
        assert!(page.contains("The form"), "{path}: {page}");
    }
    assert_eq!(census(&f.app), before);

    // Return URLs: only the server's own pages, whatever is asked for.
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/connections/../../evil",
        "%2F%2Fevil.example",
        "/connections@evil.example",
    ] {
        let browser = Browser::new(&f.app);
        let login = browser
            .http
            .get(f.app.url(&format!(
                "/login?next={}",
                crate::helpers::relying_party::urlencode(next)
            )))
            .send()
            .await
            .expect("the page")
            .text()
            .await
            .expect("html");
        assert!(!login.contains("evil"), "{next} echoed into the page");
        let r = browser
            .http
            .post(f.app.url("/login"))
            .form(&[
                (
                    "csrf_token",
                    field(&login, "csrf_token").expect("a token").as_str(),
                ),
                ("username", "ann"),
                ("password", "ann's password"),
                ("next", next),
            ])
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), 303, "{next}");
        assert_eq!(r.headers()["location"], "/", "{next}");
    }

    // Every page: not framable, not cached; the session cookie is HttpOnly and SameSite.
    for path in [
        "/login",
        "/connections",
        "/logout",
        "/",
        "/consent?flow=unknown",
    ] {
        let r = ann
            .http
            .get(f.app.url(path))
            .send()
            .await
            .expect("an answer");
        let headers = r.headers();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().expect("text");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    let fresh = Browser::new(&f.app);
    let r = fresh
        .http
        .get(f.app.url("/login"))
        .send()
        .await
        .expect("the page");
    let cookie = r.headers()["set-cookie"].to_str().expect("text").to_owned();
    let before_sign_in = cookie.split(';').next().expect("a pair").to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    for odd in ["ann\0", "ann' OR '1'='1", "%", ""] {
        let r = fresh.sign_in(odd, "ann's password").await;
        assert_eq!(r.status(), 401, "{odd:?} signs in as nobody");
    }
    let r = fresh.sign_in("ann", "ann's password").await;
    let after = r.headers()["set-cookie"].to_str().expect("text").to_owned();
    assert_ne!(
        after.split(';').next(),
        Some(before_sign_in.as_str()),
        "the session id changes at sign-in"
    );
}

/// Guessing a client's secret: after ten failures from one address the client is refused
/// with 429 and `Retry-After`, even with the right secret; other clients, and the same
/// client's own tokens, are unaffected.
async fn guessing_a_client_secret_is_throttled_for_that_client_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (victim, victim_secret) = app.machine_client("clients:read");
    let (neighbour, neighbour_secret) = app.machine_client("clients:read");
    let issued = app
        .client_credentials_token(&victim, &victim_secret, &[])
        .await;
    let guess = |id: String, secret: String| {
        app.http
            .post(app.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for i in 0..10 {
        let r = guess(victim.clone(), format!("guess {i}"))
            .await
            .expect("an answer");
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = guess(victim.clone(), victim_secret.clone())
        .await
        .expect("an answer");
    assert_eq!(
        r.status(),
        429,
        "the right secret is refused too while throttled"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&wait), "Retry-After {wait}");
    let body = json(r).await;
    assert_eq!(body["error"], "too_many_requests", "{body}");
    // Introspection and revocation authenticate the same client: refused as well.
    let r = app
        .introspect_as(&victim, &victim_secret, &issued)
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 429);

    let r = guess(neighbour.clone(), neighbour_secret.clone())
        .await
        .expect("an answer");
    assert_eq!(r.status(), 200, "another client is unaffected");
    let r = app
        .introspect_as(&neighbour, &neighbour_secret, &issued)
        .send()
        .await
        .expect("an answer");
    assert_eq!(json(r).await, json!({ "active": false }));
    let bearer = app.get_as("/admin/clients", &issued).await;
    assert_eq!(bearer.status(), 200, "tokens already issued still work");
}

/// Password guesses sent all at once do not slip past the limit: each attempt counts from
/// the moment it starts, so of twelve parallel guesses at most five are judged.
async fn parallel_password_guesses_are_throttled_too(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({
        "client_id": "legacy",
        "client_secret": "legacy secret of at least 32 chars",
        "grant_types": ["password"],
        "scope": "openid",
    }));
    let guesses = (0..12).map(|i| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("legacy", Some("legacy secret of at least 32 chars"))
            .form(&[
                ("grant_type", "password".to_owned()),
                ("username", "ann".to_owned()),
                ("password", format!("guess number {i}")),
            ])
            .send()
    });
    let mut judged = 0;
    let mut throttled = 0;
    for r in futures_util::future::join_all(guesses).await {
        match r.expect("an answer").status().as_u16() {
            400 => judged += 1,
            429 => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        judged <= 5,
        "{judged} guesses judged, {throttled} throttled"
    );
    assert_eq!(judged + throttled, 12);
}

on_both_backends!(
    parallel_password_guesses_are_throttled_too,
    bad_requests_to_protected_endpoints_fail_with_their_exact_error,
    page_forms_refuse_forgery_and_foreign_return_urls,
    guessing_a_client_secret_is_throttled_for_that_client_only,
);
