//! The user grants of the token endpoint: authorization code (RFC 6749 §4.1.3, RFC 7636
//! §4.6), refresh with rotation (RFC 9700 §4.14.2) and resource owner password (§4.3).

use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::keys::Signer;
use super::tokens::TokenResponse;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::claims::{self, AccessTokenJwt, IdTokenInput, UserClaims};
use crate::protocol::client::{Client, GrantType, TokenFormat};
use crate::protocol::error::ErrorCode;
use crate::protocol::exchange::{
    check_code_exchange, may_repeat_successor, refreshed_scope, CodeRefusal, IssuedCode,
};
use crate::protocol::grant::allowed_scope;
use crate::protocol::keys::SigningKey;
use crate::protocol::principal::{holdable, role_of_user};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{self, Secret, ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::protocol::time::Timestamp;
use crate::storage::tokens::{self as store, NewToken, ACCESS, REFRESH};
use crate::storage::users::{self, UserRecord};
use crate::storage::{codes, grants, write, Db, DbConnection};

/// What the token endpoint needs besides the request.
pub struct Issuer<'a> {
    pub db: &'a Db,
    pub settings: &'a Settings,
    pub signer: &'a Signer,
}

fn invalid_grant(description: &'static str) -> Error {
    Error::oauth(ErrorCode::InvalidGrant, description)
}

/// Everything a set of tokens is issued for.
struct Issue<'a> {
    client: &'a Client,
    user: &'a UserRecord,
    /// The access token's scope (cut to what the user may hold when it is issued).
    scope: &'a ScopeSet,
    /// The refresh token's, when it differs: a refresh that narrows the access token
    /// keeps the granted scope for the next refresh (RFC 6749 §6).
    refresh_scope: Option<&'a ScopeSet>,
    family_id: &'a str,
    auth_time: Timestamp,
    nonce: Option<&'a str>,
    refresh: bool,
}

