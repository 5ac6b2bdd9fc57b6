//! The one error type of the server. `http::error` maps it to responses in one place;
//! the command line prints it.

use crate::protocol::error::{ErrorCode, OAuthError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of a protocol endpoint, reported with its RFC code.
    #[error("{0}")]
    OAuth(#[from] OAuthError),
    #[error("{0}")]
    InvalidRequest(String),
    /// No usable bearer token. `invalid_token` is set when one was sent but is not valid.
    #[error("{description}")]
    Unauthorized {
        description: String,
        invalid_token: bool,
    },
    #[error("this token lacks the scope {required}")]
    InsufficientScope { required: &'static str },
    /// The token carries an admin scope, but acts for someone who is not an admin.
    #[error("{required} takes effect only for admins and the system; this token acts for a user who is not an admin")]
    AdminOnly { required: &'static str },
    /// A browser form failed its CSRF check.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; try again in {0} seconds")]
    TooManyRequests(u64),
    #[error("{0}")]
    NotFound(String),
    /// The path exists, not with this method; these are the methods it has.
    #[error("this endpoint does not answer this method; it answers {0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database cannot be reached; the request may be retried.
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything unexpected. The cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<crate::protocol::principal::Refusal> for Error {
    fn from(refusal: crate::protocol::principal::Refusal) -> Self {
        use crate::protocol::principal::Refusal;
        match refusal {
            Refusal::MissingScope(required) => Self::InsufficientScope { required },
            Refusal::AdminOnly(required) => Self::AdminOnly { required },
        }
    }
}

/// A registration the caller must fix: the admin API's `invalid_request`.
impl From<crate::protocol::client::InvalidMetadata> for Error {
    fn from(e: crate::protocol::client::InvalidMetadata) -> Self {
        Self::InvalidRequest(e.0)
    }
}

/// A timestamp the caller gave.
impl From<crate::protocol::time::InvalidTimestamp> for Error {
    fn from(e: crate::protocol::time::InvalidTimestamp) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

impl Error {
    pub fn oauth(code: ErrorCode, description: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::OAuth(OAuthError::new(code, description))
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// A bearer token was sent but does not hold: unknown, expired or revoked.
    pub fn invalid_token() -> Self {
        Self::Unauthorized {
            description: "the access token is invalid, expired or revoked".into(),
            invalid_token: true,
        }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("{what} {id:?} does not exist"))
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match err {
            D::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::Unavailable(err.into()),
            D::DatabaseError(DatabaseErrorKind::Unknown, ref info) if is_busy(info.message()) => {
                Self::Unavailable(err.into())
            }
            // PostgreSQL refuses text holding a NUL character, even to compare it: that
            // is the request's fault (a NUL in a form field or Basic header), not ours.
            D::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().contains("0x00") =>
            {
                Self::InvalidRequest("text must not contain NUL characters".into())
            }
            other => Self::Internal(other.into()),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("terminating connection")
}

impl From<r2d2::Error> for Error {
    fn from(err: r2d2::Error) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<diesel::ConnectionError> for Error {
    fn from(err: diesel::ConnectionError) -> Self {
        Self::Unavailable(err.into())
    }
}

impl Error {
    /// An unexpected failure described by a message (for errors that are plain strings).
    pub fn internal_msg(message: String) -> Self {
        Self::Internal(anyhow::anyhow!(message))
    }
}
