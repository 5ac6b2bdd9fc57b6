//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636).
//!
//! Checks run in a fixed order. Until the client and its redirect URI are verified, a
//! failure is shown to the user ([`AuthorizeFailure::Render`]) and never redirected, so
//! the endpoint cannot be used as an open redirector. After that, failures go back to the
//! client ([`AuthorizeFailure::Redirect`]) with `state` and `iss` (RFC 9207).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::client::{Client, ClientType, GrantType, RedirectUri};
use super::error::{ErrorCode, OAuthError};
use super::scope::ScopeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// A validated authorization request, kept while the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: RedirectUri,
    /// Whether the request carried `redirect_uri` (then the token request must repeat it,
    /// RFC 6749 §4.1.3) or it was taken from the client's only registered one.
    #[serde(default)]
    pub redirect_uri_given: bool,
    pub response_mode: ResponseMode,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    /// `acr_values`, `ui_locales` and `display` (OpenID Connect Core §3.1.2.1): kept
    /// for a consent app to read, not acted on here.
    #[serde(default)]
    pub acr_values: Option<String>,
    #[serde(default)]
    pub ui_locales: Option<String>,
    #[serde(default)]
    pub display: Option<String>,
}

impl AuthorizationRequest {
    pub fn scope_set(&self) -> &ScopeSet {
        &self.scope
    }

    pub fn has_prompt(&self, prompt: Prompt) -> bool {
        self.prompt.contains(&prompt)
    }

    /// Where errors for this request go.
    pub fn error_target(&self) -> ErrorTarget {
        ErrorTarget {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
        }
    }
}

/// A verified redirect URI and what an error sent to it must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorTarget {
    pub redirect_uri: RedirectUri,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizeFailure {
    /// Shown on an error page: the client or redirect URI could not be trusted.
    Render(OAuthError),
    /// Sent back to the verified redirect URI.
    Redirect(ErrorTarget, OAuthError),
}

/// The longest `state` kept and sent back.
pub const MAX_STATE: usize = 2048;

/// Parameters of an authorization request this server reads (others are ignored, as
/// RFC 6749 §3.1 asks, and never repeated back).
const KNOWN_PARAMETERS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "request",
    "request_uri",
    "display",
    "ui_locales",
    "acr_values",
    "claims_locales",
];

/// Request parameters as received, each name with every value it was given.
pub type Params = HashMap<String, Vec<String>>;

fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, OAuthError> {
    match params.get(name).map(Vec::as_slice) {
        None | Some([]) => Ok(None),
        Some([one]) if one.is_empty() => Ok(None),
        Some([one]) => Ok(Some(one.as_str())),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "{name} was given more than once"
        ))),
    }
}

/// The client id of a request, or an error to render.
pub fn client_id(params: &Params) -> Result<&str, AuthorizeFailure> {
    single(params, "client_id")
        .map_err(AuthorizeFailure::Render)?
        .ok_or_else(|| {
            AuthorizeFailure::Render(OAuthError::invalid_request("client_id is required"))
        })
}

/// The PKCE challenge of a request for a code (RFC 7636): S256 only, well formed, and
/// required of public clients. The message says what is wrong.
pub fn pkce_challenge<'a>(
    client: &Client,
    challenge: Option<&'a str>,
    method: Option<&str>,
) -> Result<Option<&'a str>, OAuthError> {
    match (challenge, method) {
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ))
        }
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not allowed",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method is not supported; use S256",
            ))
        }
        (None, None) => {}
    }
    match challenge {
        Some(c) if !super::pkce::is_well_formed(c) => Err(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 unreserved characters",
        )),
        None if client.client_type == ClientType::Public => Err(OAuthError::invalid_request(
            "a public client must use PKCE (code_challenge with S256)",
        )),
        other => Ok(other),
    }
}

/// The redirect URI of a request (RFC 6749 §3.1.2.3): an exact, byte-for-byte match with
/// a registered one (RFC 9700 §4.1.3). Only a client with a single registered URI may
/// leave it out, and not in an OpenID Connect request (Core §3.1.2.1).
pub fn resolve_redirect_uri(
    client: &Client,
    given: Option<&str>,
    openid: bool,
) -> Result<RedirectUri, OAuthError> {
    let registered = match given {
        Some(uri) => client
            .redirect_uris
            .iter()
            .find(|r| *r == uri)
            .ok_or_else(|| {
                OAuthError::invalid_request("redirect_uri is not registered for this client")
            })?,
        None if openid => return Err(OAuthError::invalid_request("redirect_uri is required")),
        None => only_redirect_uri(client)?,
    };
    RedirectUri::registered(registered).map_err(|_| {
        OAuthError::new(
            ErrorCode::ServerError,
            "a registered redirect_uri of this client cannot be read",
        )
    })
}

/// The redirect URI of a request that named none: the client's only registered one.
fn only_redirect_uri(client: &Client) -> Result<&str, OAuthError> {
    match client.redirect_uris.as_slice() {
        [only] => Ok(only),
        [] => Err(OAuthError::invalid_request(
            "the client has no registered redirect_uri",
        )),
        _ => Err(OAuthError::invalid_request("redirect_uri is required")),
    }
}