impl Issuer<'_> {
    fn ttl(d: Duration) -> i64 {
        d.as_secs() as i64
    }

    /// The signing key, loaded before a transaction begins: a transaction holds its
    /// pooled connection, and asking the pool for a second one inside it can exhaust the
    /// pool under load.
    fn key(&self) -> Result<Arc<SigningKey>> {
        self.signer.current(self.db)
    }

    /// Makes the tokens (and signs what needs signing) without touching the database, so
    /// that no write transaction waits on a signature.
    fn prepare(
        &self,
        what: &Issue<'_>,
        signing_key: &Arc<SigningKey>,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        let s = self.settings;
        let scope = holdable(what.scope, role_of_user(what.user.is_admin));
        let scope_text = scope.to_string();
        let access_ttl = Self::ttl(s.access_token_ttl);
        let access_token = match what.client.access_token_format {
            TokenFormat::Jwt => claims::access_token_jwt(
                signing_key,
                &AccessTokenJwt {
                    issuer: &s.issuer,
                    audience: s.audience(),
                    client_id: &what.client.id,
                    subject: &what.user.id,
                    scope: &scope_text,
                    now,
                    ttl_secs: access_ttl,
                    auth_time: Some(what.auth_time),
                },
            )
            .map_err(Error::internal_msg)?,
            TokenFormat::Opaque => secret::new_token(ACCESS_TOKEN_PREFIX),
        };
        let refresh_token = what
            .refresh
            .then(|| secret::new_token(REFRESH_TOKEN_PREFIX));
        let id_token = if scope.contains("openid") {
            Some(
                claims::id_token(
                    signing_key,
                    &IdTokenInput {
                        issuer: &s.issuer,
                        client_id: &what.client.id,
                        user: &user_claims(what.user),
                        scope: &scope,
                        nonce: what.nonce,
                        auth_time: what.auth_time,
                        now,
                        ttl_secs: Self::ttl(s.id_token_ttl),
                        access_token: Some(&access_token),
                    },
                )
                .map_err(Error::internal_msg)?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token: Secret::new(access_token),
            token_type: "Bearer".into(),
            expires_in: access_ttl as u64,
            scope: scope_text,
            refresh_token: refresh_token.map(Secret::new),
            id_token: id_token.map(Secret::new),
        })
    }

    /// Stores prepared tokens under `grant_id`, in the caller's transaction.
    fn persist(
        &self,
        conn: &mut DbConnection,
        what: &Issue<'_>,
        grant_id: &str,
        response: &TokenResponse,
        now: Timestamp,
    ) -> Result<()> {
        let refresh_scope = match what.refresh_scope {
            Some(granted) => holdable(granted, role_of_user(what.user.is_admin)).to_string(),
            None => response.scope.clone(),
        };
        let mut store_token = |token: &str, kind: &str, scope: &str, ttl: Duration| {
            store::insert(
                conn,
                &NewToken {
                    hash: &secret::token_hash(token),
                    kind,
                    client_id: &what.client.id,
                    user_id: Some(&what.user.id),
                    grant_id: Some(grant_id),
                    family_id: Some(what.family_id),
                    scope,
                    issued_at: now,
                    expires_at: now + Self::ttl(ttl),
                    auth_time: Some(what.auth_time),
                },
            )
        };
        store_token(
            response.access_token.expose_str(),
            ACCESS,
            &response.scope,
            self.settings.access_token_ttl,
        )?;
        if let Some(refresh) = &response.refresh_token {
            store_token(
                refresh.expose_str(),
                REFRESH,
                &refresh_scope,
                self.settings.refresh_token_ttl,
            )?;
        }
        grants::touch(conn, grant_id, now)
    }

    /// Exchanges an authorization code. A second use of a code fails and revokes what the
    /// first exchange issued (RFC 6749 §4.1.2).
    pub fn authorization_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(Error::oauth(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization_code grant",
            ));
        }
        let hash = secret::token_hash(code);
        let key = self.key()?;
        let mut conn = self.db.conn()?;
        let row =
            codes::find(&mut conn, &hash)?.ok_or_else(|| invalid_grant("the code is invalid"))?;
        let issued = IssuedCode {
            client_id: &row.client_id,
            redirect_uri: &row.redirect_uri,
            redirect_uri_given: row.redirect_uri_given,
            code_challenge: row.code_challenge.as_deref(),
            used: row.used_at.is_some(),
            expires_at: row.expires_at,
        };
        if let Err(refusal) =
            check_code_exchange(&issued, &client.id, redirect_uri, code_verifier, now)
        {
            if refusal == CodeRefusal::Replayed {
                store::revoke_family(&mut conn, &row.family_id, now)?;
            }
            return Err(Error::OAuth(refusal.to_oauth()));
        }
        let user = users::find_by_id(&mut conn, &row.user_id)?
            .ok_or_else(|| invalid_grant("the user no longer exists"))?;
        let scope = ScopeSet::parse(&row.scope).map_err(Error::internal_msg)?;
        let what = Issue {
            client,
            user: &user,
            scope: &scope,
            refresh_scope: None,
            family_id: &row.family_id,
            auth_time: row.auth_time,
            nonce: row.nonce.as_deref(),
            refresh: scope.contains("offline_access")
                && client.allows_grant(GrantType::RefreshToken),
        };
        let response = self.prepare(&what, &key, now)?;
        // Consuming the code and storing its tokens is one transaction: whoever consumes
        // first wins, and a concurrent second exchange counts as a replay.
        let consumed = write(&mut conn, |conn| {
            if !codes::consume(conn, &hash, now)? {
                return Ok(false);
            }
            self.persist(conn, &what, &row.grant_id, &response, now)?;
            Ok(true)
        })?;
        if !consumed {
            store::revoke_family(&mut conn, &row.family_id, now)?;
            return Err(Error::OAuth(CodeRefusal::Replayed.to_oauth()));
        }
        Ok(response)
    }

    /// Redeems a refresh token for a new pair. The old token is spent; presenting it again
    /// after the grace window revokes the whole family.
    pub fn refresh(
        &self,
        client: &Client,
        refresh_token: &str,
        requested_scope: Option<&str>,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(Error::oauth(
                ErrorCode::UnauthorizedClient,
                "the client may not use the refresh_token grant",
            ));
        }
        let hash = secret::token_hash(refresh_token);
        let key = self.key()?;
        let mut conn = self.db.conn()?;
        // A concurrent redemption can win between our read and our update; the next
        // attempt then finds the successor it stored (the grace window).
        for _ in 0..3 {
            let record = store::find(&mut conn, &hash)?
                .ok_or_else(|| invalid_grant("the refresh token is invalid"))?;
            let t = &record.token;
            if t.kind != REFRESH || t.client_id != client.id {
                return Err(invalid_grant("the refresh token is invalid"));
            }
            if t.revoked_at.is_some() || t.expires_at <= now {
                return Err(invalid_grant("the refresh token is expired or revoked"));
            }
            if let Some(rotated_at) = t.rotated_at {
                // A parallel retry may get the same successor back, but only while the
                // successor itself is unused: once it has been redeemed (or revoked),
                // the old token coming back means two parties hold the family.
                let successor_unused = match &t.successor_hash {
                    Some(next) => store::find(&mut conn, next)?
                        .is_some_and(|n| n.token.rotated_at.is_none() && n.is_active(now)),
                    None => false,
                };
                let grace = self.settings.refresh_grace.as_secs() as i64;
                if may_repeat_successor(successor_unused, rotated_at, grace, now) {
                    if let Some(response) = t
                        .successor
                        .as_deref()
                        .and_then(|s| open_successor(refresh_token, s))
                    {
                        return Ok(response);
                    }
                }
                if let Some(family) = &t.family_id {
                    store::revoke_family(&mut conn, family, now)?;
                }
                return Err(invalid_grant(
                    "the refresh token was already used; its family is revoked",
                ));
            }
            let granted = ScopeSet::parse(&t.scope).map_err(Error::internal_msg)?;
            let scope = refreshed_scope(&granted, requested_scope)?;
            let user_id = t
                .user_id
                .clone()
                .ok_or_else(|| invalid_grant("the refresh token has no user"))?;
            let user = users::find_by_id(&mut conn, &user_id)?
                .ok_or_else(|| invalid_grant("the user no longer exists"))?;
            let family = t.family_id.clone().unwrap_or_else(secret::new_id);
            let grant_id = t.grant_id.clone().unwrap_or_default();
            let what = Issue {
                client,
                user: &user,
                scope: &scope,
                refresh_scope: Some(&granted),
                family_id: &family,
                auth_time: t.auth_time.unwrap_or(t.issued_at),
                nonce: None,
                // The refresh keeps the original grant's offline access.
                refresh: true,
            };
            let response = self.prepare(&what, &key, now)?;
            let sealed = seal_successor(refresh_token, &response)?;
            let successor_hash = response
                .refresh_token
                .as_ref()
                .map(|t| secret::token_hash(t.expose_str()))
                .unwrap_or_default();
            let rotated = write(&mut conn, |conn| {
                if !store::mark_rotated(conn, &hash, &sealed, &successor_hash, now)? {
                    return Ok(false);
                }
                self.persist(conn, &what, &grant_id, &response, now)?;
                Ok(true)
            })?;
            if rotated {
                return Ok(response);
            }
        }
        Err(invalid_grant("the refresh token could not be redeemed"))
    }

    /// The resource owner password grant, for clients that explicitly list it.
    pub fn password(
        &self,
        client: &Client,
        username: &str,
        password: &str,
        network: &str,
        requested_scope: Option<&str>,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        if !client.allows_grant(GrantType::Password) {
            return Err(Error::oauth(
                ErrorCode::UnauthorizedClient,
                "the client may not use the password grant",
            ));
        }
        let scope = match requested_scope {
            None => client.scope.clone(),
            Some(text) => allowed_scope(client, text)?,
        };
        let user = match super::users::sign_in(self.db, username, password, network, now)? {
            super::users::SignIn::Accepted(user) => user,
            super::users::SignIn::Wrong => {
                return Err(invalid_grant("the username or password is wrong"))
            }
            super::users::SignIn::Delayed(seconds) => return Err(Error::TooManyRequests(seconds)),
        };
        let refresh =
            scope.contains("offline_access") && client.allows_grant(GrantType::RefreshToken);
        let key = self.key()?;
        let family = secret::new_id();
        let what = Issue {
            client,
            user: &user,
            scope: &scope,
            refresh_scope: None,
            family_id: &family,
            auth_time: now,
            nonce: None,
            refresh,
        };
        let response = self.prepare(&what, &key, now)?;
        write(&mut *self.db.conn()?, |conn| {
            let grant_id = grants::upsert(
                conn,
                &user.id,
                &client.id,
                &scope.to_string(),
                false,
                now,
                now,
            )?;
            self.persist(conn, &what, &grant_id, &response, now)
        })?;
        Ok(response)
    }
}

