//! The browser's authorization request, from `/oauth2/auth` through sign-in to a code,
//! or to the page (sign-in, consent) that must come first.

use super::{
    holdable_by, issue_code, load_flow, redirect_error, remembered_covers, Browser, ClientResponse,
    Context, Outcome, SessionUser, FLOW_TTL, MAX_PENDING_PER_ADDRESS,
};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize::{self, AuthorizationRequest, AuthorizeFailure, Params, Prompt};
use crate::protocol::client::Client;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::flows::{self, FlowRow};
use crate::storage::Db;

/// Handles a fresh authorization request.
pub fn start(
    db: &Db,
    settings: &Settings,
    params: &Params,
    browser: &Browser,
    now: Timestamp,
) -> Result<Outcome> {
    let cx = Context { db, settings, now };
    let client_id = match authorize::client_id(params) {
        Ok(id) => id,
        Err(AuthorizeFailure::Render(e) | AuthorizeFailure::Redirect(_, e)) => {
            return Ok(Outcome::Render(e))
        }
    };
    let client = match service::clients::for_protocol(db, client_id) {
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
    let user = match hinted(cx, &req, browser.user.clone())? {
        Ok(user) => user,
        Err(refusal) => return Ok(refusal),
    };
    let signed_in = SignedIn { user, fresh: false };
    decide(cx, browser, &client, req, signed_in, None)
}

/// The browser's user as far as the request's `id_token_hint` lets her through: nobody
/// when it names someone else (she must sign in as the hinted user). `Err` is the
/// client's refusal of a hint that is not an ID token of this issuer.
fn hinted(
    cx: Context<'_>,
    req: &AuthorizationRequest,
    user: Option<SessionUser>,
) -> Result<std::result::Result<Option<SessionUser>, Outcome>> {
    let Some(hint) = &req.id_token_hint else {
        return Ok(Ok(user));
    };
    let (settings, max_ttl) = (cx.settings, cx.settings.max_token_ttl());
    let hinted_sub =
        service::keys::read_id_token_hint(cx.db, &settings.issuer, hint, max_ttl, cx.now)?
            .and_then(|h| h.subject);
    let Some(hinted_sub) = hinted_sub else {
        return Ok(Err(redirect_error(
            req,
            ErrorCode::InvalidRequest,
            "id_token_hint is not an ID token from this issuer",
            &settings.issuer,
        )));
    };
    Ok(Ok(user.filter(|u| u.id == hinted_sub)))
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
    let cx = Context { db, settings, now };
    let (flow, req, client) = load_flow(db, flow_id, browser, now)?;
    if let Some(answer) = &flow.consent_answer {
        return super::consent_app::apply_answer(cx, &flow, &req, &client, answer, verifier);
    }
    let signed_in = match super::flow_user(&flow) {
        Some(user) => SignedIn {
            user: Some(user),
            fresh: true,
        },
        None => match hinted(cx, &req, browser.user.clone())? {
            Ok(user) => SignedIn { user, fresh: false },
            Err(refusal) => return finish(db, Some(flow.id), refusal),
        },
    };
    decide(cx, browser, &client, req, signed_in, Some(flow.id))
}

/// Who the request is for: the browser's user, or the one who just signed in for this
/// flow (`fresh`: `prompt=login` and `max_age` are satisfied by that sign-in).
struct SignedIn {
    user: Option<SessionUser>,
    fresh: bool,
}

/// The next step for a request: a sign-in, consent, or the code.
fn decide(
    cx: Context<'_>,
    browser: &Browser,
    client: &Client,
    req: AuthorizationRequest,
    signed_in: SignedIn,
    flow: Option<String>,
) -> Result<Outcome> {
    let db = cx.db;
    let must_sign_in = match &signed_in.user {
        None => true,
        Some(u) => {
            !signed_in.fresh
                && (req.has_prompt(Prompt::Login)
                    || req.has_prompt(Prompt::SelectAccount)
                    || req.max_age.is_some_and(|max| cx.now - u.auth_time > max))
        }
    };
    if must_sign_in {
        let refusal = (ErrorCode::LoginRequired, "the user is not signed in");
        let outcome = interaction(cx, browser, &req, flow, refusal, |flow| Outcome::Login {
            flow,
        })?;
        return match (&cx.settings.login_url, outcome) {
            (Some(login_url), Outcome::Login { flow }) => {
                let session_user = signed_in.user.as_ref().filter(|_| !signed_in.fresh);
                super::login_app::delegate(cx, login_url, &flow, &req, session_user)
            }
            (_, outcome) => Ok(outcome),
        };
    }
    let Some(user) = signed_in.user else {
        return Ok(Outcome::Render(OAuthError::invalid_request("no user")));
    };

    // Only a remembered decision covering everything asked (that this user may hold)
    // lets the request through without the consent page, prompt=none included.
    let requested = holdable_by(db, &user.id, req.scope_set())?;
    let remembered = remembered_covers(db, &user.id, &client.id, &requested, cx.now)?;
    let needs_consent = !client.skip_consent && (!remembered || req.has_prompt(Prompt::Consent));
    if needs_consent {
        let refusal = (
            ErrorCode::ConsentRequired,
            "the user has not consented to these scopes",
        );
        let outcome = interaction(cx, browser, &req, flow, refusal, |flow| Outcome::Consent {
            flow,
        })?;
        let Outcome::Consent { flow } = outcome else {
            return Ok(outcome);
        };
        // Keep the user with the flow so that consent needs no second sign-in, and the
        // consent app can tell who is asked.
        let method = user.method.stored();
        flows::set_user(
            &mut *db.conn()?,
            &flow,
            &user.id,
            user.auth_time,
            method.as_deref(),
        )?;
        if let Some(consent_url) = &cx.settings.consent_url {
            return super::consent_app::delegate(db, consent_url, &flow);
        }
        return Ok(Outcome::Consent { flow });
    }
    let code = issue_code(cx, client, &req, &user, false)?;
    finish(
        db,
        flow,
        Outcome::Respond(ClientResponse::code(&req, code, &cx.settings.issuer)),
    )
}

/// Sends the person to a page to continue `flow` (created if needed), or with
/// `prompt=none` answers the client with `refusal` instead.
fn interaction(
    cx: Context<'_>,
    browser: &Browser,
    req: &AuthorizationRequest,
    flow: Option<String>,
    refusal: (ErrorCode, &'static str),
    page: impl FnOnce(String) -> Outcome,
) -> Result<Outcome> {
    if req.has_prompt(Prompt::None) {
        return finish(
            cx.db,
            flow,
            redirect_error(req, refusal.0, refusal.1, &cx.settings.issuer),
        );
    }
    let flow = match flow {
        Some(id) => id,
        None => new_flow(cx, req, browser)?,
    };
    Ok(page(flow))
}

fn finish(db: &Db, flow: Option<String>, outcome: Outcome) -> Result<Outcome> {
    if let Some(id) = flow {
        flows::delete(&mut *db.conn()?, &id)?;
    }
    Ok(outcome)
}

fn new_flow(cx: Context<'_>, req: &AuthorizationRequest, browser: &Browser) -> Result<String> {
    let now = cx.now;
    let mut conn = cx.db.conn()?;
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
        login_challenge: None,
        login_verifier: None,
        login_state: None,
        sign_in: None,
    };
    flows::insert(&mut conn, &row)?;
    Ok(row.id)
}
