//! The client registry.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::{client_logos, clients, users};
use super::{write, Db, DbConnection, Tx};
use crate::error::{Error, Result};
use crate::protocol::client::{
    AuthMethod, Client, ClientDraft, ClientType, GrantType, TokenFormat,
};
use crate::protocol::scope::ScopeSet;
use crate::protocol::time::Timestamp;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
struct ClientRow {
    id: String,
    secret_hash: Option<String>,
    name: String,
    description: String,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    response_types: String,
    scope: String,
    token_endpoint_auth_method: String,
    client_type: String,
    owner_id: Option<String>,
    skip_consent: bool,
    access_token_format: String,
    created_at: i64,
    updated_at: i64,
    extras: String,
}

/// A client with the hash of its secret, for authentication.
#[derive(Clone)]
pub struct StoredClient {
    pub client: Client,
    pub secret_hash: Option<String>,
}

/// What to write for a registration: the validated draft plus what the service decided.
pub struct ClientWrite<'a> {
    pub id: &'a str,
    pub draft: &'a ClientDraft,
    pub secret_hash: Option<String>,
    pub owner_id: Option<String>,
}

impl ClientRow {
    fn new(w: &ClientWrite<'_>, created_at: Timestamp, updated_at: Timestamp) -> Result<Self> {
        let d = w.draft;
        Ok(Self {
            id: w.id.to_owned(),
            secret_hash: w.secret_hash.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            client_uri: d.client_uri.clone(),
            logo_uri: d.logo_uri.clone(),
            redirect_uris: serde_json::to_string(&d.redirect_uris).map_err(Error::internal)?,
            post_logout_redirect_uris: serde_json::to_string(&d.post_logout_redirect_uris)
                .map_err(Error::internal)?,
            grant_types: d
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            response_types: d.response_types.join(" "),
            scope: d.scope.to_string(),
            token_endpoint_auth_method: d.auth_method.as_str().to_owned(),
            client_type: d.client_type.as_str().to_owned(),
            owner_id: w.owner_id.clone(),
            skip_consent: d.skip_consent,
            access_token_format: d.access_token_format.as_str().to_owned(),
            created_at,
            updated_at,
            extras: serde_json::to_string(&d.extras).map_err(Error::internal)?,
        })
    }

