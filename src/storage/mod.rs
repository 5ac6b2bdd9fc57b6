//! Persistence: the only module that speaks Diesel.
//!
//! One binary serves both backends. [`DbConnection`] is an enum over a SQLite and a
//! PostgreSQL connection, so every query is written once. Diesel is blocking: callers in
//! the HTTP layer run these functions on the blocking thread pool.

pub mod clients;
pub mod codes;
pub mod commits;
mod connection;
pub mod flows;
pub mod grants;
pub mod guards;
pub mod keys;
pub mod logos;
pub mod memo;
pub mod redact;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;
pub mod verified;
pub mod work;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use connection::{Backend, DbConnection};

use crate::error::{Error, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

pub type Pool = r2d2::Pool<connection::Manager>;
pub type Conn = r2d2::PooledConnection<connection::Manager>;

/// A pool of connections to the configured database, with the memory of hot rows and
/// the token committer that go with it. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    hot: Arc<Hot>,
}

/// Everything shared by the clones of a [`Db`].
struct Hot {
    pool: Pool,
    backend: Backend,
    /// Moved by [`Db::change`]; what the memos below may believe.
    epoch: Arc<memo::Epoch>,
    clients: memo::Memo<String, clients::StoredClient>,
    tokens: memo::Memo<Vec<u8>, tokens::TokenRecord>,
    users: memo::Memo<String, users::UserRecord>,
    work: Arc<work::Work>,
    /// Client secrets recently verified with argon2id.
    verified_secrets: verified::VerifiedSecrets,
    parsed_keys: keys::ParsedKeys,
    committer: OnceLock<commits::Committer>,
    /// The key that opens sealed secrets, once [`Db::unlock`] was given it.
    master_key: std::sync::RwLock<Option<Arc<crate::protocol::sealing::MasterKey>>>,
}

/// How often a serving process checkpoints SQLite's write-ahead log.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Remembered rows at most; a full memo forgets what is stale, then everything.
const REMEMBERED_CLIENTS: usize = 10_000;
const REMEMBERED_TOKENS: usize = 50_000;
const REMEMBERED_USERS: usize = 10_000;

