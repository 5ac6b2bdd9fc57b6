//! The authorization code flow from the browser's side: request → sign-in → consent →
//! code. Each step ends in an [`Outcome`] the page handlers render.

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize::{
    self, AuthorizationRequest, AuthorizeFailure, ErrorTarget, Params, Prompt, ResponseMode,
};
use crate::protocol::client::Client;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::principal::{holdable, role_of_user};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::codes::{self, CodeRow};
use crate::storage::flows::{self, FlowRow};
use crate::storage::{grants, write, Db};

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
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl ClientResponse {
    fn error(target: &ErrorTarget, err: &OAuthError, issuer: &str) -> Self {
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

    fn code(req: &AuthorizationRequest, code: String, issuer: &str) -> Self {
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

/// Handles a fresh authorization request.
pub fn start(
    db: &Db,
    settings: &Settings,
    params: &Params,
    browser: &Browser,
    now: Timestamp,
) -> Result<Outcome> {
    let client_id = match authorize::client_id(params) {
        Ok(id) => id,
        Err(AuthorizeFailure::Render(e) | AuthorizeFailure::Redirect(_, e)) => {
            return Ok(Outcome::Render(e))
        }
    };
    let client = match service::clients::get(db, None, client_id) {
        Ok(c) => c,
        Err(Error::NotFound(_)) => {
            return Ok(Outcome::Render(OAuthError::invalid_request(
                "the client is not registered",
            )))
        }
        Err(e) => return Err(e),
    };
    let req = match authorize::validate(params, &client) {
        Ok(r) => r,
        Err(AuthorizeFailure::Render(e)) => return Ok(Outcome::Render(e)),
        Err(AuthorizeFailure::Redirect(target, e)) => {
            return Ok(Outcome::Respond(ClientResponse::error(
                &target,
                &e,
                &settings.issuer,
            )))
        }
    };
    let mut user = browser.user.clone();
    if let Some(hint) = &req.id_token_hint {
        let max_ttl = settings.max_token_ttl();
        let payload = service::keys::verify_id_token_hint(db, hint, max_ttl, now)?;
        let hinted_sub = payload
            .as_ref()
            .filter(|p| p["iss"] == settings.issuer.as_str())
            .and_then(|p| p["sub"].as_str().map(str::to_owned));
        let Some(hinted_sub) = hinted_sub else {
            return Ok(redirect_error(
                &req,
                ErrorCode::InvalidRequest,
                "id_token_hint is not an ID token from this issuer",
                &settings.issuer,
            ));
        };
        // A different person is signed in: they must sign in as the hinted user.
        if user.as_ref().is_some_and(|u| u.id != hinted_sub) {
            user = None;
        }
    }
    decide(db, settings, &client, req, user, false, None, browser, now)
}

/// Continues a flow after the user signed in, or after the consent app answered (then
/// with the verifier it handed out).
pub fn resume(
    db: &Db,
    settings: &Settings,
    flow_id: &str,
    verifier: Option<&str>,
    browser: &Browser,
    now: Timestamp,
) -> Result<Outcome> {
    let (flow, req, client) = load_flow(db, flow_id, browser, now)?;
    if let Some(answer) = &flow.consent_answer {
        return apply_answer(db, settings, &flow, &req, &client, answer, verifier, now);
    }
    let (user, fresh) = match (&flow.user_id, flow.auth_time) {
        (Some(id), Some(auth_time)) => (
            Some(SessionUser {
                id: id.clone(),
                auth_time,
                session: None,
            }),
            true,
        ),
        _ => (browser.user.clone(), false),
    };
    decide(
        db,
        settings,
        &client,
        req,
        user,
        fresh,
        Some(flow.id),
        browser,
        now,
    )
}

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
    let client = service::clients::get(db, None, &flow.client_id).map_err(|_| expired())?;
    Ok((flow, req, client))
}

#[allow(clippy::too_many_arguments)]
fn decide(
    db: &Db,
    settings: &Settings,
    client: &Client,
    req: AuthorizationRequest,
    user: Option<SessionUser>,
    fresh_login: bool,
    flow: Option<String>,
    browser: &Browser,
    now: Timestamp,
) -> Result<Outcome> {
    let issuer = &settings.issuer;
    let must_sign_in = match &user {
        None => true,
        Some(u) => {
            !fresh_login
                && (req.has_prompt(Prompt::Login)
                    || req.has_prompt(Prompt::SelectAccount)
                    || req.max_age.is_some_and(|max| now - u.auth_time > max))
        }
    };
    if must_sign_in {
        let refusal = (ErrorCode::LoginRequired, "the user is not signed in");
        return interaction(db, settings, &req, flow, browser, now, refusal, |flow| {
            Outcome::Login { flow }
        });
    }
    let Some(user) = user else {
        return Ok(Outcome::Render(OAuthError::invalid_request("no user")));
    };

    // Only a remembered decision covering everything asked (that this user may hold)
    // lets the request through without the consent page, prompt=none included.
    let requested = holdable_by(db, &user.id, &req.scope_set())?;
    let remembered = grants::find(&mut *db.conn()?, &user.id, &client.id)?
        .is_some_and(|g| requested.is_subset(&g.remembered()));
    let needs_consent = !client.skip_consent && (!remembered || req.has_prompt(Prompt::Consent));
    if needs_consent {
        let refusal = (
            ErrorCode::ConsentRequired,
            "the user has not consented to these scopes",
        );
        let outcome = interaction(db, settings, &req, flow, browser, now, refusal, |flow| {
            Outcome::Consent { flow }
        })?;
        let Outcome::Consent { flow } = outcome else {
            return Ok(outcome);
        };
        // Keep the user with the flow so that consent needs no second sign-in, and the
        // consent app can tell who is asked.
        flows::set_user(&mut *db.conn()?, &flow, &user.id, user.auth_time)?;
        if let Some(consent_url) = &settings.consent_url {
            return delegate(db, consent_url, &flow);
        }
        return Ok(Outcome::Consent { flow });
    }
    let code = issue_code(db, settings, client, &req, &user, false, now)?;
    finish(
        db,
        flow,
        Outcome::Respond(ClientResponse::code(&req, code, issuer)),
    )
}

/// Sends the person to a page to continue `flow` (created if needed), or with
/// `prompt=none` answers the client with `refusal` instead.
#[allow(clippy::too_many_arguments)]
fn interaction(
    db: &Db,
    settings: &Settings,
    req: &AuthorizationRequest,
    flow: Option<String>,
    browser: &Browser,
    now: Timestamp,
    refusal: (ErrorCode, &'static str),
    page: impl FnOnce(String) -> Outcome,
) -> Result<Outcome> {
    if req.has_prompt(Prompt::None) {
        return finish(
            db,
            flow,
            redirect_error(req, refusal.0, refusal.1, &settings.issuer),
        );
    }
    let flow = match flow {
        Some(id) => id,
        None => new_flow(db, req, browser, now)?,
    };
    Ok(page(flow))
}

fn finish(db: &Db, flow: Option<String>, outcome: Outcome) -> Result<Outcome> {
    if let Some(id) = flow {
        flows::delete(&mut *db.conn()?, &id)?;
    }
    Ok(outcome)
}

fn new_flow(
    db: &Db,
    req: &AuthorizationRequest,
    browser: &Browser,
    now: Timestamp,
) -> Result<String> {
    let mut conn = db.conn()?;
    if browser.user.is_none()
        && flows::pending_from(&mut conn, &browser.address, now)? >= MAX_PENDING_PER_ADDRESS
    {
        return Err(Error::TooManyRequests(60));
    }
    let row = FlowRow {
        id: secret::random_string(24),
        session_binding: browser.binding.clone(),
        client_id: req.client_id.clone(),
        request: serde_json::to_string(req).map_err(Error::internal)?,
        user_id: None,
        auth_time: None,
        created_at: now,
        expires_at: now + FLOW_TTL,
        consent_challenge: None,
        consent_verifier: None,
        consent_answer: None,
        address: browser.address.clone(),
    };
    flows::insert(&mut conn, &row)?;
    Ok(row.id)
}

/// The part of `scope` the user may hold now (admin scopes only for admins).
fn holdable_by(db: &Db, user_id: &str, scope: &ScopeSet) -> Result<ScopeSet> {
    let is_admin = service::users::find(db, user_id)?
        .ok_or_else(|| Error::InvalidRequest("the signed-in account no longer exists".into()))?
        .is_admin;
    Ok(holdable(scope, role_of_user(is_admin)))
}

/// Records the grant and issues a single-use code bound to the request's redirect URI,
/// nonce and PKCE challenge, for what of the request's scope the user may hold.
fn issue_code(
    db: &Db,
    settings: &Settings,
    client: &Client,
    req: &AuthorizationRequest,
    user: &SessionUser,
    remember: bool,
    now: Timestamp,
) -> Result<String> {
    let code = secret::new_token(CODE_PREFIX);
    let hash = secret::token_hash(&code);
    let scope = holdable_by(db, &user.id, &req.scope_set())?.to_string();
    write(&mut *db.conn()?, |conn| {
        let grant_id = grants::upsert(
            conn,
            &user.id,
            &client.id,
            &scope,
            remember,
            user.auth_time,
            now,
        )?;
        codes::insert(
            conn,
            &CodeRow {
                hash: hash.clone(),
                client_id: client.id.clone(),
                user_id: user.id.clone(),
                grant_id,
                family_id: secret::new_id(),
                redirect_uri: req.redirect_uri.clone(),
                redirect_uri_given: req.redirect_uri_given,
                scope,
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.clone(),
                auth_time: user.auth_time,
                created_at: now,
                expires_at: now + settings.auth_code_ttl.as_secs() as i64,
                used_at: None,
            },
        )
    })?;
    Ok(code)
}

fn hash_hex(value: &str) -> String {
    hex::encode(secret::token_hash(value))
}

/// Hands the decision to the external consent app through a single-use challenge.
fn delegate(db: &Db, consent_url: &str, flow: &str) -> Result<Outcome> {
    let challenge = secret::random_string(32);
    flows::set_challenge(&mut *db.conn()?, flow, &hash_hex(&challenge))?;
    let mut url = url::Url::parse(consent_url).map_err(Error::internal)?;
    url.query_pairs_mut()
        .append_pair("consent_challenge", &challenge);
    Ok(Outcome::External(url.into()))
}

/// The external consent app's decision, kept on the flow until the browser returns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ConsentAnswer {
    accept: bool,
    grant_scope: String,
    remember: bool,
    error: Option<String>,
    error_description: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn apply_answer(
    db: &Db,
    settings: &Settings,
    flow: &FlowRow,
    req: &AuthorizationRequest,
    client: &Client,
    answer: &str,
    verifier: Option<&str>,
    now: Timestamp,
) -> Result<Outcome> {
    let expected = flow.consent_verifier.as_deref().unwrap_or_default();
    let given = verifier.map(hash_hex).unwrap_or_default();
    if expected.is_empty()
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            given.as_bytes(),
        ))
    {
        return Err(Error::InvalidRequest(
            "the consent answer cannot be used from here".into(),
        ));
    }
    if !flows::delete(&mut *db.conn()?, &flow.id)? {
        return Err(Error::InvalidRequest(
            "this request was already answered".into(),
        ));
    }
    let answer: ConsentAnswer = serde_json::from_str(answer).map_err(Error::internal)?;
    if !answer.accept {
        let error = OAuthError::new(
            ErrorCode::AccessDenied,
            answer
                .error_description
                .unwrap_or_else(|| "the user denied the request".into()),
        );
        let mut response = ClientResponse::error(&req.error_target(), &error, &settings.issuer);
        if let Some(code) = answer.error {
            response.params[0].1 = code;
        }
        return Ok(Outcome::Respond(response));
    }
    let (Some(user_id), Some(auth_time)) = (&flow.user_id, flow.auth_time) else {
        return Err(Error::InvalidRequest(
            "nobody signed in for this request".into(),
        ));
    };
    let user = SessionUser {
        id: user_id.clone(),
        auth_time,
        session: None,
    };
    let mut granted = req.clone();
    granted.scope = answer.grant_scope;
    let code = issue_code(db, settings, client, &granted, &user, answer.remember, now)?;
    Ok(Outcome::Respond(ClientResponse::code(
        req,
        code,
        &settings.issuer,
    )))
}

/// What the external consent app reads about a pending request.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentRequestView {
    pub challenge: String,
    pub client: service::clients::AppCard,
    /// The user's subject identifier.
    pub subject: String,
    pub username: String,
    pub requested_scope: Vec<String>,
    pub requested_at: String,
    pub expires_at: String,
}

