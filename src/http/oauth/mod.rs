//! Protocol endpoints for relying parties: token, introspection, revocation.

pub(crate) mod authorize;
mod code;
mod discovery;
mod introspect;
mod revoke;
mod token;
mod userinfo;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponseBuilder};

use super::extract::authorization;
use super::{blocking, State};
use crate::error::{Error, Result};
use crate::protocol::client::Client;
use crate::protocol::credentials::ClientCredentials;
use crate::protocol::error::{ErrorCode, OAuthError};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(token::token)
        .service(introspect::introspect)
        .service(revoke::revoke)
        .service(userinfo::userinfo)
        .service(code::code)
        .service(discovery::openid_configuration)
        .service(discovery::oauth_authorization_server)
        .service(discovery::jwks);
}

/// Client credentials from the header and body; their absence is `invalid_client`.
fn client_credentials(
    req: &HttpRequest,
    client_id: Option<&str>,
    secret: Option<&str>,
) -> Result<ClientCredentials> {
    ClientCredentials::from_request(authorization(req), client_id, secret)?.ok_or_else(|| {
        Error::OAuth(OAuthError::invalid_client(
            "client authentication is required",
        ))
    })
}

/// Authenticates a client: from memory on the async worker when its secret was verified
/// recently, otherwise (and for every failure) on the blocking pool.
async fn authenticate(state: &State, credentials: ClientCredentials) -> Result<Client> {
    if let Some(client) =
        crate::service::tokens::authenticate_client_from_memory(&state.db, &credentials)
    {
        return Ok(client);
    }
    let st = state.clone();
    blocking(move || crate::service::tokens::authenticate_client(&st.db, &credentials)).await
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// A client authentication in progress, as the guessing throttle sees it. Only a wrong
/// secret counts, once known: a busy client sends many requests at once, and client
/// secrets are long random strings, so what the throttle stops is a flood of failures
/// burning argon2id time rather than a guesser with a chance.
struct Attempt {
    client_id: String,
    address: String,
}

impl Attempt {
    /// Refuses with 429 while the claimed client id has failed too often from this
    /// address, before any secret is checked: otherwise a guesser could still tell a
    /// right guess from a wrong one.
    fn begin(
        state: &State,
        address: &str,
        credentials: Option<&ClientCredentials>,
    ) -> Result<Option<Attempt>> {
        let Some(credentials) = credentials else {
            return Ok(None);
        };
        let client_id = credentials.client_id();
        if let Err(seconds) = state.client_limiter.check(client_id, address) {
            state.metrics.client_auth_failures.inc();
            return Err(Error::TooManyRequests(seconds));
        }
        Ok(Some(Attempt {
            client_id: client_id.to_owned(),
            address: address.to_owned(),
        }))
    }
}

/// Passes a result through; a failed client authentication is counted in the metrics
/// and toward the throttle.
fn settle<T>(state: &State, attempt: Option<Attempt>, result: Result<T>) -> Result<T> {
    if matches!(&result, Err(Error::OAuth(e)) if e.code == ErrorCode::InvalidClient) {
        state.metrics.client_auth_failures.inc();
        if let Some(a) = attempt {
            state.client_limiter.failed(&a.client_id, &a.address);
        }
    }
    result
}
