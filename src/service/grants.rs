//! Grants seen from both sides: a user's connected apps, and the admins' audit view.

use serde::Serialize;

use super::clients::AppCard;
use super::Page;
use crate::error::{Error, Result};
use crate::protocol::scope::{describe, display_order, ScopeSet};
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::storage::grants::{self as store, GrantRow};
use crate::storage::{clients, users, Db};

/// How often the last-used time of a grant may be written while its tokens are in use.
pub const ACCESS_TIME_RESOLUTION: i64 = 60;

/// An app the user let in, as the user sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Connection {
    pub client_id: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub logo: Option<String>,
    pub scopes: Vec<String>,
    /// The scopes in plain words.
    pub scope_descriptions: Vec<String>,
    /// When the user first granted access.
    pub created_at: String,
    /// When the user last signed in to the app.
    pub auth_time: String,
    /// When a token of the app was last issued, refreshed or used.
    pub last_used: String,
}

fn connection(grant: &GrantRow, card: &AppCard) -> Connection {
    let scope = ScopeSet::parse(&grant.scope).unwrap_or_default();
    let ordered = display_order(&scope);
    Connection {
        client_id: grant.client_id.clone(),
        client_name: card.name.clone(),
        client_uri: card.url.clone(),
        logo: card.logo.clone(),
        scopes: ordered.iter().map(|s| s.to_string()).collect(),
        scope_descriptions: ordered.iter().map(|s| describe(s)).collect(),
        created_at: to_rfc3339(grant.created_at),
        auth_time: to_rfc3339(grant.auth_time),
        last_used: to_rfc3339(grant.access_time),
    }
}

/// The apps connected to a user's account.
pub fn connections(db: &Db, user_id: &str, issuer: &str) -> Result<Vec<Connection>> {
    let mut conn = db.conn()?;
    let grants = store::for_user(&mut conn, user_id)?;
    let ids: Vec<String> = grants.iter().map(|g| g.client_id.clone()).collect();
    let cards = clients::find_many(&mut conn, &ids)?;
    Ok(grants
        .iter()
        .filter_map(|g| {
            let client = cards.iter().find(|c| c.id == g.client_id)?;
            Some(connection(g, &AppCard::new(client, issuer)))
        })
        .collect())
}

pub fn connection_of(db: &Db, user_id: &str, client_id: &str, issuer: &str) -> Result<Connection> {
    connections(db, user_id, issuer)?
        .into_iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| Error::NotFound(format!("no connection with client {client_id:?}")))
}

/// Disconnects an app from the user's account: the grant goes and every token issued
/// under it stops working at once.
pub fn revoke_connection(db: &Db, user_id: &str, client_id: &str, now: Timestamp) -> Result<()> {
    let mut conn = db.conn()?;
    let grant = store::find(&mut conn, user_id, client_id)?
        .ok_or_else(|| Error::NotFound(format!("no connection with client {client_id:?}")))?;
    db.change_on(&mut conn, |tx| store::remove(tx, &grant.id, now))?;
    Ok(())
}

/// A grant as admins audit it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuthorizationView {
    pub id: String,
    /// The user's subject identifier.
    pub subject: String,
    pub username: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub auth_time: String,
    pub access_time: String,
}

fn view(grant: GrantRow, username: String) -> AuthorizationView {
    AuthorizationView {
        scopes: grant.scope.split_whitespace().map(str::to_owned).collect(),
        subject: grant.user_id,
        username,
        client_id: grant.client_id,
        created_at: to_rfc3339(grant.created_at),
        auth_time: to_rfc3339(grant.auth_time),
        access_time: to_rfc3339(grant.access_time),
        id: grant.id,
    }
}

/// Resolves `subject` given as a `sub` or a username. `None` when nobody matches.
fn user_id_for(db: &Db, subject: &str) -> Result<Option<String>> {
    let mut conn = db.conn()?;
    if let Some(user) = users::find_by_id(&mut conn, subject)? {
        return Ok(Some(user.id));
    }
    users::id_of(&mut conn, subject)
}

pub fn list(
    db: &Db,
    subject: Option<&str>,
    client_id: Option<&str>,
    page: Page,
) -> Result<(Vec<AuthorizationView>, i64)> {
    let user_id = match subject {
        Some(s) => match user_id_for(db, s)? {
            Some(id) => Some(id),
            None => return Ok((Vec::new(), 0)),
        },
        None => None,
    };
    let (rows, total) = store::list(
        &mut *db.conn()?,
        user_id.as_deref(),
        client_id,
        page.limit,
        page.offset,
    )?;
    Ok((rows.into_iter().map(|(g, u)| view(g, u)).collect(), total))
}

pub fn remove(db: &Db, id: &str, now: Timestamp) -> Result<()> {
    if !db.change(|tx| store::remove(tx, id, now))? {
        return Err(Error::not_found("authorization", id));
    }
    Ok(())
}

/// Removes the grant of one user to one client. Returns how many were removed (0 or 1).
pub fn remove_for(db: &Db, subject: &str, client_id: &str, now: Timestamp) -> Result<u64> {
    let Some(user_id) = user_id_for(db, subject)? else {
        return Err(Error::NotFound(format!("no user {subject:?}")));
    };
    let mut conn = db.conn()?;
    let grant = store::find(&mut conn, &user_id, client_id)?
        .ok_or_else(|| Error::NotFound(format!("{subject:?} has not authorized {client_id:?}")))?;
    db.change_on(&mut conn, |tx| store::remove(tx, &grant.id, now))?;
    Ok(1)
}
