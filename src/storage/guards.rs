//! The account-wide sign-in counters ([`crate::protocol::guard`]), shared by every node.

use diesel::prelude::*;

use super::schema::account_guards;
use super::DbConnection;
use crate::error::Result;
use crate::protocol::guard::{Guard, FORGET_AFTER};
use crate::protocol::time::Timestamp;

/// How long the networks someone signed in from are remembered after her last sign-in
/// attempt.
const KEEP_KNOWN_NETWORKS: i64 = 90 * 24 * 60 * 60;

#[derive(Queryable, Selectable)]
#[diesel(table_name = account_guards)]
struct GuardRow {
    failures: i32,
    last_failure_at: i64,
    known_networks: String,
}

/// Reads an account's counters for a change within the current write transaction
/// ([`super::write`]). On PostgreSQL the row is locked until the transaction ends, so
/// that attempts on several nodes at once count one after the other; SQLite's write
/// transactions already run one at a time.
pub fn lock(conn: &mut DbConnection, key: &str) -> Result<Guard> {
    let row = match conn {
        DbConnection::Postgres(pg) => {
            diesel::insert_into(account_guards::table)
                .values((
                    account_guards::account_key.eq(key),
                    account_guards::updated_at.eq(0),
                ))
                .on_conflict_do_nothing()
                .execute(pg)?;
            account_guards::table
                .find(key)
                .select(GuardRow::as_select())
                .for_update()
                .first(pg)
                .optional()?
        }
        DbConnection::Sqlite(lite) => account_guards::table
            .find(key)
            .select(GuardRow::as_select())
            .first(lite)
            .optional()?,
    };
    Ok(row.map(into_guard).unwrap_or_default())
}

/// Reads an account's counters without locking them (nothing is to change).
pub fn find(conn: &mut DbConnection, key: &str) -> Result<Guard> {
    Ok(account_guards::table
        .find(key)
        .select(GuardRow::as_select())
        .first(conn)
        .optional()?
        .map(into_guard)
        .unwrap_or_default())
}

fn into_guard(row: GuardRow) -> Guard {
    Guard {
        failures: row.failures,
        last_failure_at: row.last_failure_at,
        known_networks: row
            .known_networks
            .split(' ')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

pub fn save(conn: &mut DbConnection, key: &str, guard: &Guard, now: Timestamp) -> Result<()> {
    let known = guard.known_networks.join(" ");
    let changed = diesel::update(account_guards::table.find(key))
        .set((
            account_guards::failures.eq(guard.failures),
            account_guards::last_failure_at.eq(guard.last_failure_at),
            account_guards::known_networks.eq(&known),
            account_guards::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(account_guards::table)
            .values((
                account_guards::account_key.eq(key),
                account_guards::failures.eq(guard.failures),
                account_guards::last_failure_at.eq(guard.last_failure_at),
                account_guards::known_networks.eq(&known),
                account_guards::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes, in one batch, counters with nothing left to say at `now`: failures
/// forgotten and no known network, or known networks unused for months.
pub fn delete_stale(conn: &mut DbConnection, now: Timestamp, batch: i64) -> Result<u64> {
    let keys: Vec<String> = account_guards::table
        .filter(
            account_guards::updated_at.lt(now - KEEP_KNOWN_NETWORKS).or(
                account_guards::known_networks
                    .eq("")
                    .and(account_guards::last_failure_at.lt(now - FORGET_AFTER)),
            ),
        )
        .select(account_guards::account_key)
        .limit(batch)
        .load(conn)?;
    if keys.is_empty() {
        return Ok(0);
    }
    diesel::delete(account_guards::table.filter(account_guards::account_key.eq_any(&keys)))
        .execute(conn)?;
    Ok(keys.len() as u64)
}
