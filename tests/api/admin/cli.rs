//! The `portcullis` command line, run as a real process against the test database.

use std::process::Output;

use serde_json::Value;

use crate::helpers::{run_cli, Backend, TestApp};

fn ok_json(out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

fn failure(out: Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure, got {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn users_are_created_listed_changed_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = ok_json(app.cli(&[
        "users",
        "create",
        "ann",
        "--email",
        "ann@example.com",
        "--name",
        "Ann A",
        "--admin",
        "--password",
        "correct horse",
    ]));
    assert_eq!(ann["username"], "ann");
    assert_eq!(ann["email"], "ann@example.com");
    assert_eq!(ann["admin"], true);
    assert!(ann.get("password").is_none() && ann.get("password_hash").is_none());
    let bob = ok_json(app.cli_with_stdin(
        &["users", "create", "bob", "--password-stdin"],
        Some("battery staple\n"),
    ));
    assert_eq!(bob["admin"], false);

    let list = ok_json(app.cli(&["users", "list"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);

    let stored = portcullis::storage::users::find_by_username(&mut app.db.conn().unwrap(), "bob")
        .unwrap()
        .unwrap();
    assert!(portcullis::protocol::secret::verify_secret(
        "battery staple",
        &stored.password_hash
    ));
    ok_json(app.cli_with_stdin(
        &["users", "set-password", "bob", "--password-stdin"],
        Some("a new passphrase\n"),
    ));
    let stored = portcullis::storage::users::find_by_username(&mut app.db.conn().unwrap(), "bob")
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(portcullis::protocol::secret::verify_secret(
        "a new passphrase",
        &stored.password_hash
    ));

    assert!(
        failure(app.cli(&["users", "create", "ann", "--password", "another one"]))
            .contains("already exists")
    );
    assert!(
        failure(app.cli(&["users", "create", "carl", "--password", "short"]))
            .contains("at least 8")
    );
    assert!(
        failure(app.cli(&["users", "create", "bad name", "--password", "long enough"]))
            .contains("username")
    );
    assert!(failure(
        app.cli_with_stdin(&["users", "create", "dave", "--password-stdin"], Some(""))
    )
    .contains("no password"));
    assert!(failure(app.cli(&["users", "create", "erin"])).contains("--password"));
    assert!(failure(app.cli_with_stdin(
        &["users", "set-password", "nobody", "--password-stdin"],
        Some("long enough\n")
    ))
    .contains("does not exist"));

    ok_json(app.cli(&["users", "delete", "bob"]));
    assert!(failure(app.cli(&["users", "delete", "bob"])).contains("does not exist"));
    assert_eq!(
        ok_json(app.cli(&["users", "list"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn clients_are_managed_from_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    ok_json(app.cli(&["users", "create", "ann", "--password", "correct horse"]));
    let created = ok_json(app.cli(&[
        "clients",
        "create",
        "--name",
        "Shop",
        "--id",
        "shop",
        "--secret",
        "shop secret 123 of at least 32 chars",
        "--redirect-uri",
        "https://shop.example/cb",
        "--redirect-uri",
        "https://shop.example/cb2",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "client_credentials",
        "--scope",
        "openid clients:read",
        "--owner",
        "ann",
        "--skip-consent",
        "--access-token-format",
        "jwt",
    ]));
    assert_eq!(created["client_id"], "shop");
    assert_eq!(
        created["client_secret"],
        "shop secret 123 of at least 32 chars"
    );
    assert_eq!(created["redirect_uris"].as_array().unwrap().len(), 2);
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["authorization_code", "client_credentials"])
    );
    assert_eq!(created["owner"], "ann");
    assert_eq!(created["skip_consent"], true);
    assert_eq!(created["access_token_format"], "jwt");
    app.client_credentials_token(
        "shop",
        "shop secret 123 of at least 32 chars",
        &["clients:read"],
    )
    .await;

    let public = ok_json(app.cli(&[
        "clients",
        "create",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
    ]));
    assert!(public.get("client_secret").is_none());
    assert_eq!(public["token_endpoint_auth_method"], "none");
    assert_eq!(public["client_type"], "public");

    let generated = ok_json(app.cli(&["clients", "create", "--name", "Defaults"]));
    assert_eq!(
        generated["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(generated["scope"], "openid");
    assert_eq!(
        generated["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert!(generated["client_secret"].as_str().unwrap().len() >= 43);

    let list = ok_json(app.cli(&["clients", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("client_secret").is_none()));
    let got = ok_json(app.cli(&["clients", "get", "shop"]));
    assert_eq!(got["client_name"], "Shop");
    assert!(got.get("client_secret").is_none());

    let rotated = ok_json(app.cli(&["clients", "rotate-secret", "shop"]));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    app.client_credentials_token("shop", new_secret, &[]).await;

    assert!(
        failure(app.cli(&["clients", "create", "--name", "Dup", "--id", "shop"]))
            .contains("already exists")
    );
    assert!(failure(app.cli(&[
        "clients",
        "create",
        "--name",
        "X",
        "--redirect-uri",
        "not a uri"
    ]))
    .contains("redirect_uris"));
    assert!(failure(app.cli(&[
        "clients",
        "create",
        "--name",
        "X",
        "--grant-type",
        "implicit"
    ]))
    .contains("grant_types"));
    assert!(
        failure(app.cli(&["clients", "create", "--name", "X", "--owner", "nobody"]))
            .contains("owner")
    );
    assert!(failure(app.cli(&["clients", "get", "nope"])).contains("does not exist"));
    assert!(failure(app.cli(&[
        "clients",
        "rotate-secret",
        public["client_id"].as_str().unwrap()
    ]))
    .contains("public"));

    ok_json(app.cli(&["clients", "delete", "shop"]));
    assert!(failure(app.cli(&["clients", "delete", "shop"])).contains("does not exist"));
}

async fn tokens_are_flushed_from_the_command_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    app.client_credentials_token(&id, &secret, &[]).await;
    let out = ok_json(app.cli(&["tokens", "flush"]));
    assert_eq!(out["deleted"], 0, "a live token stays");
    let later = portcullis::protocol::time::to_rfc3339(portcullis::protocol::time::now() + 7200);
    let out = ok_json(app.cli(&["tokens", "flush", "--before", &later]));
    assert_eq!(out["deleted"], 1);
    assert!(failure(app.cli(&["tokens", "flush", "--before", "tomorrow"])).contains("RFC 3339"));
}

async fn migrate_applies_the_schema_to_an_empty_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The server migrated its database already; a second run has nothing to do.
    let out = ok_json(app.cli(&["migrate"]));
    assert_eq!(out["applied"], serde_json::json!([]));
    // A fresh SQLite file gets every migration.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let out = ok_json(run_cli(&url, &["migrate"], None));
    assert!(!out["applied"].as_array().unwrap().is_empty());
}

on_both_backends!(
    users_are_created_listed_changed_and_deleted,
    clients_are_managed_from_the_command_line,
    tokens_are_flushed_from_the_command_line,
    migrate_applies_the_schema_to_an_empty_database,
);

#[test]
fn a_bad_setting_stops_the_command_and_names_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["clients", "list"])
        .env("PORTCULLIS_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    let stderr = failure(out);
    assert!(
        stderr.contains("access_token_ttl") && stderr.contains("PORTCULLIS_ACCESS_TOKEN_TTL"),
        "{stderr}"
    );
}

#[test]
fn every_command_documents_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["users", "create", "--help"],
        vec!["clients", "create", "--help"],
        vec!["tokens", "flush", "--help"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

/// `serve` as a person starts it: the binary on a fresh SQLite file, nothing set up.
#[test]
fn serve_starts_on_a_fresh_sqlite_database_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .current_dir(dir.path())
        .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
        .env_remove("PORTCULLIS_DATABASE_URL")
        .env_remove("PORTCULLIS_MASTER_KEY")
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::blocking::get(&url) {
            ready = r.status() == 200;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ready, "the server answered /health/ready: {log}");
    assert!(
        dir.path().join("portcullis.db").exists(),
        "the default database file was created"
    );
    assert!(!log.contains("ERROR"), "a first start logs no error: {log}");
    let key_file = dir.path().join("portcullis.master.key");
    assert!(log.contains("created the master key"), "{log}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("the master key file beside the database")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is for its owner only");
    }
}
