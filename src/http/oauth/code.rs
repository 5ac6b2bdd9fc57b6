//! `/oauth2/code`: a first-party app's shortcut to a code or token for the signed-in user.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::error::{ErrorBody, ProtocolError};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::time;
use crate::service::authorize::{self, ShortcutKind};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CodeQuery {
    client_id: Option<String>,
    scope: Option<String>,
    /// `code` (default) or `token`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// PKCE (RFC 7636) for `type=code`: required of public clients; S256 only.
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Put in the ID token issued for the code.
    nonce: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A code or access token for the user signed in to this browser, when the user has
/// already granted the scopes; otherwise `consent_required`.
#[utoipa::path(
    tag = "oauth2",
    params(CodeQuery),
    responses(
        (status = 200, body = CodeResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Nobody is signed in (login_required)", body = ErrorBody),
        (status = 403, description = "The scopes were not granted (consent_required)", body = ErrorBody),
    )
)]
#[get("/oauth2/code")]
pub async fn code(
    state: State,
    session: TypedSession,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ProtocolError> {
    let query = query.into_inner();
    let now = time::now();
    let user = session.user(&state).await?.ok_or_else(|| {
        Error::OAuth(OAuthError::new(
            ErrorCode::LoginRequired,
            "nobody is signed in",
        ))
    })?;
    let kind = match query.kind.as_deref() {
        None | Some("code") => ShortcutKind::Code,
        Some("token") => ShortcutKind::Token,
        Some(_) => return Err(OAuthError::invalid_request("type must be code or token").into()),
    };
    let client_id = query
        .client_id
        .ok_or_else(|| OAuthError::invalid_request("client_id is required"))?;
    let binding = authorize::CodeBinding {
        code_challenge: query.code_challenge,
        code_challenge_method: query.code_challenge_method,
        nonce: query.nonce,
    };
    let value = blocking(move || {
        authorize::shortcut(
            &state.issuer(),
            &client_id,
            query.scope.as_deref(),
            kind,
            binding,
            &user,
            now,
        )
    })
    .await?;
    let body = match kind {
        ShortcutKind::Code => CodeResponse {
            code: Some(value),
            token: None,
            kind: "code",
        },
        ShortcutKind::Token => CodeResponse {
            code: None,
            token: Some(value),
            kind: "token",
        },
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
