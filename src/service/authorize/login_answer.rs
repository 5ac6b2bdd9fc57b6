//! The login app's answer to a sign-in: who signed in (or why nobody did), checked and
//! kept on the flow until the browser comes back.

use super::consent_app::{check_error_code, checked_remember_for};
use super::login_app::{pending, LoginAnswer, LoginState};
use super::{hash_hex, resume_url};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::service;
use crate::storage::flows;
use crate::storage::users::{self as user_store, UserRecord};
use crate::storage::Db;

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
    let (answer, new_user) = answer_of(db, settings, &state, challenge, decision, now)?;
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
    resume_url(&settings.issuer, &flow.id, "login_verifier", &verifier)
}

/// The answer to keep for `decision`, checked, and the user it records, if any.
fn answer_of(
    db: &Db,
    settings: &Settings,
    state: &LoginState,
    challenge: &str,
    decision: LoginDecision,
    now: Timestamp,
) -> Result<(LoginAnswer, Option<UserRecord>)> {
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
    Ok((answer, new_user))
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
