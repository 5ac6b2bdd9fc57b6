//! Client registrations (RFC 6749 §2, RFC 7591 metadata names) and their validation.

use serde::Deserialize;
use url::Url;

use super::scope::ScopeSet;
use super::secret::{Secret, MIN_CLIENT_SECRET_LEN};
use super::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Password,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::Password,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// How a client proves its identity at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::ClientSecretBasic, Self::ClientSecretPost, Self::None]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Can keep a secret (a server-side application).
    Confidential,
    /// Cannot keep a secret (a browser or native app); must use PKCE.
    Public,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Confidential, Self::Public]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    Opaque,
    Jwt,
}

impl TokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opaque => "opaque",
            Self::Jwt => "jwt",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Opaque, Self::Jwt]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// A registered client as the rest of the server sees it. The secret hash never leaves
/// the storage layer except to be verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: String,
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
    /// Username of the owning user, if any.
    pub owner: Option<String>,
    /// The owning user's id (`sub`), with `owner`.
    pub owner_id: Option<String>,
    /// Whether the owner is an admin now (what the client's own tokens may do).
    pub owner_is_admin: bool,
    pub skip_consent: bool,
    pub access_token_format: TokenFormat,
    pub has_logo: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whose rights the client's own (machine) tokens carry: a client nobody owns acts
    /// as the system; an owned client never has more rights than its owner.
    pub fn acting_role(&self) -> super::principal::Role {
        match &self.owner {
            None => super::principal::Role::System,
            Some(_) => super::principal::role_of_user(self.owner_is_admin),
        }
    }
}

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
}

const MAX_URIS: usize = 32;
const MAX_TEXT: usize = 2000;

impl ClientRequest {
    /// Checks every field and fills in defaults. The message names the offending field.
    pub fn validate(self) -> Result<ClientDraft, String> {
        let id = self
            .client_id
            .map(|id| validate_client_id(&id).map(|_| id))
            .transpose()?;
        let name = match self.client_name {
            Some(n) if n.trim().is_empty() => return Err("client_name must not be empty".into()),
            Some(n) => check_display_name(bounded("client_name", n, 200)?)?,
            None => id.clone().unwrap_or_else(|| "Unnamed application".into()),
        };
        let description = bounded(
            "description",
            self.description.unwrap_or_default(),
            MAX_TEXT,
        )?;
        if description.chars().any(is_format_character) {
            return Err(
                "description must not contain invisible formatting characters (bidi controls, zero-width characters)"
                    .into(),
            );
        }
        let client_uri = self
            .client_uri
            .map(|u| web_url("client_uri", &u))
            .transpose()?;
        let logo_uri = self.logo_uri.map(|u| web_url("logo_uri", &u)).transpose()?;

        let grant_types = match self.grant_types {
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(list) => {
                let mut out = Vec::new();
                for g in list {
                    let grant = GrantType::parse(&g).ok_or_else(|| {
                        format!("grant_types: {g:?} is not one of authorization_code, refresh_token, client_credentials, password")
                    })?;
                    if !out.contains(&grant) {
                        out.push(grant);
                    }
                }
                out
            }
        };
        let response_types = match self.response_types {
            None if grant_types.contains(&GrantType::AuthorizationCode) => vec!["code".to_owned()],
            None => Vec::new(),
            Some(list) => {
                if let Some(bad) = list.iter().find(|r| r.as_str() != "code") {
                    return Err(format!(
                        "response_types: {bad:?} is not supported (only \"code\")"
                    ));
                }
                if !list.is_empty() && !grant_types.contains(&GrantType::AuthorizationCode) {
                    return Err(
                        "response_types: \"code\" needs the authorization_code grant type".into(),
                    );
                }
                let mut list = list;
                list.dedup();
                list
            }
        };

        let scope = ScopeSet::parse(self.scope.as_deref().unwrap_or("openid"))
            .map_err(|e| format!("scope: {e}"))?;

        let requested_type = self
            .client_type
            .as_deref()
            .map(|t| {
                ClientType::parse(t)
                    .ok_or_else(|| format!("client_type: {t:?} is not confidential or public"))
            })
            .transpose()?;
        let requested_method = self
            .token_endpoint_auth_method
            .as_deref()
            .map(|m| {
                AuthMethod::parse(m).ok_or_else(|| {
                    format!("token_endpoint_auth_method: {m:?} is not client_secret_basic, client_secret_post or none")
                })
            })
            .transpose()?;
        let (client_type, auth_method) = match (requested_type, requested_method) {
            (None, None) | (Some(ClientType::Confidential), None) => {
                (ClientType::Confidential, AuthMethod::ClientSecretBasic)
            }
            (None, Some(AuthMethod::None)) | (Some(ClientType::Public), None | Some(AuthMethod::None)) => {
                (ClientType::Public, AuthMethod::None)
            }
            (None | Some(ClientType::Confidential), Some(m)) if m != AuthMethod::None => (ClientType::Confidential, m),
            _ => {
                return Err("client_type and token_endpoint_auth_method disagree: a public client authenticates with \"none\"".into())
            }
        };

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

        let secret = match (client_type, self.client_secret) {
            (ClientType::Public, Some(_)) => {
                return Err("client_secret: a public client has no secret".into())
            }
            (ClientType::Public, None) => None,
            (ClientType::Confidential, Some(s))
                if s.expose().chars().count() < MIN_CLIENT_SECRET_LEN =>
            {
                return Err(format!(
                    "client_secret must be at least {MIN_CLIENT_SECRET_LEN} characters"
                ))
            }
            (ClientType::Confidential, s) => s
                .map(|s| bounded("client_secret", s.into_exposed(), 512).map(Secret::new))
                .transpose()?,
        };
        if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err("grant_types: a public client cannot use client_credentials".into());
        }

