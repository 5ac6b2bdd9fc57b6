use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use openidconnect::core::CoreClient;
use openidconnect::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySet,
    OAuth2TokenResponse, Scope, TokenUrl,
};
use portcullis::config::Settings;
use portcullis::protocol::client::ClientRequest;
use portcullis::protocol::secret;
use portcullis::protocol::time;
use portcullis::service;
use portcullis::startup::Application;
use portcullis::storage::Db;
use serde_json::Value;

pub mod browser;
pub mod census;
pub mod listener;
pub mod relying_party;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    /// The server's own database handle (see `Application::db`).
    pub db: Db,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A fresh, empty database for one test.
fn fresh_database(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("portcullis.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").expect(
                "PORTCULLIS_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL",
            );
            let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin).expect("connect to the test PostgreSQL");
            conn.batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create a test database");
            let (base, _) = admin.rsplit_once('/').expect("a database URL with a path");
            format!("{base}/{name}")
        }
    }
}

/// The master key of every PostgreSQL test database (PostgreSQL has no default key
/// file; SQLite tests use the key file created beside their database).
pub const TEST_MASTER_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// What a process working on this database needs in its environment besides its URL.
pub fn backend_env(database_url: &str) -> Vec<(&'static str, &'static str)> {
    if database_url.starts_with("postgres") {
        vec![("PORTCULLIS_MASTER_KEY", TEST_MASTER_KEY)]
    } else {
        Vec::new()
    }
}

/// RSA key generation is the slowest part of a first start; tests share one key pair
/// (under fresh key ids) instead of making two per server. The first-start path itself is
/// covered by the test that runs `portcullis serve` on an empty database.
fn seed_signing_keys(settings: &Settings) {
    static PEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let pem = PEM.get_or_init(|| {
        portcullis::protocol::keys::generate(portcullis::protocol::keys::Algorithm::Rs256)
            .expect("RSA key")
    });
    let db = Db::connect(settings.database_url.expose_str(), 1).expect("connect");
    db.migrate().expect("migrate");
    let master = service::master_key::unlock(settings, &db).expect("the master key");
    let now = time::now();
    portcullis::storage::keys::ensure(&mut db.conn().expect("conn"), now, &|state| {
        let kid = portcullis::protocol::keys::new_kid();
        let sealed = master
            .seal(
                &service::master_key::signing_key_purpose(&kid),
                pem.as_bytes(),
            )
            .expect("sealed");
        Ok(portcullis::storage::keys::KeyRow {
            kid,
            alg: "RS256".into(),
            private_key: sealed,
            state,
            created_at: now,
            activated_at: None,
            retired_at: None,
        })
    })
    .expect("seed keys");
}