    fn into_client(self, owner: Option<Owner>, has_logo: bool) -> Result<StoredClient> {
        let corrupt = |field: &str| {
            Error::Internal(anyhow::anyhow!(
                "stored client {:?} has a corrupt {field}",
                self.id
            ))
        };
        let client = Client {
            redirect_uris: serde_json::from_str(&self.redirect_uris)
                .map_err(|_| corrupt("redirect_uris"))?,
            post_logout_redirect_uris: serde_json::from_str(&self.post_logout_redirect_uris)
                .map_err(|_| corrupt("post_logout_redirect_uris"))?,
            grant_types: self
                .grant_types
                .split_whitespace()
                .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
                .collect::<Result<_>>()?,
            response_types: self
                .response_types
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            scope: ScopeSet::parse(&self.scope).map_err(|_| corrupt("scope"))?,
            auth_method: AuthMethod::parse(&self.token_endpoint_auth_method)
                .ok_or_else(|| corrupt("token_endpoint_auth_method"))?,
            client_type: ClientType::parse(&self.client_type)
                .ok_or_else(|| corrupt("client_type"))?,
            access_token_format: TokenFormat::parse(&self.access_token_format)
                .ok_or_else(|| corrupt("access_token_format"))?,
            extras: serde_json::from_str(&self.extras).map_err(|_| corrupt("extras"))?,
            id: self.id,
            name: self.name,
            description: self.description,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            owner_is_admin: owner.as_ref().is_some_and(|o| o.1),
            owner_id: owner.as_ref().and(self.owner_id),
            owner: owner.map(|o| o.0),
            skip_consent: self.skip_consent,
            has_logo,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(StoredClient {
            client,
            secret_hash: self.secret_hash,
        })
    }
}

/// The owner's username and admin flag.
type Owner = (String, bool);

type Joined = (ClientRow, Option<String>, Option<bool>, Option<String>);

macro_rules! joined_query {
    () => {
        clients::table
            .left_join(users::table)
            .left_join(client_logos::table)
            .select((
                ClientRow::as_select(),
                users::username.nullable(),
                users::is_admin.nullable(),
                client_logos::client_id.nullable(),
            ))
    };
}

fn from_joined((row, owner, owner_is_admin, logo): Joined) -> Result<StoredClient> {
    let owner = owner.map(|name| (name, owner_is_admin.unwrap_or(false)));
    row.into_client(owner, logo.is_some())
}

/// Inserts a registration. With `most_owned`, the owner may have at most that many
/// clients: counted and inserted in one write, her user row locked on PostgreSQL, so
/// registrations sent at once cannot all slip under the bound.
pub fn insert(
    conn: &mut DbConnection,
    w: &ClientWrite<'_>,
    most_owned: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    let row = ClientRow::new(w, now, now)?;
    write(conn, |conn| {
        if let (Some(most), Some(owner)) = (most_owned, w.owner_id.as_deref()) {
            lock_owner(conn, owner)?;
            let owned: i64 = clients::table
                .filter(clients::owner_id.eq(owner))
                .count()
                .get_result(conn)?;
            if owned >= most {
                return Err(Error::Forbidden(format!(
                    "an account may own at most {most} clients; delete one first \
                     (an admin can raise PORTCULLIS_MAX_CLIENTS_PER_OWNER)"
                )));
            }
        }
        match diesel::insert_into(clients::table)
            .values(&row)
            .execute(conn)
        {
            Ok(_) => Ok(()),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Err(
                Error::Conflict(format!("a client with id {:?} already exists", w.id)),
            ),
            Err(e) => Err(e.into()),
        }
    })
}

/// Serializes changes bounded per owner on PostgreSQL (SQLite's writes already run one
/// at a time).
pub(super) fn lock_owner(conn: &mut DbConnection, owner_id: &str) -> Result<()> {
    if let DbConnection::Postgres(pg) = conn {
        users::table
            .find(owner_id)
            .select(users::id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

/// Replaces a registration, keeping its creation time. `secret_hash` `None` keeps the
/// stored secret. Returns false when there is no such client. `checked_owner_id` is the
/// owner the caller's rights were checked against: if another change gave the client
/// to someone else meanwhile, nothing is written (a conflict).
pub fn replace(
    tx: &mut Tx<'_>,
    w: &ClientWrite<'_>,
    keep_secret: bool,
    checked_owner_id: Option<&str>,
    now: Timestamp,
) -> Result<bool> {
    let conn = tx.conn();
    let Some((created_at, old_secret)) = clients::table
        .find(w.id)
        .select((clients::created_at, clients::secret_hash))
        .first::<(i64, Option<String>)>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    let mut row = ClientRow::new(w, created_at, now)?;
    if keep_secret {
        row.secret_hash = old_secret;
    }
    // The owner is part of the update's condition, so that the check holds at the
    // moment of writing on PostgreSQL too, not only when it was read.
    let written = match checked_owner_id {
        Some(owner) => diesel::update(
            clients::table
                .find(w.id)
                .filter(clients::owner_id.eq(owner)),
        )
        .set(&row)
        .execute(conn)?,
        None => diesel::update(
            clients::table
                .find(w.id)
                .filter(clients::owner_id.is_null()),
        )
        .set(&row)
        .execute(conn)?,
    };
    if written == 0 {
        return Err(Error::Conflict(
            "the client changed owner while this change was made; read it again".into(),
        ));
    }
    Ok(true)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<StoredClient>> {
    joined_query!()
        .filter(clients::id.eq(id))
        .first::<Joined>(conn)
        .optional()?
        .map(from_joined)
        .transpose()
}

/// A client for authentication, read from the database and remembered for
/// [`remembered`] (see [`super::memo`]).
pub fn find_and_remember(db: &Db, id: &str) -> Result<Option<StoredClient>> {
    db.remembered_clients()
        .reload(&id.to_owned(), || find(&mut *db.conn()?, id))
}

/// A client, from memory when read recently (see [`super::memo`]).
pub fn find_remembered(db: &Db, id: &str) -> Result<Option<StoredClient>> {
    db.remembered_clients()
        .get_or_load(&id.to_owned(), || find(&mut *db.conn()?, id))
}

/// A client for authentication, only if it is in memory.
pub fn remembered(db: &Db, id: &str) -> Option<StoredClient> {
    db.remembered_clients().get(id)
}

pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Client>> {
    joined_query!()
        .filter(clients::id.eq_any(ids))
        .order(clients::id)
        .load::<Joined>(conn)?
        .into_iter()
        .map(|j| from_joined(j).map(|s| s.client))
        .collect()
}

/// A page of clients, oldest first, and the total count. `owner` filters by username.
pub fn list(
    conn: &mut DbConnection,
    owner: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Client>, i64)> {
    let owner_id: Option<Option<String>> = match owner {
        None => None,
        Some(username) => Some(super::users::id_of(conn, username)?),
    };
    let (rows, total) = match owner_id {
        // An owner that does not exist owns nothing.
        Some(None) => (Vec::new(), 0),
        Some(Some(id)) => (
            joined_query!()
                .filter(clients::owner_id.eq(&id))
                .order((clients::created_at, clients::id))
                .limit(limit)
                .offset(offset)
                .load::<Joined>(conn)?,
            clients::table
                .filter(clients::owner_id.eq(&id))
                .count()
                .get_result::<i64>(conn)?,
        ),
        None => (
            joined_query!()
                .order((clients::created_at, clients::id))
                .limit(limit)
                .offset(offset)
                .load::<Joined>(conn)?,
            clients::table.count().get_result::<i64>(conn)?,
        ),
    };
    let clients = rows
        .into_iter()
        .map(|j| from_joined(j).map(|s| s.client))
        .collect::<Result<_>>()?;
    Ok((clients, total))
}

/// Deletes a client; its logo and tokens go with it (foreign keys cascade).
pub fn delete(tx: &mut Tx<'_>, id: &str) -> Result<bool> {
    Ok(diesel::delete(clients::table.find(id)).execute(tx.conn())? > 0)
}

pub fn set_secret_hash(tx: &mut Tx<'_>, id: &str, hash: &str, now: Timestamp) -> Result<bool> {
    let updated = diesel::update(clients::table.find(id))
        .set((clients::secret_hash.eq(hash), clients::updated_at.eq(now)))
        .execute(tx.conn())?
        > 0;
    Ok(updated)
}
