//! Consent given through a first-party app's own screen (`POST /api/consent`): the app,
//! holding a token of the user with `consent:grant`, records her decision and receives
//! the code the authorization response would carry.

use super::{holdable_by, issue_code, CodeTerms, Context, SessionUser};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize;
use crate::protocol::client::GrantType;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::principal::{Principal, Role};
use crate::protocol::scope::CONSENT_GRANT;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::Db;

/// What the first-party app asks for, as the authorization request named it.
#[derive(Debug, Clone, Default)]
pub struct ConsentGrant {
    pub client_id: String,
    pub scope: String,
    pub redirect_uri: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// Skip asking next time for these scopes, as "Remember this decision" does.
    pub remember: bool,
}

/// Records the user's consent to `grant` and issues its code. The same rules hold as on
/// the pages: a registered redirect URI matched exactly, PKCE (S256) for public clients,
/// only scopes the client registered and the user may hold.
pub fn grant_by_api(
    db: &Db,
    settings: &Settings,
    app: &Principal,
    user: &SessionUser,
    grant: ConsentGrant,
    now: Timestamp,
) -> Result<String> {
    let cx = Context { db, settings, now };
    // The scope alone is not enough: the app holding it must be one an admin vouches
    // for (nobody's, or an admin's), whoever registered it and whatever it was granted.
    let first_party = service::clients::get(db, None, &app.client_id)?;
    if first_party.acting_role() == Role::User {
        return Err(Error::OAuth(OAuthError::new(
            ErrorCode::InsufficientScope,
            format!("{CONSENT_GRANT} counts only for apps that nobody or an admin owns"),
        )));
    }
    let unknown = || Error::OAuth(OAuthError::invalid_request("the client is not registered"));
    let client = service::clients::get(cx.db, None, &grant.client_id).map_err(|_| unknown())?;
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(Error::OAuth(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        )));
    }
    let scope = crate::protocol::grant::allowed_scope(&client, &grant.scope)?;
    let openid = scope.contains("openid");
    let redirect_uri =
        authorize::resolve_redirect_uri(&client, grant.redirect_uri.as_deref(), openid)?;
    let code_challenge = authorize::pkce_challenge(
        &client,
        grant.code_challenge.as_deref().filter(|c| !c.is_empty()),
        grant
            .code_challenge_method
            .as_deref()
            .filter(|m| !m.is_empty()),
    )?;
    let nonce = grant.nonce.as_deref().filter(|n| !n.is_empty());
    if nonce.is_some_and(|n| n.len() > 512) {
        return Err(OAuthError::invalid_request("nonce is longer than 512 characters").into());
    }
    let scope = holdable_by(cx.db, &user.id, &scope)?;
    let terms = CodeTerms {
        redirect_uri: Some(&redirect_uri),
        redirect_uri_given: grant.redirect_uri.is_some(),
        scope: &scope,
        nonce,
        code_challenge,
    };
    issue_code(cx, &client, terms, user, grant.remember)
}
