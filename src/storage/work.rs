//! How much a process asks of its database: statements run and write transactions
//! committed or rolled back. Exposed at `/metrics`, and read by the tests that pin the
//! work of one code flow, one refresh and one client_credentials token, so that a
//! change adding a round trip shows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// The counters of one [`super::Db`], shared by its connections.
#[derive(Debug, Default)]
pub struct Work {
    statements: AtomicU64,
    write_transactions: AtomicU64,
}

/// A reading of [`Work`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkDone {
    pub statements: u64,
    pub write_transactions: u64,
}

impl Work {
    pub fn read(&self) -> WorkDone {
        WorkDone {
            statements: self.statements.load(Ordering::Relaxed),
            write_transactions: self.write_transactions.load(Ordering::Relaxed),
        }
    }

    /// The Prometheus text lines for these counters.
    pub fn exposition(&self) -> String {
        let done = self.read();
        format!(
            "# HELP portcullis_db_statements_total SQL statements sent to the database\n\
             # TYPE portcullis_db_statements_total counter\n\
             portcullis_db_statements_total {}\n\
             # HELP portcullis_db_write_transactions_total Write transactions run\n\
             # TYPE portcullis_db_write_transactions_total counter\n\
             portcullis_db_write_transactions_total {}\n",
            done.statements, done.write_transactions
        )
    }
}

/// Counts the statements of one connection into its database's [`Work`].
pub(super) struct Counting(pub Arc<Work>);

impl Instrumentation for Counting {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::Relaxed);
            }
            // Every transaction is a write transaction (`storage::write`): reads run
            // outside any.
            InstrumentationEvent::BeginTransaction { depth, .. } if depth.get() == 1 => {
                self.0.write_transactions.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}
