//! `/oauth2/code`: a code or token for the signed-in user of a first-party app, without
//! the pages, when the user already granted what is asked.

use super::{holdable_by, issue_code, remembered_covers, Context, SessionUser};
use crate::error::{Error, Result};
use crate::protocol::authorize::{self, AuthorizationRequest, ResponseMode};
use crate::protocol::client::RedirectUri;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::time::Timestamp;
use crate::service;

/// What `/oauth2/code` hands a first-party app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutKind {
    Code,
    Token,
}

/// What a shortcut code is bound to, as an authorization request's code would be.
#[derive(Debug, Clone, Default)]
pub struct CodeBinding {
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
}

/// The first-party shortcut: a code or token for the signed-in user, only when the user
/// already granted these scopes to the client (or it is a first-party client).
pub fn shortcut(
    issuer: &service::issue::Issuer<'_>,
    client_id: &str,
    scope: Option<&str>,
    kind: ShortcutKind,
    binding: CodeBinding,
    user: &SessionUser,
    now: Timestamp,
) -> Result<String> {
    let db = issuer.db;
    let client = service::clients::get(db, None, client_id)
        .map_err(|_| Error::OAuth(OAuthError::invalid_request("the client is not registered")))?;
    let scope = crate::protocol::grant::allowed_scope(&client, scope.unwrap_or(""))?;
    let scope = holdable_by(db, &user.id, &scope)?;
    let granted = remembered_covers(db, &user.id, &client.id, &scope)?;
    if !granted && !client.skip_consent {
        return Err(Error::OAuth(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not granted these scopes to this client",
        )));
    }
    match kind {
        ShortcutKind::Token => Ok(issuer
            .for_session_user(&client, &user.id, &scope, user.auth_time, now)?
            .access_token
            .into_exposed()),
        ShortcutKind::Code => {
            let code_challenge = authorize::pkce_challenge(
                &client,
                binding.code_challenge.as_deref().filter(|c| !c.is_empty()),
                binding
                    .code_challenge_method
                    .as_deref()
                    .filter(|m| !m.is_empty()),
            )?
            .map(str::to_owned);
            if binding.nonce.as_ref().is_some_and(|n| n.len() > 512) {
                return Err(
                    OAuthError::invalid_request("nonce is longer than 512 characters").into(),
                );
            }
            // A code is bound to a redirect URI the token request may repeat; the
            // client's first is the one the shortcut stands for.
            let first = client.redirect_uris.first().ok_or_else(|| {
                OAuthError::invalid_request(
                    "the client has no registered redirect_uri, so it cannot be given a code",
                )
            })?;
            let redirect_uri = RedirectUri::registered(first).map_err(Error::internal)?;
            let req = AuthorizationRequest {
                client_id: client.id.clone(),
                redirect_uri,
                redirect_uri_given: false,
                response_mode: ResponseMode::Query,
                scope: scope.clone(),
                state: None,
                nonce: binding.nonce.filter(|n| !n.is_empty()),
                code_challenge,
                prompt: Vec::new(),
                max_age: None,
                login_hint: None,
                id_token_hint: None,
            };
            let cx = Context {
                db,
                settings: issuer.settings,
                now,
            };
            issue_code(cx, &client, &req, user, false)
        }
    }
}
