//! The built-in consent page: what it shows, and the person's answer.

use super::{
    holdable_by, issue_code, load_flow, redirect_error, Browser, ClientResponse, Context, Outcome,
};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::client::{Client, RedirectUri};
use crate::protocol::error::ErrorCode;
use crate::protocol::scope::ScopeSet;
use crate::protocol::time::Timestamp;
use crate::storage::{flows, Db};

/// What the consent page shows.
pub struct ConsentRequest {
    pub flow: String,
    pub client: Client,
    pub scope: ScopeSet,
    pub user_id: String,
    /// Where the answer goes: the redirect URI this request was matched against.
    pub redirect_uri: RedirectUri,
}

/// Loads a flow waiting for consent. `None` user means the browser must sign in first.
pub fn consent_request(
    db: &Db,
    flow_id: &str,
    browser: &Browser,
    now: Timestamp,
) -> Result<Option<ConsentRequest>> {
    let (flow, req, client) = load_flow(db, flow_id, browser, now)?;
    let user_id = flow
        .user_id
        .clone()
        .or_else(|| browser.user.as_ref().map(|u| u.id.clone()));
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    Ok(Some(ConsentRequest {
        flow: flow.id,
        client,
        scope: holdable_by(db, &user_id, req.scope_set())?,
        user_id,
        redirect_uri: req.redirect_uri,
    }))
}

/// The user's answer on the consent page.
pub fn answer_consent(
    db: &Db,
    settings: &Settings,
    flow_id: &str,
    browser: &Browser,
    allow: bool,
    remember: bool,
    now: Timestamp,
) -> Result<Outcome> {
    if settings.consent_url.is_some() {
        return Err(Error::Forbidden(
            "consent is given through the consent app".into(),
        ));
    }
    let cx = Context { db, settings, now };
    let (flow, req, client) = load_flow(db, flow_id, browser, now)?;
    let Some(user) = super::flow_user(&flow).or_else(|| browser.user.clone()) else {
        return Ok(Outcome::Login { flow: flow.id });
    };
    // Deleting the flow first makes the answer single-use, even under double submits.
    if !flows::delete(&mut *db.conn()?, &flow.id)? {
        return Err(Error::InvalidRequest(
            "this request was already answered".into(),
        ));
    }
    if !allow {
        return Ok(redirect_error(
            &req,
            ErrorCode::AccessDenied,
            "the user denied the request",
            &settings.issuer,
        ));
    }
    let code = issue_code(cx, &client, &req, &user, remember)?;
    Ok(Outcome::Respond(ClientResponse::code(
        &req,
        code,
        &settings.issuer,
    )))
}
