//! The browser session: a signed and encrypted cookie (actix-session) with named keys.

use std::future::{ready, Ready};

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::secret;
use crate::protocol::time::Timestamp;
use crate::service::authorize::{Browser, SessionUser};

pub const COOKIE_NAME: &str = "portcullis_session";

const USER: &str = "uid";
const AUTH_TIME: &str = "auth_time";
const SESSION_ID: &str = "sid";
const CSRF: &str = "csrf";

/// The session middleware: HttpOnly, SameSite=Lax (so the cookie comes along when a
/// relying party sends the user here), Secure when the issuer is https.
pub fn middleware(settings: &Settings, key: Key) -> SessionMiddleware<CookieSessionStore> {
    let ttl = actix_web::cookie::time::Duration::seconds(settings.session_ttl.as_secs() as i64);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(COOKIE_NAME.to_owned())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(settings.issuer.starts_with("https://"))
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build()
}

/// The cookie key as actix wants it; fails on keys shorter than 64 bytes.
pub fn cookie_key(bytes: &[u8]) -> anyhow::Result<Key> {
    Key::try_from(bytes).map_err(|e| anyhow::anyhow!("the cookie key is unusable: {e}"))
}

/// Typed access to the session's values.
pub struct TypedSession(Session);

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

fn session_error(e: impl std::fmt::Display) -> Error {
    Error::internal_msg(format!("session: {e}"))
}

impl TypedSession {
    /// The signed-in user, unless the sign-in is older than the session lifetime.
    pub fn user(&self, session_ttl_secs: i64, now: Timestamp) -> Option<SessionUser> {
        let id = self.0.get::<String>(USER).ok().flatten()?;
        let auth_time = self.0.get::<i64>(AUTH_TIME).ok().flatten()?;
        (now - auth_time < session_ttl_secs).then_some(SessionUser { id, auth_time })
    }

    fn session_id(&self) -> Result<String> {
        if let Some(id) = self.0.get::<String>(SESSION_ID).map_err(session_error)? {
            return Ok(id);
        }
        let id = secret::random_string(24);
        self.0.insert(SESSION_ID, &id).map_err(session_error)?;
        Ok(id)
    }

    /// What flows started in this session are bound to.
    pub fn binding(&self) -> Result<String> {
        Ok(hex::encode(Sha256::digest(self.session_id()?.as_bytes())))
    }

    pub fn browser(&self, session_ttl_secs: i64, now: Timestamp) -> Result<Browser> {
        Ok(Browser {
            user: self.user(session_ttl_secs, now),
            binding: self.binding()?,
        })
    }

    /// The session's CSRF token, created on first use.
    pub fn csrf_token(&self) -> Result<String> {
        if let Some(token) = self.0.get::<String>(CSRF).map_err(session_error)? {
            return Ok(token);
        }
        let token = secret::random_string(24);
        self.0.insert(CSRF, &token).map_err(session_error)?;
        Ok(token)
    }

    /// Compares a submitted CSRF token with the session's, in constant time.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<()> {
        let expected = self.0.get::<String>(CSRF).map_err(session_error)?;
        match (expected, submitted) {
            (Some(expected), Some(submitted)) if bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) => Ok(()),
            _ => Err(Error::Forbidden("the form has expired or did not come from this site; reload the page and try again".into())),
        }
    }

    /// Signs a user in with a new session id and CSRF token (no session fixation).
    /// Returns the new flow binding.
    pub fn sign_in(&self, user_id: &str, auth_time: Timestamp) -> Result<String> {
        self.0.renew();
        self.0.remove(SESSION_ID);
        self.0.remove(CSRF);
        self.0.insert(USER, user_id).map_err(session_error)?;
        self.0.insert(AUTH_TIME, auth_time).map_err(session_error)?;
        self.binding()
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }
}
