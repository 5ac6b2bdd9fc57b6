//! Client registrations (RFC 6749 §2, RFC 7591 metadata names): what a client is, and
//! the rules a registration must follow ([`registration`], [`redirect_uri`]).

mod extras;
mod redirect_uri;
mod registration;

pub use extras::{ClientExtras, MAX_METADATA_BYTES};
pub use redirect_uri::{check_redirect_uri, RedirectUri};
pub use registration::{ClientDraft, ClientRequest};

use super::scope::ScopeSet;
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
    pub extras: ClientExtras,
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

/// A registration field that is missing, malformed or not allowed; the description names
/// the field (RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMetadata(pub String);

/// The registration checks describe what is wrong as text naming the field.
impl From<String> for InvalidMetadata {
    fn from(description: String) -> Self {
        Self(description)
    }
}

impl From<&str> for InvalidMetadata {
    fn from(description: &str) -> Self {
        Self(description.to_owned())
    }
}

/// Client ids appear in URLs and logs, so they are limited to RFC 3986 unreserved
/// characters: no path tricks, no spaces, no encoding games.
pub fn validate_client_id(id: &str) -> Result<(), InvalidMetadata> {
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
    fn a_client_acts_with_its_owners_role_and_an_unowned_one_for_the_system() {
        use crate::protocol::principal::Role;
        let mut c = crate::protocol::testing::client(&["client_credentials"], "openid", false, &[]);
        assert_eq!(c.acting_role(), Role::System);
        c.owner = Some("ann".into());
        assert_eq!(c.acting_role(), Role::User);
        c.owner_is_admin = true;
        assert_eq!(c.acting_role(), Role::Admin);
    }

    #[test]
    fn access_token_formats_are_opaque_or_jwt_exactly() {
        for f in [TokenFormat::Opaque, TokenFormat::Jwt] {
            assert_eq!(TokenFormat::parse(f.as_str()), Some(f));
        }
        for text in ["JWT", "at+jwt", "", "Opaque"] {
            assert_eq!(TokenFormat::parse(text), None, "{text:?}");
        }
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
}
