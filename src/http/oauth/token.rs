use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{no_store, settle, ClientAuth};
use crate::error::{Error, Result};
use crate::http::error::{ErrorBody, ProtocolError};
use crate::http::{blocking, State};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::tokens::{self, TokenResponse};

/// Parameters of a token request (RFC 6749 §4). A repeated parameter is an error.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(required = true, min_length = 1)]
    grant_type: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    client_secret: Option<Secret<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    code: Option<Secret<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    code_verifier: Option<Secret<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    refresh_token: Option<Secret<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    username: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    password: Option<Secret<String>>,
}

/// Issue an access token.
#[utoipa::path(
    tag = "oauth2",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 400, description = "Invalid request, grant or scope", body = ErrorBody),
        (status = 401, description = "Client authentication failed", body = ErrorBody),
        (status = 429, description = "Too many failed attempts for this client (or user) from this address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/oauth2/token")]
pub async fn token(
    state: State,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ProtocolError> {
    let mut form = form.into_inner();
    let grant_type = form
        .grant_type
        .take()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let auth = ClientAuth::begin(
        &state,
        &req,
        form.client_id.as_deref(),
        form.client_secret.as_ref(),
    )?;
    let request = GrantRequest {
        state: &state,
        form,
    };
    // Every outcome, early ones included, goes through `settle` below, so that a missing
    // or wrong client credential is counted however the request failed.
    let result = match grant_type.as_str() {
        "client_credentials" => client_credentials_grant(request, auth).await,
        "authorization_code" => authorization_code_grant(request, auth).await,
        "refresh_token" => refresh_token_grant(request, auth).await,
        "password" => password_grant(request, auth).await,
        _ => Err(Error::oauth(
            ErrorCode::UnsupportedGrantType,
            "grant_type is not supported; use authorization_code, refresh_token, client_credentials or password",
        )),
    };
    let response = settle(&state, result)?;
    state
        .metrics
        .tokens_issued
        .with_label_values(&[&grant_type])
        .inc();
    Ok(no_store(HttpResponse::Ok()).json(response))
}

/// A token request on its way to one grant.
struct GrantRequest<'a> {
    state: &'a State,
    form: TokenForm,
}

/// RFC 6749 §4.4.
async fn client_credentials_grant(
    r: GrantRequest<'_>,
    auth: ClientAuth<'_>,
) -> Result<TokenResponse> {
    let auth = auth.required()?;
    let client = auth.client().await?;
    let ttl = r.state.settings.access_token_ttl;
    let scope = r.form.scope.as_deref();
    tokens::client_credentials(&r.state.db, &client, scope, ttl, time::now()).await
}

/// RFC 6749 §4.1.3, RFC 7636 §4.5.
async fn authorization_code_grant(
    mut r: GrantRequest<'_>,
    auth: ClientAuth<'_>,
) -> Result<TokenResponse> {
    let auth = auth.required()?;
    let code = r
        .form
        .code
        .take()
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let client = auth.client().await?;
    let (st, form) = (r.state.clone(), r.form);
    blocking(move || {
        st.issuer().authorization_code(
            &client,
            code.expose_str(),
            form.redirect_uri.as_deref(),
            form.code_verifier.as_ref().map(Secret::expose_str),
            time::now(),
        )
    })
    .await
}

/// RFC 6749 §6.
async fn refresh_token_grant(
    mut r: GrantRequest<'_>,
    auth: ClientAuth<'_>,
) -> Result<TokenResponse> {
    let auth = auth.required()?;
    let refresh_token = r
        .form
        .refresh_token
        .take()
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let client = auth.client().await?;
    let (st, form) = (r.state.clone(), r.form);
    blocking(move || {
        st.issuer().refresh(
            &client,
            refresh_token.expose_str(),
            form.scope.as_deref(),
            time::now(),
        )
    })
    .await
}

/// RFC 6749 §4.3, for clients that list it; throttled like the sign-in page.
async fn password_grant(mut r: GrantRequest<'_>, auth: ClientAuth<'_>) -> Result<TokenResponse> {
    let auth = auth.required()?;
    let username = r
        .form
        .username
        .take()
        .ok_or_else(|| OAuthError::invalid_request("username is required"))?;
    let password = r
        .form
        .password
        .take()
        .ok_or_else(|| OAuthError::invalid_request("password is required"))?;
    let client = auth.client().await?;
    let (state, address) = (r.state, auth.address());
    if let Err(seconds) = state.login_limiter.begin(&username, address) {
        return Err(Error::TooManyRequests(seconds));
    }
    let name = username.clone();
    let network = crate::http::ratelimit::network(address).to_string();
    let (st, scope) = (state.clone(), r.form.scope);
    let result = blocking(move || {
        st.issuer().password(
            &client,
            &name,
            password.expose_str(),
            &network,
            scope.as_deref(),
            time::now(),
        )
    })
    .await;
    match &result {
        // A wrong password stays counted; anything else says nothing about it.
        Err(Error::OAuth(e)) if e.code == ErrorCode::InvalidGrant => {}
        Ok(_) => state.login_limiter.succeeded(&username, address),
        Err(_) => state.login_limiter.withdraw(&username, address),
    }
    result
}
