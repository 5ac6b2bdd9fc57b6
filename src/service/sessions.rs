//! Signed-in browsers: starting, recognising, listing and ending sessions.

use serde::Serialize;

use super::authorize::SessionUser;
use crate::error::Result;
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::storage::sessions::{self as store, SessionRow};
use crate::storage::Db;

/// How often a session's last-seen time may be written while it is in use.
pub const LAST_SEEN_RESOLUTION: i64 = 60;

/// Longest user agent kept for the sessions list.
const MAX_USER_AGENT: usize = 256;

/// Where a sign-in came from, as the sessions list shows it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub user_agent: String,
    pub address: String,
}

impl Origin {
    pub fn new(user_agent: Option<&str>, address: String) -> Self {
        let user_agent: String = user_agent
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT)
            .collect();
        Self {
            user_agent,
            address,
        }
    }
}

/// Starts a session for a user who just signed in; returns the secret for the cookie.
pub fn start(
    db: &Db,
    user_id: &str,
    origin: &Origin,
    ttl_secs: i64,
    method: &SignInMethod,
    now: Timestamp,
) -> Result<String> {
    let secret = secret::random_string(32);
    store::insert(
        &mut *db.conn()?,
        &SessionRow {
            id: secret::random_string(12),
            secret_hash: secret::token_hash(&secret),
            user_id: user_id.to_owned(),
            auth_time: now,
            created_at: now,
            last_seen_at: now,
            expires_at: now + ttl_secs,
            user_agent: origin.user_agent.clone(),
            address: origin.address.clone(),
            sign_in: method.stored(),
        },
    )?;
    Ok(secret)
}

/// The user signed in by a cookie's session secret, while the session lives.
pub fn resolve(db: &Db, secret: &str, now: Timestamp) -> Result<Option<SessionUser>> {
    let mut conn = db.conn()?;
    let Some(row) = store::find_by_secret(&mut conn, &secret::token_hash(secret), now)? else {
        return Ok(None);
    };
    if row.last_seen_at < now - LAST_SEEN_RESOLUTION {
        store::touch_if_stale(&mut conn, &row.id, now, LAST_SEEN_RESOLUTION)?;
    }
    Ok(Some(SessionUser {
        id: row.user_id,
        auth_time: row.auth_time,
        session: Some(row.id),
        method: SignInMethod::from_stored(row.sign_in.as_deref()),
    }))
}

/// Ends the session behind a cookie's secret, for every copy of the cookie.
pub fn end(db: &Db, secret: &str) -> Result<()> {
    store::delete_by_secret(&mut *db.conn()?, &secret::token_hash(secret))?;
    Ok(())
}

/// Ends one of a user's sessions by its handle. False when she has no such session.
pub fn end_one(db: &Db, user_id: &str, handle: &str) -> Result<bool> {
    store::delete_for_user_by_id(&mut *db.conn()?, user_id, handle)
}

/// Ends every session of a user (a password change, a lost admin flag, an admin's
/// request). Returns how many were ended.
pub fn end_all(db: &Db, user_id: &str) -> Result<usize> {
    store::delete_for_user(&mut *db.conn()?, user_id)
}

/// A session as its user sees it in the list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: String,
    pub user_agent: String,
    pub address: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

/// Whether the session `id` of `user_id` is still live (not ended, not expired).
pub fn is_live(db: &Db, user_id: &str, id: &str, now: Timestamp) -> Result<bool> {
    Ok(store::for_user(&mut *db.conn()?, user_id, now)?
        .iter()
        .any(|s| s.id == id))
}

pub fn list(db: &Db, user_id: &str, now: Timestamp) -> Result<Vec<SessionView>> {
    Ok(store::for_user(&mut *db.conn()?, user_id, now)?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            user_agent: s.user_agent,
            address: s.address,
            created_at: to_rfc3339(s.created_at),
            last_seen_at: to_rfc3339(s.last_seen_at),
            expires_at: to_rfc3339(s.expires_at),
        })
        .collect())
}
