//! Issued access and refresh tokens, stored by the SHA-256 of their value.

use diesel::prelude::*;

use super::schema::{grants, tokens, users};
use super::{Db, DbConnection, Tx};
use crate::error::Result;
use crate::protocol::time::Timestamp;
use crate::protocol::token::TokenKind;

/// The stored text of each kind.
pub const ACCESS: &str = TokenKind::Access.as_str();
pub const REFRESH: &str = TokenKind::Refresh.as_str();

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tokens)]
pub struct NewToken<'a> {
    pub hash: &'a [u8],
    pub kind: &'a str,
    pub client_id: &'a str,
    pub user_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    pub family_id: Option<&'a str>,
    pub scope: &'a str,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When the user last authenticated, for ID tokens issued on refresh.
    pub auth_time: Option<i64>,
    /// How (JSON), for the same; kept on refresh tokens only.
    pub sign_in: Option<&'a str>,
}

/// A token row that owns its fields, for work handed to the group committer.
#[derive(Debug, Clone)]
pub struct OwnedToken {
    pub hash: Vec<u8>,
    pub kind: &'static str,
    pub client_id: String,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub family_id: Option<String>,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub auth_time: Option<i64>,
    pub sign_in: Option<String>,
}

impl OwnedToken {
    /// A machine's access token: no user, grant or family.
    pub fn machine(
        hash: Vec<u8>,
        client_id: &str,
        scope: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            hash,
            kind: ACCESS,
            client_id: client_id.to_owned(),
            user_id: None,
            grant_id: None,
            family_id: None,
            scope: scope.to_owned(),
            issued_at,
            expires_at,
            auth_time: None,
            sign_in: None,
        }
    }

    pub fn as_new(&self) -> NewToken<'_> {
        NewToken {
            hash: &self.hash,
            kind: self.kind,
            client_id: &self.client_id,
            user_id: self.user_id.as_deref(),
            grant_id: self.grant_id.as_deref(),
            family_id: self.family_id.as_deref(),
            scope: &self.scope,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            auth_time: self.auth_time,
            sign_in: self.sign_in.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    #[diesel(deserialize_as = String)]
    pub kind: TokenKind,
    pub client_id: String,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub family_id: Option<String>,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub successor: Option<String>,
    pub auth_time: Option<i64>,
    /// For a rotated refresh token, the hash of the refresh token that replaced it.
    pub successor_hash: Option<Vec<u8>>,
    pub sign_in: Option<String>,
}

/// A stored token and, when a user obtained it, who that user is.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub token: TokenRow,
    pub username: Option<String>,
    pub user_is_admin: bool,
    /// When the token's grant was last used, if it has one.
    pub grant_access_time: Option<i64>,
    /// The claims a consent app added to the grant's tokens (JSON), if any.
    pub session_claims: Option<String>,
}

impl TokenRecord {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.token.revoked_at.is_none() && self.token.expires_at > now
    }
}

