//! Error codes of RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3, RFC 7009 §2.2.1 and OpenID
//! Connect Core §3.1.2.6, with the wire strings clients match on.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or not allowed here.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    InvalidClient,
    /// A code, refresh token or resource owner credential is invalid, expired or revoked.
    InvalidGrant,
    /// The authenticated client may not use this grant type.
    UnauthorizedClient,
    /// The server does not support this grant type.
    UnsupportedGrantType,
    /// The requested scope is unknown or exceeds what the client may have.
    InvalidScope,
    /// A bearer token is missing, expired, revoked or malformed (RFC 6750).
    InvalidToken,
    /// A bearer token lacks a scope the resource needs (RFC 6750).
    InsufficientScope,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// The authorization server does not support this response type.
    UnsupportedResponseType,
    /// The user or the server refused the request.
    AccessDenied,
    /// `prompt=none`, but the user must sign in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, but the user must consent.
    ConsentRequired,
    /// `prompt=none`, but the user must interact in some other way.
    InteractionRequired,
    /// Request objects are not supported (OpenID Connect Core §6).
    RequestNotSupported,
    /// `request_uri` is not supported.
    RequestUriNotSupported,
    /// A client registration sets something its registrant may not (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// The server met an unexpected condition.
    ServerError,
    /// The server is overloaded or its database cannot be reached.
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest `error_description` sent anywhere.
pub const MAX_DESCRIPTION: usize = 300;

/// An error a protocol endpoint reports to the client, as `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
}

impl OAuthError {
    /// The description is cut to [`MAX_DESCRIPTION`] characters: it travels in
    /// redirects and responses, and must never carry much of what a caller sent.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        let mut description = description.into();
        if description.chars().count() > MAX_DESCRIPTION {
            let cut: String = description.chars().take(MAX_DESCRIPTION - 3).collect();
            description = Cow::Owned(cut + "...");
        }
        Self { code, description }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}
