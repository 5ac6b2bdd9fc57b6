//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636).
//!
//! Checks run in a fixed order. Until the client and its redirect URI are verified, a
//! failure is shown to the user ([`AuthorizeFailure::Render`]) and never redirected, so
//! the endpoint cannot be used as an open redirector. After that, failures go back to the
//! client ([`AuthorizeFailure::Redirect`]) with `state` and `iss` (RFC 9207).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::client::{Client, ClientType, GrantType};
use super::error::OAuthError;
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
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (then the token request must repeat it,
    /// RFC 6749 §4.1.3) or it was taken from the client's only registered one.
    #[serde(default)]
    pub redirect_uri_given: bool,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
}

impl AuthorizationRequest {
    pub fn scope_set(&self) -> ScopeSet {
        ScopeSet::parse(&self.scope).unwrap_or_default()
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
    pub redirect_uri: String,
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

fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, String> {
    match params.get(name).map(Vec::as_slice) {
        None | Some([]) => Ok(None),
        Some([one]) if one.is_empty() => Ok(None),
        Some([one]) => Ok(Some(one.as_str())),
        Some(_) => Err(format!("{name} was given more than once")),
    }
}

/// The client id of a request, or an error to render.
pub fn client_id(params: &Params) -> Result<&str, AuthorizeFailure> {
    single(params, "client_id")
        .map_err(|e| AuthorizeFailure::Render(OAuthError::invalid_request(e)))?
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
) -> Result<Option<&'a str>, String> {
    match (challenge, method) {
        (None, Some(_)) => return Err("code_challenge_method without code_challenge".into()),
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return Err("code_challenge_method must be S256; plain is not allowed".into())
        }
        (Some(_), Some(_)) => return Err("code_challenge_method is not supported; use S256".into()),
        (None, None) => {}
    }
    match challenge {
        Some(c) if !super::pkce::is_well_formed(c) => {
            Err("code_challenge must be 43 to 128 unreserved characters".into())
        }
        None if client.client_type == ClientType::Public => {
            Err("a public client must use PKCE (code_challenge with S256)".into())
        }
        other => Ok(other),
    }
}

/// Validates a request from `client` (already looked up by [`client_id`]).
pub fn validate(
    params: &Params,
    client: &Client,
) -> Result<AuthorizationRequest, AuthorizeFailure> {
    let render = |msg: String| AuthorizeFailure::Render(OAuthError::invalid_request(msg));

    // 1. The redirect URI: exact, byte-for-byte match with a registered one (RFC 9700
    //    §4.1.3). Only a client with a single registered URI may leave it out, and not
    //    in an OpenID Connect request, where it is required (Core §3.1.2.1).
    let openid =
        matches!(single(params, "scope"), Ok(Some(s)) if s.split(' ').any(|v| v == "openid"));
    let given = single(params, "redirect_uri").map_err(render)?;
    let redirect_uri = match given {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        Some(_) => {
            return Err(render(
                "redirect_uri is not registered for this client".into(),
            ))
        }
        None if openid => return Err(render("redirect_uri is required".into())),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None if client.redirect_uris.is_empty() => {
            return Err(render("the client has no registered redirect_uri".into()))
        }
        None => return Err(render("redirect_uri is required".into())),
    };

    // 2. The response mode decides how errors travel from here on. An over-long state
    //    is refused before anything would echo it.
    let state = single(params, "state").ok().flatten().map(str::to_owned);
    let state_too_long = state.as_ref().is_some_and(|s| s.len() > MAX_STATE);
    let state = state.filter(|_| !state_too_long);
    let response_mode = match single(params, "response_mode") {
        Ok(None) | Ok(Some("query")) => ResponseMode::Query,
        Ok(Some("fragment")) => ResponseMode::Fragment,
        Ok(Some("form_post")) => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let target = ErrorTarget {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
    };
    let fail = |e: OAuthError| AuthorizeFailure::Redirect(target.clone(), e);
    let invalid = |msg: String| fail(OAuthError::invalid_request(msg));

    if state_too_long {
        return Err(invalid(format!(
            "state is longer than {MAX_STATE} characters"
        )));
    }
    if let Some(duplicate) = params.iter().find(|(_, v)| v.len() > 1).map(|(k, _)| k) {
        // Only names this endpoint knows are repeated back.
        return Err(invalid(
            match KNOWN_PARAMETERS.contains(&duplicate.as_str()) {
                true => format!("{duplicate} was given more than once"),
                false => "a parameter was given more than once".into(),
            },
        ));
    }
    match single(params, "response_mode").map_err(invalid)? {
        None | Some("query" | "fragment" | "form_post") => {}
        Some(_) => {
            return Err(invalid(
                "response_mode is not supported; use query, fragment or form_post".into(),
            ))
        }
    }

    // 3. Request objects (OpenID Connect Core §6) are not supported.
    if single(params, "request").map_err(invalid)?.is_some() {
        return Err(fail(OAuthError::new(
            super::error::ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if single(params, "request_uri").map_err(invalid)?.is_some() {
        return Err(fail(OAuthError::new(
            super::error::ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }

    // 4. Only the code flow, and only for clients registered for it.
    match single(params, "response_type").map_err(invalid)? {
        None => return Err(invalid("response_type is required".into())),
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::new(
                super::error::ErrorCode::UnsupportedResponseType,
                "response_type is not supported; use code",
            )))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode)
        || !client.response_types.iter().any(|r| r == "code")
    {
        return Err(fail(OAuthError::new(
            super::error::ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        )));
    }

    // 5. Scope: only what the client is registered for.
    let scope_text = single(params, "scope").map_err(invalid)?.unwrap_or("");
    let scope = super::grant::allowed_scope(client, scope_text).map_err(fail)?;

    // 6. PKCE (RFC 7636): S256 only; required for public clients.
    let code_challenge = pkce_challenge(
        client,
        single(params, "code_challenge").map_err(invalid)?,
        single(params, "code_challenge_method").map_err(invalid)?,
    )
    .map_err(invalid)?;

    // 7. prompt and max_age (OpenID Connect Core §3.1.2.1).
    let mut prompt = Vec::new();
    for value in single(params, "prompt")
        .map_err(invalid)?
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        let p = match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            _ => {
                return Err(invalid(
                    "prompt is not supported; use none, login, consent or select_account".into(),
                ))
            }
        };
        if !prompt.contains(&p) {
            prompt.push(p);
        }
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(invalid(
            "prompt=none cannot be combined with other values".into(),
        ));
    }
    let max_age = match single(params, "max_age").map_err(invalid)? {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| invalid("max_age must be a whole number of seconds".into()))?,
        ),
    };

    let text = |name: &str, max: usize| -> Result<Option<String>, AuthorizeFailure> {
        match single(params, name).map_err(invalid)? {
            Some(v) if v.len() > max => {
                Err(invalid(format!("{name} is longer than {max} characters")))
            }
            other => Ok(other.map(str::to_owned)),
        }
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given: given.is_some(),
        response_mode,
        scope: scope.to_string(),
        state,
        nonce: text("nonce", 512)?,
        code_challenge: code_challenge.map(str::to_owned),
        prompt,
        max_age,
        login_hint: text("login_hint", 256)?,
        id_token_hint: text("id_token_hint", 8192)?,
    })
}
