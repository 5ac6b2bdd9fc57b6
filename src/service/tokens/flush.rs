//! Removing what has expired, in short batches.

use serde::Serialize;

use crate::error::Result;
use crate::protocol::time::Timestamp;
use crate::storage::tokens as store;
use crate::storage::Db;

/// Batch size for deletions: small enough that no single statement holds a write lock
/// long enough to delay token requests noticeably.
pub const FLUSH_BATCH: i64 = 1000;

/// Rest between batches, with the connection handed back: writers waiting for the lock
/// (SQLite has one) get their turn instead of racing a clean-up that never lets go.
const FLUSH_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// What a flush removed.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Flushed {
    /// Tokens that expired or were revoked before the cut-off.
    pub deleted: u64,
    /// Authorization codes that expired before it, used or not.
    pub codes_deleted: u64,
    /// Sign-in and consent requests that expired before it.
    pub flows_deleted: u64,
    /// Browser sessions that expired before it.
    pub sessions_deleted: u64,
    /// Account-wide sign-in counters with nothing left to say (failures forgotten, known
    /// networks unused for 90 days).
    pub guards_deleted: u64,
}

/// Deletes tokens that expired or were revoked before `before`, and codes and pending
/// sign-in requests that expired before it, in batches.
pub fn flush(db: &Db, before: Timestamp) -> Result<Flushed> {
    Ok(Flushed {
        deleted: in_batches(db, "tokens", |c| {
            // A cut-off in the future removes live tokens too.
            db.change_on(c, |tx| store::flush_batch(tx, before, FLUSH_BATCH))
        })?,
        codes_deleted: in_batches(db, "codes", |c| {
            crate::storage::codes::delete_expired(c, before, FLUSH_BATCH)
        })?,
        flows_deleted: in_batches(db, "sign-in requests", |c| {
            crate::storage::flows::delete_expired(c, before, FLUSH_BATCH)
        })?,
        sessions_deleted: in_batches(db, "sessions", |c| {
            crate::storage::sessions::delete_expired(c, before, FLUSH_BATCH)
        })?,
        // Counters are live data, not expired records: a cut-off in the future must not
        // clear them.
        guards_deleted: in_batches(db, "sign-in counters", |c| {
            crate::storage::guards::delete_stale(
                c,
                before.min(crate::protocol::time::now()),
                FLUSH_BATCH,
            )
        })?,
    })
}

/// Runs `batch` (one short statement) until it removes fewer than [`FLUSH_BATCH`] rows,
/// each on a connection of its own, resting between batches. Long runs log their
/// progress, and how long the slowest batch took (the longest any writer could have
/// waited for it).
fn in_batches(
    db: &Db,
    what: &'static str,
    batch: impl Fn(&mut crate::storage::DbConnection) -> Result<u64>,
) -> Result<u64> {
    const REPORT_EVERY: u64 = 100;
    let (mut total, mut batches, mut slowest) = (0, 0u64, std::time::Duration::ZERO);
    loop {
        let started = std::time::Instant::now();
        let removed = batch(&mut *db.conn()?)?;
        slowest = slowest.max(started.elapsed());
        total += removed;
        batches += 1;
        if removed < FLUSH_BATCH as u64 {
            if batches > 1 {
                tracing::info!(
                    removed = total,
                    batches,
                    slowest_batch_ms = (slowest.as_secs_f64() * 10_000.0).round() / 10.0,
                    "removed expired {what}"
                );
            }
            return Ok(total);
        }
        if batches % REPORT_EVERY == 0 {
            tracing::info!(removed = total, "removing expired {what}");
        }
        std::thread::sleep(FLUSH_PAUSE);
    }
}
