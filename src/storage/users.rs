//! End-user accounts.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::users;
use super::{Db, DbConnection, Tx};
use crate::error::{Error, Result};
use crate::protocol::time::Timestamp;

diesel::define_sql_function! {
    /// SQL `lower`: usernames (ASCII) are unique and looked up regardless of case.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The condition "this row is the user called `username`", in any case.
fn named(username: &str) -> diesel::dsl::Eq<lower<users::username>, String> {
    lower(users::username).eq(username.to_ascii_lowercase())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRecord {
    /// The stable subject identifier.
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub phone_number: Option<String>,
    /// Postal address as one formatted string.
    pub address: Option<String>,
}

pub fn insert(conn: &mut DbConnection, user: &UserRecord) -> Result<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map_err(|e| clash(e, user))?;
    Ok(())
}

/// A unique index refused the row: which one, in words the admin can act on.
fn clash(error: DieselError, user: &UserRecord) -> Error {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let on_email = info.constraint_name().is_some_and(|c| c.contains("email"))
                || info.message().contains("email");
            if on_email {
                Error::Conflict("another user already has this e-mail address".into())
            } else {
                Error::Conflict(format!(
                    "a user named {:?} already exists (usernames are compared without regard to case)",
                    user.username
                ))
            }
        }
        _ => error.into(),
    }
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> Result<Option<UserRecord>> {
    Ok(users::table
        .filter(named(username))
        .select(UserRecord::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<UserRecord>> {
    Ok(users::table
        .find(id)
        .select(UserRecord::as_select())
        .first(conn)
        .optional()?)
}

/// A user, from memory when read recently (see [`super::memo`]): for the flows that
/// need her role and claims on every request, not for checking her password.
pub fn find_remembered(db: &Db, id: &str) -> Result<Option<UserRecord>> {
    db.remembered_users()
        .get_or_load(&id.to_owned(), || find_by_id(&mut *db.conn()?, id))
}

/// [`find_remembered`] for a caller that holds a connection already (asking the pool for
/// a second one could exhaust it under load).
pub fn find_remembered_on(
    db: &Db,
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<UserRecord>> {
    db.remembered_users()
        .get_or_load(&id.to_owned(), || find_by_id(conn, id))
}

pub fn id_of(conn: &mut DbConnection, username: &str) -> Result<Option<String>> {
    Ok(users::table
        .filter(named(username))
        .select(users::id)
        .first(conn)
        .optional()?)
}

/// A page of users in order of creation, and the total count.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> Result<(Vec<UserRecord>, i64)> {
    let page = users::table
        .order((users::created_at, users::username))
        .limit(limit)
        .offset(offset)
        .select(UserRecord::as_select())
        .load(conn)?;
    let total = users::table.count().get_result(conn)?;
    Ok((page, total))
}

/// Deletes a user with everything that acts for her: her tokens, grants, sessions and
/// pending requests (the foreign keys cascade), and the clients she owns (with their
/// tokens), so that no client is left looking like one of the system's own.
pub fn delete(tx: &mut Tx<'_>, username: &str) -> Result<bool> {
    use super::schema::clients;
    let conn = tx.conn();
    let Some(user) = find_by_username(conn, username)? else {
        return Ok(false);
    };
    let id = user.id;
    if user.is_admin && admins(conn)? <= 1 {
        return Err(last_admin(username));
    }
    diesel::delete(clients::table.filter(clients::owner_id.eq(&id))).execute(conn)?;
    Ok(diesel::delete(users::table.find(&id)).execute(conn)? > 0)
}

/// Counts the admins within a write transaction. On PostgreSQL their rows are locked
/// until it ends: otherwise two transactions demoting the last two admins at once would
/// each count two and both succeed. A transaction that waited for the lock counts again
/// those still admin. SQLite's write transactions run one at a time.
fn admins(conn: &mut DbConnection) -> Result<i64> {
    let admins = users::table.filter(users::is_admin.eq(true));
    let count = match conn {
        DbConnection::Postgres(pg) => admins
            .select(users::id)
            .for_update()
            .load::<String>(pg)?
            .len() as i64,
        DbConnection::Sqlite(_) => admins.count().get_result(conn)?,
    };
    Ok(count)
}

fn last_admin(username: &str) -> crate::error::Error {
    crate::error::Error::Conflict(format!(
        "{username} is the last admin; make another user an admin first"
    ))
}

/// Takes the admin flag from a user unless she is the last admin (checked and changed
/// in one write, so that two admins cannot demote each other at once).
pub fn demote(tx: &mut Tx<'_>, username: &str) -> Result<()> {
    let conn = tx.conn();
    let is_admin = users::table
        .filter(named(username))
        .select(users::is_admin)
        .first::<bool>(conn)
        .optional()?;
    if is_admin == Some(true) && admins(conn)? <= 1 {
        return Err(last_admin(username));
    }
    diesel::update(users::table.filter(named(username)))
        .set(users::is_admin.eq(false))
        .execute(conn)?;
    Ok(())
}

/// Writes every field of a user but its id, username and creation time (remembered
/// tokens carry her name and admin flag).
pub fn update(tx: &mut Tx<'_>, user: &UserRecord) -> Result<()> {
    diesel::update(users::table.find(&user.id))
        .set((
            users::email.eq(&user.email),
            users::name.eq(&user.name),
            users::phone_number.eq(&user.phone_number),
            users::address.eq(&user.address),
            users::is_admin.eq(user.is_admin),
            users::password_hash.eq(&user.password_hash),
            users::updated_at.eq(user.updated_at),
        ))
        .execute(tx.conn())
        .map_err(|e| clash(e, user))?;
    Ok(())
}

pub fn set_password_hash(
    tx: &mut Tx<'_>,
    username: &str,
    hash: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(diesel::update(users::table.filter(named(username)))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(tx.conn())?
        > 0)
}

#[derive(QueryableByName)]
struct Clashing {
    #[diesel(sql_type = diesel::sql_types::Text)]
    shared: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    username: String,
}

/// Accounts that break "one username regardless of case, one user per e-mail address",
/// described for the operator who must settle them: at most `limit` lines.
pub fn clashes(conn: &mut DbConnection, limit: usize) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for (what, column) in [("usernames", "username"), ("e-mail", "email")] {
        // Both columns are fixed here, never taken from input.
        let sql = format!(
            "SELECT lower({column}) AS shared, username FROM users \
             WHERE lower({column}) IN (SELECT lower({column}) FROM users \
             WHERE {column} IS NOT NULL GROUP BY lower({column}) HAVING COUNT(*) > 1) \
             ORDER BY lower({column}), created_at, username"
        );
        let rows: Vec<Clashing> = diesel::sql_query(sql).load(conn)?;
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for row in rows {
            match groups.last_mut() {
                Some((shared, names)) if *shared == row.shared => names.push(row.username),
                _ => groups.push((row.shared, vec![row.username])),
            }
        }
        for (shared, names) in groups {
            lines.push(match what {
                "usernames" => format!("usernames that differ only in case: {}", names.join(", ")),
                _ => format!(
                    "users sharing the e-mail address {shared}: {}",
                    names.join(", ")
                ),
            });
        }
    }
    lines.truncate(limit);
    Ok(lines)
}
