//! Accounts: a new password revokes what the old one obtained, and the server always
//! keeps an admin.

use openidconnect::OAuth2TokenResponse;
use serde_json::{json, Value};

use crate::helpers::relying_party::{fixture, sign_in_and_exchange, Fixture, RP_SECRET};
use crate::helpers::{assert_error, json, Backend, TestApp};

async fn refreshes(app: &TestApp, refresh_token: &str) -> u16 {
    app.http
        .post(app.url("/oauth2/token"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn active(app: &TestApp, token: &str) -> bool {
    let body = json(
        app.introspect_as("rp", RP_SECRET, token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    body["active"] == true
}

/// Tokens ann got through the relying party, with the password she has now.
async fn tokens_of_ann(f: &Fixture, password: &str) -> (String, String) {
    let browser = crate::helpers::browser::Browser::new(&f.app);
    assert_eq!(browser.sign_in("ann", password).await.status(), 303);
    let (token, _) =
        crate::helpers::relying_party::exchange_with(&f.app, &f.rp, &browser, &["offline_access"])
            .await;
    (
        token.access_token().secret().clone(),
        token.refresh_token().unwrap().secret().clone(),
    )
}

async fn a_new_password_revokes_the_tokens_the_old_one_got(backend: Backend) {
    let f = fixture(backend).await;
    let (access, refresh) = {
        let (token, _) = sign_in_and_exchange(&f, &["offline_access"]).await;
        (
            token.access_token().secret().clone(),
            token.refresh_token().unwrap().secret().clone(),
        )
    };
    assert!(active(&f.app, &access).await);
    let out = f.app.cli_with_stdin(
        &["users", "set-password", "ann", "--password-stdin"],
        Some("ann's second password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command is another process: the server may remember the token as active for
    // up to 2 seconds, as with every change made elsewhere.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(
        !active(&f.app, &access).await,
        "the access token is revoked"
    );
    assert_eq!(
        refreshes(&f.app, &refresh).await,
        400,
        "and the refresh token"
    );

    // Through the admin API too.
    let (access, refresh) = tokens_of_ann(&f, "ann's second password").await;
    let system = f.app.admin_token("users:write").await;
    let r = f
        .app
        .patch_as(
            "/admin/users/ann",
            &system,
            &json!({"password": "ann's third password"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!active(&f.app, &access).await);
    assert_eq!(refreshes(&f.app, &refresh).await, 400);

    // Other changes leave tokens alone.
    let (access, refresh) = tokens_of_ann(&f, "ann's third password").await;
    let r = f
        .app
        .patch_as("/admin/users/ann", &system, &json!({"name": "Ann E."}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(active(&f.app, &access).await);
    assert_eq!(refreshes(&f.app, &refresh).await, 200);
}

/// Every check of an update comes before any of its writes: a demotion, a new password
/// or a sign-out never happens on the way to a 400.
async fn a_refused_update_changes_nothing(backend: Backend) {
    let f = fixture(backend).await;
    f.app.user_token("root", true, "");
    let system = f.app.admin_token("users:write").await;
    let r = f
        .app
        .patch_as("/admin/users/ann", &system, &json!({"admin": true}))
        .await;
    assert_eq!(r.status(), 200);
    let (access, refresh) = tokens_of_ann(&f, "ann's password").await;
    let before = crate::helpers::census::census(&f.app);
    for (patch, field) in [
        (json!({"admin": false, "email": "not an address"}), "email"),
        (json!({"admin": false, "password": "password"}), "password"),
        (
            json!({"admin": false, "password": "ann's next long password", "phone_number": "1".repeat(41)}),
            "phone_number",
        ),
    ] {
        let r = f.app.patch_as("/admin/users/ann", &system, &patch).await;
        let body = assert_error(r, 400, "invalid_request").await;
        assert!(
            body["error_description"].as_str().unwrap().contains(field),
            "{patch}: {body}"
        );
        assert!(is_admin(&f.app, "ann").await, "{patch}: still an admin");
        assert!(active(&f.app, &access).await, "{patch}: her token holds");
        assert_eq!(crate::helpers::census::census(&f.app), before, "{patch}");
    }
    assert_eq!(refreshes(&f.app, &refresh).await, 200);
    // And her old password still signs her in.
    tokens_of_ann(&f, "ann's password").await;
}

async fn is_admin(app: &TestApp, username: &str) -> bool {
    portcullis::service::users::get(&app.db, username)
        .map(|u| u.admin)
        .unwrap_or(false)
}

async fn two_admins_demoting_each_other_at_once_leave_one(backend: Backend) {
    use portcullis::service::users::{update, UserPatch};
    let app = TestApp::spawn(backend).await;
    app.user_token("root", true, "");
    app.user_token("deputy", true, "");
    let demote = |who: &str| {
        let patch = UserPatch {
            admin: Some(false),
            ..Default::default()
        };
        update(&app.db, who, patch, portcullis::protocol::time::now())
    };
    for round in 0..20 {
        let start = std::sync::Barrier::new(2);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                start.wait();
                demote("root")
            });
            let b = s.spawn(|| {
                start.wait();
                demote("deputy")
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(
            a.is_ok() != b.is_ok(),
            "round {round}: exactly one demotion goes through ({a:?}, {b:?})"
        );
        let (root, deputy) = (is_admin(&app, "root").await, is_admin(&app, "deputy").await);
        assert!(root != deputy, "round {round}: one admin is left");
        let promote = UserPatch {
            admin: Some(true),
            ..Default::default()
        };
        let demoted = if root { "deputy" } else { "root" };
        update(&app.db, demoted, promote, portcullis::protocol::time::now()).unwrap();
    }
}

async fn the_last_admin_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user_token("root", true, "");
    let system = app.admin_token("users:write").await;
    let demote = |who: &'static str| {
        app.http
            .patch(app.url(&format!("/admin/users/{who}")))
            .bearer_auth(&system)
            .json(&json!({"admin": false}))
            .send()
    };
    let body = assert_error(demote("root").await.unwrap(), 409, "conflict").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("last admin"));
    assert_error(
        app.delete_as("/admin/users/root", &system).await,
        409,
        "conflict",
    )
    .await;
    let out = app.cli(&["users", "delete", "root"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("last admin"));
    assert!(is_admin(&app, "root").await, "refused, and unchanged");

    app.user_token("deputy", true, "");
    assert_eq!(demote("root").await.unwrap().status(), 200);
    assert!(!is_admin(&app, "root").await);
    assert_error(
        app.delete_as("/admin/users/deputy", &system).await,
        409,
        "conflict",
    )
    .await;
    assert_error(demote("deputy").await.unwrap(), 409, "conflict").await;
    assert_eq!(
        app.delete_as("/admin/users/root", &system).await.status(),
        204
    );
}

async fn guessable_passwords_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let system = app.admin_token("users:write").await;
    let before = crate::helpers::census::census(&app);
    for (password, why) in [
        ("        ", "only spaces"),
        ("\t\t\t\t\t\t\t\t", "only spaces"),
        ("aaaaaaaaaaaa", "repeats one character"),
        ("Password1", "most common"),
        ("QWERTYUIOP", "most common"),
        // Further down the list of the 10,000 most common passwords.
        ("Blink182", "most common"),
        ("1qazxsw2", "most common"),
        ("JENNIFER", "most common"),
        ("Mallory-99", "user name"),
    ] {
        let r = app
            .http
            .post(app.url("/admin/users"))
            .bearer_auth(&system)
            .json(&json!({"username": "mallory-99", "password": password}))
            .send()
            .await
            .unwrap();
        let body = assert_error(r, 400, "invalid_request").await;
        assert!(
            body["error_description"].as_str().unwrap().contains(why),
            "{body}"
        );
        let out = app.cli_with_stdin(
            &["users", "create", "mallory-99", "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        assert!(!out.status.success(), "{password:?}");
    }
    assert_eq!(
        crate::helpers::census::census(&app),
        before,
        "nobody was created"
    );
    let r = app
        .http
        .post(app.url("/admin/users"))
        .bearer_auth(&system)
        .json(&json!({"username": "mallory-99", "password": "  a phrase with spaces  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn create_user(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/admin/users"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn one_name_regardless_of_case_and_one_user_per_email(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let system = app.admin_token("users:read users:write").await;
    let made = create_user(
        app,
        &system,
        json!({"username": "zed", "email": "Zed@Example.com", "password": "zed's long password"}),
    )
    .await;
    assert_eq!(made.status(), 201);
    let before = crate::helpers::census::census(app);
    for name in ["ANN", "Ann", "aNN"] {
        let r = create_user(
            app,
            &system,
            json!({"username": name, "password": "another long password"}),
        )
        .await;
        let body = assert_error(r, 409, "conflict").await;
        assert!(
            body["error_description"].as_str().unwrap().contains("case"),
            "{body}"
        );
    }
    let r = create_user(
        app,
        &system,
        json!({"username": "zoe", "email": "zed@example.COM", "password": "zoe's long password"}),
    )
    .await;
    let body = assert_error(r, 409, "conflict").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("e-mail"),
        "{body}"
    );
    let r = app
        .patch_as(
            "/admin/users/ann",
            &system,
            &json!({"email": "ZED@example.com"}),
        )
        .await;
    assert_error(r, 409, "conflict").await;
    let out = app.cli_with_stdin(
        &["users", "create", "ZED", "--password-stdin"],
        Some("a third long password\n"),
    );
    assert!(!out.status.success());
    assert_eq!(
        crate::helpers::census::census(app),
        before,
        "nothing changed"
    );

    // Any case finds the one account, and signs her in.
    let found = json(app.get_as("/admin/users/ANN", &system).await).await;
    assert_eq!(found["username"], "ann");
    let browser = crate::helpers::browser::Browser::new(app);
    assert_eq!(browser.sign_in("Ann", "ann's password").await.status(), 303);
    // Guesses in different cases count against the one account.
    let guesser = crate::helpers::browser::Browser::new(app);
    for name in ["zed", "Zed", "ZED", "zEd", "zeD"] {
        assert_eq!(guesser.sign_in(name, "a wrong guess").await.status(), 401);
    }
    assert_eq!(
        guesser.sign_in("ZeD", "zed's long password").await.status(),
        429
    );
}

/// A database holding accounts that the uniqueness rules forbid (made before them) is
/// not migrated blindly: the server names the clashes, changes nothing, and migrates
/// once they are settled.
async fn clashing_accounts_are_named_before_migrating(backend: Backend) {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn(backend).await;
    let system = app.admin_token("users:write").await;
    for (name, email) in [
        ("alice", "a@example.com"),
        ("bob", "b@example.com"),
        ("carol", "c@example.com"),
    ] {
        let r = create_user(
            &app,
            &system,
            json!({"username": name, "email": email, "password": format!("{name}'s long password")}),
        )
        .await;
        assert_eq!(r.status(), 201);
    }
    let unmigrate = "DROP INDEX users_email_folded; DROP INDEX users_username_folded; \
         DELETE FROM __diesel_schema_migrations WHERE version = '20261206000006';";
    app.db
        .conn()
        .unwrap()
        .batch_execute(&format!(
            "{unmigrate} UPDATE users SET username = 'Alice' WHERE username = 'bob'; \
             UPDATE users SET email = 'A@example.com' WHERE username = 'carol';"
        ))
        .unwrap();
    let out = app.cli(&["users", "list"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("usernames that differ only in case: alice, Alice")
            || said.contains("usernames that differ only in case: Alice, alice"),
        "{said}"
    );
    assert!(
        said.contains("users sharing the e-mail address a@example.com: alice, carol"),
        "{said}"
    );
    let pending: i64 = {
        use diesel::prelude::*;
        diesel::sql_query(
            "SELECT COUNT(*) AS n FROM __diesel_schema_migrations WHERE version = '20261206000006'",
        )
        .get_result::<Count>(&mut *app.db.conn().unwrap())
        .unwrap()
        .n
    };
    assert_eq!(pending, 0, "the migration did not run");

    app.db
        .conn()
        .unwrap()
        .batch_execute(
            "UPDATE users SET username = 'bob' WHERE username = 'Alice'; \
             UPDATE users SET email = NULL WHERE username = 'carol';",
        )
        .unwrap();
    let out = app.cli(&["users", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = create_user(
        &app,
        &system,
        json!({"username": "BOB", "password": "bob's other long password"}),
    )
    .await;
    assert_error(r, 409, "conflict").await;
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

on_both_backends!(
    one_name_regardless_of_case_and_one_user_per_email,
    clashing_accounts_are_named_before_migrating,
    guessable_passwords_are_refused,
    a_new_password_revokes_the_tokens_the_old_one_got,
    the_last_admin_stays,
    two_admins_demoting_each_other_at_once_leave_one,
    a_refused_update_changes_nothing,
);
