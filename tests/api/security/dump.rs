//! A copy of the database is worth nothing without its master key: a SQLite file copied
//! while the server runs, or a `pg_dump`, holds no session, token, client secret,
//! password or signing key, and a server started on it without the key refuses to start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use openidconnect::OAuth2TokenResponse;
use portcullis::service::master_key::{self, COOKIE_KEY};
use portcullis::storage;

use crate::helpers::browser::session_cookie;
use crate::helpers::relying_party::{exchange_with, fixture, Fixture, RP_SECRET};
use crate::helpers::{settings_for, Backend, TestApp, TEST_MASTER_KEY};

/// Every secret the running server holds or gave out, by name, in the forms a thief
/// would look for.
async fn secrets_given_out(f: &Fixture) -> Vec<(String, Vec<u8>)> {
    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |what: &str, value: &[u8]| secrets.push((what.to_owned(), value.to_vec()));

    let signed_in = f.browser.sign_in("ann", "ann's password").await;
    assert_eq!(signed_in.status(), 303);
    let cookie = session_cookie(&signed_in).expect("a session cookie");
    let cookie = cookie.trim_start_matches("portcullis_session=");
    add("the session cookie", cookie.as_bytes());
    add("the password", b"ann's password");
    add("the client secret", RP_SECRET.as_bytes());

    let (token, _) = exchange_with(
        &f.app,
        &f.rp,
        &f.browser,
        &["profile", "email", "offline_access"],
    )
    .await;
    add("the access token", token.access_token().secret().as_bytes());
    let refresh = token.refresh_token().expect("a refresh token");
    add("the refresh token", refresh.secret().as_bytes());

    let (machine, machine_secret) = f.app.machine_client("clients:read");
    add("a machine client's secret", machine_secret.as_bytes());
    let machine_token = f
        .app
        .client_credentials_token(&machine, &machine_secret, &[])
        .await;
    add("a machine token", machine_token.as_bytes());

    // What the server keeps sealed, opened with the key a thief does not have.
    let settings = settings_for(&f.app.database_url, &[]);
    let master = master_key::unlock(&settings, &f.app.db).expect("the master key");
    add("the master key", master.to_text().as_bytes());
    let mut conn = f.app.db.conn().expect("conn");
    let stored = storage::settings::get(&mut conn, COOKIE_KEY)
        .expect("read")
        .expect("a stored cookie key");
    let cookie_key_hex = master_key::open(&f.app.db, COOKIE_KEY, &stored).expect("opens");
    let cookie_key = hex::decode(&cookie_key_hex).expect("hex");
    add("the cookie key (hex)", &cookie_key_hex);
    add("the cookie key (bytes)", &cookie_key);
    add(
        "the cookie key (base64)",
        base64::engine::general_purpose::STANDARD
            .encode(&cookie_key)
            .as_bytes(),
    );
    add("a PEM header", b"-----BEGIN");
    add("a PEM header", b"PRIVATE KEY");
    for row in storage::keys::all(&mut conn).expect("keys") {
        let pem = master_key::open(
            &f.app.db,
            &master_key::signing_key_purpose(&row.kid),
            &row.private_key,
        )
        .expect("opens");
        let pem = String::from_utf8(pem).expect("PEM text");
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            add(
                &format!("a line of private key {}", row.kid),
                line.as_bytes(),
            );
        }
    }
    secrets
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fails naming every secret found in the copy, after showing the search finds what is
/// meant to be there.
fn assert_nothing_usable(copy: &[u8], secrets: &[(String, Vec<u8>)]) {
    assert!(
        holds(copy, b"ann@example.com") && holds(copy, b"Reading Room"),
        "the copy holds the data (the search works)"
    );
    let found: Vec<&str> = secrets
        .iter()
        .filter(|(_, value)| holds(copy, value))
        .map(|(what, _)| what.as_str())
        .collect();
    assert!(found.is_empty(), "the copy holds {found:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `portcullis serve` on `database_url` with exactly these master-key settings.
fn serve(database_url: &str, env: &[(&str, &str)], port: u16) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env("PORTCULLIS_DATABASE_URL", database_url)
        .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("PORTCULLIS_WORKERS", "1")
        .env("PORTCULLIS_DB_POOL_SIZE", "2")
        .env_remove("PORTCULLIS_MASTER_KEY")
        .env_remove("PORTCULLIS_MASTER_KEY_FILE")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the portcullis binary runs")
}

/// Starts a server that must refuse; returns what it said.
fn refuses_to_start(database_url: &str, env: &[(&str, &str)]) -> String {
    let mut child = serve(database_url, env, free_port());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a copy without its master key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "refused with a failing exit status");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("master key"), "the refusal says why: {said}");
    assert!(!said.contains("panicked"), "{said}");
    said
}

