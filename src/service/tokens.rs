//! Issuing, checking, revoking and removing tokens.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::protocol::client::{AuthMethod, Client, ClientType};
use crate::protocol::credentials::ClientCredentials;
use crate::protocol::error::OAuthError;
use crate::protocol::grant;
use crate::protocol::principal::{Principal, PrincipalUser};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{self, Secret, ACCESS_TOKEN_PREFIX};
use crate::protocol::time::Timestamp;
use crate::storage::commits::PendingToken;
use crate::storage::tokens::{self as store, TokenRecord, ACCESS};
use crate::storage::{clients, Db};

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    #[schema(value_type = String)]
    pub access_token: Secret<String>,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<Secret<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub id_token: Option<Secret<String>>,
}

/// Authenticates a client at a protocol endpoint. Unknown clients, wrong secrets and
/// confidential clients that send no secret all get the same `invalid_client`.
pub fn authenticate_client(db: &Db, credentials: &ClientCredentials) -> Result<Client> {
    let failed = || Error::OAuth(OAuthError::invalid_client("client authentication failed"));
    // Read afresh: this path runs argon2 anyway, and a secret rotated by another process
    // must work here at once.
    let stored = clients::find_and_remember(db, credentials.client_id())?;
    match (credentials, stored) {
        (
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. },
            Some(stored),
        ) => match confidential_hash(&stored) {
            Some(hash)
                if super::credentials::verify_client_secret(
                    &stored.client.id,
                    secret.expose_str(),
                    hash,
                ) =>
            {
                Ok(stored.client)
            }
            _ => Err(failed()),
        },
        (
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. },
            None,
        ) => {
            secret::verify_against_dummy(secret.expose_str());
            Err(failed())
        }
        (ClientCredentials::None { .. }, Some(stored))
            if stored.client.client_type == ClientType::Public =>
        {
            Ok(stored.client)
        }
        (ClientCredentials::None { .. }, _) => Err(failed()),
    }
}

/// The stored secret hash of a client that authenticates with a secret.
fn confidential_hash(stored: &clients::StoredClient) -> Option<&str> {
    let confidential = stored.client.client_type == ClientType::Confidential
        && stored.client.auth_method != AuthMethod::None;
    stored.secret_hash.as_deref().filter(|_| confidential)
}

/// Authenticates a client without touching the database or running argon2: succeeds
/// only when the client is remembered and its secret was verified recently. `None`
/// means "ask [`authenticate_client`]", which also decides every failure, so a wrong
/// secret always pays a full argon2id verification.
pub fn authenticate_client_from_memory(db: &Db, credentials: &ClientCredentials) -> Option<Client> {
    let stored = clients::remembered(db, credentials.client_id())?;
    match credentials {
        ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => {
            let hash = confidential_hash(&stored)?;
            super::credentials::verified_recently(&stored.client.id, secret.expose_str(), hash)
                .then_some(stored.client)
        }
        ClientCredentials::None { .. } => {
            (stored.client.client_type == ClientType::Public).then_some(stored.client)
        }
    }
}

/// The `client_credentials` grant (RFC 6749 §4.4) for an authenticated client. The token
/// is written through the group committer and is durable when this returns.
pub async fn client_credentials(
    db: &Db,
    client: &Client,
    requested_scope: Option<&str>,
    ttl: Duration,
    now: Timestamp,
) -> Result<TokenResponse> {
    let scope = grant::client_credentials_scope(client, requested_scope)?.to_string();
    let token = secret::new_token(ACCESS_TOKEN_PREFIX);
    let row = PendingToken {
        hash: secret::token_hash(&token),
        client_id: client.id.clone(),
        scope: scope.clone(),
        issued_at: now,
        expires_at: now + ttl.as_secs() as i64,
    };
    db.committer()?.insert(row).await?;
    Ok(TokenResponse {
        access_token: Secret::new(token),
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs(),
        scope,
        refresh_token: None,
        id_token: None,
    })
}

