//! An external login app (`PORTCULLIS_LOGIN_URL`): instead of the sign-in page, the flow
//! hands it a challenge; it reads the request and names who signed in through the admin
//! API, and the browser comes back with a verifier that signs that person in to the flow.

use super::consent_request::{oidc_context, request_url, OidcContext};
use super::{app_refusal, hash_hex, load_flow, Browser, Context, Outcome, SessionUser};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize::{AuthorizationRequest, Prompt};
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::service;
use crate::storage::flows::{self, FlowRow};
use crate::storage::Db;

/// What is kept on the flow for the login app: what it is told, then its answer.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(super) struct LoginState {
    /// The browser's signed-in user when the app was asked, if any…
    pub session_subject: Option<String>,
    /// …her session, and when she signed in to it.
    pub session: Option<String>,
    pub session_auth_time: Option<Timestamp>,
    pub session_method: Option<SignInMethod>,
    /// That user may be taken as she is: only an account choice was asked for.
    pub skip: bool,
    pub answer: Option<LoginAnswer>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct LoginAnswer {
    /// The challenge answered, shown to the consent app as `login_challenge`.
    pub challenge: String,
    /// The user who signed in; none when the app rejected the request.
    pub user_id: Option<String>,
    pub remember: bool,
    pub remember_for: Option<i64>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// When she signed in: her session's time when the app took her as she was (a
    /// skip); none: when the browser comes back.
    #[serde(default)]
    pub auth_time: Option<Timestamp>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl LoginState {
    pub(super) fn read(flow: &FlowRow) -> Result<Self> {
        match &flow.login_state {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(text).map_err(Error::internal),
        }
    }

    /// The browser's user, while the session she had when the app was asked lives: one
    /// that has since signed out or been ended is nobody's to skip to.
    pub(super) fn live_subject(&self, db: &Db, now: Timestamp) -> Result<Option<&str>> {
        let (Some(user_id), Some(session)) = (&self.session_subject, &self.session) else {
            return Ok(None);
        };
        Ok(service::sessions::is_live(db, user_id, session, now)?.then_some(user_id.as_str()))
    }
}

/// The login app's accepted answer for this flow, once the browser has brought it back
/// and while the flow is still the answer's user's.
pub(super) fn signed_in_by_app(flow: &FlowRow) -> Result<Option<LoginAnswer>> {
    if flow.login_verifier.is_some() || flow.login_challenge.is_some() {
        return Ok(None);
    }
    Ok(LoginState::read(flow)?
        .answer
        .filter(|a| a.user_id.is_some() && a.user_id == flow.user_id))
}

/// Hands the sign-in to the external login app through a single-use challenge.
/// `session_user` is who the browser is signed in as, when a new sign-in is asked of her.
pub(super) fn delegate(
    cx: Context<'_>,
    login_url: &str,
    flow: &str,
    req: &AuthorizationRequest,
    session_user: Option<&SessionUser>,
) -> Result<Outcome> {
    let forced = req.has_prompt(Prompt::Login)
        || session_user.is_some_and(|u| req.max_age.is_some_and(|max| cx.now - u.auth_time > max));
    let state = LoginState {
        session_subject: session_user.map(|u| u.id.clone()),
        session: session_user.and_then(|u| u.session.clone()),
        session_auth_time: session_user.map(|u| u.auth_time),
        session_method: session_user.map(|u| u.method.clone()),
        skip: session_user.is_some() && !forced,
        answer: None,
    };
    let challenge = secret::random_string(32);
    let stored = serde_json::to_string(&state).map_err(Error::internal)?;
    flows::set_login_challenge(&mut *cx.db.conn()?, flow, &hash_hex(&challenge), &stored)?;
    let mut url = url::Url::parse(login_url).map_err(Error::internal)?;
    url.query_pairs_mut()
        .append_pair("login_challenge", &challenge);
    Ok(Outcome::External(url.into()))
}

pub(super) fn pending(
    db: &Db,
    challenge: &str,
    now: Timestamp,
) -> Result<(FlowRow, AuthorizationRequest)> {
    let flow = flows::find_by_login_challenge(&mut *db.conn()?, &hash_hex(challenge), now)?
        .ok_or_else(|| Error::NotFound("the login request does not exist or has expired".into()))?;
    if flow.login_verifier.is_some() {
        return Err(Error::Conflict(
            "the login request was already answered".into(),
        ));
    }
    let req: AuthorizationRequest = serde_json::from_str(&flow.request).map_err(Error::internal)?;
    Ok((flow, req))
}

/// What the external login app reads about a pending sign-in.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LoginRequestView {
    pub challenge: String,
    pub client: service::clients::AppCard,
    pub requested_scope: Vec<String>,
    /// The browser is signed in as `subject` and only an account choice
    /// (`prompt=select_account`) was asked: the app may accept her without asking for
    /// credentials again.
    pub skip: bool,
    /// The browser's signed-in user, when there is one.
    pub subject: Option<String>,
    pub username: Option<String>,
    pub oidc_context: OidcContext,
    /// The authorization request as this server understood it.
    pub request_url: String,
    pub requested_at: String,
    pub expires_at: String,
}

