//! Grants: what each user let each client have.

use diesel::prelude::*;

use super::schema::grants;
use super::DbConnection;
use crate::error::Result;
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
}

pub fn find(conn: &mut DbConnection, user_id: &str, client_id: &str) -> Result<Option<GrantRow>> {
    Ok(grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::client_id.eq(client_id))
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records a grant, widening an existing one to `scope`. Returns the grant's id. Call
/// inside a write transaction.
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
                    grants::scope.eq(scope),
                    grants::remember.eq(remember || existing.remember),
                    grants::auth_time.eq(auth_time),
                    grants::access_time.eq(now),
                ))
                .execute(conn)?;
            Ok(existing.id)
        }
        None => {
            let row = GrantRow {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: user_id.to_owned(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                remember,
                created_at: now,
                auth_time,
                access_time: now,
            };
            diesel::insert_into(grants::table)
                .values(&row)
                .execute(conn)?;
            Ok(row.id)
        }
    }
}

pub fn touch(conn: &mut DbConnection, grant_id: &str, now: Timestamp) -> Result<()> {
    diesel::update(grants::table.find(grant_id))
        .set(grants::access_time.eq(now))
        .execute(conn)?;
    Ok(())
}
