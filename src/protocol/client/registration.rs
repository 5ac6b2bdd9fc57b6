//! What an admin or a user submits to register a client, and how it is checked and
//! completed with defaults into a [`ClientDraft`].

use serde::Deserialize;
use url::Url;

use super::extras::{ClientExtras, ExtrasRequest};
use super::{
    check_redirect_uri, is_format_character, validate_client_id, AuthMethod, Client, ClientType,
    GrantType, InvalidMetadata, TokenFormat,
};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{Secret, MIN_CLIENT_SECRET_LEN};

/// What an admin submits to register or replace a client, with RFC 7591 names.
/// Every field is optional; defaults follow the product contract.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    pub client_id: Option<String>,
    /// Generated when absent for a confidential client; returned once.
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Secret<String>>,
    pub client_name: Option<String>,
    pub description: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    /// `confidential` or `public`.
    pub client_type: Option<String>,
    /// Username of the owning user.
    pub owner: Option<String>,
    pub skip_consent: Option<bool>,
    /// `opaque` or `jwt`.
    pub access_token_format: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub audience: Option<Vec<String>>,
    pub allowed_cors_origins: Option<Vec<String>>,
    /// A JSON object of the registering party's own, up to 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Read-only; accepted so that a fetched registration can be sent back unchanged.
    #[schema(value_type = Option<serde_json::Value>)]
    pub created_at: Option<serde::de::IgnoredAny>,
    #[schema(value_type = Option<serde_json::Value>)]
    pub updated_at: Option<serde::de::IgnoredAny>,
    #[schema(value_type = Option<serde_json::Value>)]
    pub client_secret_expires_at: Option<serde::de::IgnoredAny>,
}

/// A validated registration, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientDraft {
    pub id: Option<String>,
    pub secret: Option<Secret<String>>,
    pub name: String,
    pub description: String,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<String>,
    pub scope: ScopeSet,
    pub auth_method: AuthMethod,
    pub client_type: ClientType,
    pub owner: Option<String>,
    pub skip_consent: bool,
    pub access_token_format: TokenFormat,
    pub extras: ClientExtras,
}

const MAX_URIS: usize = 32;
pub(super) const MAX_TEXT: usize = 2000;

