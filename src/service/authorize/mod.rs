//! The authorization code flow from the browser's side: request → sign-in → consent →
//! code. Each step ends in an [`Outcome`] the page handlers render.
//!
//! One file a use case: [`flow`] (the browser's request, through sign-in, to a code or a
//! page), [`consent_page`] (the built-in consent page), [`consent_app`] (an external
//! consent app answering through the admin API), [`login_app`] and [`login_answer`] (an
//! external login app: the request it reads, the answer it gives) and [`shortcut`]
//! (`/oauth2/code`). This file holds what they share.

mod consent_api;
mod consent_app;
mod consent_page;
mod consent_request;
mod flow;
mod login_answer;
mod login_app;
mod shortcut;

pub use consent_api::{grant_by_api, ConsentGrant};
pub use consent_app::{answer_challenge, AnswerBinding, Decision};
pub use consent_page::{answer_consent, consent_request, ConsentRequest};
pub use consent_request::{
    consent_request_view, legacy_consent_request, ConsentRequestView, LegacyConsentRequest,
    OidcContext,
};
pub use flow::{resume, start};
pub use login_answer::{answer_login, LoginDecision};
pub use login_app::{login_request_view, return_from_login, LoginRequestView, LoginReturn};
pub use shortcut::{shortcut, CodeBinding, ShortcutKind};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize::{AuthorizationRequest, ErrorTarget, ResponseMode};
use crate::protocol::client::{Client, RedirectUri};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::principal::{holdable, role_of_user};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::codes::{self, CodeRow};
use crate::storage::flows::{self, FlowRow};
use crate::storage::{grants, Db};

/// How long a person has to sign in and consent.
pub const FLOW_TTL: i64 = 30 * 60;

/// Pending sign-in requests one address may have open at once (each is a stored row
/// until it expires): enough for a busy office behind one address, not enough for
/// anyone to fill the database without signing in.
pub const MAX_PENDING_PER_ADDRESS: i64 = 200;

pub const CODE_PREFIX: &str = "pc_ac_";

/// The signed-in user of the browser session, if any.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub id: String,
    pub auth_time: Timestamp,
    /// The handle of the server-side session, when the user comes from one.
    pub session: Option<String>,
    /// How she signed in.
    pub method: SignInMethod,
}

/// What the browser brings: who is signed in, and the session's flow binding.
#[derive(Debug, Clone)]
pub struct Browser {
    pub user: Option<SessionUser>,
    /// SHA-256 (hex) of the session id; flows only continue in the session that began them.
    pub binding: String,
    /// Where the request came from (pending sign-in requests are capped per address).
    pub address: String,
}

/// A response for the client, sent to its verified redirect URI.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientResponse {
    pub redirect_uri: RedirectUri,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl ClientResponse {
    pub(super) fn error(target: &ErrorTarget, err: &OAuthError, issuer: &str) -> Self {
        let mut params = vec![
            ("error", err.code.as_str().to_owned()),
            ("error_description", err.description.to_string()),
        ];
        if let Some(state) = &target.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", issuer.to_owned()));
        Self {
            redirect_uri: target.redirect_uri.clone(),
            mode: target.response_mode,
            params,
        }
    }

    pub(super) fn code(req: &AuthorizationRequest, code: String, issuer: &str) -> Self {
        let mut params = vec![("code", code)];
        if let Some(state) = &req.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", issuer.to_owned()));
        Self {
            redirect_uri: req.redirect_uri.clone(),
            mode: req.response_mode,
            params,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Show an error page: the client or its redirect URI could not be trusted.
    Render(OAuthError),
    /// Send the browser back to the client.
    Respond(ClientResponse),
    /// The user must sign in to continue this flow.
    Login { flow: String },
    /// The user must decide on this flow's scopes.
    Consent { flow: String },
    /// Send the browser to the external consent app.
    External(String),
}

/// What every step of a flow works with.
#[derive(Clone, Copy)]
struct Context<'a> {
    db: &'a Db,
    settings: &'a Settings,
    now: Timestamp,
}

fn redirect_error(
    req: &AuthorizationRequest,
    code: ErrorCode,
    description: &'static str,
    issuer: &str,
) -> Outcome {
    Outcome::Respond(ClientResponse::error(
        &req.error_target(),
        &OAuthError::new(code, description),
        issuer,
    ))
}

/// The client's answer when a login or consent app refused: its OAuth error code
/// (default `access_denied`) and description.
fn app_refusal(
    req: &AuthorizationRequest,
    error: Option<String>,
    description: Option<String>,
    default_description: &'static str,
    issuer: &str,
) -> Outcome {
    let description: std::borrow::Cow<'static, str> = match description {
        Some(text) => text.into(),
        None => default_description.into(),
    };
    let mut response = ClientResponse::error(
        &req.error_target(),
        &OAuthError::new(ErrorCode::AccessDenied, description),
        issuer,
    );
    if let Some(code) = error {
        response.params[0].1 = code;
    }
    Outcome::Respond(response)
}

