//! The signing key ring: creating, rotating, publishing and caching keys.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet};
use openidconnect::{JsonWebKey, PrivateSigningKey};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::protocol::keys::{self, Algorithm, KeyState, SigningKey};
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::service::master_key;
use crate::storage::keys::{self as store, KeyRow};
use crate::storage::Db;

/// How long a node keeps using the signing key it loaded before looking again. A
/// rotation on another node is picked up within this bound; the key it promotes was
/// already published as `next`, so relying parties can verify either way.
pub const SIGNER_CACHE: Duration = Duration::from_secs(5);

/// A new key of `alg`, its private part sealed under the master key.
fn new_row(db: &Db, alg: Algorithm, state: KeyState, now: Timestamp) -> Result<KeyRow> {
    let kid = keys::new_kid();
    let material = keys::generate(alg).map_err(Error::internal)?;
    let private_key = master_key::seal(
        db,
        &master_key::signing_key_purpose(&kid),
        material.as_bytes(),
    )?;
    Ok(KeyRow {
        kid,
        alg: alg.as_str().to_owned(),
        private_key,
        state,
        created_at: now,
        activated_at: None,
        retired_at: None,
    })
}

/// Creates the current and next keys if the database has none (first start).
pub fn ensure(db: &Db, now: Timestamp) -> Result<()> {
    store::ensure(&mut *db.conn()?, now, &|state| {
        new_row(db, Algorithm::Rs256, state, now)
    })
}

/// next → current, current → retired, and a new next key of `alg` (default: the
/// algorithm of the key being promoted).
pub fn rotate(db: &Db, alg: Option<Algorithm>, now: Timestamp) -> Result<()> {
    let mut conn = db.conn()?;
    let existing = store::all(&mut conn)?;
    let alg = alg
        .or_else(|| {
            existing
                .iter()
                .find(|k| k.state == KeyState::Next)
                .and_then(|k| Algorithm::parse(&k.alg))
        })
        .unwrap_or(Algorithm::Rs256);
    store::rotate(&mut conn, now, &|state| new_row(db, alg, state, now))
}

/// Takes a key out of use at once: out of the JWKS and no longer accepted in an
/// `id_token_hint`, on every node (they read the published keys from the database); a
/// node that cached it as its signer stops signing with it within [`SIGNER_CACHE`].
/// Tokens it signed no longer verify.
pub fn revoke(db: &Db, kid: &str, now: Timestamp) -> Result<KeyState> {
    let mut conn = db.conn()?;
    let existing = store::all(&mut conn)?;
    let alg = existing
        .iter()
        .find(|k| k.kid == kid)
        .and_then(|k| Algorithm::parse(&k.alg))
        .unwrap_or(Algorithm::Rs256);
    store::revoke(&mut conn, kid, now, &|state| new_row(db, alg, state, now))?
        .ok_or_else(|| Error::not_found("signing key", kid))
}

/// A key as `keys list` shows it: never the private part.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub retired_at: Option<String>,
}

pub fn list(db: &Db) -> Result<Vec<KeyView>> {
    Ok(store::all(&mut *db.conn()?)?
        .into_iter()
        .map(|k| KeyView {
            kid: k.kid,
            alg: k.alg,
            state: k.state.to_string(),
            created_at: to_rfc3339(k.created_at),
            activated_at: k.activated_at.map(to_rfc3339),
            retired_at: k.retired_at.map(to_rfc3339),
        })
        .collect())
}

/// A stored key, opened with the master key and parsed, once per database
/// ([`store::ParsedKeys`]).
fn load(db: &Db, row: &KeyRow) -> Result<Arc<SigningKey>> {
    if let Some(key) = db.parsed_keys().get(&row.kid, &row.alg) {
        return Ok(key);
    }
    let alg = Algorithm::parse(&row.alg)
        .ok_or_else(|| Error::internal_msg(format!("key {} has an unknown alg", row.kid)))?;
    let material = master_key::open(
        db,
        &master_key::signing_key_purpose(&row.kid),
        &row.private_key,
    )?;
    let material = String::from_utf8(material)
        .map_err(|_| Error::internal_msg(format!("key {} is not text", row.kid)))?;
    let key = Arc::new(SigningKey::load(&row.kid, alg, &material).map_err(Error::internal)?);
    db.parsed_keys().keep(&row.kid, &row.alg, key.clone());
    Ok(key)
}

/// The JWKS: next, current and recently retired keys. `max_token_ttl` is the longest
/// lifetime of anything signed, so that no valid token's key disappears.
pub fn jwks(db: &Db, max_token_ttl: Duration, now: Timestamp) -> Result<CoreJsonWebKeySet> {
    let rows = store::published(&mut *db.conn()?, now - max_token_ttl.as_secs() as i64)?;
    let keys: Vec<CoreJsonWebKey> = rows
        .iter()
        .map(|row| load(db, row))
        .collect::<Result<Vec<_>>>()?
        .iter()
        .map(|k| k.as_verification_key())
        .collect();
    Ok(CoreJsonWebKeySet::new(keys))
}