impl ClientRequest {
    /// The fields a replacement (PUT) leaves out although their defaults would change
    /// the client in a way nobody asked for: a public client turned confidential, grant
    /// types, scopes or redirect URIs dropped, the owner cleared. `current` is the
    /// registration being replaced; `owner_counts` is false where the owner is forced.
    pub fn missing_for_replacement(
        &self,
        current: &Client,
        owner_counts: bool,
    ) -> Vec<&'static str> {
        let checks = [
            (
                "client_type",
                self.client_type.is_none() && self.token_endpoint_auth_method.is_none(),
            ),
            ("grant_types", self.grant_types.is_none()),
            ("scope", self.scope.is_none()),
            (
                "redirect_uris",
                self.redirect_uris.is_none() && !current.redirect_uris.is_empty(),
            ),
            (
                "post_logout_redirect_uris",
                self.post_logout_redirect_uris.is_none()
                    && !current.post_logout_redirect_uris.is_empty(),
            ),
            (
                "owner",
                owner_counts && self.owner.is_none() && current.owner.is_some(),
            ),
        ];
        checks
            .into_iter()
            .filter_map(|(field, missing)| missing.then_some(field))
            .collect()
    }

    /// Checks every field and fills in defaults. The description names the offending field.
    pub fn validate(self) -> Result<ClientDraft, InvalidMetadata> {
        let id = self
            .client_id
            .map(|id| validate_client_id(&id).map(|_| id))
            .transpose()?;
        let name = check_name(self.client_name, id.as_deref())?;
        let description = check_description(self.description.unwrap_or_default())?;
        let client_uri = self
            .client_uri
            .map(|u| web_url("client_uri", &u))
            .transpose()?;
        let logo_uri = self.logo_uri.map(|u| web_url("logo_uri", &u)).transpose()?;
        let grant_types = parse_grant_types(self.grant_types)?;
        let response_types = parse_response_types(self.response_types, &grant_types)?;
        let scope = ScopeSet::parse(self.scope.as_deref().unwrap_or("openid"))
            .map_err(|e| format!("scope: {e}"))?;
        let (client_type, auth_method) = resolve_client_type(
            self.client_type.as_deref(),
            self.token_endpoint_auth_method.as_deref(),
        )?;
        let redirect_uris = uri_list(
            "redirect_uris",
            self.redirect_uris.unwrap_or_default(),
            client_type,
        )?;
        let post_logout_redirect_uris = uri_list(
            "post_logout_redirect_uris",
            self.post_logout_redirect_uris.unwrap_or_default(),
            client_type,
        )?;
        let secret = check_secret(client_type, self.client_secret)?;
        if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err("grant_types: a public client cannot use client_credentials".into());
        }
        let access_token_format = match self.access_token_format.as_deref() {
            None => TokenFormat::Opaque,
            Some(f) => TokenFormat::parse(f)
                .ok_or_else(|| format!("access_token_format: {f:?} is not opaque or jwt"))?,
        };
        let extras = ExtrasRequest {
            contacts: self.contacts,
            policy_uri: self.policy_uri,
            tos_uri: self.tos_uri,
            audience: self.audience,
            allowed_cors_origins: self.allowed_cors_origins,
            metadata: self.metadata,
        }
        .validate()?;
        Ok(ClientDraft {
            extras,
            id,
            secret,
            name,
            description,
            client_uri,
            logo_uri,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            scope,
            auth_method,
            client_type,
            owner: self.owner.filter(|o| !o.is_empty()),
            skip_consent: self.skip_consent.unwrap_or(false),
            access_token_format,
        })
    }
}

/// `client_name`, or the client id, or a placeholder: one line of visible text.
fn check_name(name: Option<String>, id: Option<&str>) -> Result<String, String> {
    match name {
        Some(n) if n.trim().is_empty() => Err("client_name must not be empty".into()),
        Some(n) => check_display_name(bounded("client_name", n, 200)?),
        None => Ok(id.unwrap_or("Unnamed application").to_owned()),
    }
}

/// A description may span lines, but hides nothing.
fn check_description(description: String) -> Result<String, String> {
    let description = bounded("description", description, MAX_TEXT)?;
    if description.chars().any(is_format_character) {
        return Err(
            "description must not contain invisible formatting characters (bidi controls, zero-width characters)"
                .into(),
        );
    }
    Ok(description)
}

/// `grant_types` (RFC 7591 §2), each once; the code flow with refresh tokens by default.
fn parse_grant_types(list: Option<Vec<String>>) -> Result<Vec<GrantType>, String> {
    let Some(list) = list else {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    };
    let mut out = Vec::new();
    for g in list {
        let grant = GrantType::parse(&g).ok_or_else(|| {
            format!("grant_types: {g:?} is not one of authorization_code, refresh_token, client_credentials, password")
        })?;
        if !out.contains(&grant) {
            out.push(grant);
        }
    }
    Ok(out)
}

/// `response_types` (RFC 7591 §2.1): only `code`, and only with the code grant.
fn parse_response_types(
    list: Option<Vec<String>>,
    grant_types: &[GrantType],
) -> Result<Vec<String>, String> {
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);
    let Some(mut list) = list else {
        return Ok(if code_flow {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        });
    };
    if let Some(bad) = list.iter().find(|r| r.as_str() != "code") {
        return Err(format!(
            "response_types: {bad:?} is not supported (only \"code\")"
        ));
    }
    if !list.is_empty() && !code_flow {
        return Err("response_types: \"code\" needs the authorization_code grant type".into());
    }
    list.dedup();
    Ok(list)
}