/// Starts a server that must come up; stops it again.
async fn starts(database_url: &str, env: &[(&str, &str)]) {
    let port = free_port();
    let mut child = serve(database_url, env, port);
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let mut ready = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(&url).send().await {
            if r.status() == 200 {
                ready = true;
                break;
            }
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    assert!(
        ready,
        "the server started with its master key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sqlite_path(database_url: &str) -> PathBuf {
    PathBuf::from(database_url.trim_start_matches("sqlite://"))
}

/// Copies the database file and its WAL, as a backup tool would while the server runs.
fn copy_sqlite(database: &Path, into: &Path) -> (PathBuf, Vec<u8>) {
    let name = database.file_name().expect("a file name").to_owned();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut from = database.as_os_str().to_owned();
        from.push(suffix);
        let mut to = into.join(&name).into_os_string();
        to.push(suffix);
        if Path::new(&from).exists() {
            std::fs::copy(&from, &to).expect("copy");
            bytes.extend(std::fs::read(&to).expect("read the copy"));
        }
    }
    (into.join(name), bytes)
}

async fn a_copy_of_the_sqlite_file_yields_nothing() {
    let f = fixture(Backend::Sqlite).await;
    let secrets = secrets_given_out(&f).await;
    let original = sqlite_path(&f.app.database_url);
    let key_file = master_key::key_file(&settings_for(&f.app.database_url, &[]))
        .expect("SQLite keeps its master key in a file");
    assert_eq!(key_file.parent(), original.parent(), "beside the database");

    let stolen = tempfile::tempdir().unwrap();
    let (copy, bytes) = copy_sqlite(&original, stolen.path());
    assert_nothing_usable(&bytes, &secrets);

    let copy_url = format!("sqlite://{}", copy.display());
    let said = refuses_to_start(&copy_url, &[]);
    assert!(said.contains("sealed under master key"), "{said}");
    let wrong = tempfile::tempdir().unwrap();
    let wrong_key = wrong.path().join("other.key");
    std::fs::write(&wrong_key, format!("{}\n", "ab".repeat(32))).unwrap();
    refuses_to_start(
        &copy_url,
        &[("PORTCULLIS_MASTER_KEY_FILE", wrong_key.to_str().unwrap())],
    );

    // With its key, the same copy is a working backup.
    std::fs::copy(
        &key_file,
        master_key::key_file(&settings_for(&copy_url, &[])).unwrap(),
    )
    .unwrap();
    starts(&copy_url, &[]).await;
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// `pg_dump` of the running server's database, restored into a new database.
fn dump_and_restore(database_url: &str, into: &Path) -> (String, Vec<u8>) {
    let dump = into.join("dump.sql");
    let out = Command::new(postgres_bin("pg_dump"))
        .args(["--no-owner", "--format=plain", "--file"])
        .arg(&dump)
        .arg(format!("--dbname={database_url}"))
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").expect("the test PostgreSQL");
    let name = format!("portcullis_restored_{}", uuid::Uuid::new_v4().simple());
    PgConnection::establish(&admin)
        .expect("connect")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the restore target");
    let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
    let restored = format!("{base}/{name}");
    let out = Command::new(postgres_bin("psql"))
        .args(["--quiet", "-v", "ON_ERROR_STOP=1", "--file"])
        .arg(&dump)
        .arg(format!("--dbname={restored}"))
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (restored, std::fs::read(&dump).expect("read the dump"))
}

async fn a_pg_dump_yields_nothing() {
    let f = fixture(Backend::Postgres).await;
    let secrets = secrets_given_out(&f).await;
    let dir = tempfile::tempdir().unwrap();
    let (restored, bytes) = dump_and_restore(&f.app.database_url, dir.path());
    assert_nothing_usable(&bytes, &secrets);

    let said = refuses_to_start(&restored, &[]);
    assert!(said.contains("PORTCULLIS_MASTER_KEY"), "{said}");
    let said = refuses_to_start(&restored, &[("PORTCULLIS_MASTER_KEY", &"ab".repeat(32))]);
    assert!(said.contains("sealed under master key"), "{said}");
    starts(&restored, &[("PORTCULLIS_MASTER_KEY", TEST_MASTER_KEY)]).await;
}

/// `keys rotate-master` with the key in a file: the file holds the new key, still for
/// its owner only, and the old key no longer opens the database.
async fn rotating_a_key_file() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let settings = settings_for(&app.database_url, &[]);
    let key_file = master_key::key_file(&settings).unwrap();
    let before = std::fs::read_to_string(&key_file).unwrap();
    let old = tempfile::tempdir().unwrap();
    let old_key = old.path().join("old.key");
    std::fs::write(&old_key, &before).unwrap();

    let out = app.cli(&["keys", "rotate-master"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(rotated["master_key_id"], rotated["previous_master_key_id"]);
    assert_eq!(rotated["key_file"], key_file.display().to_string());
    assert!(
        rotated.get("master_key").is_none(),
        "a file key is not printed"
    );
    let after = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(before, after);
    assert_mode_600(&key_file);
    let mut pending = key_file.clone().into_os_string();
    pending.push(".new");
    assert!(!Path::new(&pending).exists(), "no half-done rotation left");

    refuses_to_start(
        &app.database_url,
        &[("PORTCULLIS_MASTER_KEY_FILE", old_key.to_str().unwrap())],
    );
    starts(&app.database_url, &[]).await;
    let out = app.cli(&["keys", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With the key in the environment, the new key is shown once, to be given to every node.
async fn rotating_a_key_from_the_environment() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["keys", "rotate-master"])
        .env("PORTCULLIS_DATABASE_URL", &app.database_url)
        .env("PORTCULLIS_MASTER_KEY", TEST_MASTER_KEY)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_key = rotated["master_key"].as_str().expect("the new key, once");
    assert_eq!(new_key.len(), 64);
    assert_ne!(new_key, TEST_MASTER_KEY);
    let said = refuses_to_start(
        &app.database_url,
        &[("PORTCULLIS_MASTER_KEY", TEST_MASTER_KEY)],
    );
    assert!(
        said.contains(rotated["master_key_id"].as_str().unwrap()),
        "names the key it needs: {said}"
    );
    starts(&app.database_url, &[("PORTCULLIS_MASTER_KEY", new_key)]).await;
}

#[cfg(unix)]
fn assert_mode_600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} is for its owner only", path.display());
}

#[cfg(not(unix))]
fn assert_mode_600(_: &Path) {}

/// The first command on a fresh database used to log `ERROR database is locked` now and
/// then (the pool's connections racing the switch to WAL); a few fresh starts show it
/// does not. (`serve` on a fresh database is tried in the CLI tests.)
#[test]
fn a_first_command_on_a_fresh_database_logs_no_error() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["users", "list"])
            .env("PORTCULLIS_DATABASE_URL", &url)
            .env_remove("PORTCULLIS_MASTER_KEY")
            .env_remove("PORTCULLIS_MASTER_KEY_FILE")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{said}");
        assert!(!said.contains("ERROR"), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copy_yields_nothing() {
    a_copy_of_the_sqlite_file_yields_nothing().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_yields_nothing() {
    a_pg_dump_yields_nothing().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_master_with_a_key_file() {
    rotating_a_key_file().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_master_with_the_key_in_the_environment() {
    rotating_a_key_from_the_environment().await
}