/// How errors travel once the redirect URI is known: an unknown `response_mode` still
/// gets its error by query (OAuth 2.0 Multiple Response Types §2.1, form_post §2).
pub fn response_mode_for_errors(value: Result<Option<&str>, OAuthError>) -> ResponseMode {
    match value {
        Ok(Some("fragment")) => ResponseMode::Fragment,
        Ok(Some("form_post")) => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    }
}

/// `response_mode` must be one this server answers in.
pub fn check_response_mode(value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        None | Some("query" | "fragment" | "form_post") => Ok(()),
        Some(_) => Err(OAuthError::invalid_request(
            "response_mode is not supported; use query, fragment or form_post",
        )),
    }
}

/// A repeated parameter is an error (RFC 6749 §3.1); only names this endpoint knows are
/// repeated back in the message.
pub fn check_no_repeats(params: &Params) -> Result<(), OAuthError> {
    match params.iter().find(|(_, v)| v.len() > 1).map(|(k, _)| k) {
        None => Ok(()),
        Some(name) if KNOWN_PARAMETERS.contains(&name.as_str()) => Err(
            OAuthError::invalid_request(format!("{name} was given more than once")),
        ),
        Some(_) => Err(OAuthError::invalid_request(
            "a parameter was given more than once",
        )),
    }
}

/// Request objects (OpenID Connect Core §6) are not supported, by value or by reference.
pub fn check_no_request_object(
    request: Option<&str>,
    request_uri: Option<&str>,
) -> Result<(), OAuthError> {
    if request.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if request_uri.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    Ok(())
}

/// Only the code flow (RFC 6749 §4.1.1, RFC 9700 §2.1.2), and only for clients registered
/// for it (§4.1.2.1 `unauthorized_client`).
pub fn check_response_type(client: &Client, value: Option<&str>) -> Result<(), OAuthError> {
    match value {
        None => return Err(OAuthError::invalid_request("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "response_type is not supported; use code",
            ))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode)
        || !client.response_types.iter().any(|r| r == "code")
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        ));
    }
    Ok(())
}

/// A free-text parameter kept with the request, bounded so that stored flows stay small.
fn bounded(name: &str, value: Option<&str>, max: usize) -> Result<Option<String>, OAuthError> {
    match value {
        Some(v) if v.len() > max => Err(OAuthError::invalid_request(format!(
            "{name} is longer than {max} characters"
        ))),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Validates a request from `client` (already looked up by [`client_id`]). Until the
/// redirect URI is verified, failures are rendered; after it, they are redirected.
pub fn validate(
    params: &Params,
    client: &Client,
) -> Result<AuthorizationRequest, AuthorizeFailure> {
    let render = AuthorizeFailure::Render;
    let openid =
        matches!(single(params, "scope"), Ok(Some(s)) if s.split(' ').any(|v| v == "openid"));
    let given = single(params, "redirect_uri").map_err(render)?;
    let redirect_uri = resolve_redirect_uri(client, given, openid).map_err(render)?;

    // An over-long state is refused before anything would echo it.
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let state_too_long = state.as_ref().is_some_and(|s| s.len() > MAX_STATE);
    let state = state.filter(|_| !state_too_long);
    let response_mode = response_mode_for_errors(single(params, "response_mode"));
    let target = ErrorTarget {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
    };
    let fail = |e: OAuthError| AuthorizeFailure::Redirect(target.clone(), e);
    let one = |name: &str| single(params, name).map_err(fail);

    if state_too_long {
        return Err(fail(OAuthError::invalid_request(format!(
            "state is longer than {MAX_STATE} characters"
        ))));
    }
    check_no_repeats(params).map_err(fail)?;
    check_response_mode(one("response_mode")?).map_err(fail)?;
    check_no_request_object(one("request")?, one("request_uri")?).map_err(fail)?;
    check_response_type(client, one("response_type")?).map_err(fail)?;
    let scope = super::grant::allowed_scope(client, one("scope")?.unwrap_or("")).map_err(fail)?;
    let code_challenge = pkce_challenge(
        client,
        one("code_challenge")?,
        one("code_challenge_method")?,
    )
    .map_err(fail)?;
    let prompt = parse_prompt(one("prompt")?).map_err(fail)?;
    let max_age = parse_max_age(one("max_age")?).map_err(fail)?;
    let text = |name: &str, max: usize| bounded(name, one(name)?, max).map_err(fail);
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given: given.is_some(),
        response_mode,
        scope,
        state,
        nonce: text("nonce", 512)?,
        code_challenge: code_challenge.map(str::to_owned),
        prompt,
        max_age,
        login_hint: text("login_hint", 256)?,
        id_token_hint: text("id_token_hint", 8192)?,
        acr_values: text("acr_values", 256)?,
        ui_locales: text("ui_locales", 256)?,
        display: text("display", 16)?,
    })
}

mod prompt;

pub use prompt::{parse_max_age, parse_prompt};

#[cfg(test)]
mod tests;
