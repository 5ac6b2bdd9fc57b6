//! Grants: what each user let each client have.

use diesel::prelude::*;

use super::schema::grants;
use super::{DbConnection, Tx};
use crate::error::Result;
use crate::protocol::scope::ScopeSet;
use crate::protocol::time::Timestamp;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub remember: bool,
    pub created_at: i64,
    pub auth_time: i64,
    pub access_time: i64,
    /// What the user asked to be remembered: a request within it skips the consent page.
    pub remembered_scope: String,
    /// When what is remembered stops counting; `None`: never.
    pub remembered_until: Option<i64>,
}

impl GrantRow {
    /// The remembered scope, parsed; nothing once it has run out.
    pub fn remembered(&self, now: Timestamp) -> ScopeSet {
        if self.remembered_until.is_some_and(|until| until <= now) {
            return ScopeSet::default();
        }
        ScopeSet::parse(&self.remembered_scope).unwrap_or_default()
    }
}

pub fn find(conn: &mut DbConnection, user_id: &str, client_id: &str) -> Result<Option<GrantRow>> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::client_id.eq(client_id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a grant of `scope`; an existing grant keeps what it had and gains `scope`
/// (a grant only narrows when the user revokes it). What is remembered grows only by a
/// decision made with `remember`: a one-off decision changes nothing remembered. Returns
/// the grant's id. Call inside a write transaction.
pub fn upsert(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scope: &str,
    remember: bool,
    auth_time: Timestamp,
    now: Timestamp,
) -> Result<String> {
    match find(conn, user_id, client_id)? {
        Some(existing) => {
            diesel::update(grants::table.find(&existing.id))
                .set((
                    grants::scope.eq(widened(&existing.scope, scope)),
                    grants::remembered_scope.eq(if remember {
                        widened(&existing.remembered_scope, scope)
                    } else {
                        existing.remembered_scope.clone()
                    }),
                    grants::remember.eq(remember || existing.remember),
                    // A decision remembered now counts until told otherwise.
                    grants::remembered_until.eq(if remember {
                        None
                    } else {
                        existing.remembered_until
                    }),
                    grants::auth_time.eq(auth_time),
                    grants::access_time.eq(now),
                ))
                .execute(conn)?;
            Ok(existing.id)
        }
        None => {
            let row = GrantRow {
                id: crate::protocol::secret::new_id(),
                user_id: user_id.to_owned(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                remember,
                created_at: now,
                auth_time,
                access_time: now,
                remembered_scope: if remember {
                    scope.to_owned()
                } else {
                    String::new()
                },
                remembered_until: None,
            };
            diesel::insert_into(grants::table)
                .values(&row)
                .execute(conn)?;
            Ok(row.id)
        }
    }
}

fn widened(granted: &str, requested: &str) -> String {
    let joined = format!("{granted} {requested}");
    ScopeSet::parse(&joined)
        .map(|s| s.to_string())
        .unwrap_or(joined)
}

pub fn touch(conn: &mut DbConnection, grant_id: &str, now: Timestamp) -> Result<()> {
    diesel::update(grants::table.find(grant_id))
        .set(grants::access_time.eq(now))
        .execute(conn)?;
    Ok(())
}

/// A user's grants, oldest first.
pub fn for_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<GrantRow>> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .order((grants::created_at, grants::id))
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// A page of grants, filtered by user and/or client, with each user's username, and the
/// total count.
pub fn list(
    conn: &mut DbConnection,
    user_id: Option<&str>,
    client_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(GrantRow, String)>, i64)> {
    use super::schema::users;
    let mut page = grants::table
        .inner_join(users::table)
        .select((GrantRow::as_select(), users::username))
        .order((grants::created_at, grants::id))
        .limit(limit)
        .offset(offset)
        .into_boxed();
    let mut count = grants::table.count().into_boxed();
    if let Some(user_id) = user_id {
        page = page.filter(grants::user_id.eq(user_id.to_owned()));
        count = count.filter(grants::user_id.eq(user_id.to_owned()));
    }
    if let Some(client_id) = client_id {
        page = page.filter(grants::client_id.eq(client_id.to_owned()));
        count = count.filter(grants::client_id.eq(client_id.to_owned()));
    }
    Ok((page.load(conn)?, count.get_result(conn)?))
}

/// Removes a grant: its tokens are revoked and its unused codes deleted, so nothing
/// issued under it keeps working. Returns false if there was no such grant.
pub fn remove(tx: &mut Tx<'_>, grant_id: &str, now: Timestamp) -> Result<bool> {
    use super::schema::{auth_codes, tokens};
    let conn = tx.conn();
    diesel::update(
        tokens::table
            .filter(tokens::grant_id.eq(grant_id))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(now))
    .execute(conn)?;
    diesel::delete(auth_codes::table.filter(auth_codes::grant_id.eq(grant_id))).execute(conn)?;
    Ok(diesel::delete(grants::table.find(grant_id)).execute(conn)? > 0)
}

/// Notes that a token of the grant was used, at most once per `every` seconds, so that
/// busy tokens do not write on every request.
pub fn touch_if_stale(
    conn: &mut DbConnection,
    grant_id: &str,
    now: Timestamp,
    every: i64,
) -> Result<()> {
    diesel::update(
        grants::table
            .find(grant_id)
            .filter(grants::access_time.lt(now - every)),
    )
    .set(grants::access_time.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Sets (or clears) the claims a consent app added to the tokens of the user's grant to
/// the client. Token records remember them, hence the [`Tx`].
pub fn set_session_claims(
    tx: &mut Tx<'_>,
    user_id: &str,
    client_id: &str,
    claims: Option<&str>,
) -> Result<()> {
    diesel::update(
        grants::table
            .filter(grants::user_id.eq(user_id))
            .filter(grants::client_id.eq(client_id)),
    )
    .set(grants::session_claims.eq(claims))
    .execute(tx.conn())?;
    Ok(())
}

/// Limits how long the user's remembered decision for the client counts (a consent
/// app's `remember_for`).
pub fn remember_until(
    tx: &mut Tx<'_>,
    user_id: &str,
    client_id: &str,
    until: Timestamp,
) -> Result<()> {
    diesel::update(
        grants::table
            .filter(grants::user_id.eq(user_id))
            .filter(grants::client_id.eq(client_id)),
    )
    .set(grants::remembered_until.eq(Some(until)))
    .execute(tx.conn())?;
    Ok(())
}

/// The claims a consent app added to the grant's tokens, as stored.
pub fn session_claims(conn: &mut DbConnection, grant_id: &str) -> Result<Option<String>> {
    Ok(grants::table
        .find(grant_id)
        .select(grants::session_claims)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}
