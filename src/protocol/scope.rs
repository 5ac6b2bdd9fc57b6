//! Scopes (RFC 6749 §3.3): a space-delimited, order-free set of scope tokens.

use std::collections::BTreeSet;
use std::fmt;

/// The OpenID Connect scopes (Core §3.1.2.1, §5.4, §11), in the order a person reads
/// them: identity first. Which claims each releases is [`SCOPE_CLAIMS`].
pub const OIDC_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// The claims each scope releases (OpenID Connect Core §5.4), in the ID token and at
/// userinfo alike; discovery lists them from here.
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    ("profile", &["name", "preferred_username", "updated_at"]),
    ("email", &["email", "email_verified"]),
    ("phone", &["phone_number", "phone_number_verified"]),
    ("address", &["address"]),
];

/// What a user may see and do about the apps connected to her account (`/api/connections`).
pub const CONNECTION_SCOPES: &[&str] = &["connections:read", "connections:write"];

/// Lets a first-party app record a user's consent on its own screen and receive the
/// code for another client (`POST /api/consent`). Not a scope a person grants about
/// herself: only clients an admin registers may carry it.
pub const CONSENT_GRANT: &str = "consent:grant";

/// Scopes that only make sense when a user is present, and that a person can grant about
/// herself: the OpenID Connect scopes and her own connections.
pub fn is_user_scope(scope: &str) -> bool {
    OIDC_SCOPES.contains(&scope) || CONNECTION_SCOPES.contains(&scope)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

/// Why a scope string is not one RFC 6749 §3.3 allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope token {0:?} has a character RFC 6749 does not allow")]
    ForbiddenCharacter(String),
    #[error("a scope token is longer than 128 characters")]
    TooLong,
}

impl ScopeSet {
    /// Parses a space-delimited scope string. Each token must use only the characters
    /// RFC 6749 allows (`%x21 / %x23-5B / %x5D-7E`); repeated tokens collapse.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !token.bytes().all(is_scope_char) {
                return Err(ScopeError::ForbiddenCharacter(token.to_owned()));
            }
            if token.len() > 128 {
                return Err(ScopeError::TooLong);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens of `self` that `allowed` does not contain.
    pub fn missing_from<'a>(&'a self, allowed: &'a ScopeSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` for which `excluded` is false.
    pub fn without(&self, excluded: impl Fn(&str) -> bool) -> ScopeSet {
        ScopeSet(self.0.iter().filter(|s| !excluded(s)).cloned().collect())
    }
}

fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

/// Stored and sent as the space-delimited text of RFC 6749 §3.3.
impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ScopeSet::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<'a> FromIterator<&'a str> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().map(str::to_owned).collect())
    }
}

/// Scopes in the order a person should read them: identity first, then the rest.
pub fn display_order(scope: &ScopeSet) -> Vec<&str> {
    let mut list: Vec<&str> = scope.iter().collect();
    list.sort_by_key(|s| {
        OIDC_SCOPES
            .iter()
            .position(|f| f == s)
            .unwrap_or(OIDC_SCOPES.len())
    });
    list
}

/// A scope in plain words, for the consent and connections pages.
pub fn describe(scope: &str) -> String {
    let text = match scope {
        "openid" => "Know who you are (your account identifier)",
        "profile" => "See your name and username",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Keep access while you are away",
        "clients:read" => "See the applications you manage",
        "clients:write" => "Register and change applications you manage",
        "users:read" => "See user accounts",
        "users:write" => "Create, change and delete user accounts",
        "authorizations:read" => "See which apps users have allowed",
        "authorizations:write" => "Remove apps users have allowed",
        "consent:manage" => "Answer consent requests",
        "login:manage" => "Sign people in to this server",
        "tokens:introspect" => "Check any access token",
        "tokens:flush" => "Delete expired tokens",
        "connections:read" => "See the apps connected to your account",
        "connections:write" => "Disconnect apps from your account",
        "consent:grant" => "Allow other apps to access your account on your behalf",
        other => return format!("Use the permission \u{201c}{other}\u{201d}"),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_set_is_stored_as_rfc_6749_3_3_text() {
        let scope = ScopeSet::parse("profile openid").unwrap();
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, "\"openid profile\"");
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), scope);
        assert!(serde_json::from_str::<ScopeSet>("\"bad\\\"quote\"").is_err());
    }

    #[test]
    fn parsing_collapses_repeats_and_extra_spaces() {
        let s = ScopeSet::parse("  b a  b ").unwrap();
        assert_eq!(s.to_string(), "a b");
    }

    #[test]
    fn quotes_and_backslashes_are_not_scope_characters() {
        assert!(ScopeSet::parse("a\"b").is_err());
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("a\tb").is_err());
    }

    #[test]
    fn missing_lists_what_is_not_allowed() {
        let requested = ScopeSet::parse("a b c").unwrap();
        let allowed = ScopeSet::parse("a c").unwrap();
        assert_eq!(requested.missing_from(&allowed).collect::<Vec<_>>(), ["b"]);
        assert!(!requested.is_subset(&allowed));
    }
}
