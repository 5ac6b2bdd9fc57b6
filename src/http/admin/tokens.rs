use actix_web::{post, web, HttpResponse};
use serde::Deserialize;

use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::{optional_json, Bearer};
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::tokens;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlushRequest {
    /// RFC 3339; tokens that expired or were revoked before it are deleted. Default: now.
    pub not_after: Option<String>,
}

/// Delete expired and revoked tokens, and expired codes and sign-in requests.
#[utoipa::path(
    tag = "admin",
    request_body(content = Option<FlushRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "How many tokens were deleted", body = tokens::Flushed),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = ["tokens:flush"]))
)]
#[post("/admin/tokens/flush")]
pub async fn flush(state: State, bearer: Bearer, body: web::Bytes) -> Result<HttpResponse> {
    bearer.require("tokens:flush")?;
    let request: FlushRequest = optional_json(&body)?;
    let before = match request.not_after.as_deref() {
        Some(text) => time::parse_rfc3339(text)?,
        None => time::now(),
    };
    let flushed = blocking(move || tokens::flush(&state.db, before)).await?;
    Ok(HttpResponse::Ok().json(flushed))
}