pub fn login_request_view(
    db: &Db,
    settings: &Settings,
    challenge: &str,
    now: Timestamp,
) -> Result<LoginRequestView> {
    let (flow, req) = pending(db, challenge, now)?;
    let state = LoginState::read(&flow)?;
    let client = service::clients::get(db, None, &flow.client_id)?;
    let subject = state.live_subject(db, now)?;
    let username = match subject {
        Some(id) => service::users::find(db, id)?.map(|u| u.username),
        None => None,
    };
    let subject = subject.filter(|_| username.is_some()).map(str::to_owned);
    Ok(LoginRequestView {
        challenge: challenge.to_owned(),
        client: service::clients::AppCard::new(&client, &settings.issuer),
        requested_scope: req.scope.iter().map(str::to_owned).collect(),
        skip: state.skip && subject.is_some(),
        subject,
        username,
        oidc_context: oidc_context(db, settings, &req, now)?,
        request_url: request_url(&settings.issuer, &req)?,
        requested_at: to_rfc3339(flow.created_at),
        expires_at: to_rfc3339(flow.expires_at),
    })
}

/// What the browser's return from the login app comes to.
#[derive(Debug)]
pub enum LoginReturn {
    /// The user signed in to the flow; with `remember`, the browser should keep a
    /// session of `session_ttl` seconds.
    SignedIn {
        user_id: String,
        method: SignInMethod,
        remember: Option<i64>,
    },
    /// The login app refused: send the browser back to the client with the error.
    Refused(Outcome),
}

/// Takes the login app's answer when the browser returns with the verifier it handed out.
pub fn return_from_login(
    db: &Db,
    settings: &Settings,
    flow_id: &str,
    verifier: &str,
    browser: &Browser,
    now: Timestamp,
) -> Result<LoginReturn> {
    let (flow, req, _) = load_flow(db, flow_id, browser, now)?;
    let unusable = || Error::InvalidRequest("the sign-in answer cannot be used from here".into());
    let expected = flow.login_verifier.as_deref().ok_or_else(unusable)?;
    let given = hash_hex(verifier);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(unusable());
    }
    let answer = LoginState::read(&flow)?.answer.ok_or_else(unusable)?;
    let Some(user_id) = answer.user_id else {
        if !flows::delete(&mut *db.conn()?, &flow.id)? {
            return Err(unusable());
        }
        return Ok(LoginReturn::Refused(app_refusal(
            &req,
            answer.error,
            answer.error_description,
            "the sign-in did not succeed",
            &settings.issuer,
        )));
    };
    if service::users::find(db, &user_id)?.is_none() {
        return Err(Error::InvalidRequest(
            "the account signed in has been deleted".into(),
        ));
    }
    let auth_time = answer.auth_time.unwrap_or(now);
    let method = SignInMethod {
        acr: answer.acr.clone(),
        amr: answer.amr.clone(),
    };
    let stored = method.stored();
    let mut conn = db.conn()?;
    if !flows::complete_login(
        &mut conn,
        &flow.id,
        &given,
        &user_id,
        auth_time,
        stored.as_deref(),
    )? {
        return Err(unusable());
    }
    // A skip keeps the session she has; a new sign-in starts one when asked to.
    let lifetime = settings.session_ttl.as_secs() as i64;
    let remember = (answer.remember && answer.auth_time.is_none())
        .then(|| answer.remember_for.map_or(lifetime, |s| s.min(lifetime)));
    Ok(LoginReturn::SignedIn {
        user_id,
        method,
        remember,
    })
}
