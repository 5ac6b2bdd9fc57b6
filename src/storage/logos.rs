//! Client logos: uploaded images, served by the server itself so that no page loads a
//! remote image.

use diesel::prelude::*;

use super::clients::lock_owner;
use super::schema::{client_logos, clients};
use super::{DbConnection, Tx};
use crate::error::{Error, Result};
use crate::protocol::time::Timestamp;

diesel::define_sql_function! {
    /// Bytes in a blob, on both backends.
    fn length(data: diesel::sql_types::Binary) -> diesel::sql_types::Integer;
}

pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
    pub updated_at: Timestamp,
}

/// Stores a client's logo, replacing any earlier one. False when there is no such client.
/// A remembered client says whether it has a logo, hence the [`Tx`].
pub fn put_logo(
    tx: &mut Tx<'_>,
    id: &str,
    content_type: &str,
    data: &[u8],
    owner_budget: Option<i64>,
    now: Timestamp,
) -> Result<bool> {
    let conn = tx.conn();
    let Some(owner) = clients::table
        .find(id)
        .select(clients::owner_id)
        .first::<Option<String>>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    if let (Some(budget), Some(owner)) = (owner_budget, owner) {
        lock_owner(conn, &owner)?;
        let others: Vec<i32> = client_logos::table
            .inner_join(clients::table)
            .filter(clients::owner_id.eq(&owner))
            .filter(client_logos::client_id.ne(id))
            .select(length(client_logos::data))
            .load(conn)?;
        let used: i64 = others.iter().map(|&n| i64::from(n)).sum();
        if used + data.len() as i64 > budget {
            return Err(Error::PayloadTooLarge(format!(
                "the logos of one account's clients may take {budget} bytes in all; her \
                 other clients' logos take {used}, and this one {}",
                data.len()
            )));
        }
    }
    diesel::delete(client_logos::table.find(id)).execute(conn)?;
    diesel::insert_into(client_logos::table)
        .values((
            client_logos::client_id.eq(id),
            client_logos::content_type.eq(content_type),
            client_logos::data.eq(data),
            client_logos::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(clients::table.find(id))
        .set(clients::updated_at.eq(now))
        .execute(conn)?;
    Ok(true)
}

pub fn delete_logo(tx: &mut Tx<'_>, id: &str) -> Result<bool> {
    Ok(diesel::delete(client_logos::table.find(id)).execute(tx.conn())? > 0)
}

pub fn logo(conn: &mut DbConnection, id: &str) -> Result<Option<Logo>> {
    Ok(client_logos::table
        .find(id)
        .select((
            client_logos::content_type,
            client_logos::data,
            client_logos::updated_at,
        ))
        .first::<(String, Vec<u8>, i64)>(conn)
        .optional()?
        .map(|(content_type, data, updated_at)| Logo {
            content_type,
            data,
            updated_at,
        }))
}
