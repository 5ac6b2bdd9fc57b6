//! The kinds of bearer token the server issues and stores.

/// An access token (RFC 6749 §1.4) or a refresh token (§1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// A stored kind that is neither of the kinds this server writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token kind {0:?}")]
pub struct UnknownTokenKind(pub String);

/// How a stored kind is read back (the storage layer keeps it as text).
impl TryFrom<String> for TokenKind {
    type Error = UnknownTokenKind;

    fn try_from(text: String) -> Result<Self, UnknownTokenKind> {
        match text.as_str() {
            "access" => Ok(Self::Access),
            "refresh" => Ok(Self::Refresh),
            _ => Err(UnknownTokenKind(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_they_are_stored() {
        for kind in [TokenKind::Access, TokenKind::Refresh] {
            assert_eq!(TokenKind::try_from(kind.as_str().to_owned()), Ok(kind));
        }
        assert!(TokenKind::try_from("id".to_owned()).is_err());
    }
}
