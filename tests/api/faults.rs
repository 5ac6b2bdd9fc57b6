//! Faults: a server killed (SIGKILL) while clients obtain tokens and grant consent, then
//! started again; PostgreSQL restarted under load; many writers on one SQLite file from
//! several processes. The test command runs these as a stage of their own, one at a
//! time, after the other tests: a PostgreSQL restart would disturb anything else using
//! the cluster. Each test prints what it counted (run with `--nocapture` to see it).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::browser::field;
use crate::helpers::relying_party::{urlencode, CALLBACK};
use crate::helpers::{json, Backend, Node, TestApp};

/// Requests sent and not yet answered, and what was acknowledged.
#[derive(Default)]
struct Load {
    /// Set just before the kill, so a failure after it is expected.
    killing: AtomicBool,
    stop: AtomicBool,
    tokens_in_flight: AtomicUsize,
    consents_in_flight: AtomicUsize,
    tokens: Mutex<Vec<String>>,
    consents: Mutex<Vec<String>>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("an HTTP client")
}

/// Asks for client_credentials tokens until stopped; a token counts as acknowledged once
/// its whole response has arrived.
async fn obtain_tokens(load: Arc<Load>, url: String, id: String, secret: String) {
    let http = client();
    while !load.stop.load(SeqCst) {
        load.tokens_in_flight.fetch_add(1, SeqCst);
        let answer = async {
            let r = http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .ok()?;
            if r.status() != 200 {
                return None;
            }
            let body: Value = r.json().await.ok()?;
            body["access_token"].as_str().map(str::to_owned)
        }
        .await;
        load.tokens_in_flight.fetch_sub(1, SeqCst);
        match answer {
            Some(token) => load.tokens.lock().expect("lock").push(token),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A signed-in person granting (and remembering) consent to one app after another; a
/// consent counts as acknowledged once the server has sent the browser back to the app
/// with a code.
async fn grant_consents(load: Arc<Load>, base: String, apps: Arc<Mutex<Vec<String>>>) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("a browser");
    let signed_in = async {
        let page = browser
            .get(format!("{base}/login"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let r = browser
            .post(format!("{base}/login"))
            .form(&[
                ("csrf_token", field(&page, "csrf_token")?.as_str()),
                ("username", "ann"),
                ("password", "ann's password"),
            ])
            .send()
            .await
            .ok()?;
        (r.status() == 303).then_some(())
    }
    .await;
    // Signing in is slow (argon2id); the server may be killed before it is done.
    if signed_in.is_none() {
        assert!(load.killing.load(SeqCst), "ann signs in");
        return;
    }
    while !load.stop.load(SeqCst) {
        let Some(app) = apps.lock().expect("lock").pop() else {
            return;
        };
        let location = |r: &reqwest::Response| {
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned)
        };
        let granted = async {
            let authorize = format!(
                "{base}/oauth2/auth?response_type=code&client_id={app}&redirect_uri={}\
                 &scope=openid&state=s&code_challenge={}&code_challenge_method=S256",
                urlencode(CALLBACK),
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            );
            let r = browser.get(authorize).send().await.ok()?;
            let consent_page = format!("{base}{}", location(&r)?);
            let page = browser
                .get(consent_page)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let form = [
                ("csrf_token", field(&page, "csrf_token")?),
                ("flow", field(&page, "flow")?),
                ("decision", "allow".to_owned()),
                ("remember", "yes".to_owned()),
            ];
            load.consents_in_flight.fetch_add(1, SeqCst);
            let r = browser
                .post(format!("{base}/consent"))
                .form(&form)
                .send()
                .await;
            load.consents_in_flight.fetch_sub(1, SeqCst);
            let back = location(&r.ok()?)?;
            (back.starts_with(CALLBACK) && back.contains("code=")).then_some(())
        }
        .await;
        if granted.is_some() {
            load.consents.lock().expect("lock").push(app);
        }
    }
}

/// Kills a serving node while tokens and consents are being written, starts it again
/// and checks that everything acknowledged survived.
async fn acknowledged_writes_survive_a_killed_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let out = app.cli(&["users", "create", "ann", "--password", "ann's password"]);
    assert!(out.status.success());
    let (id, secret) = app.machine_client("clients:read");
    let mut apps = Vec::new();
    for i in 0..400 {
        let (client_id, _) = app.register(serde_json::json!({
            "client_name": format!("app {i}"),
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
            "scope": "openid",
        }));
        apps.push(client_id);
    }
    let apps = Arc::new(Mutex::new(apps));
    let settings = [
        ("PORTCULLIS_WORKERS", "2"),
        ("PORTCULLIS_DB_POOL_SIZE", "8"),
    ];
    let mut node = Node::start_with(&app, &settings).await;

    let load = Arc::new(Load::default());
    let mut workers = Vec::new();
    for _ in 0..16 {
        workers.push(tokio::spawn(obtain_tokens(
            load.clone(),
            node.url("/oauth2/token"),
            id.clone(),
            secret.clone(),
        )));
    }
    for _ in 0..4 {
        workers.push(tokio::spawn(grant_consents(
            load.clone(),
            node.base.clone(),
            apps.clone(),
        )));
    }
    // Kill once writes of both kinds are flowing.
    let started = Instant::now();
    while load.tokens.lock().expect("lock").len() < 300
        || load.consents.lock().expect("lock").len() < 30
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the load did not get going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tokens_in_flight = load.tokens_in_flight.load(SeqCst);
    let consents_in_flight = load.consents_in_flight.load(SeqCst);
    load.killing.store(true, SeqCst);
    node.kill();
    load.stop.store(true, SeqCst);
    for worker in workers {
        worker.await.expect("a worker ends");
    }
    let tokens = load.tokens.lock().expect("lock").clone();
    let consents = load.consents.lock().expect("lock").clone();

    if backend == Backend::Sqlite {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let path = app
            .database_url
            .strip_prefix("sqlite://")
            .expect("a SQLite URL");
        let mut conn = diesel::SqliteConnection::establish(path).expect("open the database");
        let checks: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut conn)
            .expect("integrity_check runs");
        let checks: Vec<&str> = checks.iter().map(|c| c.integrity_check.as_str()).collect();
        assert_eq!(checks, ["ok"], "PRAGMA integrity_check");
    }

    let node = Node::start_with(&app, &settings).await;
    let http = client();
    let mut survived = 0;
    for token in &tokens {
        let r = http
            .post(node.url("/oauth2/introspect"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection answers");
        if json(r).await["active"] == true {
            survived += 1;
        }
    }
    let reader = app.admin_token("authorizations:read").await;
    let mut granted = HashSet::new();
    let mut offset = 0;
    loop {
        let r = http
            .get(node.url(&format!(
                "/admin/authorizations?subject=ann&limit=500&offset={offset}"
            )))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("grants listed");
        let page = json(r).await;
        let page = page.as_array().expect("a list");
        granted.extend(
            page.iter()
                .filter_map(|g| g["client_id"].as_str().map(str::to_owned)),
        );
        if page.len() < 500 {
            break;
        }
        offset += 500;
    }
    let consents_survived = consents.iter().filter(|c| granted.contains(*c)).count();
    eprintln!(
        "{backend:?} kill: tokens {tokens_in_flight} in flight, {} acknowledged, {survived} survived; \
         consents {consents_in_flight} in flight, {} acknowledged, {consents_survived} survived \
         ({} grants stored)",
        tokens.len(),
        consents.len(),
        granted.len(),
    );
    assert_eq!(survived, tokens.len(), "every acknowledged token is active");
    assert_eq!(
        consents_survived,
        consents.len(),
        "every acknowledged consent is remembered"
    );
}

/// The command that stops and starts the test PostgreSQL (`scripts/test` writes it).
fn postgres_ctl(action: &str) {
    let ctl = std::env::var("PORTCULLIS_TEST_POSTGRES_CTL").expect(
        "PORTCULLIS_TEST_POSTGRES_CTL is not set: run the fault tests with scripts/test, \
         which starts a PostgreSQL it may restart",
    );
    let status = std::process::Command::new(ctl)
        .arg(action)
        .status()
        .expect("run the PostgreSQL control script");
    assert!(status.success(), "PostgreSQL {action}");
}

/// While PostgreSQL is down the server answers 503, quickly enough for a client to
/// retry, and neither crashes nor hangs; when it is back, the server recovers by itself.
async fn a_postgres_restart_gives_503_then_recovery(backend: Backend) {
    assert_eq!(backend, Backend::Postgres);
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let mut node = Node::start_with(
        &app,
        &[
            ("PORTCULLIS_WORKERS", "2"),
            ("PORTCULLIS_DB_POOL_SIZE", "4"),
        ],
    )
    .await;
    let statuses: Arc<Mutex<BTreeMap<String, usize>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (statuses, stop, url) = (statuses.clone(), stop.clone(), node.url("/oauth2/token"));
        let (id, secret) = (id.clone(), secret.clone());
        workers.push(tokio::spawn(async move {
            let http = client();
            let mut slowest = Duration::ZERO;
            while !stop.load(SeqCst) {
                let sent = Instant::now();
                let r = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                slowest = slowest.max(sent.elapsed());
                let outcome = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap_or_default();
                        match body["error"].as_str() {
                            Some(code) => format!("{status} {code}"),
                            None => status.to_string(),
                        }
                    }
                    Err(e) if e.is_timeout() => "timeout".to_owned(),
                    Err(_) => "connection failed".to_owned(),
                };
                *statuses.lock().expect("lock").entry(outcome).or_default() += 1;
            }
            slowest
        }));
    }
    let http = client();
    let ready = || async {
        http.get(node.url("/health/ready"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres_ctl("stop");
    // Counted once the stop has returned: requests answered while PostgreSQL was
    // shutting down count as before the outage.
    let before = statuses.lock().expect("lock").clone();
    // Longer than the pool's 5 s wait for a connection, so that requests which waited
    // for one have answered too.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during_ready = ready().await;
    let during = statuses.lock().expect("lock").clone();
    postgres_ctl("start");
    let restarted = Instant::now();
    let recovered = loop {
        let r = http
            .post(node.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "no recovery within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, SeqCst);
    let mut slowest = Duration::ZERO;
    for worker in workers {
        slowest = slowest.max(worker.await.expect("a worker ends"));
    }
    let after_ready = ready().await;
    let all = statuses.lock().expect("lock").clone();
    eprintln!(
        "PostgreSQL restart: before {before:?}; by the end of the outage {during:?}; \
         all {all:?}; ready during the outage {during_ready}, after {after_ready}; \
         recovered {recovered:?} after the restart; slowest answer {slowest:?}"
    );
    assert!(node.is_running(), "the server survived the outage");
    assert!(before.get("200").is_some_and(|n| *n > 0), "{before:?}");
    assert!(
        during
            .get("503 temporarily_unavailable")
            .is_some_and(|n| *n > 0),
        "503 during the outage: {during:?}"
    );
    for outcome in all.keys() {
        assert!(
            outcome == "200" || outcome == "503 temporarily_unavailable",
            "only 200 or 503, never {outcome}: {all:?}"
        );
    }
    assert_eq!(during_ready, 503, "not ready while the database is down");
    assert_eq!(after_ready, 200, "ready again");
    assert!(
        all["200"] > before["200"] + 1,
        "tokens issued after recovery: {all:?}"
    );
}

/// 64 concurrent writers over three server processes on one SQLite file: each registers
/// a client, obtains tokens, and revokes them. SQLite allows one writer at a time across
/// processes; no client may ever see "database is locked" or any failure.
async fn sixty_four_writers_on_one_sqlite_file_never_see_a_lock(backend: Backend) {
    assert_eq!(backend, Backend::Sqlite);
    let app = TestApp::spawn(backend).await;
    let settings = [
        ("PORTCULLIS_WORKERS", "2"),
        ("PORTCULLIS_DB_POOL_SIZE", "16"),
    ];
    let nodes = [
        Node::start_with(&app, &settings).await,
        Node::start_with(&app, &settings).await,
    ];
    let bases: Vec<String> = std::iter::once(app.base.clone())
        .chain(nodes.iter().map(|n| n.base.clone()))
        .collect();
    let admin = app.admin_token("clients:write").await;
    let failures: Arc<Mutex<Vec<String>>> = Default::default();
    let writes = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..64 {
        let base = bases[w % bases.len()].clone();
        let (admin, failures, writes) = (admin.clone(), failures.clone(), writes.clone());
        writers.push(tokio::spawn(async move {
            let http = client();
            // Sends one write; its body when it got `want`, else notes the failure.
            let write = |what: &'static str, want: u16, request: reqwest::RequestBuilder| {
                let (failures, writes) = (failures.clone(), writes.clone());
                async move {
                    let r = request.send().await.expect("an answer");
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    if status != want {
                        let note = format!("writer {w}: {what} {status} {body}");
                        failures.lock().expect("lock").push(note);
                        return None;
                    }
                    writes.fetch_add(1, SeqCst);
                    Some(serde_json::from_str::<Value>(&body).unwrap_or_default())
                }
            };
            for round in 0..5 {
                let registration = serde_json::json!({
                    "client_name": format!("writer {w} round {round}"),
                    "grant_types": ["client_credentials"],
                    "scope": "clients:read",
                });
                let register = http
                    .post(format!("{base}/admin/clients"))
                    .bearer_auth(&admin)
                    .json(&registration);
                let Some(client) = write("register", 201, register).await else {
                    continue;
                };
                let id = client["client_id"].as_str().unwrap_or_default().to_owned();
                let secret = client["client_secret"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let issue = http
                    .post(format!("{base}/oauth2/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")]);
                let Some(token) = write("token", 200, issue).await else {
                    continue;
                };
                let token = token["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let revoke = http
                    .post(format!("{base}/oauth2/revoke"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("token", token)]);
                write("revoke", 200, revoke).await;
            }
        }));
    }
    for writer in writers {
        writer.await.expect("a writer ends");
    }
    let failures = failures.lock().expect("lock").clone();
    eprintln!(
        "SQLite, 64 writers on 3 processes: {} writes acknowledged, {} failed",
        writes.load(SeqCst),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(writes.load(SeqCst), 64 * 5 * 3);
}

on_both_backends!(
    acknowledged_writes_survive_a_killed_server;
    sqlite_only: sixty_four_writers_on_one_sqlite_file_never_see_a_lock;
    postgres_only: a_postgres_restart_gives_503_then_recovery
);