/// Resolves a bearer token to the principal it acts for: the user it was issued to, or
/// for a machine token the owner of its client (the system when nobody owns it), with
/// their rights as they are now.
pub fn principal(db: &Db, bearer: &str, now: Timestamp) -> Result<Principal> {
    let invalid = || Error::Unauthorized {
        description: "the access token is invalid, expired or revoked".into(),
        invalid_token: true,
    };
    let hash = secret::token_hash(bearer);
    let record = store::find_remembered(db, &hash)?.ok_or_else(invalid)?;
    if record.token.kind != ACCESS || !record.is_active(now) {
        return Err(invalid());
    }
    let scope = ScopeSet::parse(&record.token.scope).map_err(Error::internal_msg)?;
    note_use(db, &hash, &record, now)?;
    let (user, user_token) = match (record.token.user_id, record.username) {
        (Some(id), Some(username)) => (
            Some(PrincipalUser {
                id,
                username,
                is_admin: record.user_is_admin,
            }),
            true,
        ),
        _ => {
            let client = clients::find_remembered(db, &record.token.client_id)?
                .ok_or_else(invalid)?
                .client;
            let owner = match (client.owner, client.owner_id) {
                (Some(username), Some(id)) => Some(PrincipalUser {
                    id,
                    username,
                    is_admin: client.owner_is_admin,
                }),
                _ => None,
            };
            (owner, false)
        }
    };
    Ok(Principal {
        client_id: record.token.client_id,
        user,
        scope,
        user_token,
    })
}

/// Whether using this token now should move its grant's last-used time.
fn use_is_news(record: &TokenRecord, now: Timestamp) -> bool {
    record.token.grant_id.is_some()
        && record
            .grant_access_time
            .is_some_and(|t| t < now - super::grants::ACCESS_TIME_RESOLUTION)
}

/// Moves the grant's last-used time, at most once a minute. The time read with the token
/// decides, so that most uses of a token write nothing at all.
fn note_use(db: &Db, hash: &[u8], record: &TokenRecord, now: Timestamp) -> Result<()> {
    if let (Some(grant_id), true) = (&record.token.grant_id, use_is_news(record, now)) {
        crate::storage::grants::touch_if_stale(
            &mut *db.conn()?,
            grant_id,
            now,
            super::grants::ACCESS_TIME_RESOLUTION,
        )?;
        store::remember_grant_use(db, hash, now);
    }
    Ok(())
}

/// An introspection answer (RFC 7662 §2.2). Inactive tokens say only `active: false`.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_use: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
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
    let scope = ScopeSet::parse(&record.token.scope).map_err(Error::internal_msg)?;
    if required.is_some_and(|r| !r.is_subset(&scope)) {
        return Ok(Introspection::default());
    }
    Ok(active_view(record, issuer))
}

fn active_view(record: &TokenRecord, issuer: &str) -> Introspection {
    // Field by field: the row also holds the encrypted successor of a refresh token.
    let t = &record.token;
    let is_access = t.kind == ACCESS;
    Introspection {
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
    }
}

/// Revokes a token of the authenticated client (RFC 7009). Unknown tokens are not an
/// error (§2.2); another client's token is refused and left alone.
pub fn revoke(db: &Db, client: &Client, token: &str, now: Timestamp) -> Result<()> {
    let hash = secret::token_hash(token);
    let mut conn = db.conn()?;
    let Some(record) = store::find(&mut conn, &hash)? else {
        return Ok(());
    };
    // Another client's token is left alone, and answered like an unknown one (RFC 7009
    // §2.2): the answer must not tell a client which tokens exist.
    if record.token.client_id != client.id {
        return Ok(());
    }
    // Revoking a refresh token ends the whole grant it belongs to (RFC 7009 §2.1).
    match (&record.token.family_id, record.token.kind.as_str()) {
        (Some(family), store::REFRESH) => store::revoke_family(&mut conn, family, now)?,
        _ => usize::from(store::revoke(&mut conn, &hash, now)?),
    };
    Ok(())
}

/// Batch size for deletions: small enough that no single statement holds a write lock
/// long enough to delay token requests noticeably.
pub const FLUSH_BATCH: i64 = 1000;

