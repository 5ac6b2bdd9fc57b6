//! Wiring: open the database, prepare shared state, and build the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::config::Settings;
use crate::error::Error;
use crate::http::{self, extract, metrics::Metrics, middleware, AppState};
use crate::protocol::secret;
use crate::storage::{settings as stored, Db};

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "OAuth 2.0 and OpenID Connect provider: protocol endpoints and admin API"),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub struct Application {
    port: u16,
    server: Server,
    db: crate::storage::Db,
}

impl Application {
    /// Opens the database (migrating it), then binds `settings.bind`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        Self::build_with_listener(settings, listener).await
    }

    /// Like [`Application::build`] on a listener the caller bound (tests use port 0).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let state = prepare(settings).await?;
        let port = listener.local_addr()?.port();
        let workers = match state.settings.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let key = crate::http::session::cookie_key(&state.cookie_key)?;
        let blocking_threads = state.db.pool_size() as usize;
        let db = state.db.clone();
        spawn_housekeeping(state.db.clone());
        let state = web::Data::new(state);
        let server = HttpServer::new(move || {
            let (app, api) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(state.clone())
                .app_data(extract::json_config())
                .app_data(extract::form_config())
                .app_data(extract::query_config())
                .configure(http::configure)
                .split_for_parts();
            let document = web::Bytes::from(api.to_pretty_json().unwrap_or_default());
            let routes = std::sync::Arc::new(http::known_routes(&api));
            app.route(
                "/openapi.json",
                web::get().to(move || {
                    let document = document.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(document)
                    }
                }),
            )
            .configure(http::configure_pages)
            .default_service(web::to(move |req: actix_web::HttpRequest| {
                let routes = routes.clone();
                async move { Err::<HttpResponse, _>(http::unmatched(&routes, req.path())) }
            }))
            .wrap(crate::http::session::middleware(
                &state.settings,
                key.clone(),
            ))
            .wrap(from_fn(middleware::refuse_nul))
            .wrap(middleware::security_headers(
                state.settings.issuer.starts_with("https://"),
            ))
            .wrap(from_fn(middleware::observe))
        })
        .workers(workers)
        // Blocking work waits for a database connection anyway; more threads than
        // connections only add memory (each keeps its own allocator arena). The bound is
        // per worker (actix gives each its own pool), so a process has at most
        // workers × pool-size blocking threads.
        .worker_max_blocking_threads(blocking_threads)
        .listen(listener)?
        .run();
        Ok(Self { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's database handle, with the memos its requests believe: what is
    /// changed through it, the server sees at once (a change through any other handle,
    /// within [`crate::storage::memo::MEMO_BOUND`]).
    pub fn db(&self) -> &crate::storage::Db {
        &self.db
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// How often each node removes expired tokens, codes and sign-in requests. Deletes go in
/// small batches, so a sweep never holds the write lock for long.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// A background thread (the work is blocking) that keeps storage bounded.
fn spawn_housekeeping(db: crate::storage::Db) {
    let spawned =
        db.every(
            "portcullis-sweeper",
            SWEEP_EVERY,
            |db| match crate::service::tokens::flush(db, crate::protocol::time::now()) {
                Ok(f)
                    if f.deleted
                        + f.codes_deleted
                        + f.flows_deleted
                        + f.sessions_deleted
                        + f.guards_deleted
                        > 0 =>
                {
                    tracing::info!(
                        tokens = f.deleted,
                        codes = f.codes_deleted,
                        flows = f.flows_deleted,
                        sessions = f.sessions_deleted,
                        sign_in_counters = f.guards_deleted,
                        "removed expired records"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping expired records failed; will retry"),
            },
        );
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the sweeper; run `portcullis tokens flush` periodically");
    }
    if db.backend() == crate::storage::Backend::Sqlite {
        let spawned = db.every(
            "portcullis-checkpoint",
            crate::storage::CHECKPOINT_EVERY,
            |db| {
                if let Err(e) = db.checkpoint() {
                    tracing::warn!(error = %e, "checkpointing the write-ahead log failed; will retry");
                }
            },
        );
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the checkpointer; commits will checkpoint");
        }
    }
}

/// Everything that touches the database before serving: migrations, the master key, the
/// shared cookie key (stored sealed) and the signing keys. Runs on the blocking pool.
async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let settings = Arc::new(settings);
    let s = settings.clone();
    let (db, cookie_key) = web::block(move || -> Result<(Db, Vec<u8>), Error> {
        let db = Db::connect(s.database_url.expose_str(), s.db_pool_size)?;
        let applied = db.migrate()?;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), "applied database migrations");
        }
        crate::service::master_key::unlock(&s, &db)?;
        let cookie_key = match &s.cookie_key {
            Some(key) => key.expose().clone(),
            None => {
                use crate::service::master_key::{self, COOKIE_KEY};
                let fresh = master_key::seal(
                    &db,
                    COOKIE_KEY,
                    hex::encode(secret::random_bytes(64)).as_bytes(),
                )?;
                let stored = stored::get_or_create(&mut *db.conn()?, COOKIE_KEY, || fresh)?;
                let opened = master_key::open(&db, COOKIE_KEY, &stored)?;
                hex::decode(opened)
                    .map_err(|_| Error::internal_msg("the stored cookie key is not hex".into()))?
            }
        };
        crate::service::keys::ensure(&db, crate::protocol::time::now())?;
        Ok((db, cookie_key))
    })
    .await?
    .map_err(|e| anyhow::anyhow!(describe(&e)))?;
    Ok(AppState {
        db,
        settings,
        metrics: Metrics::new()?,
        cookie_key,
        signer: Default::default(),
        login_limiter: Default::default(),
        client_limiter: crate::http::ratelimit::Limiter::for_clients(),
    })
}

fn describe(e: &Error) -> String {
    match e {
        Error::Unavailable(cause) | Error::Internal(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}
