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
use crate::protocol::secret::Secret;

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

/// How long a client authentication waits for attempts already being judged (see
/// [`crate::http::ratelimit::Admission::Busy`]) before it is refused.
const ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Authenticates a client: from memory on the async worker when its secret was verified
/// recently (no argon2, nothing to count), otherwise on the blocking pool, counted by the
/// guessing throttle from the moment it starts.
async fn authenticate(
    state: &State,
    credentials: ClientCredentials,
    address: &str,
) -> Result<Client> {
    use crate::http::ratelimit::{Admission, Verdict};
    let client_id = credentials.client_id().to_owned();
    let started = std::time::Instant::now();
    loop {
        if let Some(client) =
            crate::service::tokens::authenticate_client_from_memory(&state.db, &credentials)
        {
            return Ok(client);
        }
        match state.client_limiter.admit(&client_id, address) {
            Admission::Admitted => break,
            Admission::Refused(seconds) => return Err(Error::TooManyRequests(seconds)),
            Admission::Busy if started.elapsed() < ADMISSION_WAIT => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Admission::Busy => return Err(Error::TooManyRequests(1)),
        }
    }
    let st = state.clone();
    let result =
        blocking(move || crate::service::tokens::authenticate_client(&st.db, &credentials)).await;
    let verdict = match &result {
        Ok(_) => Verdict::Right,
        Err(Error::OAuth(e)) if e.code == ErrorCode::InvalidClient => Verdict::Wrong,
        Err(_) => Verdict::None,
    };
    state.client_limiter.settle(&client_id, address, verdict);
    result
}

/// A client authenticating at the token, introspection or revocation endpoint, from
/// the credentials as sent (header or body) to the authenticated client.
struct ClientAuth<'a> {
    state: &'a State,
    address: String,
    credentials: Result<ClientCredentials>,
}

impl<'a> ClientAuth<'a> {
    /// Reads the credentials and refuses at once (429) while the claimed client has
    /// failed too often from this address, before any secret is looked at.
    fn begin(
        state: &'a State,
        req: &HttpRequest,
        client_id: Option<&str>,
        secret: Option<&Secret<String>>,
    ) -> Result<Self> {
        let credentials = client_credentials(req, client_id, secret.map(Secret::expose_str));
        let address = super::extract::peer_ip(req);
        refuse_if_throttled(state, &address, credentials.as_ref().ok())?;
        Ok(Self {
            state,
            address,
            credentials,
        })
    }

    /// The credentials must be there and well formed; if not, that is the error.
    fn required(self) -> Result<Credentials<'a>> {
        Ok(Credentials {
            state: self.state,
            credentials: self.credentials?,
            address: self.address,
        })
    }
}

/// Credentials that were sent, not yet checked.
struct Credentials<'a> {
    state: &'a State,
    address: String,
    credentials: ClientCredentials,
}

impl Credentials<'_> {
    /// The client, if the credentials are right (see [`authenticate`]).
    async fn client(&self) -> Result<Client> {
        authenticate(self.state, self.credentials.clone(), &self.address).await
    }

    /// Where the request came from, as the throttles count it.
    fn address(&self) -> &str {
        &self.address
    }
}

/// The token an introspection or revocation request is about (RFC 7662 §2.1,
/// RFC 7009 §2.1). Its `token_type_hint` is not needed: a token's kind is stored with it.
fn token_asked_about(token: Option<Secret<String>>) -> Result<Secret<String>> {
    token
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| OAuthError::invalid_request("token is required").into())
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// Refuses with 429 while the claimed client id has failed too often from this address,
/// before any secret is checked (from memory or not): otherwise a guesser could still
/// tell a right guess from a wrong one.
fn refuse_if_throttled(
    state: &State,
    address: &str,
    credentials: Option<&ClientCredentials>,
) -> Result<()> {
    let Some(credentials) = credentials else {
        return Ok(());
    };
    if let Some(seconds) = state
        .client_limiter
        .refused(credentials.client_id(), address)
    {
        state.metrics.client_auth_failures.inc();
        return Err(Error::TooManyRequests(seconds));
    }
    Ok(())
}

/// Passes a result through; a failed client authentication is counted in the metrics.
fn settle<T>(state: &State, result: Result<T>) -> Result<T> {
    if matches!(&result, Err(Error::OAuth(e)) if e.code == ErrorCode::InvalidClient) {
        state.metrics.client_auth_failures.inc();
    }
    result
}

#[cfg(test)]
mod tests {
    /// A form that one day reaches a `{:?}` in a log line prints no secret.
    #[test]
    fn protocol_forms_never_print_their_secrets() {
        let s = "S3CRET-never-printed";
        let token: super::token::TokenForm = serde_urlencoded::from_str(&format!(
            "grant_type=password&client_id=a&client_secret={s}1&code={s}2&code_verifier={s}3\
             &refresh_token={s}4&username=ann&password={s}5"
        ))
        .unwrap();
        let revoke: super::revoke::RevokeForm =
            serde_urlencoded::from_str(&format!("token={s}&client_secret={s}")).unwrap();
        let introspect: super::introspect::IntrospectForm =
            serde_urlencoded::from_str(&format!("token={s}&client_secret={s}")).unwrap();
        let userinfo: super::userinfo::UserinfoForm =
            serde_urlencoded::from_str(&format!("access_token={s}")).unwrap();
        for printed in [
            format!("{token:?}"),
            format!("{revoke:?}"),
            format!("{introspect:?}"),
            format!("{userinfo:?}"),
        ] {
            assert!(!printed.contains(s), "{printed}");
            assert!(printed.contains("redacted"), "{printed}");
        }
    }
}
