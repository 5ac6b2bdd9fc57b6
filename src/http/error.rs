//! The one place where errors become JSON responses:
//! `{"error": CODE, "error_description": TEXT}` with the right status and headers.
//!
//! Two audiences answer in JSON. The admin and user APIs return [`Error`] as it is.
//! The protocol endpoints return [`ProtocolError`], which speaks only RFC 6749 §5.2 and
//! RFC 6750 §3: a bearer token that does not hold is `invalid_token` there, never the
//! admin API's `unauthorized`. The browser pages render theirs as HTML
//! (`http::pages::PageError`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;
use crate::protocol::error::ErrorCode;

/// The body of every JSON error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(example = "invalid_request")]
    pub error: String,
    pub error_description: String,
}

impl Error {
    fn code(&self) -> &'static str {
        match self {
            Error::OAuth(e) => e.code.as_str(),
            Error::InvalidRequest(_) => "invalid_request",
            Error::Unauthorized { .. } => "unauthorized",
            Error::InsufficientScope { .. } | Error::AdminOnly { .. } => "insufficient_scope",
            Error::Forbidden(_) => "forbidden",
            Error::TooManyRequests(_) => "too_many_requests",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Unavailable(_) => "temporarily_unavailable",
            Error::Internal(_) => "server_error",
        }
    }

    fn www_authenticate(&self) -> Option<String> {
        match self {
            Error::OAuth(e) if e.code == ErrorCode::InvalidClient => {
                Some(r#"Basic realm="portcullis""#.into())
            }
            Error::OAuth(e)
                if matches!(
                    e.code,
                    ErrorCode::InvalidToken | ErrorCode::InsufficientScope
                ) =>
            {
                Some(format!(r#"Bearer realm="portcullis", error="{}""#, e.code))
            }
            Error::Unauthorized {
                invalid_token: true,
                ..
            } => Some(r#"Bearer realm="portcullis", error="invalid_token""#.into()),
            Error::Unauthorized { .. } => Some(r#"Bearer realm="portcullis""#.into()),
            Error::InsufficientScope { required } | Error::AdminOnly { required } => Some(format!(
                r#"Bearer realm="portcullis", error="insufficient_scope", scope="{required}""#
            )),
            _ => None,
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::OAuth(e) => match e.code {
                ErrorCode::InvalidClient | ErrorCode::InvalidToken | ErrorCode::LoginRequired => {
                    StatusCode::UNAUTHORIZED
                }
                ErrorCode::InsufficientScope | ErrorCode::ConsentRequired => StatusCode::FORBIDDEN,
                ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            },
            Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::InsufficientScope { .. } | Error::AdminOnly { .. } => StatusCode::FORBIDDEN,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = match self {
            Error::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "request failed");
                "the server met an unexpected condition".to_owned()
            }
            Error::Unavailable(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "database unavailable");
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            Error::OAuth(e) => e.description.to_string(),
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(challenge) = self.www_authenticate() {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        match self {
            Error::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            Error::TooManyRequests(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            Error::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code().to_owned(),
            error_description: description,
        })
    }
}

/// The error of a protocol endpoint (token, introspection, revocation, userinfo,
/// `/oauth2/code`): every [`Error`] converts into it, and this conversion is the only
/// place where an error is translated into the RFCs' terms.
#[derive(Debug)]
pub struct ProtocolError(Error);

impl<E: Into<Error>> From<E> for ProtocolError {
    fn from(err: E) -> Self {
        Self(match err.into() {
            // RFC 6750 §3.1: a missing, expired or revoked token at a protected resource.
            Error::Unauthorized { description, .. } => {
                Error::oauth(ErrorCode::InvalidToken, description)
            }
            other => other,
        })
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ProtocolError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::OAuthError;

    #[test]
    fn statuses_follow_the_rfcs_and_the_contract() {
        assert_eq!(
            Error::OAuth(OAuthError::invalid_client("x")).status_code(),
            401
        );
        assert_eq!(
            Error::OAuth(OAuthError::invalid_scope("x")).status_code(),
            400
        );
        assert_eq!(
            Error::InsufficientScope {
                required: "clients:read"
            }
            .status_code(),
            403
        );
        assert_eq!(Error::Conflict("x".into()).status_code(), 409);
        assert_eq!(Error::PayloadTooLarge("x".into()).status_code(), 413);
        assert_eq!(Error::UnsupportedMediaType("x".into()).status_code(), 415);
    }

    fn body_of(response: HttpResponse) -> serde_json::Value {
        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(response.into_body()))
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// RFC 6750 §3.1 at the protocol endpoints; SPEC's `unauthorized` on the APIs.
    #[test]
    fn a_token_that_does_not_hold_is_invalid_token_only_at_protocol_endpoints() {
        let api = Error::invalid_token().error_response();
        assert_eq!(api.status(), 401);
        assert_eq!(body_of(api)["error"], "unauthorized");

        let protocol = ProtocolError::from(Error::invalid_token()).error_response();
        assert_eq!(protocol.status(), 401);
        assert_eq!(
            protocol.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            r#"Bearer realm="portcullis", error="invalid_token""#
        );
        let body = body_of(protocol);
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(
            body["error_description"],
            "the access token is invalid, expired or revoked"
        );

        // What already is an RFC code passes through as it is.
        let scope = ProtocolError::from(Error::InsufficientScope {
            required: "tokens:introspect",
        })
        .error_response();
        assert_eq!(scope.status(), 403);
        assert_eq!(body_of(scope)["error"], "insufficient_scope");
        let throttled = ProtocolError::from(Error::TooManyRequests(7)).error_response();
        assert_eq!(throttled.headers().get(header::RETRY_AFTER).unwrap(), "7");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = Error::Internal(anyhow::anyhow!("SELECT secret FROM clients failed"));
        let response = err.error_response();
        assert_eq!(response.status(), 500);
        assert_eq!(err.code(), "server_error");
        let body = body_of(response);
        assert_eq!(body["error"], "server_error");
        let text = body.to_string();
        assert!(
            !text.contains("SELECT") && !text.contains("secret"),
            "{text}"
        );
    }
}
