//! The refresh grant with rotation (RFC 6749 §6, RFC 9700 §4.14.2).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::{invalid_grant, Issue, Issuer};
use crate::error::{Error, Result};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::{Client, GrantType};
use crate::protocol::error::ErrorCode;
use crate::protocol::exchange::{may_repeat_successor, refreshed_scope};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::protocol::token::TokenKind;
use crate::service::grants::ACCESS_TIME_RESOLUTION;
use crate::service::tokens::TokenResponse;
use crate::storage::tokens::{self as store, TokenRow};
use crate::storage::{grants, users, DbConnection};

impl Issuer<'_> {
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
        // A concurrent redemption can win between our read and our update; the next
        // attempt then finds the successor it stored (the grace window).
        for _ in 0..3 {
            let mut conn = self.db.conn()?;
            let record = store::find(&mut conn, &hash)?
                .ok_or_else(|| invalid_grant("the refresh token is invalid"))?;
            let t = &record.token;
            if t.kind != TokenKind::Refresh || t.client_id != client.id {
                return Err(invalid_grant("the refresh token is invalid"));
            }
            if t.revoked_at.is_some() || t.expires_at <= now {
                return Err(invalid_grant("the refresh token is expired or revoked"));
            }
            if let Some(rotated_at) = t.rotated_at {
                return self.presented_again(&mut conn, t, rotated_at, refresh_token, now);
            }
            let granted = ScopeSet::parse(&t.scope).map_err(Error::internal)?;
            let scope = refreshed_scope(&granted, requested_scope)?;
            let user_id = t
                .user_id
                .clone()
                .ok_or_else(|| invalid_grant("the refresh token has no user"))?;
            let user = users::find_remembered_on(self.db, &mut conn, &user_id)?
                .ok_or_else(|| invalid_grant("the user no longer exists"))?;
            // The committer needs a connection of the same pool while this request waits.
            drop(conn);
            let family = t.family_id.clone().unwrap_or_else(secret::new_id);
            let grant_id = t.grant_id.clone().unwrap_or_default();
            let extra = ExtraClaims::from_stored(record.session_claims.as_deref())
                .map_err(Error::internal)?;
            let sign_in = SignInMethod::from_stored(t.sign_in.as_deref());
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
                extra: &extra,
                sign_in: &sign_in,
            };
            let response = self.prepare(&what, &key, now)?;
            let sealed = seal_successor(refresh_token, &response)?;
            let successor_hash = response
                .refresh_token
                .as_ref()
                .map(|t| secret::token_hash(t.expose_str()))
                .unwrap_or_default();
            let rows = self.rows(&what, &grant_id, &response, now);
            // The grant's last use is kept to the minute, as for token uses: a busy
            // grant is not written by every refresh (nor locked by every node's commit).
            let note_use = record
                .grant_access_time
                .is_none_or(|t| t < now - ACCESS_TIME_RESOLUTION);
            let spent = hash.clone();
            // Spending the old token and storing its successors is one transaction in the
            // next group commit: of two concurrent redemptions only one marks it rotated.
            let rotated = self.db.change_grouped(move |tx| {
                if !store::mark_rotated(tx, &spent, &sealed, &successor_hash, now)? {
                    return Ok(false);
                }
                store::insert_all(tx.conn(), &rows)?;
                if note_use {
                    grants::touch_if_stale(tx.conn(), &grant_id, now, ACCESS_TIME_RESOLUTION)?;
                }
                Ok(true)
            })?;
            if rotated {
                return Ok(response);
            }
        }
        Err(invalid_grant("the refresh token could not be redeemed"))
    }

    /// A refresh token that was already rotated. A parallel retry may get the same
    /// successor back, but only while the successor itself is unused: once it has been
    /// redeemed (or revoked), the old token coming back means two parties hold the
    /// family, and the family is revoked.
    fn presented_again(
        &self,
        conn: &mut DbConnection,
        t: &TokenRow,
        rotated_at: Timestamp,
        refresh_token: &str,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        let successor_unused = match &t.successor_hash {
            Some(next) => store::find(conn, next)?
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
            self.db
                .change_on(conn, |tx| store::revoke_family(tx, family, now))?;
        }
        Err(invalid_grant(
            "the refresh token was already used; its family is revoked",
        ))
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
