//! How a person signed in, as ID tokens state it: `acr` (OpenID Connect Core §2) and
//! `amr` (RFC 8176). It travels with `auth_time` from the sign-in through the session,
//! the flow and the code to the refresh token, so that every ID token says what happened.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMethod {
    /// The authentication context class, when a login app named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The methods used; empty when not known.
    #[serde(default)]
    pub amr: Vec<String>,
}

impl SignInMethod {
    /// A password on this server's sign-in page (or its password grant).
    pub fn password() -> Self {
        Self {
            acr: None,
            amr: vec!["pwd".into()],
        }
    }

    /// As stored: none is a password, what was stored before anything else was.
    pub fn from_stored(stored: Option<&str>) -> Self {
        stored
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_else(Self::password)
    }

    /// What to store: none for a password, so that the common rows stay small.
    pub fn stored(&self) -> Option<String> {
        if *self == Self::password() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_stored_as_nothing_and_anything_else_round_trips() {
        assert_eq!(SignInMethod::password().stored(), None);
        assert_eq!(SignInMethod::from_stored(None), SignInMethod::password());
        let badge = SignInMethod {
            acr: Some("urn:example:badge".into()),
            amr: vec!["hwk".into(), "pin".into()],
        };
        assert_eq!(SignInMethod::from_stored(badge.stored().as_deref()), badge);
        let unknown = SignInMethod::default();
        assert_eq!(
            SignInMethod::from_stored(unknown.stored().as_deref()),
            unknown
        );
    }
}
