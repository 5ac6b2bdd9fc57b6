//! Sessions are records on the server: ending one ends every copy of its cookie.

use serde_json::json;

use crate::helpers::browser::{field, session_cookie, Browser};
use crate::helpers::relying_party::fixture;
use crate::helpers::{Backend, TestApp};

/// The session cookie a browser holds, as a thief would copy it.
async fn copied_cookie(app: &TestApp, username: &str, password: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    let signed_in = browser.sign_in(username, password).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = session_cookie(&signed_in).expect("a session cookie");
    (browser, cookie)
}

/// Whether a request with only this cookie is signed in.
async fn signs_in(app: &TestApp, cookie: &str) -> bool {
    let r = app
        .http
        .get(app.url("/connections"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        200 => true,
        303 => false,
        other => panic!("unexpected {other}"),
    }
}

async fn sign_out(app: &TestApp, browser: &Browser) {
    let page = browser
        .http
        .get(app.url("/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf_token").unwrap();
    let r = browser
        .http
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn signing_out_ends_every_copy_of_the_cookie(backend: Backend) {
    let f = fixture(backend).await;
    let (browser, stolen) = copied_cookie(&f.app, "ann", "ann's password").await;
    assert!(
        signs_in(&f.app, &stolen).await,
        "the copy works while she is signed in"
    );
    sign_out(&f.app, &browser).await;
    assert!(
        !signs_in(&f.app, &stolen).await,
        "and not after she signed out"
    );
}

async fn a_new_password_a_lost_admin_flag_or_an_admin_ends_sessions(backend: Backend) {
    let f = fixture(backend).await;
    let (_, stolen) = copied_cookie(&f.app, "ann", "ann's password").await;
    let out = f.app.cli_with_stdin(
        &["users", "set-password", "ann", "--password-stdin"],
        Some("ann's new password\n"),
    );
    assert!(out.status.success());
    assert!(
        !signs_in(&f.app, &stolen).await,
        "a password change ends it"
    );

    let system = f.app.admin_token("users:write").await;
    let (_, stolen) = copied_cookie(&f.app, "ann", "ann's new password").await;
    let r = f
        .app
        .http
        .patch(f.app.url("/admin/users/ann"))
        .bearer_auth(&system)
        .json(&json!({"password": "ann's third password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        !signs_in(&f.app, &stolen).await,
        "so does one through the API"
    );

    let (_, stolen) = copied_cookie(&f.app, "ann", "ann's third password").await;
    let (_, other) = copied_cookie(&f.app, "ann", "ann's third password").await;
    assert_eq!(
        f.app
            .delete_as("/admin/users/ann/sessions", &system)
            .await
            .status(),
        204
    );
    assert!(!signs_in(&f.app, &stolen).await && !signs_in(&f.app, &other).await);

    f.app.cli(&[
        "users",
        "create",
        "root",
        "--admin",
        "--password",
        "root's password",
    ]);
    // Another admin, so that root is not the last one (who cannot be demoted).
    f.app.user_token("deputy", true, "");
    let (_, admins) = copied_cookie(&f.app, "root", "root's password").await;
    let (_, anns) = copied_cookie(&f.app, "ann", "ann's third password").await;
    let r = f
        .app
        .http
        .patch(f.app.url("/admin/users/root"))
        .bearer_auth(&system)
        .json(&json!({"admin": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        !signs_in(&f.app, &admins).await,
        "losing the admin flag ends hers"
    );
    assert!(signs_in(&f.app, &anns).await, "and nobody else's");

    let out = f.app.cli(&["users", "end-sessions", "ann"]);
    assert!(out.status.success());
    assert!(!signs_in(&f.app, &anns).await);
}

async fn the_connections_page_lists_sessions_and_ends_one(backend: Backend) {
    let f = fixture(backend).await;
    let (laptop, _) = copied_cookie(&f.app, "ann", "ann's password").await;
    let (_, phone) = copied_cookie(&f.app, "ann", "ann's password").await;
    let page = laptop
        .http
        .get(f.app.url("/connections"))
        .header("User-Agent", "Laptop Browser/1.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches(">End session</button>").count(), 2, "{page}");
    assert!(page.contains("this browser"));
    assert!(page.contains("127.0.0.1"));
    // The other session is the section without "this browser".
    let other = page
        .split("<section class=\"connection\">")
        .find(|s| s.contains("End session") && !s.contains("this browser"))
        .and_then(|s| field(s, "session"))
        .expect("the other session's button");
    let csrf = field(&page, "csrf_token").unwrap();
    let r = laptop
        .http
        .post(f.app.url("/connections/sessions/end"))
        .form(&[("csrf_token", csrf.as_str()), ("session", other.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!signs_in(&f.app, &phone).await, "the phone is signed out");
    let still = laptop
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "the laptop is not");
    // Another user's session cannot be ended from here: unknown to her.
    f.app
        .cli(&["users", "create", "bob", "--password", "bob's password"]);
    let (bobs_browser, bobs) = copied_cookie(&f.app, "bob", "bob's password").await;
    let bobs_page = bobs_browser
        .http
        .get(f.app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bobs_session = field(&bobs_page, "session").unwrap();
    let r = laptop
        .http
        .post(f.app.url("/connections/sessions/end"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("session", bobs_session.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(signs_in(&f.app, &bobs).await);
}

async fn expired_sessions_are_swept(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("PORTCULLIS_SESSION_TTL", "1s")]).await;
    app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    let (_, cookie) = copied_cookie(&app, "ann", "ann's password").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(!signs_in(&app, &cookie).await, "expired");
    let later = portcullis::protocol::time::to_rfc3339(portcullis::protocol::time::now() + 1);
    let out = app.cli(&["tokens", "flush", "--before", &later]);
    let flushed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(flushed["sessions_deleted"], 1, "{flushed}");
}

on_both_backends!(
    signing_out_ends_every_copy_of_the_cookie,
    a_new_password_a_lost_admin_flag_or_an_admin_ends_sessions,
    the_connections_page_lists_sessions_and_ends_one,
    expired_sessions_are_swept,
);