        let access_token_format = match self.access_token_format.as_deref() {
            None => TokenFormat::Opaque,
            Some(f) => TokenFormat::parse(f)
                .ok_or_else(|| format!("access_token_format: {f:?} is not opaque or jwt"))?,
        };
        let owner = match self.owner {
            Some(o) if o.is_empty() => None,
            other => other,
        };

        Ok(ClientDraft {
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
            owner,
            skip_consent: self.skip_consent.unwrap_or(false),
            access_token_format,
        })
    }
}

/// Client ids appear in URLs and logs, so they are limited to RFC 3986 unreserved
/// characters: no path tricks, no spaces, no encoding games.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 128 {
        return Err("client_id must be 1 to 128 characters".into());
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        || id == "."
        || id == ".."
    {
        return Err("client_id may use only letters, digits and - . _ ~".into());
    }
    Ok(())
}

/// Unicode format characters (general category Cf, Unicode 15): bidi overrides and
/// isolates, zero-width spaces and joiners, and the like. In a name they make text read
/// differently from what it is (`Admin\u{202e}gnp.exe`).
pub fn is_format_character(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
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

fn web_url(field: &str, text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|_| format!("{field}: {text:?} is not an absolute URL"))?;
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
fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let mut quoted = format!("{:?}", text.chars().take(MAX).collect::<String>());
    if text.chars().count() > MAX {
        quoted.push('…');
    }
    quoted
}

/// Whether `host` is this machine's loopback interface, where a plain-http redirect
/// cannot be observed by anyone else (RFC 8252 §7.3, §8.3).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Schemes a browser runs or that reach into the browser itself: never a redirect target.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "chrome",
    "chrome-extension",
    "edge",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "sms",
];

/// The registration rules for a redirect URI (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700
/// §2.1 and §4.1.3), returning the normalized form that is stored and later matched:
/// - absolute, with no fragment, no userinfo (`https://trusted@evil/` names `evil`), no
///   whitespace or control characters, no wildcard;
/// - `https`, or plain `http` only to the loopback interface;
/// - a private-use scheme only for public (native) clients, and then in reverse-domain
///   form (`com.example.app:/cb`), never a scheme browsers interpret themselves.
pub fn check_redirect_uri(text: &str, client_type: ClientType) -> Result<String, &'static str> {
    if text.chars().count() > MAX_TEXT {
        return Err("is too long");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    if text.contains('*') {
        return Err("must not contain a wildcard: register each redirect URI exactly");
    }
    if text.contains('#') {
        return Err("must not have a fragment");
    }
    let url = Url::parse(text).map_err(|_| "is not an absolute URI")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password before the host");
    }
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "https" => return Err("has no host"),
        "http" if is_loopback(&url) => {}
        "http" => return Err("must use https (plain http only to 127.0.0.1, [::1] or localhost)"),
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => {
            return Err("uses a scheme that is never a redirect target")
        }
        _ if client_type == ClientType::Confidential => {
            return Err(
                "uses a private-use scheme, which only public (native) clients may register",
            )
        }
        scheme if !scheme.contains('.') => return Err(
            "uses a private-use scheme that is not in reverse-domain form, like com.example.app",
        ),
        _ => {}
    }
    Ok(url.to_string())
}