pub fn insert(conn: &mut DbConnection, token: &NewToken<'_>) -> Result<()> {
    diesel::insert_into(tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// Stores tokens made ahead of the transaction.
pub fn insert_all(conn: &mut DbConnection, tokens: &[OwnedToken]) -> Result<()> {
    tokens.iter().try_for_each(|t| insert(conn, &t.as_new()))
}

pub fn find(conn: &mut DbConnection, hash: &[u8]) -> Result<Option<TokenRecord>> {
    Ok(tokens::table
        .left_join(users::table)
        .left_join(grants::table)
        .filter(tokens::hash.eq(hash))
        .select((
            TokenRow::as_select(),
            users::username.nullable(),
            users::is_admin.nullable(),
            grants::access_time.nullable(),
            grants::session_claims.nullable(),
        ))
        .first::<(
            TokenRow,
            Option<String>,
            Option<bool>,
            Option<i64>,
            Option<String>,
        )>(conn)
        .optional()?
        .map(
            |(token, username, is_admin, grant_access_time, session_claims)| TokenRecord {
                token,
                username,
                user_is_admin: is_admin.unwrap_or(false),
                grant_access_time,
                session_claims,
            },
        ))
}

/// A token, from memory when read recently (see [`super::memo`]).
pub fn find_remembered(db: &Db, hash: &[u8]) -> Result<Option<TokenRecord>> {
    db.remembered_tokens()
        .get_or_load(&hash.to_vec(), || find(&mut *db.conn()?, hash))
}

/// A token, only if it is in memory.
pub fn remembered(db: &Db, hash: &[u8]) -> Option<TokenRecord> {
    db.remembered_tokens().get(hash)
}

/// Notes in memory that the token's grant was just marked used.
pub fn remember_grant_use(db: &Db, hash: &[u8], now: Timestamp) {
    db.remembered_tokens()
        .update(&hash.to_vec(), |r| r.grant_access_time = Some(now));
}

/// Marks a token revoked. Returns false if it was unknown or already revoked.
pub fn revoke(tx: &mut Tx<'_>, hash: &[u8], now: Timestamp) -> Result<bool> {
    let revoked = diesel::update(
        tokens::table
            .filter(tokens::hash.eq(hash))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(now))
    .execute(tx.conn())?
        > 0;
    Ok(revoked)
}

/// Deletes at most `batch` tokens that expired or were revoked before `before`, in one
/// short statement. Returns how many went; fewer than `batch` means none are left.
pub fn flush_batch(tx: &mut Tx<'_>, before: Timestamp, batch: i64) -> Result<u64> {
    let conn = tx.conn();
    let hashes: Vec<Vec<u8>> = tokens::table
        .filter(
            tokens::expires_at
                .lt(before)
                .or(tokens::revoked_at.lt(before)),
        )
        .select(tokens::hash)
        .limit(batch)
        .load(conn)?;
    if hashes.is_empty() {
        return Ok(0);
    }
    diesel::delete(tokens::table.filter(tokens::hash.eq_any(&hashes))).execute(conn)?;
    // Rows another node deleted meanwhile count as gone, so that a short count still
    // means "the last batch".
    Ok(hashes.len() as u64)
}

/// Marks a refresh token as redeemed and keeps its (encrypted) successor response. Only
/// one caller ever gets `true` for a token.
pub fn mark_rotated(
    tx: &mut Tx<'_>,
    hash: &[u8],
    successor: &str,
    successor_hash: &[u8],
    now: Timestamp,
) -> Result<bool> {
    Ok(diesel::update(
        tokens::table
            .filter(tokens::hash.eq(hash))
            .filter(tokens::rotated_at.is_null())
            .filter(tokens::revoked_at.is_null()),
    )
    .set((
        tokens::rotated_at.eq(now),
        tokens::successor.eq(successor),
        tokens::successor_hash.eq(successor_hash),
    ))
    .execute(tx.conn())?
        == 1)
}

/// A PostgreSQL statement sees only what had committed when it began. A refresh rotation
/// in flight holds a lock on the live token it spends: a revocation waits for it, then
/// revokes that token, but cannot see the successor the rotation inserted. A second
/// statement, begun after the wait, sees and revokes it; a rotation that begins later
/// finds its token revoked (`mark_rotated`). On SQLite writers never overlap, and the
/// second pass finds nothing.
const REVOKE_PASSES: usize = 2;

/// Revokes every token of a family (a code's tokens, or a refresh rotation chain).
pub fn revoke_family(tx: &mut Tx<'_>, family_id: &str, now: Timestamp) -> Result<usize> {
    let mut revoked = 0;
    // Twice, see REVOKE_PASSES.
    for _ in 0..REVOKE_PASSES {
        revoked += diesel::update(
            tokens::table
                .filter(tokens::family_id.eq(family_id))
                .filter(tokens::revoked_at.is_null()),
        )
        .set(tokens::revoked_at.eq(now))
        .execute(tx.conn())?;
    }
    Ok(revoked)
}

/// Revokes every live token issued to a user, through any client.
pub fn revoke_for_user(tx: &mut Tx<'_>, user_id: &str, now: Timestamp) -> Result<usize> {
    let mut revoked = 0;
    // Twice, see REVOKE_PASSES.
    for _ in 0..REVOKE_PASSES {
        revoked += diesel::update(
            tokens::table
                .filter(tokens::user_id.eq(user_id))
                .filter(tokens::revoked_at.is_null()),
        )
        .set(tokens::revoked_at.eq(now))
        .execute(tx.conn())?;
    }
    Ok(revoked)
}
