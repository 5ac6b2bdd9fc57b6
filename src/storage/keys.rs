//! Signing keys.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use super::schema::signing_keys;
use super::{write, DbConnection};
use crate::error::Result;
use crate::protocol::keys::{KeyState, SigningKey};
use crate::protocol::time::Timestamp;

/// Stored keys, opened and parsed, by kid and algorithm. Opening and parsing (and for
/// RSA validating) a private key costs far more than the JWKS or a hint check needs, and
/// a key's material never changes once stored (re-sealing under a new master key
/// changes only its wrapping). Each [`super::Db`] owns one.
#[derive(Default)]
pub struct ParsedKeys(Mutex<Vec<(String, String, Arc<SigningKey>)>>);

impl ParsedKeys {
    /// At most this many are kept; the oldest goes first.
    const KEEP: usize = 32;

    pub fn get(&self, kid: &str, alg: &str) -> Option<Arc<SigningKey>> {
        let parsed = self.0.lock().ok()?;
        parsed
            .iter()
            .find(|(k, a, _)| k == kid && a == alg)
            .map(|(_, _, key)| key.clone())
    }

    pub fn keep(&self, kid: &str, alg: &str, key: Arc<SigningKey>) {
        if let Ok(mut parsed) = self.0.lock() {
            if parsed.len() >= Self::KEEP {
                parsed.remove(0);
            }
            parsed.push((kid.to_owned(), alg.to_owned(), key));
        }
    }
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub state: KeyState,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// Never prints the private key.
impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Every key still worth publishing: not revoked, and not retired or retired after
/// `retired_after`.
pub fn published(conn: &mut DbConnection, retired_after: Timestamp) -> Result<Vec<KeyRow>> {
    Ok(signing_keys::table
        .filter(signing_keys::state.ne(KeyState::Revoked.as_str()))
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order(signing_keys::created_at.desc())
        .select(KeyRow::as_select())
        .load(conn)?)
}

pub fn all(conn: &mut DbConnection) -> Result<Vec<KeyRow>> {
    Ok(signing_keys::table
        .order(signing_keys::created_at.desc())
        .select(KeyRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &KeyRow) -> Result<()> {
    diesel::insert_into(signing_keys::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(())
}

/// Makes sure there is a current and a next key, creating what is missing with `make`.
/// Runs in one write transaction so that nodes starting together agree.
pub fn ensure(
    conn: &mut DbConnection,
    now: Timestamp,
    make: &dyn Fn(KeyState) -> Result<KeyRow>,
) -> Result<()> {
    write(conn, |conn| {
        for state in [KeyState::Current, KeyState::Next] {
            let exists = signing_keys::table
                .filter(signing_keys::state.eq(state.as_str()))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !exists {
                let mut row = make(state)?;
                row.activated_at = (state == KeyState::Current).then_some(now);
                insert(conn, &row)?;
            }
        }
        Ok(())
    })
}

/// next → current → retired, and a new next from `make`.
pub fn rotate(
    conn: &mut DbConnection,
    now: Timestamp,
    make: &dyn Fn(KeyState) -> Result<KeyRow>,
) -> Result<()> {
    write(conn, |conn| {
        diesel::update(
            signing_keys::table.filter(signing_keys::state.eq(KeyState::Current.as_str())),
        )
        .set((
            signing_keys::state.eq(KeyState::Retired.as_str()),
            signing_keys::retired_at.eq(now),
        ))
        .execute(conn)?;
        let promoted = diesel::update(
            signing_keys::table.filter(signing_keys::state.eq(KeyState::Next.as_str())),
        )
        .set((
            signing_keys::state.eq(KeyState::Current.as_str()),
            signing_keys::activated_at.eq(now),
        ))
        .execute(conn)?;
        if promoted == 0 {
            let mut row = make(KeyState::Current)?;
            row.activated_at = Some(now);
            insert(conn, &row)?;
        }
        insert(conn, &make(KeyState::Next)?)?;
        Ok(())
    })
}

/// Revokes a key in one write: it is no longer published or accepted, and its private
/// part is erased. A revoked current key is replaced by the next one, a revoked next key
/// by a new one (from `make`), so that there is always a current and a next key. Returns
/// the key's state before, or `None` if there is no such key.
pub fn revoke(
    conn: &mut DbConnection,
    kid: &str,
    now: Timestamp,
    make: &dyn Fn(KeyState) -> Result<KeyRow>,
) -> Result<Option<KeyState>> {
    write(conn, |conn| {
        let Some(state) = signing_keys::table
            .find(kid)
            .select(signing_keys::state)
            .first::<String>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let state = KeyState::try_from(state).map_err(crate::error::Error::internal)?;
        if state == KeyState::Revoked {
            return Ok(Some(state));
        }
        diesel::update(signing_keys::table.find(kid))
            .set((
                signing_keys::state.eq(KeyState::Revoked.as_str()),
                signing_keys::retired_at.eq(now),
                signing_keys::private_key.eq(""),
            ))
            .execute(conn)?;
        if state == KeyState::Current {
            diesel::update(
                signing_keys::table.filter(signing_keys::state.eq(KeyState::Next.as_str())),
            )
            .set((
                signing_keys::state.eq(KeyState::Current.as_str()),
                signing_keys::activated_at.eq(now),
            ))
            .execute(conn)?;
        }
        if matches!(state, KeyState::Current | KeyState::Next) {
            insert(conn, &make(KeyState::Next)?)?;
        }
        Ok(Some(state))
    })
}

/// Replaces the stored (sealed) material of a key; the key itself does not change.
pub fn set_private_key(conn: &mut DbConnection, kid: &str, private_key: &str) -> Result<()> {
    diesel::update(signing_keys::table.find(kid))
        .set(signing_keys::private_key.eq(private_key))
        .execute(conn)?;
    Ok(())
}
