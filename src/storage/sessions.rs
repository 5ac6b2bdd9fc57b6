//! Browser sessions. The cookie carries a random secret; only its SHA-256 is stored, so
//! a copy of the database signs nobody in, and deleting the row ends every copy of the
//! cookie at once.

use diesel::prelude::*;

use super::schema::sessions;
use super::DbConnection;
use crate::error::Result;
use crate::protocol::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    /// A public handle: what the sessions list and its buttons name.
    pub id: String,
    pub secret_hash: Vec<u8>,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
    pub address: String,
    /// How she signed in (JSON; none: a password).
    pub sign_in: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> Result<()> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The live session whose secret hashes to `secret_hash`.
pub fn find_by_secret(
    conn: &mut DbConnection,
    secret_hash: &[u8],
    now: Timestamp,
) -> Result<Option<SessionRow>> {
    Ok(sessions::table
        .filter(sessions::secret_hash.eq(secret_hash))
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Notes that the session was seen, at most once per `every` seconds.
pub fn touch_if_stale(conn: &mut DbConnection, id: &str, now: Timestamp, every: i64) -> Result<()> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::last_seen_at.lt(now - every)),
    )
    .set(sessions::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// A user's live sessions, most recently seen first.
pub fn for_user(conn: &mut DbConnection, user_id: &str, now: Timestamp) -> Result<Vec<SessionRow>> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::id))
        .select(SessionRow::as_select())
        .load(conn)?)
}

pub fn delete_by_secret(conn: &mut DbConnection, secret_hash: &[u8]) -> Result<bool> {
    Ok(
        diesel::delete(sessions::table.filter(sessions::secret_hash.eq(secret_hash)))
            .execute(conn)?
            > 0,
    )
}

/// Ends one of the user's sessions by its handle; false if she has no such session.
pub fn delete_for_user_by_id(conn: &mut DbConnection, user_id: &str, id: &str) -> Result<bool> {
    Ok(diesel::delete(
        sessions::table
            .find(id)
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)?
        > 0)
}

/// Ends every session of a user; returns how many there were.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> Result<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Deletes at most `batch` sessions that expired before `before`.
pub fn delete_expired(conn: &mut DbConnection, before: Timestamp, batch: i64) -> Result<u64> {
    let ids: Vec<String> = sessions::table
        .filter(sessions::expires_at.lt(before))
        .select(sessions::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(conn)?;
    Ok(ids.len() as u64)
}
