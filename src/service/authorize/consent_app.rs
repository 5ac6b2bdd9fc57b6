//! An external consent app (`PORTCULLIS_CONSENT_URL`): the flow hands it a challenge, it
//! reads and answers the request through the admin API, and the browser comes back with
//! a verifier that completes the flow.

use super::{hash_hex, issue_code, ClientResponse, Context, Outcome};
use crate::error::{Error, Result};
use crate::protocol::authorize::AuthorizationRequest;
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::Client;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::flows::{self, FlowRow};
use crate::storage::{grants, Db};

/// Hands the decision to the external consent app through a single-use challenge.
pub(super) fn delegate(db: &Db, consent_url: &str, flow: &str) -> Result<Outcome> {
    let challenge = secret::random_string(32);
    flows::set_challenge(&mut *db.conn()?, flow, &hash_hex(&challenge))?;
    let mut url = url::Url::parse(consent_url).map_err(Error::internal)?;
    // `consent` is the name consent apps written for Hydra 0.x read.
    url.query_pairs_mut()
        .append_pair("consent_challenge", &challenge)
        .append_pair("consent", &challenge);
    Ok(Outcome::External(url.into()))
}

/// The external consent app's decision, kept on the flow until the browser returns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ConsentAnswer {
    accept: bool,
    grant_scope: String,
    remember: bool,
    /// Claims for the grant's tokens (answers stored before there were any have none).
    #[serde(default)]
    session: ExtraClaims,
    /// How long `remember` counts, in seconds; none: until the user revokes it.
    #[serde(default)]
    remember_for: Option<i64>,
    error: Option<String>,
    error_description: Option<String>,
}

impl ConsentAnswer {
    /// Checks a decision against the request it answers; what is kept on the flow.
    fn from_decision(decision: Decision, requested: &ScopeSet) -> Result<Self> {
        match decision {
            Decision::Accept {
                grant_scope,
                remember,
                session,
                remember_for,
                subject: _,
            } => Ok(Self {
                accept: true,
                grant_scope: granted_scope(grant_scope, requested)?.to_string(),
                remember,
                session: session
                    .check()
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?,
                remember_for: checked_remember_for(remember_for)?,
                error: None,
                error_description: None,
            }),
            Decision::Reject {
                error,
                error_description,
            } => {
                check_error_code(error.as_deref())?;
                Ok(Self {
                    accept: false,
                    grant_scope: String::new(),
                    remember: false,
                    session: ExtraClaims::default(),
                    remember_for: None,
                    error,
                    error_description,
                })
            }
        }
    }
}

/// What the user allowed: everything requested by default, never more.
fn granted_scope(grant_scope: Option<Vec<String>>, requested: &ScopeSet) -> Result<ScopeSet> {
    let granted = match grant_scope {
        None => return Ok(requested.clone()),
        Some(list) => ScopeSet::parse(&list.join(" "))
            .map_err(|e| Error::InvalidRequest(format!("grant_scope: {e}")))?,
    };
    if !granted.is_subset(requested) {
        let extra: Vec<&str> = granted.missing_from(requested).collect();
        return Err(Error::InvalidRequest(format!(
            "grant_scope includes scopes that were not requested: {}",
            extra.join(" ")
        )));
    }
    Ok(granted)
}

/// An app's refusal names an OAuth error code for the client, nothing else.
pub(super) fn check_error_code(error: Option<&str>) -> Result<()> {
    if error.is_some_and(|code| {
        code.is_empty()
            || code.len() > 64
            || !code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    }) {
        return Err(Error::InvalidRequest(
            "error must be an OAuth error code such as access_denied".into(),
        ));
    }
    Ok(())
}

/// `remember_for` in range; 0 means no limit.
pub(super) fn checked_remember_for(seconds: Option<i64>) -> Result<Option<i64>> {
    if seconds.is_some_and(|s| !(0..=MAX_REMEMBER_FOR).contains(&s)) {
        return Err(Error::InvalidRequest(format!(
            "remember_for is 0 (until revoked) to {MAX_REMEMBER_FOR} seconds"
        )));
    }
    Ok(seconds.filter(|s| *s > 0))
}