/// What one user who is not an admin may register: without a bound, one account could
/// fill the database and make every public card page heavy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub clients_per_owner: i64,
    /// All the logos of her clients together.
    pub logo_bytes_per_owner: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            clients_per_owner: 25,
            logo_bytes_per_owner: 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_contract() {
        let draft = ClientRequest::default().validate().unwrap();
        assert_eq!(
            draft.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(draft.response_types, ["code"]);
        assert_eq!(draft.scope.to_string(), "openid");
        assert_eq!(draft.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(draft.client_type, ClientType::Confidential);
    }

    #[test]
    fn public_clients_authenticate_with_none_and_have_no_secret() {
        let public = ClientRequest {
            client_type: Some("public".into()),
            ..Default::default()
        };
        let draft = public.validate().unwrap();
        assert_eq!(draft.auth_method, AuthMethod::None);
        let with_secret = ClientRequest {
            client_type: Some("public".into()),
            client_secret: Some("0123456789".into()),
            ..Default::default()
        };
        assert!(with_secret.validate().is_err());
        let mixed = ClientRequest {
            client_type: Some("public".into()),
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..Default::default()
        };
        assert!(mixed.validate().is_err());
    }

    fn check(uri: &str, client_type: ClientType) -> Result<String, &'static str> {
        check_redirect_uri(uri, client_type)
    }

    /// RFC 6749 §3.1.2: absolute, no fragment; RFC 9700 §4.1.3: nothing that makes one
    /// URI stand for many (wildcards) or hide its real host (userinfo).
    #[test]
    fn rfc6749_3_1_2_and_rfc9700_redirect_uris_are_exact_and_plain() {
        for bad in [
            "/relative",
            "not a uri",
            "https://a.example/cb#frag",
            "https://a.example/cb#",
            "https://trusted.example@evil.example/cb",
            "https://user:pass@app.example/cb",
            "https://*.example.com/cb",
            "https://app.example/*",
            "https://app.example/c b",
            "https://app.example/cb\n",
            "https://app.example/cb\u{0}",
            "https://app.example/\tcb",
            "https://",
        ] {
            assert!(check(bad, ClientType::Public).is_err(), "{bad:?}");
            assert!(check(bad, ClientType::Confidential).is_err(), "{bad:?}");
        }
    }

    /// RFC 8252 §7.3 and §8.3: plain http only to the loopback interface.
    #[test]
    fn rfc8252_7_3_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:9/cb?x=1",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/callback",
            "https://app.example/cb",
        ] {
            assert!(check(ok, ClientType::Confidential).is_ok(), "{ok}");
        }
        for bad in [
            "http://evil.example/cb",
            "http://10.0.0.1/cb",
            "http://localhost.evil.example/cb",
        ] {
            assert!(check(bad, ClientType::Confidential).is_err(), "{bad}");
            assert!(check(bad, ClientType::Public).is_err(), "{bad}");
        }
    }

    /// RFC 8252 §7.1: private-use schemes are for native (public) clients, in
    /// reverse-domain form; schemes the browser handles itself never.
    #[test]
    fn rfc8252_7_1_private_use_schemes_only_for_native_apps() {
        assert!(check("com.example.app:/cb", ClientType::Public).is_ok());
        assert!(check("com.example.app:/cb", ClientType::Confidential).is_err());
        for bad in [
            "myapp:/cb",
            "chrome://settings",
            "ftp://files.example/x",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
        ] {
            assert!(check(bad, ClientType::Public).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_one_line_of_visible_text() {
        for bad in [
            "Portcullis Admin \u{202e}gnp.exe\u{202c}",
            "Admin\u{200b}",
            "Two\nlines",
            "Tab\there",
            "Line\u{2028}separator",
            "\u{feff}BOM",
        ] {
            let req = ClientRequest {
                client_name: Some(bad.into()),
                ..Default::default()
            };
            assert!(req.validate().is_err(), "{bad:?}");
        }
        let req = ClientRequest {
            client_name: Some("Café Zürich – 読書".into()),
            description: Some("Two\nlines are fine here".into()),
            ..Default::default()
        };
        assert!(req.validate().is_ok());
        let req = ClientRequest {
            description: Some("hidden\u{202e}text".into()),
            ..Default::default()
        };
        assert!(req.validate().is_err());
    }

    /// What is stored is what the authorization endpoint compares byte for byte.
    #[test]
    fn redirect_uris_are_stored_normalized() {
        assert_eq!(
            check("HTTPS://App.Example:443/a/../cb", ClientType::Confidential).unwrap(),
            "https://app.example/cb"
        );
        let req = ClientRequest {
            redirect_uris: Some(vec![
                "https://app.example/cb".into(),
                "https://APP.example/cb".into(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            req.validate().unwrap().redirect_uris,
            ["https://app.example/cb"]
        );
    }

    #[test]
    fn error_messages_quote_little_of_what_was_sent() {
        let req = ClientRequest {
            redirect_uris: Some(vec![format!("http://evil.example/{}", "x".repeat(5000))]),
            ..Default::default()
        };
        let message = req.validate().unwrap_err();
        assert!(message.len() < 300, "{message}");
        assert!(message.starts_with("redirect_uris: "), "{message}");
    }

    #[test]
    fn client_ids_are_unreserved_characters_only() {
        assert!(validate_client_id("my-app_1.0~x").is_ok());
        for bad in [
            "",
            "..",
            "a/b",
            "a b",
            "a%2Fb",
            "é",
            &"x".repeat(129),
            "a'; DROP TABLE clients; --",
        ] {
            assert!(validate_client_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_grant_types_and_short_secrets_are_refused() {
        let grant = ClientRequest {
            grant_types: Some(vec!["implicit".into()]),
            ..Default::default()
        };
        assert!(grant.validate().unwrap_err().contains("grant_types"));
        let secret = ClientRequest {
            client_secret: Some("short".into()),
            ..Default::default()
        };
        assert!(secret.validate().unwrap_err().contains("client_secret"));
    }
}