impl Db {
    /// Opens a pool. `pool_size` 0 picks a default for the backend.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self> {
        let (backend, target) = Backend::from_url(url);
        if backend == Backend::Sqlite {
            connection::prepare_sqlite(&target)?;
        }
        let size = match (pool_size, backend) {
            (0, Backend::Sqlite) => 8,
            (0, Backend::Postgres) => 16,
            (n, _) => n,
        };
        if backend == Backend::Postgres {
            redact::check_postgres_url(url).map_err(Error::InvalidRequest)?;
        }
        let work = Arc::new(work::Work::default());
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // A PostgreSQL connection can die with the server or the network, so it is
            // tried before it is handed out. A SQLite connection is a handle on a local
            // file: the check would only add a statement to every request.
            .test_on_check_out(backend == Backend::Postgres)
            .connection_timeout(Duration::from_secs(5))
            .error_handler(Box::new(RedactingErrors(url.to_owned())))
            .build(connection::Manager::new(backend, target, work.clone()))
            .map_err(|e| {
                Error::Unavailable(anyhow::anyhow!(
                    "cannot open the {} database: {}",
                    backend.name(),
                    redact::redact(&e.to_string(), url)
                ))
            })?;
        let epoch = Arc::new(memo::Epoch::default());
        Ok(Self {
            hot: Arc::new(Hot {
                pool,
                backend,
                clients: memo::Memo::new(REMEMBERED_CLIENTS, epoch.clone()),
                tokens: memo::Memo::new(REMEMBERED_TOKENS, epoch.clone()),
                users: memo::Memo::new(REMEMBERED_USERS, epoch.clone()),
                work,
                epoch,
                verified_secrets: verified::VerifiedSecrets::new(),
                parsed_keys: keys::ParsedKeys::default(),
                committer: OnceLock::new(),
                master_key: std::sync::RwLock::new(None),
            }),
        })
    }

    /// Hands over the master key (see [`crate::service::master_key`]).
    pub fn unlock(&self, key: crate::protocol::sealing::MasterKey) {
        let mut guard = self
            .hot
            .master_key
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *guard = Some(Arc::new(key));
    }

    /// The master key; an error until [`Db::unlock`].
    pub fn master_key(&self) -> Result<Arc<crate::protocol::sealing::MasterKey>> {
        self.hot
            .master_key
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| Error::internal_msg("the master key is not loaded".into()))
    }

    pub fn pool_size(&self) -> u32 {
        self.hot.pool.max_size()
    }

    pub fn backend(&self) -> Backend {
        self.hot.backend
    }

    pub fn conn(&self) -> Result<Conn> {
        // r2d2's timeout error quotes the last connection error, which may quote the
        // password; that cause is logged, redacted, by the pool's error handler.
        self.hot.pool.get().map_err(|_| {
            Error::Unavailable(anyhow::anyhow!(
                "no database connection came free within the pool's timeout"
            ))
        })
    }

    /// Runs `task` every `period` on a thread of its own, for as long as any clone of
    /// this `Db` is alive.
    pub fn every(
        &self,
        name: &str,
        period: Duration,
        task: impl Fn(&Db) + Send + 'static,
    ) -> std::io::Result<()> {
        let weak = Arc::downgrade(&self.hot);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || loop {
                std::thread::sleep(period);
                let Some(hot) = weak.upgrade() else { return };
                task(&Db { hot });
            })
            .map(drop)
    }

    /// Copies committed pages from SQLite's write-ahead log into the database file,
    /// without waiting for readers or writers. Serving processes do this every
    /// [`CHECKPOINT_EVERY`] so that commits never pay for it; see `SQLITE_PRAGMAS`.
    pub fn checkpoint(&self) -> Result<()> {
        use diesel::connection::SimpleConnection;
        if self.backend() == Backend::Sqlite {
            self.conn()?
                .batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
        }
        Ok(())
    }

    pub(crate) fn remembered_clients(&self) -> &memo::Memo<String, clients::StoredClient> {
        &self.hot.clients
    }

    /// What this process has asked of the database so far.
    pub fn work(&self) -> &work::Work {
        &self.hot.work
    }

    pub(crate) fn remembered_users(&self) -> &memo::Memo<String, users::UserRecord> {
        &self.hot.users
    }

    pub(crate) fn remembered_tokens(&self) -> &memo::Memo<Vec<u8>, tokens::TokenRecord> {
        &self.hot.tokens
    }

    pub fn verified_secrets(&self) -> &verified::VerifiedSecrets {
        &self.hot.verified_secrets
    }

    pub fn parsed_keys(&self) -> &keys::ParsedKeys {
        &self.hot.parsed_keys
    }

    /// Runs `f` in a write transaction ([`write`]) that may change rows the memos hold,
    /// and moves their epoch once it has ended, so that this process never believes
    /// what the transaction changed. The storage functions that change such rows take
    /// the [`Tx`] only this makes.
    pub fn change<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.change_on(&mut *self.conn()?, f)
    }

    /// [`Db::change`] on a connection the caller already holds.
    pub fn change_on<T>(
        &self,
        conn: &mut DbConnection,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let result = write(conn, |conn| f(&mut Tx(conn)));
        self.hot.epoch.advance();
        result
    }

    /// [`Db::change`] through the group committer: the work shares the next group commit,
    /// and the epoch moves once it has been committed (or has failed). The caller must
    /// hold no pooled connection while it waits ([`commits::Committer::run_blocking`]).
    pub fn change_grouped<T: Send + 'static>(
        &self,
        mut work: impl FnMut(&mut Tx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let result = self
            .committer()?
            .run_blocking(move |conn| work(&mut Tx(conn)));
        self.hot.epoch.advance();
        result
    }

    /// The group committer for the hot paths' writes, started on first use.
    pub fn committer(&self) -> Result<&commits::Committer> {
        if let Some(c) = self.hot.committer.get() {
            return Ok(c);
        }
        let started = commits::Committer::start(self.hot.pool.clone())?;
        Ok(self.hot.committer.get_or_init(|| started))
    }

    /// Applies every migration not yet applied; returns their names.
    pub fn migrate(&self) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        self.check_before_migrating(&mut conn)?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| Error::Internal(anyhow::anyhow!("migration failed: {e}")))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Refuses, naming what to settle, a migration that would fail on the data already
    /// stored: today only the one making accounts unique (usernames regardless of case,
    /// e-mail addresses), on a database that holds clashing accounts.
    fn check_before_migrating(&self, conn: &mut DbConnection) -> Result<()> {
        let pending: Vec<String> = match conn {
            DbConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
            DbConnection::Postgres(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
        }
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot read the migrations: {e}")))?;
        let fresh = pending.iter().any(|m| m.ends_with("_foundation"));
        if fresh || !pending.iter().any(|m| m.ends_with("_unique_accounts")) {
            return Ok(());
        }
        const SHOWN: usize = 20;
        let clashes = users::clashes(conn, SHOWN)?;
        if clashes.is_empty() {
            return Ok(());
        }
        Err(Error::Internal(anyhow::anyhow!(
            "this version makes usernames unique regardless of case and gives each e-mail \
             address to one user at most, but the database holds accounts that clash \
             (first {SHOWN} shown):\n  {}\nWith the previous version, delete the extra \
             accounts (portcullis users delete NAME) or change their e-mail addresses \
             (PATCH /admin/users/NAME), then start this version again. Nothing was changed.",
            clashes.join("\n  ")
        )))
    }

    /// Runs a trivial query: is the database reachable?
    pub fn ping(&self) -> Result<()> {
        use diesel::connection::SimpleConnection;
        self.conn()?.batch_execute("SELECT 1")?;
        Ok(())
    }
}