/// Rest between batches, with the connection handed back: writers waiting for the lock
/// (SQLite has one) get their turn instead of racing a clean-up that never lets go.
const FLUSH_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// What a flush removed.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Flushed {
    /// Tokens that expired or were revoked before the cut-off.
    pub deleted: u64,
    /// Authorization codes that expired before it, used or not.
    pub codes_deleted: u64,
    /// Sign-in and consent requests that expired before it.
    pub flows_deleted: u64,
    /// Browser sessions that expired before it.
    pub sessions_deleted: u64,
    /// Account-wide sign-in counters with nothing left to say (failures forgotten, known
    /// networks unused for 90 days).
    pub guards_deleted: u64,
}

/// Deletes tokens that expired or were revoked before `before`, and codes and pending
/// sign-in requests that expired before it, in batches.
pub fn flush(db: &Db, before: Timestamp) -> Result<Flushed> {
    Ok(Flushed {
        deleted: in_batches(db, "tokens", |c| store::flush_batch(c, before, FLUSH_BATCH))?,
        codes_deleted: in_batches(db, "codes", |c| {
            crate::storage::codes::delete_expired(c, before, FLUSH_BATCH)
        })?,
        flows_deleted: in_batches(db, "sign-in requests", |c| {
            crate::storage::flows::delete_expired(c, before, FLUSH_BATCH)
        })?,
        sessions_deleted: in_batches(db, "sessions", |c| {
            crate::storage::sessions::delete_expired(c, before, FLUSH_BATCH)
        })?,
        // Counters are live data, not expired records: a cut-off in the future must not
        // clear them.
        guards_deleted: in_batches(db, "sign-in counters", |c| {
            crate::storage::guards::delete_stale(
                c,
                before.min(crate::protocol::time::now()),
                FLUSH_BATCH,
            )
        })?,
    })
}

/// Runs `batch` (one short statement) until it removes fewer than [`FLUSH_BATCH`] rows,
/// each on a connection of its own, resting between batches. Long runs log their
/// progress, and how long the slowest batch took (the longest any writer could have
/// waited for it).
fn in_batches(
    db: &Db,
    what: &'static str,
    batch: impl Fn(&mut crate::storage::DbConnection) -> Result<u64>,
) -> Result<u64> {
    const REPORT_EVERY: u64 = 100;
    let (mut total, mut batches, mut slowest) = (0, 0u64, std::time::Duration::ZERO);
    loop {
        let started = std::time::Instant::now();
        let removed = batch(&mut *db.conn()?)?;
        slowest = slowest.max(started.elapsed());
        total += removed;
        batches += 1;
        if removed < FLUSH_BATCH as u64 {
            if batches > 1 {
                tracing::info!(
                    removed = total,
                    batches,
                    slowest_batch_ms = (slowest.as_secs_f64() * 10_000.0).round() / 10.0,
                    "removed expired {what}"
                );
            }
            return Ok(total);
        }
        if batches % REPORT_EVERY == 0 {
            tracing::info!(removed = total, "removing expired {what}");
        }
        std::thread::sleep(FLUSH_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_response_prints_no_token_but_serializes_every_one() {
        let response = TokenResponse {
            access_token: Secret::new("S3CRET-access".into()),
            token_type: "Bearer".into(),
            expires_in: 60,
            scope: "openid".into(),
            refresh_token: Some(Secret::new("S3CRET-refresh".into())),
            id_token: Some(Secret::new("S3CRET-id".into())),
        };
        let printed = format!("{response:?}");
        assert!(!printed.contains("S3CRET"), "{printed}");
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["access_token"], "S3CRET-access");
        assert_eq!(json["refresh_token"], "S3CRET-refresh");
        assert_eq!(json["id_token"], "S3CRET-id");
    }

    #[test]
    fn client_credentials_print_no_secret() {
        let credentials = ClientCredentials::from_request(None, Some("app"), Some("S3CRET-client"))
            .unwrap()
            .unwrap();
        assert!(!format!("{credentials:?}").contains("S3CRET"));
    }
}
