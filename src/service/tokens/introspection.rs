//! Token introspection (RFC 7662).

use serde::Serialize;

use super::{note_use, use_is_news};
use crate::error::{Error, Result};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::Client;
use crate::protocol::error::OAuthError;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::protocol::token::TokenKind;
use crate::storage::tokens::{self as store, TokenRecord};
use crate::storage::Db;

/// An introspection answer (RFC 7662 §2.2). Inactive tokens say only `active: false`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub username: Option<String>,
    pub token_type: Option<String>,
    /// `access_token` or `refresh_token`.
    pub token_use: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub iss: Option<String>,
    /// Claims a consent app added to the access tokens of the grant (RFC 7662 §2.2
    /// allows extensions).
    #[schema(value_type = Option<Object>)]
    pub ext: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Who asks to introspect: a client may see only its own tokens; a bearer token with
/// `tokens:introspect` may see any.
pub enum Introspector {
    Client(Box<Client>),
    Privileged,
}

pub fn introspect(
    db: &Db,
    caller: &Introspector,
    token: &str,
    required_scope: Option<&str>,
    issuer: &str,
    now: Timestamp,
) -> Result<Introspection> {
    let required = required_scope_of(required_scope)?;
    let hash = secret::token_hash(token);
    let record = store::find_remembered(db, &hash)?;
    let answer = judge(caller, record.as_ref(), required.as_ref(), issuer, now)?;
    if let (true, Some(record)) = (answer.active, &record) {
        note_use(db, &hash, record, now)?;
    }
    Ok(answer)
}

/// [`introspect`] answered from memory alone, when that is possible: the token was read
/// recently and using it writes nothing. `None` means "ask [`introspect`]".
pub fn introspect_from_memory(
    db: &Db,
    caller: &Introspector,
    token: &str,
    required_scope: Option<&str>,
    issuer: &str,
    now: Timestamp,
) -> Option<Result<Introspection>> {
    let required = match required_scope_of(required_scope) {
        Ok(r) => r,
        Err(e) => return Some(Err(e)),
    };
    let record = store::remembered(db, &secret::token_hash(token))?;
    let answer = judge(caller, Some(&record), required.as_ref(), issuer, now);
    // Only an active answer notes the use, which may need a write.
    match &answer {
        Ok(a) if a.active && use_is_news(&record, now) => None,
        _ => Some(answer),
    }
}

fn required_scope_of(required_scope: Option<&str>) -> Result<Option<ScopeSet>> {
    required_scope
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| Error::OAuth(OAuthError::invalid_request(format!("scope: {e}"))))
}

/// What introspection says about a stored token (or none) to this caller.
fn judge(
    caller: &Introspector,
    record: Option<&TokenRecord>,
    required: Option<&ScopeSet>,
    issuer: &str,
    now: Timestamp,
) -> Result<Introspection> {
    let Some(record) = record else {
        return Ok(Introspection::default());
    };
    if let Introspector::Client(client) = caller {
        if client.id != record.token.client_id {
            return Ok(Introspection::default());
        }
    }
    if !record.is_active(now) {
        return Ok(Introspection::default());
    }
    let scope = ScopeSet::parse(&record.token.scope).map_err(Error::internal)?;
    if required.is_some_and(|r| !r.is_subset(&scope)) {
        return Ok(Introspection::default());
    }
    active_view(record, issuer)
}

fn active_view(record: &TokenRecord, issuer: &str) -> Result<Introspection> {
    // Field by field: the row also holds the encrypted successor of a refresh token.
    let t = &record.token;
    let is_access = t.kind == TokenKind::Access;
    let extra = ExtraClaims::from_stored(record.session_claims.as_deref())
        .map_err(Error::internal)?
        .access_token;
    Ok(Introspection {
        ext: (is_access && !extra.is_empty()).then_some(extra),
        active: true,
        scope: Some(t.scope.clone()),
        sub: Some(t.user_id.clone().unwrap_or_else(|| t.client_id.clone())),
        client_id: Some(t.client_id.clone()),
        username: record.username.clone(),
        token_type: is_access.then(|| "Bearer".to_owned()),
        token_use: Some(
            if is_access {
                "access_token"
            } else {
                "refresh_token"
            }
            .to_owned(),
        ),
        exp: Some(t.expires_at),
        iat: Some(t.issued_at),
        iss: Some(issuer.to_owned()),
    })
}
