use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

/// A connection to either backend; Diesel derives `Connection` for the enum so queries
/// are written once.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` or `postgresql://` selects PostgreSQL; `sqlite://PATH` or a bare path
    /// selects SQLite. Returns the backend and what to hand its driver.
    pub fn from_url(url: &str) -> (Backend, String) {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            (Backend::Sqlite, path.to_owned())
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            (Backend::Sqlite, path.to_owned())
        } else {
            (Backend::Sqlite, url.to_owned())
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Opens connections of the configured backend directly (the derived `establish` would
/// try each backend in turn) and prepares every SQLite connection.
pub struct Manager {
    backend: Backend,
    target: String,
    work: std::sync::Arc<super::work::Work>,
}

impl Manager {
    pub fn new(backend: Backend, target: String, work: std::sync::Arc<super::work::Work>) -> Self {
        Self {
            backend,
            target,
            work,
        }
    }
}

/// WAL lets readers proceed while one writer commits; `synchronous=NORMAL` is durable
/// across application crashes in WAL mode; the busy timeout makes writers queue. A
/// serving process checkpoints from a thread of its own ([`super::Db::checkpoint`]), so
/// the automatic checkpoint, which runs inside whichever commit crosses the threshold
/// and syncs the disk there, is left as a backstop at 10,000 pages (40 MB).
///
/// The busy timeout comes first so that every later statement waits instead of failing,
/// and the switch to WAL (which needs the database to itself) is made once, before the
/// pool opens its connections side by side ([`prepare_sqlite`]).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";

/// Puts a SQLite database into WAL mode on one connection, before any pool races for it.
pub fn prepare_sqlite(target: &str) -> Result<(), diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(target)?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let counting = super::work::Counting(self.work.clone());
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(counting);
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                conn.set_instrumentation(counting);
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}
