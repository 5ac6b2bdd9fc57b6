//! The user grants of the token endpoint: authorization code (RFC 6749 §4.1.3, RFC 7636
//! §4.6), refresh with rotation (RFC 9700 §4.14.2) and resource owner password (§4.3),
//! one file each; this one makes and stores the tokens they issue.

mod code;
mod password;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use super::keys::Signer;
use super::tokens::TokenResponse;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::claims::{self, AccessTokenJwt, ExtraClaims, IdTokenInput, UserClaims};
use crate::protocol::client::{Client, TokenFormat};
use crate::protocol::error::ErrorCode;
use crate::protocol::keys::SigningKey;
use crate::protocol::principal::{holdable, role_of_user};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{self, Secret, ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX};
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::storage::tokens::{self as store, OwnedToken, ACCESS, REFRESH};
use crate::storage::users::{self, UserRecord};
use crate::storage::{grants, write, Db, DbConnection};

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
    /// What a consent app added to the grant's tokens.
    extra: &'a ExtraClaims,
    /// How the user signed in, for ID tokens.
    sign_in: &'a SignInMethod,
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
                    extra: what.extra,
                },
            )
            .map_err(Error::internal)?,
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
                        extra: what.extra,
                        acr: what.sign_in.acr.as_deref(),
                        amr: &what.sign_in.amr,
                    },
                )
                .map_err(Error::internal)?,
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

    /// Stores prepared tokens under `grant_id`, in the caller's transaction, and notes
    /// the grant's use.
    fn persist(
        &self,
        conn: &mut DbConnection,
        what: &Issue<'_>,
        grant_id: &str,
        response: &TokenResponse,
        now: Timestamp,
    ) -> Result<()> {
        store::insert_all(conn, &self.rows(what, grant_id, response, now))?;
        grants::touch(conn, grant_id, now)
    }

    /// The rows of prepared tokens, to be stored under `grant_id`.
    fn rows(
        &self,
        what: &Issue<'_>,
        grant_id: &str,
        response: &TokenResponse,
        now: Timestamp,
    ) -> Vec<OwnedToken> {
        let refresh_scope = match what.refresh_scope {
            Some(granted) => holdable(granted, role_of_user(what.user.is_admin)).to_string(),
            None => response.scope.clone(),
        };
        let row = |token: &str, kind: &'static str, scope: &str, ttl: Duration| OwnedToken {
            hash: secret::token_hash(token),
            kind,
            client_id: what.client.id.clone(),
            user_id: Some(what.user.id.clone()),
            grant_id: Some(grant_id.to_owned()),
            family_id: Some(what.family_id.to_owned()),
            scope: scope.to_owned(),
            issued_at: now,
            expires_at: now + Self::ttl(ttl),
            auth_time: Some(what.auth_time),
            // Only a refresh issues ID tokens again later.
            sign_in: what.sign_in.stored().filter(|_| kind == REFRESH),
        };
        let mut rows = vec![row(
            response.access_token.expose_str(),
            ACCESS,
            &response.scope,
            self.settings.access_token_ttl,
        )];
        if let Some(refresh) = &response.refresh_token {
            rows.push(row(
                refresh.expose_str(),
                REFRESH,
                &refresh_scope,
                self.settings.refresh_token_ttl,
            ));
        }
        rows
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

impl Issuer<'_> {
    /// An access token for a signed-in user of a first-party app (`/oauth2/code`).
    pub fn for_session_user(
        &self,
        client: &Client,
        user_id: &str,
        scope: &ScopeSet,
        auth_time: Timestamp,
        sign_in: &SignInMethod,
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
            extra: &ExtraClaims::default(),
            sign_in,
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
