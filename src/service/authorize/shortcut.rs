//! `/oauth2/code`: a code or token for the signed-in user of a first-party app, without
//! the pages, when the user already granted what is asked.

use super::{holdable_by, issue_code, remembered_covers, CodeTerms, Context, SessionUser};
use crate::error::{Error, Result};
use crate::protocol::authorize;
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
    let granted = remembered_covers(db, &user.id, &client.id, &scope, now)?;
    if !granted && !client.skip_consent {
        return Err(Error::OAuth(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the user has not granted these scopes to this client",
        )));
    }
    match kind {
        ShortcutKind::Token => Ok(issuer
            .for_session_user(&client, &user.id, &scope, user.auth_time, &user.method, now)?
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
            // The shortcut stands for the client's first registered redirect URI,
            // which the token request may repeat.
            let redirect_uri = client
                .redirect_uris
                .first()
                .map(|first| RedirectUri::registered(first))
                .transpose()
                .map_err(Error::internal)?;
            let nonce = binding.nonce.filter(|n| !n.is_empty());
            let terms = CodeTerms {
                redirect_uri: redirect_uri.as_ref(),
                redirect_uri_given: false,
                scope: &scope,
                nonce: nonce.as_deref(),
                code_challenge: code_challenge.as_deref(),
            };
            let cx = Context {
                db,
                settings: issuer.settings,
                now,
            };
            issue_code(cx, &client, terms, user, false)
        }
    }
}
