//! Authorization requests waiting for the user to sign in or consent.

use diesel::prelude::*;

use super::schema::auth_flows;
use super::DbConnection;
use crate::error::Result;
use crate::protocol::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_flows)]
pub struct FlowRow {
    pub id: String,
    pub session_binding: String,
    pub client_id: String,
    pub request: String,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consent_challenge: Option<String>,
    pub consent_verifier: Option<String>,
    pub consent_answer: Option<String>,
    /// Where the request came from.
    pub address: String,
    /// The external login app's challenge and verifier (hashes), and what it was told
    /// and answered (JSON).
    pub login_challenge: Option<String>,
    pub login_verifier: Option<String>,
    pub login_state: Option<String>,
    /// How `user_id` signed in (JSON; none: a password).
    pub sign_in: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &FlowRow) -> Result<()> {
    diesel::insert_into(auth_flows::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// How many live flows nobody has signed in to yet came from `address`.
pub fn pending_from(conn: &mut DbConnection, address: &str, now: Timestamp) -> Result<i64> {
    Ok(auth_flows::table
        .filter(auth_flows::address.eq(address))
        .filter(auth_flows::user_id.is_null())
        .filter(auth_flows::expires_at.gt(now))
        .count()
        .get_result(conn)?)
}

/// A live flow started by the browser session with this binding.
pub fn find(
    conn: &mut DbConnection,
    id: &str,
    binding: &str,
    now: Timestamp,
) -> Result<Option<FlowRow>> {
    Ok(auth_flows::table
        .find(id)
        .filter(auth_flows::session_binding.eq(binding))
        .filter(auth_flows::expires_at.gt(now))
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_user(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    auth_time: Timestamp,
    sign_in: Option<&str>,
) -> Result<()> {
    diesel::update(auth_flows::table.find(id))
        .set((
            auth_flows::user_id.eq(user_id),
            auth_flows::auth_time.eq(auth_time),
            auth_flows::sign_in.eq(sign_in),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes a finished flow. Returns false if it was already gone (a replayed answer).
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(auth_flows::table.find(id)).execute(conn)? > 0)
}

pub fn delete_expired(conn: &mut DbConnection, now: Timestamp, batch: i64) -> Result<u64> {
    let ids: Vec<String> = auth_flows::table
        .filter(auth_flows::expires_at.lt(now))
        .select(auth_flows::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(auth_flows::table.filter(auth_flows::id.eq_any(&ids))).execute(conn)?;
    Ok(ids.len() as u64)
}

/// Moves a flow to the session that signed in (the session id changes at sign-in).
pub fn rebind(conn: &mut DbConnection, id: &str, old: &str, new: &str) -> Result<bool> {
    Ok(diesel::update(
        auth_flows::table
            .find(id)
            .filter(auth_flows::session_binding.eq(old)),
    )
    .set(auth_flows::session_binding.eq(new))
    .execute(conn)?
        == 1)
}

/// Gives a flow waiting for consent a challenge (hash) for the external consent app.
pub fn set_challenge(conn: &mut DbConnection, id: &str, challenge_hash: &str) -> Result<()> {
    diesel::update(auth_flows::table.find(id))
        .set(auth_flows::consent_challenge.eq(challenge_hash))
        .execute(conn)?;
    Ok(())
}

/// The flow behind a consent challenge, whether answered or not, if it has not expired.
pub fn find_by_challenge(
    conn: &mut DbConnection,
    challenge_hash: &str,
    now: Timestamp,
) -> Result<Option<FlowRow>> {
    Ok(auth_flows::table
        .filter(auth_flows::consent_challenge.eq(challenge_hash))
        .filter(auth_flows::expires_at.gt(now))
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records the consent app's answer. Only the first answer to a challenge counts.
pub fn answer(
    conn: &mut DbConnection,
    challenge_hash: &str,
    verifier_hash: &str,
    answer: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(diesel::update(
        auth_flows::table
            .filter(auth_flows::consent_challenge.eq(challenge_hash))
            .filter(auth_flows::consent_answer.is_null())
            .filter(auth_flows::expires_at.gt(now)),
    )
    .set((
        auth_flows::consent_answer.eq(answer),
        auth_flows::consent_verifier.eq(verifier_hash),
    ))
    .execute(conn)?
        == 1)
}

/// Gives a flow waiting for sign-in a fresh challenge (hash) for the external login app,
/// dropping any earlier challenge and answer.
pub fn set_login_challenge(
    conn: &mut DbConnection,
    id: &str,
    challenge_hash: &str,
    state: &str,
) -> Result<()> {
    diesel::update(auth_flows::table.find(id))
        .set((
            auth_flows::login_challenge.eq(challenge_hash),
            auth_flows::login_verifier.eq(None::<String>),
            auth_flows::login_state.eq(state),
        ))
        .execute(conn)?;
    Ok(())
}

/// The flow behind a login challenge, if it has not expired.
pub fn find_by_login_challenge(
    conn: &mut DbConnection,
    challenge_hash: &str,
    now: Timestamp,
) -> Result<Option<FlowRow>> {
    Ok(auth_flows::table
        .filter(auth_flows::login_challenge.eq(challenge_hash))
        .filter(auth_flows::expires_at.gt(now))
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records the login app's answer. Only the first answer to a challenge counts.
pub fn answer_login(
    conn: &mut DbConnection,
    challenge_hash: &str,
    verifier_hash: &str,
    state: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(diesel::update(
        auth_flows::table
            .filter(auth_flows::login_challenge.eq(challenge_hash))
            .filter(auth_flows::login_verifier.is_null())
            .filter(auth_flows::expires_at.gt(now)),
    )
    .set((
        auth_flows::login_verifier.eq(verifier_hash),
        auth_flows::login_state.eq(state),
    ))
    .execute(conn)?
        == 1)
}

/// Signs the login app's user in to the flow, once: the challenge and verifier are
/// spent. False when another request spent them first.
pub fn complete_login(
    conn: &mut DbConnection,
    id: &str,
    verifier_hash: &str,
    user_id: &str,
    auth_time: Timestamp,
    sign_in: Option<&str>,
) -> Result<bool> {
    Ok(diesel::update(
        auth_flows::table
            .find(id)
            .filter(auth_flows::login_verifier.eq(verifier_hash)),
    )
    .set((
        auth_flows::user_id.eq(user_id),
        auth_flows::auth_time.eq(auth_time),
        auth_flows::sign_in.eq(sign_in),
        auth_flows::login_challenge.eq(None::<String>),
        auth_flows::login_verifier.eq(None::<String>),
    ))
    .execute(conn)?
        == 1)
}
