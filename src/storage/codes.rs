//! Authorization codes, stored by hash and usable once.

use diesel::prelude::*;

use super::schema::auth_codes;
use super::DbConnection;
use crate::error::Result;
use crate::protocol::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_codes)]
pub struct CodeRow {
    pub hash: Vec<u8>,
    pub client_id: String,
    pub user_id: String,
    pub grant_id: String,
    pub family_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The authorization request named the redirect URI: the exchange must repeat it.
    pub redirect_uri_given: bool,
    /// How the user signed in ([`crate::protocol::sign_in::SignInMethod`], JSON; none:
    /// a password).
    pub sign_in: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &CodeRow) -> Result<()> {
    diesel::insert_into(auth_codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, hash: &[u8]) -> Result<Option<CodeRow>> {
    Ok(auth_codes::table
        .find(hash)
        .select(CodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a code used. Only one caller ever gets `true` for a code.
pub fn consume(conn: &mut DbConnection, hash: &[u8], now: Timestamp) -> Result<bool> {
    Ok(diesel::update(
        auth_codes::table
            .find(hash)
            .filter(auth_codes::used_at.is_null()),
    )
    .set(auth_codes::used_at.eq(now))
    .execute(conn)?
        == 1)
}

/// Deletes at most `batch` codes that expired before `before`, used or not.
pub fn delete_expired(conn: &mut DbConnection, before: Timestamp, batch: i64) -> Result<u64> {
    let hashes: Vec<Vec<u8>> = auth_codes::table
        .filter(auth_codes::expires_at.lt(before))
        .select(auth_codes::hash)
        .limit(batch)
        .load(conn)?;
    if hashes.is_empty() {
        return Ok(0);
    }
    diesel::delete(auth_codes::table.filter(auth_codes::hash.eq_any(&hashes))).execute(conn)?;
    Ok(hashes.len() as u64)
}
