//! An external login app (`PORTCULLIS_LOGIN_URL`): instead of the sign-in page, the flow
//! hands it a challenge; it reads the request and names who signed in through the admin
//! API, and the browser comes back with a verifier that signs that person in to the flow.

use super::consent_app::{check_error_code, checked_remember_for};
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
use crate::storage::users::{self as user_store, UserRecord};
use crate::storage::Db;

/// What is kept on the flow for the login app: what it is told, then its answer.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(super) struct LoginState {
    /// The browser's signed-in user when the app was asked, if any…
    session_subject: Option<String>,
    /// …her session, and when she signed in to it.
    session: Option<String>,
    session_auth_time: Option<Timestamp>,
    session_method: Option<SignInMethod>,
    /// That user may be taken as she is: only an account choice was asked for.
    skip: bool,
    answer: Option<LoginAnswer>,
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
    fn read(flow: &FlowRow) -> Result<Self> {
        match &flow.login_state {
            None => Ok(Self::default()),
            Some(text) => serde_json::from_str(text).map_err(Error::internal),
        }
    }

    /// The browser's user, while the session she had when the app was asked lives: one
    /// that has since signed out or been ended is nobody's to skip to.
    fn live_subject(&self, db: &Db, now: Timestamp) -> Result<Option<&str>> {
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

fn pending(db: &Db, challenge: &str, now: Timestamp) -> Result<(FlowRow, AuthorizationRequest)> {
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

/// The login app's answer to a challenge.
#[derive(Debug, Clone)]
pub enum LoginDecision {
    /// `subject` signed in: an existing user's `sub` or username (or, when the server
    /// allows it, an outside identifier recorded as a new user).
    Accept {
        subject: String,
        /// Keep her signed in in this browser (a session, as the sign-in page starts).
        remember: bool,
        /// With `remember`: how long the session lasts, in seconds (at most the
        /// session lifetime; none or 0: the session lifetime).
        remember_for: Option<i64>,
        acr: Option<String>,
        amr: Option<Vec<String>>,
    },
    /// The sign-in failed or was abandoned: the client gets `error` (default
    /// `access_denied`).
    Reject {
        error: Option<String>,
        error_description: Option<String>,
    },
}

/// Records the login app's decision and returns where to send the browser.
pub fn answer_login(
    db: &Db,
    settings: &Settings,
    challenge: &str,
    decision: LoginDecision,
    now: Timestamp,
) -> Result<String> {
    let (flow, _) = pending(db, challenge, now)?;
    let mut state = LoginState::read(&flow)?;
    let mut new_user = None;
    let answer = match decision {
        LoginDecision::Accept {
            subject,
            remember,
            remember_for,
            acr,
            amr,
        } => {
            let user_id = match find_subject(db, &subject)? {
                Some(id) => id,
                None if settings.login_app_creates_users => {
                    let record = outside_user(&subject, now)?;
                    let id = record.id.clone();
                    new_user = Some(record);
                    id
                }
                None => {
                    return Err(Error::InvalidRequest(
                        "subject is not a user of this server".into(),
                    ))
                }
            };
            let (mut acr, mut amr) = (checked_acr(acr)?, checked_amr(amr.unwrap_or_default())?);
            // Taken as she was: her sign-in is the session's, not a new one.
            let auth_time = match state.live_subject(db, now)? {
                Some(live) if state.skip && live == user_id => state.session_auth_time,
                _ => None,
            };
            if let (Some(_), Some(method), None, true) =
                (auth_time, &state.session_method, &acr, amr.is_empty())
            {
                (acr, amr) = (method.acr.clone(), method.amr.clone());
            }
            LoginAnswer {
                challenge: challenge.to_owned(),
                user_id: Some(user_id),
                auth_time,
                remember,
                remember_for: checked_remember_for(remember_for)?,
                acr,
                amr,
                error: None,
                error_description: None,
            }
        }
        LoginDecision::Reject {
            error,
            error_description,
        } => {
            check_error_code(error.as_deref())?;
            LoginAnswer {
                challenge: challenge.to_owned(),
                user_id: None,
                remember: false,
                remember_for: None,
                acr: None,
                amr: Vec::new(),
                auth_time: None,
                error,
                error_description,
            }
        }
    };
    state.answer = Some(answer);
    let verifier = secret::random_string(32);
    let stored = serde_json::to_string(&state).map_err(Error::internal)?;
    // The new user and the answer stand or fall together: a lost race records neither.
    db.change(|tx| {
        if let Some(record) = &new_user {
            user_store::insert(tx.conn(), record)?;
        }
        if !flows::answer_login(
            tx.conn(),
            &hash_hex(challenge),
            &hash_hex(&verifier),
            &stored,
            now,
        )? {
            return Err(Error::Conflict(
                "the login request was already answered".into(),
            ));
        }
        Ok(())
    })?;
    let mut url = url::Url::parse(&format!("{}/oauth2/auth/resume", settings.issuer))
        .map_err(Error::internal)?;
    url.query_pairs_mut()
        .append_pair("flow", &flow.id)
        .append_pair("login_verifier", &verifier);
    Ok(url.into())
}

/// The id of the user a login app names by `sub` or username.
fn find_subject(db: &Db, subject: &str) -> Result<Option<String>> {
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "subject must be 1 to 255 characters of text".into(),
        ));
    }
    let mut conn = db.conn()?;
    if let Some(user) = user_store::find_by_id(&mut conn, subject)? {
        return Ok(Some(user.id));
    }
    if service::users::validate_username(subject).is_err() {
        return Ok(None);
    }
    Ok(user_store::find_by_username(&mut conn, subject)?.map(|u| u.id))
}

/// A user for an identifier of the login app's own: named by it, with no password, so
/// that only the login app can sign her in.
fn outside_user(subject: &str, now: Timestamp) -> Result<UserRecord> {
    service::users::validate_username(subject).map_err(|_| {
        Error::InvalidRequest(
            "subject is not a user of this server, nor a name one can have (1 to 64 letters, digits or . _ - @)".into(),
        )
    })?;
    Ok(UserRecord {
        id: secret::new_id(),
        username: subject.to_owned(),
        email: None,
        name: None,
        // No hash verifies against the empty text.
        password_hash: String::new(),
        is_admin: false,
        created_at: now,
        updated_at: now,
        phone_number: None,
        address: None,
    })
}

fn checked_acr(acr: Option<String>) -> Result<Option<String>> {
    if acr
        .as_deref()
        .is_some_and(|a| a.is_empty() || a.len() > 255 || a.chars().any(char::is_control))
    {
        return Err(Error::InvalidRequest(
            "acr must be 1 to 255 characters of text".into(),
        ));
    }
    Ok(acr)
}

/// Authentication method references (RFC 8176): short names such as `pwd`, `otp`, `hwk`.
fn checked_amr(amr: Vec<String>) -> Result<Vec<String>> {
    let fits = |m: &String| {
        !m.is_empty()
            && m.len() <= 32
            && m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    if amr.len() > 16 || !amr.iter().all(fits) {
        return Err(Error::InvalidRequest(
            "amr is a list of at most 16 method names such as pwd, otp or hwk".into(),
        ));
    }
    Ok(amr)
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