/// Where an app sends the browser back to continue `flow_id`, with the verifier (named
/// `verifier_name`: `login_verifier` or `consent_verifier`) that proves its answer.
fn resume_url(issuer: &str, flow_id: &str, verifier_name: &str, verifier: &str) -> Result<String> {
    let mut url =
        url::Url::parse(&format!("{issuer}/oauth2/auth/resume")).map_err(Error::internal)?;
    url.query_pairs_mut()
        .append_pair("flow", flow_id)
        .append_pair(verifier_name, verifier);
    Ok(url.into())
}

/// A pending flow of this browser, with its request and client.
fn load_flow(
    db: &Db,
    flow_id: &str,
    browser: &Browser,
    now: Timestamp,
) -> Result<(FlowRow, AuthorizationRequest, Client)> {
    let expired = || {
        Error::InvalidRequest("this sign-in request has expired or belongs to another browser; start again from the app".into())
    };
    let flow =
        flows::find(&mut *db.conn()?, flow_id, &browser.binding, now)?.ok_or_else(expired)?;
    let req: AuthorizationRequest = serde_json::from_str(&flow.request).map_err(Error::internal)?;
    let client = service::clients::for_protocol(db, &flow.client_id).map_err(|_| expired())?;
    Ok((flow, req, client))
}

/// Who signed in for a flow, if anyone has yet.
fn flow_user(flow: &FlowRow) -> Option<SessionUser> {
    Some(SessionUser {
        id: flow.user_id.clone()?,
        auth_time: flow.auth_time?,
        session: None,
        method: SignInMethod::from_stored(flow.sign_in.as_deref()),
    })
}

/// The part of `scope` the user may hold now (admin scopes only for admins).
fn holdable_by(db: &Db, user_id: &str, scope: &ScopeSet) -> Result<ScopeSet> {
    let is_admin = crate::storage::users::find_remembered(db, user_id)?
        .ok_or_else(|| Error::InvalidRequest("the signed-in account no longer exists".into()))?
        .is_admin;
    Ok(holdable(scope, role_of_user(is_admin)))
}

/// Whether the user's remembered decisions for `client_id` cover all of `scope`: only
/// then may a request pass without asking her (`prompt=none` and `/oauth2/code` too).
fn remembered_covers(
    db: &Db,
    user_id: &str,
    client_id: &str,
    scope: &ScopeSet,
    now: Timestamp,
) -> Result<bool> {
    Ok(grants::find(&mut *db.conn()?, user_id, client_id)?
        .is_some_and(|g| scope.is_subset(&g.remembered(now))))
}

/// What a code is bound to, checked again when it is exchanged (RFC 6749 §4.1.3,
/// RFC 7636 §4.6, OpenID Connect Core §3.1.3.6 for the nonce).
struct CodeTerms<'a> {
    /// The redirect URI the token request may repeat. None only for a `/oauth2/code`
    /// code of a client that registered no redirect URI: its token request names none.
    redirect_uri: Option<&'a RedirectUri>,
    /// The authorization request named it, so the token request must repeat it.
    redirect_uri_given: bool,
    scope: &'a ScopeSet,
    nonce: Option<&'a str>,
    code_challenge: Option<&'a str>,
}

impl<'a> From<&'a AuthorizationRequest> for CodeTerms<'a> {
    fn from(req: &'a AuthorizationRequest) -> Self {
        Self {
            redirect_uri: Some(&req.redirect_uri),
            redirect_uri_given: req.redirect_uri_given,
            scope: req.scope_set(),
            nonce: req.nonce.as_deref(),
            code_challenge: req.code_challenge.as_deref(),
        }
    }
}

/// Records the grant and issues a single-use code bound to `terms`, for what of their
/// scope the user may hold.
fn issue_code<'a>(
    cx: Context<'_>,
    client: &Client,
    terms: impl Into<CodeTerms<'a>>,
    user: &SessionUser,
    remember: bool,
) -> Result<String> {
    let terms = terms.into();
    let (db, now) = (cx.db, cx.now);
    let code = secret::new_token(CODE_PREFIX);
    let hash = secret::token_hash(&code);
    let scope = holdable_by(db, &user.id, terms.scope)?.to_string();
    let mut row = CodeRow {
        hash,
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        grant_id: String::new(),
        family_id: secret::new_id(),
        // The column holds the empty text for no redirect URI.
        redirect_uri: terms
            .redirect_uri
            .map_or_else(String::new, |uri| uri.as_str().to_owned()),
        redirect_uri_given: terms.redirect_uri_given,
        scope,
        nonce: terms.nonce.map(str::to_owned),
        code_challenge: terms.code_challenge.map(str::to_owned),
        auth_time: user.auth_time,
        created_at: now,
        expires_at: now + cx.settings.auth_code_ttl.as_secs() as i64,
        used_at: None,
        sign_in: user.method.stored(),
    };
    // The grant and the code are written in the next group commit: nothing is answered
    // before both are durable.
    db.committer()?.run_blocking(move |conn| {
        row.grant_id = grants::upsert(
            conn,
            &row.user_id,
            &row.client_id,
            &row.scope,
            remember,
            row.auth_time,
            row.created_at,
        )?;
        codes::insert(conn, &row)
    })?;
    Ok(code)
}

fn hash_hex(value: &str) -> String {
    hex::encode(secret::token_hash(value))
}
