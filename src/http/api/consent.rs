//! Consent recorded by a first-party app's own screen.

use actix_web::http::header;
use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::token_user;
use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::scope::CONSENT_GRANT;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time;
use crate::service::authorize::{self, ConsentGrant, SessionUser};

/// What the app's consent screen was asked, as the authorization request named it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGrantRequest {
    client_id: String,
    /// Space-separated; only scopes the client registered.
    scope: String,
    /// Required when the client registered several, or when `openid` is asked.
    redirect_uri: Option<String>,
    nonce: Option<String>,
    /// PKCE (RFC 7636), S256 only; required for public clients.
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Skip asking next time for these scopes. Default false.
    #[serde(default)]
    remember: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentGrantResponse {
    /// The authorization code, for the client to exchange at the token endpoint.
    code: String,
}

/// Record the token's user's consent to a client's request and receive its code. For
/// tokens of first-party apps an admin registered with `consent:grant`.
#[utoipa::path(
    tag = "connections",
    request_body = ConsentGrantRequest,
    responses(
        (status = 200, body = ConsentGrantResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["consent:grant"]))
)]
#[post("/api/consent")]
pub async fn grant(
    state: State,
    bearer: Bearer,
    body: web::Json<ConsentGrantRequest>,
) -> Result<HttpResponse> {
    let app = bearer.into_principal(CONSENT_GRANT)?;
    let user_id = token_user(&app)?;
    let auth_time = app.auth_time.ok_or_else(|| {
        Error::InvalidRequest("the token does not say when its user signed in".into())
    })?;
    let user = SessionUser {
        id: user_id,
        auth_time,
        session: None,
        // A token, not a sign-in, is at hand: how she signed in is not known here.
        method: SignInMethod::default(),
    };
    let body = body.into_inner();
    let grant = ConsentGrant {
        client_id: body.client_id,
        scope: body.scope,
        redirect_uri: body.redirect_uri,
        nonce: body.nonce,
        code_challenge: body.code_challenge,
        code_challenge_method: body.code_challenge_method,
        remember: body.remember,
    };
    let code = blocking(move || {
        authorize::grant_by_api(&state.db, &state.settings, &app, &user, grant, time::now())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ConsentGrantResponse { code }))
}
