//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which client asks, and
//! whether the browser may be sent back to it afterwards.
//!
//! A registered `post_logout_redirect_uri` is honoured only for a signed-in user who has
//! a grant for that client (and, when an `id_token_hint` is given, is the user it names).
//! Otherwise anyone could send people through "Sign out" to a URI of her own client, a
//! one-click open redirect; a hint alone proves nothing about the person at the
//! browser, since anyone can get an ID token for a client of her own.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::{grants, Db};

/// A logout request as the relying party sent it.
#[derive(Debug, Default, Clone)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
}

/// What the sign-out page may show and do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogoutTarget {
    /// The client, when the request names one that exists.
    pub client_id: Option<String>,
    /// Its name, shown only when the request is proven to come from it.
    pub client_name: Option<String>,
    /// Where to go after signing out, when registered and proven.
    pub redirect: Option<String>,
}

/// The hint's client and user; an error unless it is an ID token of this issuer.
fn read_hint(
    db: &Db,
    issuer: &str,
    hint: &str,
    max_token_ttl: Duration,
    now: Timestamp,
) -> Result<(String, Option<String>)> {
    service::keys::read_id_token_hint(db, issuer, hint, max_token_ttl, now)?
        .and_then(|h| Some((h.client_id?, h.subject)))
        .ok_or_else(|| {
            Error::InvalidRequest("id_token_hint is not an ID token from this issuer".into())
        })
}

/// Checks a logout request. `signed_in` is the browser's user, if any.
pub fn check(
    db: &Db,
    issuer: &str,
    max_token_ttl: Duration,
    request: &LogoutRequest,
    signed_in: Option<&str>,
    now: Timestamp,
) -> Result<LogoutTarget> {
    let hinted = request
        .id_token_hint
        .as_deref()
        .map(|hint| read_hint(db, issuer, hint, max_token_ttl, now))
        .transpose()?;
    let client_id = match (
        &request.client_id,
        hinted.as_ref().map(|(client, _)| client),
    ) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Err(Error::InvalidRequest(
                "client_id does not match the id_token_hint".into(),
            ))
        }
        (Some(given), _) => given.clone(),
        (None, Some(hinted)) => hinted.clone(),
        (None, None) if request.post_logout_redirect_uri.is_some() => {
            return Err(Error::InvalidRequest(
                "post_logout_redirect_uri needs a client_id or an id_token_hint".into(),
            ))
        }
        (None, None) => return Ok(LogoutTarget::default()),
    };
    let client = service::clients::get(db, None, &client_id).map_err(|e| match e {
        Error::NotFound(_) => Error::InvalidRequest("unknown client_id".into()),
        other => other,
    })?;
    if let Some(uri) = &request.post_logout_redirect_uri {
        if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
            return Err(Error::InvalidRequest(
                "post_logout_redirect_uri is not registered for this client".into(),
            ));
        }
    }
    let proven = match signed_in {
        Some(user) => {
            let hint_names_user = hinted
                .as_ref()
                .is_none_or(|(_, subject)| subject.as_deref() == Some(user));
            hint_names_user && grants::find(&mut *db.conn()?, user, &client.id)?.is_some()
        }
        None => false,
    };
    Ok(LogoutTarget {
        client_id: Some(client.id),
        client_name: proven.then_some(client.name),
        redirect: request.post_logout_redirect_uri.clone().filter(|_| proven),
    })
}
