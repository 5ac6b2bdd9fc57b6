//! Server-wide values kept in the database so that every node shares them.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::schema::settings;
use super::DbConnection;
use crate::error::Result;

/// Returns the stored value of `name`, storing `make()` first if there is none. Safe when
/// several nodes start at once: the first insert wins and everyone reads it.
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    make: impl FnOnce() -> String,
) -> Result<String> {
    let existing = settings::table
        .find(name)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    match diesel::insert_into(settings::table)
        .values((settings::name.eq(name), settings::value.eq(make())))
        .execute(conn)
    {
        Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(settings::table
        .find(name)
        .select(settings::value)
        .first::<String>(conn)?)
}

/// The stored value of `name`, if any.
pub fn get(conn: &mut DbConnection, name: &str) -> Result<Option<String>> {
    Ok(settings::table
        .find(name)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?)
}

/// Stores `value` under `name`, replacing what was there.
pub fn put(conn: &mut DbConnection, name: &str, value: &str) -> Result<()> {
    let updated = diesel::update(settings::table.find(name))
        .set(settings::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(settings::table)
            .values((settings::name.eq(name), settings::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}
