//! The browser session: a signed and encrypted cookie (actix-session) that carries the
//! CSRF token, the flow binding and, once signed in, a session secret. Who is signed in
//! is decided by the server-side session that secret names ([`crate::service::sessions`]),
//! never by the cookie alone: signing out ends every copy of it.

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
use crate::http::{blocking, State};
use crate::protocol::secret::{self, Secret};
use crate::protocol::time;
use crate::service;
use crate::service::authorize::{Browser, SessionUser};

pub const COOKIE_NAME: &str = "portcullis_session";
/// Over https the cookie is `__Host-` prefixed: browsers then refuse it unless it is
/// Secure, for this host only and for every path, so a sibling subdomain cannot plant
/// or shadow it.
pub const HTTPS_COOKIE_NAME: &str = "__Host-portcullis_session";

/// The secret of the server-side session (set at sign-in).
const SESSION_SECRET: &str = "session";
/// A random id of the browser session (signed in or not), that flows are bound to.
const SESSION_ID: &str = "sid";
const CSRF: &str = "csrf";

/// The session middleware: HttpOnly, SameSite=Lax (so the cookie comes along when a
/// relying party sends the user here), Secure when the issuer is https.
pub fn middleware(settings: &Settings, key: Key) -> SessionMiddleware<CookieSessionStore> {
    let ttl = actix_web::cookie::time::Duration::seconds(settings.session_ttl.as_secs() as i64);
    let https = settings.issuer.starts_with("https://");
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(
            if https {
                HTTPS_COOKIE_NAME
            } else {
                COOKIE_NAME
            }
            .to_owned(),
        )
        .cookie_path("/".to_owned())
        .cookie_domain(None)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(https)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(PersistentSession::default().session_ttl(ttl))
        .build()
}

/// The cookie key as actix wants it; fails on keys shorter than 64 bytes.
pub fn cookie_key(bytes: &[u8]) -> anyhow::Result<Key> {
    Key::try_from(bytes).map_err(|e| anyhow::anyhow!("the cookie key is unusable: {e}"))
}

/// A browser as its cookie describes it: the server-side session is not looked up yet.
pub struct BrowserCookie {
    secret: Option<String>,
    binding: String,
    address: String,
}

impl BrowserCookie {
    /// The browser, with the user of the live server-side session the cookie names, if
    /// any. Blocking: it reads the database.
    pub fn resolve(self, db: &crate::storage::Db, now: time::Timestamp) -> Result<Browser> {
        let user = match &self.secret {
            Some(secret) => service::sessions::resolve(db, secret, now)?,
            None => None,
        };
        Ok(Browser {
            user,
            binding: self.binding,
            address: self.address,
        })
    }
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
    /// The session secret the cookie carries, if any.
    fn secret(&self) -> Option<String> {
        self.0.get::<String>(SESSION_SECRET).ok().flatten()
    }

    /// The signed-in user: the live server-side session the cookie names, if any.
    pub async fn user(&self, state: &State) -> Result<Option<SessionUser>> {
        let Some(secret) = self.secret() else {
            return Ok(None);
        };
        let st = state.clone();
        blocking(move || service::sessions::resolve(&st.db, &secret, time::now())).await
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

    /// Who is signed in, what flows are bound to, and where the request came from.
    pub async fn browser(&self, state: &State, req: &HttpRequest) -> Result<Browser> {
        let cookie = self.cookie(req)?;
        if cookie.secret.is_none() {
            // Nobody is signed in: nothing to read.
            return cookie.resolve(&state.db, time::now());
        }
        let st = state.clone();
        blocking(move || cookie.resolve(&st.db, time::now())).await
    }

    /// What the cookie says of the browser, for a handler that looks up the server-side
    /// session in the same blocking call as the rest of its work (one thread hand-off
    /// instead of two).
    pub fn cookie(&self, req: &HttpRequest) -> Result<BrowserCookie> {
        Ok(BrowserCookie {
            secret: self.secret(),
            binding: self.binding()?,
            address: crate::http::extract::peer_ip(req),
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
    pub fn check_csrf(&self, submitted: Option<&Secret<String>>) -> Result<()> {
        let expected = self.0.get::<String>(CSRF).map_err(session_error)?;
        match (expected, submitted.map(Secret::expose_str)) {
            (Some(expected), Some(submitted)) if bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) => Ok(()),
            _ => Err(Error::Forbidden("the form has expired or did not come from this site; reload the page and try again".into())),
        }
    }

    /// Puts a new server-side session's secret in the cookie, with a new session id and
    /// CSRF token (no session fixation). Returns the new flow binding.
    pub fn sign_in(&self, session_secret: &str) -> Result<String> {
        self.0.renew();
        self.0.remove(SESSION_ID);
        self.0.remove(CSRF);
        self.0
            .insert(SESSION_SECRET, session_secret)
            .map_err(session_error)?;
        self.binding()
    }

    /// Ends the server-side session (for every copy of the cookie) and clears the cookie.
    pub async fn sign_out(&self, state: &State) -> Result<()> {
        if let Some(secret) = self.secret() {
            let st = state.clone();
            blocking(move || service::sessions::end(&st.db, &secret)).await?;
        }
        self.0.purge();
        Ok(())
    }
}
