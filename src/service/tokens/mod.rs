//! Issuing, checking, revoking and removing tokens: client authentication, the
//! client_credentials grant, bearer tokens, revocation here; [`introspection`] and the
//! clean-up ([`flush`]) beside it.

mod flush;
mod introspection;

pub use flush::{flush, Flushed, FLUSH_BATCH};
pub use introspection::{introspect, introspect_from_memory, Introspection, Introspector};

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::{AuthMethod, Client, ClientType};
use crate::protocol::credentials::ClientCredentials;
use crate::protocol::error::OAuthError;
use crate::protocol::grant;
use crate::protocol::principal::{Principal, PrincipalUser};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{self, Secret, ACCESS_TOKEN_PREFIX};
use crate::protocol::time::Timestamp;
use crate::protocol::token::TokenKind;
use crate::storage::tokens::{self as store, OwnedToken, TokenRecord};
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
                if db
                    .verified_secrets()
                    .verify(&stored.client.id, secret.expose_str(), hash) =>
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
            db.verified_secrets()
                .verified_recently(&stored.client.id, secret.expose_str(), hash)
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
    let row = OwnedToken::machine(
        secret::token_hash(&token),
        &client.id,
        &scope,
        now,
        now + ttl.as_secs() as i64,
    );
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
    let invalid = Error::invalid_token;
    let hash = secret::token_hash(bearer);
    let record = store::find_remembered(db, &hash)?.ok_or_else(invalid)?;
    if record.token.kind != TokenKind::Access || !record.is_active(now) {
        return Err(invalid());
    }
    let scope = ScopeSet::parse(&record.token.scope).map_err(Error::internal)?;
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
        auth_time: record.token.auth_time.filter(|_| user_token),
        client_id: record.token.client_id,
        user,
        scope,
        user_token,
    })
}

/// The claims a consent app added to the grant of an access token (none for a token
/// without one); read from memory when the token was just used.
pub fn session_claims(db: &Db, bearer: &str) -> Result<ExtraClaims> {
    let record = store::find_remembered(db, &secret::token_hash(bearer))?;
    ExtraClaims::from_stored(record.and_then(|r| r.session_claims).as_deref())
        .map_err(Error::internal)
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
    match (&record.token.family_id, record.token.kind) {
        (Some(family), TokenKind::Refresh) => {
            db.change_on(&mut conn, |tx| store::revoke_family(tx, family, now))?
        }
        _ => usize::from(db.change_on(&mut conn, |tx| store::revoke(tx, &hash, now))?),
    };
    Ok(())
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