pub fn settings_for(database_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut env = vec![
        (
            "PORTCULLIS_DATABASE_URL".to_owned(),
            database_url.to_owned(),
        ),
        ("PORTCULLIS_WORKERS".to_owned(), "2".to_owned()),
        ("PORTCULLIS_DB_POOL_SIZE".to_owned(), "4".to_owned()),
    ];
    env.extend(
        backend_env(database_url)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load_from(None, env).expect("valid test settings")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts a server with extra `PORTCULLIS_*` settings.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(backend, &dir);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        let base = format!("http://127.0.0.1:{port}");
        let mut settings = settings_for(&database_url, extra);
        settings.issuer = base.clone();
        seed_signing_keys(&settings);
        let app = Application::build_with_listener(settings, listener)
            .await
            .expect("server starts");
        // The tests change things through the server's own handle, so that the server
        // sees them at once, as it sees its own requests' changes.
        let db = app.db().clone();
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        TestApp {
            base,
            database_url,
            db,
            http,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client directly through the service layer; returns its id and secret.
    pub fn register(&self, request: Value) -> (String, Option<String>) {
        let request: ClientRequest = serde_json::from_value(request).expect("valid client JSON");
        let draft = request.validate().expect("valid client");
        let view =
            service::clients::create(&self.db, None, &Default::default(), draft, time::now())
                .expect("client registered");
        (view.client_id, view.client_secret.map(|s| s.into_exposed()))
    }

    /// Registers a client unless one with its `client_id` exists.
    pub fn register_if_missing(&self, request: Value) {
        let id = request["client_id"]
            .as_str()
            .expect("a client_id")
            .to_owned();
        if service::clients::get(&self.db, None, &id).is_err() {
            self.register(request);
        }
    }

    /// A machine client with `scope` and the client_credentials grant.
    pub fn machine_client(&self, scope: &str) -> (String, String) {
        let (id, secret) = self.register(serde_json::json!({
            "client_name": "machine",
            "grant_types": ["client_credentials"],
            "scope": scope,
        }));
        (id, secret.expect("a confidential client has a secret"))
    }

    /// The token endpoint as a relying party library sees it.
    pub fn oauth_client(&self, id: &str, secret: &str, auth: AuthType) -> OAuthClient {
        CoreClient::new(
            ClientId::new(id.to_owned()),
            IssuerUrl::new(self.base.clone()).expect("issuer url"),
            JsonWebKeySet::default(),
        )
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_auth_type(auth)
        .set_token_uri(TokenUrl::new(self.url("/oauth2/token")).expect("token url"))
    }

    /// A `client_credentials` token obtained with the oauth2 client library.
    pub async fn client_credentials_token(
        &self,
        id: &str,
        secret: &str,
        scopes: &[&str],
    ) -> String {
        let client = self.oauth_client(id, secret, AuthType::BasicAuth);
        let mut request = client.exchange_client_credentials();
        for s in scopes {
            request = request.add_scope(Scope::new((*s).to_owned()));
        }
        let response = request
            .request_async(&self.http)
            .await
            .expect("token issued");
        response.access_token().secret().clone()
    }

    /// A bearer token holding `scope`, from a fresh machine client.
    pub async fn admin_token(&self, scope: &str) -> String {
        let (id, secret) = self.machine_client(scope);
        self.client_credentials_token(&id, &secret, &[]).await
    }

    /// A token a user obtained through an app, inserted directly (the authorization code
    /// flow that normally issues it is exercised by the protocol tests).
    pub fn user_token(&self, username: &str, admin: bool, scope: &str) -> String {
        let user = service::users::create(
            &self.db,
            service::users::NewUser {
                username: username.to_owned(),
                password: "a long enough password".into(),
                admin,
                ..Default::default()
            },
            time::now(),
        )
        .expect("user created");
        let (client_id, _) =
            self.register(serde_json::json!({ "client_name": format!("app of {username}") }));
        let token = secret::new_token(secret::ACCESS_TOKEN_PREFIX);
        let hash = secret::token_hash(&token);
        portcullis::storage::tokens::insert(
            &mut self.db.conn().expect("conn"),
            &portcullis::storage::tokens::NewToken {
                hash: &hash,
                kind: portcullis::storage::tokens::ACCESS,
                client_id: &client_id,
                user_id: Some(&user.id),
                grant_id: None,
                family_id: None,
                scope,
                issued_at: time::now(),
                expires_at: time::now() + 3600,
                auth_time: Some(time::now()),
                sign_in: None,
            },
        )
        .expect("token stored");
        token
    }

    /// Runs the real binary against this test's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, None)
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_cli(&self.database_url, args, stdin)
    }

    /// `GET path` with a bearer token.
    pub async fn get_as(
        &self,
        path: impl AsRef<str>,
        token: impl std::fmt::Display,
    ) -> reqwest::Response {
        self.send_as(reqwest::Method::GET, path.as_ref(), token)
            .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete_as(
        &self,
        path: impl AsRef<str>,
        token: impl std::fmt::Display,
    ) -> reqwest::Response {
        self.send_as(reqwest::Method::DELETE, path.as_ref(), token)
            .await
    }

    async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: impl std::fmt::Display,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
    }

    /// `PATCH path` with a bearer token and a JSON body.
    pub async fn patch_as(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("an answer")
    }

    /// `POST /admin/clients` with a bearer token: a registration as that caller.
    pub async fn register_as(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/admin/clients"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("an answer")
    }

    pub fn introspect_as(&self, id: &str, secret: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/oauth2/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
    }
}

/// A relying party that knows only the token endpoint.
pub type OAuthClient = CoreClient<
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
>;

pub fn run_cli(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env("PORTCULLIS_DATABASE_URL", database_url)
        .envs(backend_env(database_url))
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the portcullis binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("the command finishes")
}

/// Parses a JSON response body, failing the test with the body if it is not JSON.
pub async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts the contract's error shape and code, and returns the body.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body = json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// A `portcullis serve` process on the test app's database: another node beside the
/// in-process server, or a server that can be killed and started again.
pub struct Node {
    pub base: String,
    child: Child,
}

impl Node {
    pub async fn start(app: &TestApp) -> Node {
        Self::start_with(
            app,
            &[
                ("PORTCULLIS_WORKERS", "1"),
                ("PORTCULLIS_DB_POOL_SIZE", "2"),
            ],
        )
        .await
    }

    /// Starts a node with these settings on a fresh port.
    pub async fn start_with(app: &TestApp, settings: &[(&str, &str)]) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("serve")
            .env("PORTCULLIS_DATABASE_URL", &app.database_url)
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_ISSUER", &base)
            .envs(backend_env(&app.database_url))
            .envs(settings.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a node");
        let node = Node { base, child };
        for _ in 0..100 {
            if let Ok(r) = app.http.get(node.url("/health/ready")).send().await {
                if r.status() == 200 {
                    return node;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the node did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}
