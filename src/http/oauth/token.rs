use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{client_credentials, count_auth_failure, no_store};
use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::{blocking, State};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::time;
use crate::service::tokens::{self, TokenResponse};

/// Parameters of a token request (RFC 6749 §4). A repeated parameter is an error.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Issue an access token.
#[utoipa::path(
    tag = "oauth2",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 400, description = "Invalid request, grant or scope", body = ErrorBody),
        (status = 401, description = "Client authentication failed", body = ErrorBody),
    )
)]
#[post("/oauth2/token")]
pub async fn token(
    state: State,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse> {
    let form = form.into_inner();
    let grant_type = form
        .grant_type
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let result = match grant_type.as_str() {
        "client_credentials" => {
            let credentials = client_credentials(
                &req,
                form.client_id.as_deref(),
                form.client_secret.as_deref(),
            )?;
            let st = state.clone();
            blocking(move || {
                tokens::client_credentials(
                    &st.db,
                    &credentials,
                    form.scope.as_deref(),
                    st.settings.access_token_ttl,
                    time::now(),
                )
            })
            .await
        }
        other => Err(Error::oauth(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {other:?} is not supported"),
        )),
    };
    let response = count_auth_failure(&state, result)?;
    state
        .metrics
        .tokens_issued
        .with_label_values(&[&grant_type])
        .inc();
    Ok(no_store(HttpResponse::Ok()).json(response))
}