/// A write transaction of [`Db::change`]: the only place where a row the memos hold
/// (a client, a token, a user, a grant) is changed.
pub struct Tx<'c>(&'c mut DbConnection);

impl Tx<'_> {
    /// The transaction's connection, for the statements that change nothing remembered.
    pub fn conn(&mut self) -> &mut DbConnection {
        self.0
    }
}

static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in a write transaction that changes no row a memo holds: it adds rows, or
/// changes codes, flows, sessions and counters, or a grant's last-use time (which a
/// remembered token carries only as a hint to skip a write, and which
/// [`tokens::remember_grant_use`] corrects). A transaction that changes a client, a
/// token, a user or removes a grant is [`Db::change`]. On SQLite the transaction is begun IMMEDIATE, so that
/// concurrent writers queue on the busy timeout instead of failing when a read
/// transaction tries to upgrade to a write.
pub fn write<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
    match conn {
        DbConnection::Postgres(_) => conn.transaction(f),
        DbConnection::Sqlite(inner) => {
            // SQLite has one writer at a time. Queueing writers of this process here is
            // cheaper than letting SQLite's busy handler put them to sleep and retry.
            let _turn = SQLITE_WRITER.lock().unwrap_or_else(|e| e.into_inner());
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            let result = f(conn);
            let DbConnection::Sqlite(inner) = conn else {
                unreachable!("the connection cannot change its backend")
            };
            match result {
                Ok(value) => AnsiTransactionManager::commit_transaction(inner)
                    .map(|()| value)
                    .map_err(Error::from),
                Err(e) => AnsiTransactionManager::rollback_transaction(inner)
                    .map_err(Error::from)
                    .and(Err(e)),
            }
        }
    }
}

/// Logs the pool's connection failures (r2d2 would log them at ERROR verbatim) at WARN,
/// with the database password taken out.
#[derive(Debug)]
struct RedactingErrors(String);

impl r2d2::HandleError<diesel::r2d2::Error> for RedactingErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(
            error = %redact::redact(&error.to_string(), &self.0),
            "a database connection failed"
        );
    }
}