fn pending(db: &Db, challenge: &str, now: Timestamp) -> Result<(FlowRow, AuthorizationRequest)> {
    let flow = flows::find_by_challenge(&mut *db.conn()?, &hash_hex(challenge), now)?.ok_or_else(
        || Error::NotFound("the consent request does not exist or has expired".into()),
    )?;
    if flow.consent_answer.is_some() {
        return Err(Error::Conflict(
            "the consent request was already answered".into(),
        ));
    }
    let req: AuthorizationRequest = serde_json::from_str(&flow.request).map_err(Error::internal)?;
    Ok((flow, req))
}

pub fn consent_request_view(
    db: &Db,
    issuer: &str,
    challenge: &str,
    now: Timestamp,
) -> Result<ConsentRequestView> {
    let (flow, req) = pending(db, challenge, now)?;
    let client = service::clients::get(db, None, &flow.client_id)?;
    let user_id = flow.user_id.clone().unwrap_or_default();
    let requested_scope = holdable_by(db, &user_id, &req.scope_set())?
        .iter()
        .map(str::to_owned)
        .collect();
    let username = service::users::find(db, &user_id)?
        .map(|u| u.username)
        .unwrap_or_default();
    Ok(ConsentRequestView {
        challenge: challenge.to_owned(),
        client: service::clients::AppCard::new(&client, issuer),
        subject: user_id,
        username,
        requested_scope,
        requested_at: crate::protocol::time::to_rfc3339(flow.created_at),
        expires_at: crate::protocol::time::to_rfc3339(flow.expires_at),
    })
}