/// Completes a flow with the answer the consent app left on it, once the browser is back
/// with the verifier that answer handed out.
pub(super) fn apply_answer(
    cx: Context<'_>,
    flow: &FlowRow,
    req: &AuthorizationRequest,
    client: &Client,
    answer: &str,
    verifier: Option<&str>,
) -> Result<Outcome> {
    let (db, settings) = (cx.db, cx.settings);
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
        return Ok(super::app_refusal(
            req,
            answer.error,
            answer.error_description,
            "the user denied the request",
            &settings.issuer,
        ));
    }
    let Some(user) = super::flow_user(flow) else {
        return Err(Error::InvalidRequest(
            "nobody signed in for this request".into(),
        ));
    };
    let user_id = &user.id;
    let mut granted = req.clone();
    granted.scope = ScopeSet::parse(&answer.grant_scope).map_err(Error::internal)?;
    let code = issue_code(cx, client, &granted, &user, answer.remember)?;
    // The latest answer decides what the grant's tokens carry, none included.
    let stored = answer.session.stored();
    db.change(|tx| {
        grants::set_session_claims(tx, user_id, &client.id, stored.as_deref())?;
        match (answer.remember, answer.remember_for) {
            (true, Some(seconds)) => {
                grants::remember_until(tx, user_id, &client.id, cx.now + seconds)
            }
            _ => Ok(()),
        }
    })?;
    Ok(Outcome::Respond(ClientResponse::code(
        req,
        code,
        &settings.issuer,
    )))
}

pub(super) fn pending(
    db: &Db,
    challenge: &str,
    now: Timestamp,
) -> Result<(FlowRow, AuthorizationRequest)> {
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

/// The consent app's decision on a challenge.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Allow `grant_scope` (default: everything requested); `remember` skips asking next time.
    Accept {
        grant_scope: Option<Vec<String>>,
        remember: bool,
        /// When given, the signed-in user's `sub` or username.
        subject: Option<String>,
        /// Claims for the grant's access and ID tokens.
        session: ExtraClaims,
        /// How long `remember` counts, in seconds; none or 0: until revoked.
        remember_for: Option<i64>,
    },
    /// Refuse with an OAuth error code (default `access_denied`).
    Reject {
        error: Option<String>,
        error_description: Option<String>,
    },
}

/// The longest `remember_for`: about ten years.
const MAX_REMEMBER_FOR: i64 = 10 * 366 * 24 * 3600;

/// How the browser proves, on its way back, that it comes from the consent app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerBinding {
    /// A fresh verifier, handed to the consent app in the answer's `redirect_to`.
    Verifier,
    /// The challenge itself, through the `redirectUrl` the request showed before it was
    /// answered: the Hydra 0.x form, whose consent apps send the browser there.
    Challenge,
}

/// Records the consent app's decision and returns where to send the browser.
pub fn answer_challenge(
    db: &Db,
    issuer: &str,
    challenge: &str,
    decision: Decision,
    binding: AnswerBinding,
    now: Timestamp,
) -> Result<String> {
    let (flow, req) = pending(db, challenge, now)?;
    if let Decision::Accept {
        subject: Some(subject),
        ..
    } = &decision
    {
        check_subject(db, &flow, subject)?;
    }
    let answer = ConsentAnswer::from_decision(decision, req.scope_set())?;
    let verifier = match binding {
        AnswerBinding::Verifier => secret::random_string(32),
        AnswerBinding::Challenge => challenge.to_owned(),
    };
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
    super::resume_url(issuer, &flow.id, "consent_verifier", &verifier)
}

/// A consent app that names the subject must name the person who signed in: it answers
/// for her, it does not choose her.
fn check_subject(db: &Db, flow: &FlowRow, subject: &str) -> Result<()> {
    let user_id = flow.user_id.as_deref().unwrap_or_default();
    let username = service::users::find(db, user_id)?.map(|u| u.username);
    if subject != user_id && username.as_deref() != Some(subject) {
        return Err(Error::InvalidRequest(
            "subject is not the user who signed in for this request".into(),
        ));
    }
    Ok(())
}