/// Algorithms of the keys currently published.
pub fn algorithms(db: &Db, max_token_ttl: Duration, now: Timestamp) -> Result<Vec<String>> {
    let mut algs: Vec<String> =
        store::published(&mut *db.conn()?, now - max_token_ttl.as_secs() as i64)?
            .into_iter()
            .map(|k| k.alg)
            .collect();
    algs.sort();
    algs.dedup();
    Ok(algs)
}

/// Verifies a compact JWS signed by one of the published keys and returns its payload.
/// Expiry is not checked: callers decide what an old token may still prove.
pub fn verify_own_jwt(
    db: &Db,
    token: &str,
    max_token_ttl: Duration,
    now: Timestamp,
) -> Result<Option<serde_json::Value>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let Some(header) = b64
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
    else {
        return Ok(None);
    };
    let (Some(kid), Some(alg)) = (
        header["kid"].as_str(),
        header["alg"].as_str().and_then(Algorithm::parse),
    ) else {
        return Ok(None);
    };
    let Ok(signature) = b64.decode(signature) else {
        return Ok(None);
    };
    let rows = store::published(&mut *db.conn()?, now - max_token_ttl.as_secs() as i64)?;
    let Some(row) = rows.iter().find(|r| r.kid == kid && r.alg == alg.as_str()) else {
        return Ok(None);
    };
    let key = load(db, row)?.as_verification_key();
    let input = &token[..header_len(token)];
    if key
        .verify_signature(&alg.jws(), input.as_bytes(), &signature)
        .is_err()
    {
        return Ok(None);
    }
    Ok(b64
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok()))
}

/// Verifies an `id_token_hint`: an ID token this server signed. JWT access tokens are
/// signed by the same keys, so their type (`at+jwt`, RFC 9068 §2.1) is refused here, and
/// so is anything without an audience.
pub fn verify_id_token_hint(
    db: &Db,
    token: &str,
    max_token_ttl: Duration,
    now: Timestamp,
) -> Result<Option<serde_json::Value>> {
    use base64::Engine;
    let header = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
    let typ = header
        .as_ref()
        .and_then(|h| h["typ"].as_str())
        .map(|t| t.to_ascii_lowercase());
    if matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Ok(None);
    }
    Ok(verify_own_jwt(db, token, max_token_ttl, now)?
        .filter(|payload| payload.get("aud").is_some() && payload.get("client_id").is_none()))
}

/// What an `id_token_hint` says: the user it names and the client it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub subject: Option<String>,
    /// The first audience.
    pub client_id: Option<String>,
}

/// Reads an `id_token_hint` (OpenID Connect Core §3.1.2.1, RP-Initiated Logout §2):
/// `None` unless it is an ID token signed here for `issuer`.
pub fn read_id_token_hint(
    db: &Db,
    issuer: &str,
    token: &str,
    max_token_ttl: Duration,
    now: Timestamp,
) -> Result<Option<IdTokenHint>> {
    let Some(payload) =
        verify_id_token_hint(db, token, max_token_ttl, now)?.filter(|p| p["iss"] == issuer)
    else {
        return Ok(None);
    };
    let client_id = match &payload["aud"] {
        serde_json::Value::String(a) => Some(a.clone()),
        serde_json::Value::Array(list) => list.first().and_then(|a| a.as_str()).map(str::to_owned),
        _ => None,
    };
    Ok(Some(IdTokenHint {
        subject: payload["sub"].as_str().map(str::to_owned),
        client_id,
    }))
}

/// Length of `header.payload`, the signed part of a compact JWS.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

/// The key that signs now, reloaded from the database at most every [`SIGNER_CACHE`].
pub struct Signer {
    cached: RwLock<Option<(Instant, Arc<SigningKey>)>>,
}

impl Default for Signer {
    fn default() -> Self {
        Self {
            cached: RwLock::new(None),
        }
    }
}

impl Signer {
    pub fn current(&self, db: &Db) -> Result<Arc<SigningKey>> {
        if let Ok(guard) = self.cached.read() {
            if let Some((at, key)) = guard.as_ref() {
                if at.elapsed() < SIGNER_CACHE {
                    return Ok(key.clone());
                }
            }
        }
        let rows = store::all(&mut *db.conn()?)?;
        let row = rows
            .iter()
            .find(|k| k.state == KeyState::Current)
            .ok_or_else(|| Error::internal_msg("there is no current signing key".into()))?;
        let key = load(db, row)?;
        if let Ok(mut guard) = self.cached.write() {
            *guard = Some((Instant::now(), key.clone()));
        }
        Ok(key)
    }
}