/// `client_type` and `token_endpoint_auth_method` together (RFC 6749 §2.1, RFC 7591
/// §2): a public client authenticates with `none`, a confidential one with a secret.
fn resolve_client_type(
    client_type: Option<&str>,
    auth_method: Option<&str>,
) -> Result<(ClientType, AuthMethod), String> {
    let requested_type = client_type
        .map(|t| {
            ClientType::parse(t)
                .ok_or_else(|| format!("client_type: {t:?} is not confidential or public"))
        })
        .transpose()?;
    let requested_method = auth_method
        .map(|m| {
            AuthMethod::parse(m).ok_or_else(|| {
                format!("token_endpoint_auth_method: {m:?} is not client_secret_basic, client_secret_post or none")
            })
        })
        .transpose()?;
    match (requested_type, requested_method) {
        (None, None) | (Some(ClientType::Confidential), None) => {
            Ok((ClientType::Confidential, AuthMethod::ClientSecretBasic))
        }
        (None, Some(AuthMethod::None))
        | (Some(ClientType::Public), None | Some(AuthMethod::None)) => {
            Ok((ClientType::Public, AuthMethod::None))
        }
        (None | Some(ClientType::Confidential), Some(m)) if m != AuthMethod::None => {
            Ok((ClientType::Confidential, m))
        }
        _ => Err("client_type and token_endpoint_auth_method disagree: a public client authenticates with \"none\"".into()),
    }
}

/// A chosen secret is long enough to stand for a generated one (RFC 9700 §2.5); a
/// public client has none.
fn check_secret(
    client_type: ClientType,
    secret: Option<Secret<String>>,
) -> Result<Option<Secret<String>>, String> {
    match (client_type, secret) {
        (ClientType::Public, Some(_)) => Err("client_secret: a public client has no secret".into()),
        (ClientType::Public, None) => Ok(None),
        (ClientType::Confidential, Some(s))
            if s.expose().chars().count() < MIN_CLIENT_SECRET_LEN =>
        {
            Err(format!(
                "client_secret must be at least {MIN_CLIENT_SECRET_LEN} characters"
            ))
        }
        (ClientType::Confidential, s) => s
            .map(|s| bounded("client_secret", s.into_exposed(), 512).map(Secret::new))
            .transpose(),
    }
}

/// A name shown to people on the consent, sign-out and connections pages: one line of
/// visible text.
fn check_display_name(name: String) -> Result<String, String> {
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err("client_name must be one line, without control characters".into());
    }
    if name.chars().any(is_format_character) {
        return Err(
            "client_name must not contain invisible formatting characters (bidi controls, zero-width characters)"
                .into(),
        );
    }
    Ok(name)
}

fn bounded(field: &str, value: String, max: usize) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("{field} is longer than {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{field} contains control characters"));
    }
    Ok(value)
}

pub(super) fn web_url(field: &str, text: &str) -> Result<String, String> {
    let url =
        Url::parse(text).map_err(|_| format!("{field}: {} is not an absolute URL", shown(text)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{field} must be an http or https URL"));
    }
    bounded(field, text.to_owned(), MAX_TEXT)
}

/// Redirect URIs are compared byte for byte at the authorization endpoint, so each is
/// checked by [`check_redirect_uri`] and stored in the normalized form that is matched.
fn uri_list(
    field: &str,
    list: Vec<String>,
    client_type: ClientType,
) -> Result<Vec<String>, String> {
    if list.len() > MAX_URIS {
        return Err(format!("{field}: at most {MAX_URIS} URIs"));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for text in list {
        let uri = check_redirect_uri(&text, client_type)
            .map_err(|why| format!("{field}: {} {why}", shown(&text)))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// A value quoted in an error message: escaped, and cut short so that a message never
/// carries much of what was sent.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let mut quoted = format!("{:?}", text.chars().take(MAX).collect::<String>());
    if text.chars().count() > MAX {
        quoted.push('…');
    }
    quoted
}

#[cfg(test)]
mod tests;
