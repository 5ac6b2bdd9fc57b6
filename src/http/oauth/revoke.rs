use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{no_store, settle, token_asked_about, ClientAuth};
use crate::http::error::{ErrorBody, ProtocolError};
use crate::http::{blocking, State};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::tokens;

/// Parameters of a revocation request (RFC 7009 §2.1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RevokeForm {
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(required = true, min_length = 1)]
    #[schema(value_type = Option<String>)]
    token: Option<Secret<String>>,
    /// Accepted and not needed: a token's kind is stored with it.
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    client_secret: Option<Secret<String>>,
}

/// Revoke an access or refresh token issued to the authenticated client.
#[utoipa::path(
    tag = "oauth2",
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or the token was unknown"),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Client authentication failed", body = ErrorBody),
        (status = 429, description = "Too many failed attempts for this client (or user) from this address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/oauth2/revoke")]
pub async fn revoke(
    state: State,
    req: HttpRequest,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, ProtocolError> {
    let form = form.into_inner();
    let token = token_asked_about(form.token)?;
    let auth = ClientAuth::begin(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_ref(),
    )?
    .required()?;
    let result = async {
        let client = auth.client().await?;
        let st = state.clone();
        blocking(move || tokens::revoke(&st.db, &client, token.expose_str(), time::now())).await
    }
    .await;
    settle(&state, result)?;
    Ok(no_store(HttpResponse::Ok()).finish())
}