/// The consent app's decision on a challenge.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Allow `grant_scope` (default: everything requested); `remember` skips asking next time.
    Accept {
        grant_scope: Option<Vec<String>>,
        remember: bool,
    },
    /// Refuse with an OAuth error code (default `access_denied`).
    Reject {
        error: Option<String>,
        error_description: Option<String>,
    },
}

/// Records the consent app's decision and returns where to send the browser.
pub fn answer_challenge(
    db: &Db,
    issuer: &str,
    challenge: &str,
    decision: Decision,
    now: Timestamp,
) -> Result<String> {
    let (flow, req) = pending(db, challenge, now)?;
    let (accept, grant_scope, remember, error, error_description) = match decision {
        Decision::Accept {
            grant_scope,
            remember,
        } => (true, grant_scope, remember, None, None),
        Decision::Reject {
            error,
            error_description,
        } => (false, None, false, error, error_description),
    };
    let requested = req.scope_set();
    let grant_scope = match grant_scope {
        None => requested.clone(),
        Some(list) => ScopeSet::parse(&list.join(" "))
            .map_err(|e| Error::InvalidRequest(format!("grant_scope: {e}")))?,
    };
    if !grant_scope.is_subset(&requested) {
        let extra: Vec<&str> = grant_scope.missing_from(&requested).collect();
        return Err(Error::InvalidRequest(format!(
            "grant_scope includes scopes that were not requested: {}",
            extra.join(" ")
        )));
    }
    if let Some(code) = &error {
        if code.is_empty()
            || code.len() > 64
            || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(Error::InvalidRequest(
                "error must be an OAuth error code such as access_denied".into(),
            ));
        }
    }
    let answer = ConsentAnswer {
        accept,
        grant_scope: grant_scope.to_string(),
        remember,
        error,
        error_description,
    };
    let verifier = secret::random_string(32);
    let stored = serde_json::to_string(&answer).map_err(Error::internal)?;
    if !flows::answer(
        &mut *db.conn()?,
        &hash_hex(challenge),
        &hash_hex(&verifier),
        &stored,
        now,
    )? {
        return Err(Error::Conflict(
            "the consent request was already answered".into(),
        ));
    }
    let mut url =
        url::Url::parse(&format!("{issuer}/oauth2/auth/resume")).map_err(Error::internal)?;
    url.query_pairs_mut()
        .append_pair("flow", &flow.id)
        .append_pair("consent_verifier", &verifier);
    Ok(url.into())
}

