//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).

use super::{invalid_grant, Issue, Issuer};
use crate::error::{Error, Result};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::{Client, GrantType};
use crate::protocol::error::ErrorCode;
use crate::protocol::exchange::{check_code_exchange, CodeRefusal, IssuedCode};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::service::tokens::TokenResponse;
use crate::storage::tokens as store;
use crate::storage::{codes, grants, users};

impl Issuer<'_> {
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
                self.db.change_on(&mut conn, |tx| {
                    store::revoke_family(tx, &row.family_id, now)
                })?;
            }
            return Err(Error::OAuth(refusal.to_oauth()));
        }
        let user = users::find_remembered_on(self.db, &mut conn, &row.user_id)?
            .ok_or_else(|| invalid_grant("the user no longer exists"))?;
        let scope = ScopeSet::parse(&row.scope).map_err(Error::internal)?;
        let stored = grants::session_claims(&mut conn, &row.grant_id)?;
        let extra = ExtraClaims::from_stored(stored.as_deref()).map_err(Error::internal)?;
        let sign_in = SignInMethod::from_stored(row.sign_in.as_deref());
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
            extra: &extra,
            sign_in: &sign_in,
        };
        let response = self.prepare(&what, &key, now)?;
        let rows = self.rows(&what, &row.grant_id, &response, now);
        // The committer needs a connection of the same pool while this request waits.
        drop(conn);
        // Consuming the code and storing its tokens is one transaction: whoever consumes
        // first wins, and a concurrent second exchange counts as a replay. The grant's
        // use time was set when the code was issued, moments ago.
        let consumed = self.db.committer()?.run_blocking(move |conn| {
            if !codes::consume(conn, &hash, now)? {
                return Ok(false);
            }
            store::insert_all(conn, &rows)?;
            Ok(true)
        })?;
        if !consumed {
            self.db
                .change(|tx| store::revoke_family(tx, &row.family_id, now))?;
            return Err(Error::OAuth(CodeRefusal::Replayed.to_oauth()));
        }
        Ok(response)
    }
}