pub fn user_claims(user: &UserRecord) -> UserClaims {
    UserClaims {
        sub: user.id.clone(),
        username: user.username.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        phone_number: user.phone_number.clone(),
        address: user.address.clone(),
        updated_at: user.updated_at,
    }
}

/// The successor of a rotated refresh token is kept encrypted under a key derived from
/// the rotated token itself: only someone presenting that token can read it, and the
/// database alone reveals nothing.
fn successor_cipher(refresh_token: &str) -> Aes256Gcm {
    let key = Sha256::new()
        .chain_update(b"portcullis refresh successor v1\0")
        .chain_update(refresh_token.as_bytes())
        .finalize();
    Aes256Gcm::new(&key)
}

fn seal_successor(refresh_token: &str, response: &TokenResponse) -> Result<String> {
    let mut nonce = [0u8; 12];
    secret::fill_random(&mut nonce);
    let plaintext = serde_json::to_vec(response).map_err(Error::internal)?;
    let ciphertext = successor_cipher(refresh_token)
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_slice())
        .map_err(|_| Error::internal_msg("sealing the refresh successor failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend(ciphertext);
    Ok(STANDARD.encode(out))
}

fn open_successor(refresh_token: &str, sealed: &str) -> Option<TokenResponse> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let plaintext = successor_cipher(refresh_token)
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .ok()?;
    serde_json::from_slice(&plaintext).ok()
}

impl Issuer<'_> {
    /// An access token for a signed-in user of a first-party app (`/oauth2/code`).
    pub fn for_session_user(
        &self,
        client: &Client,
        user_id: &str,
        scope: &ScopeSet,
        auth_time: Timestamp,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        let key = self.key()?;
        let user = users::find_by_id(&mut *self.db.conn()?, user_id)?
            .ok_or_else(|| invalid_grant("the user no longer exists"))?;
        let family = secret::new_id();
        let what = Issue {
            client,
            user: &user,
            scope,
            refresh_scope: None,
            family_id: &family,
            auth_time,
            nonce: None,
            refresh: false,
        };
        let response = self.prepare(&what, &key, now)?;
        write(&mut *self.db.conn()?, |conn| {
            let grant_id = match grants::find(conn, user_id, &client.id)? {
                Some(g) => g.id,
                None => grants::upsert(
                    conn,
                    user_id,
                    &client.id,
                    &scope.to_string(),
                    false,
                    auth_time,
                    now,
                )?,
            };
            self.persist(conn, &what, &grant_id, &response, now)
        })?;
        Ok(response)
    }
}