/// What the consent page shows.
pub struct ConsentRequest {
    pub flow: String,
    pub client: Client,
    pub scope: ScopeSet,
    pub user_id: String,
    /// Where the answer goes: the redirect URI this request was matched against.
    pub redirect_uri: String,
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
        scope: holdable_by(db, &user_id, &req.scope_set())?,
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
    let (flow, req, client) = load_flow(db, flow_id, browser, now)?;
    let user = match (&flow.user_id, flow.auth_time, &browser.user) {
        (Some(id), Some(auth_time), _) => SessionUser {
            id: id.clone(),
            auth_time,
            session: None,
        },
        (_, _, Some(u)) => u.clone(),
        _ => return Ok(Outcome::Login { flow: flow.id }),
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
    let code = issue_code(db, settings, &client, &req, &user, remember, now)?;
    Ok(Outcome::Respond(ClientResponse::code(
        &req,
        code,
        &settings.issuer,
    )))
}

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
    let granted = grants::find(&mut *db.conn()?, &user.id, &client.id)?
        .is_some_and(|g| scope.is_subset(&g.remembered()));
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
            let invalid = |e: String| Error::OAuth(OAuthError::invalid_request(e));
            let code_challenge = authorize::pkce_challenge(
                &client,
                binding.code_challenge.as_deref().filter(|c| !c.is_empty()),
                binding
                    .code_challenge_method
                    .as_deref()
                    .filter(|m| !m.is_empty()),
            )
            .map_err(invalid)?
            .map(str::to_owned);
            if binding.nonce.as_ref().is_some_and(|n| n.len() > 512) {
                return Err(invalid("nonce is longer than 512 characters".into()));
            }
            let redirect_uri = client.redirect_uris.first().cloned().unwrap_or_default();
            let req = AuthorizationRequest {
                client_id: client.id.clone(),
                redirect_uri,
                redirect_uri_given: false,
                response_mode: ResponseMode::Query,
                scope: scope.to_string(),
                state: None,
                nonce: binding.nonce.filter(|n| !n.is_empty()),
                code_challenge,
                prompt: Vec::new(),
                max_age: None,
                login_hint: None,
                id_token_hint: None,
            };
            issue_code(db, issuer.settings, &client, &req, user, false, now)
        }
    }
}
