//! The login-request API for an external login app (`PORTCULLIS_LOGIN_URL`).

use actix_web::{get, route, web, HttpResponse};
use serde::Deserialize;

use super::consent::RedirectTo;
use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::{optional_json, Bearer};
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::authorize::{self, LoginDecision, LoginRequestView};

/// The pending sign-in behind a challenge: the client, the scopes, the browser's user.
#[utoipa::path(
    tag = "login",
    params(("challenge" = String, Path, description = "login_challenge")),
    responses(
        (status = 200, body = LoginRequestView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown, expired or already used", body = ErrorBody),
        (status = 409, description = "Already answered", body = ErrorBody),
    ),
    security(("bearer" = ["login:manage"]))
)]
#[get("/admin/login-requests/{challenge}")]
pub async fn get_request(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("login:manage")?;
    let view = blocking(move || {
        authorize::login_request_view(&state.db, &state.settings, &challenge, time::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptLogin {
    /// Who signed in: a user's `sub` or username (or, with
    /// `PORTCULLIS_LOGIN_APP_CREATES_USERS`, an identifier of the app's own).
    subject: String,
    /// Keep her signed in in this browser.
    #[serde(default)]
    remember: bool,
    /// With `remember`: for this many seconds, at most the session lifetime; absent or
    /// 0, the session lifetime.
    remember_for: Option<i64>,
    /// The authentication context class reference of the sign-in.
    acr: Option<String>,
    /// The authentication methods used (RFC 8176), such as `pwd`, `otp`.
    amr: Option<Vec<String>>,
}

/// Accept: `subject` signed in. PUT, or PATCH as for consent.
#[utoipa::path(
    method(put, patch),
    path = "/admin/login-requests/{challenge}/accept",
    tag = "login",
    params(("challenge" = String, Path, description = "login_challenge")),
    request_body = AcceptLogin,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["login:manage"]))
)]
#[route(
    "/admin/login-requests/{challenge}/accept",
    method = "PUT",
    method = "PATCH"
)]
pub async fn accept(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: web::Json<AcceptLogin>,
) -> Result<HttpResponse> {
    bearer.require("login:manage")?;
    let body = body.into_inner();
    let decision = LoginDecision::Accept {
        subject: body.subject,
        remember: body.remember,
        remember_for: body.remember_for,
        acr: body.acr,
        amr: body.amr,
    };
    answer(state, challenge.into_inner(), decision).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectLogin {
    /// An OAuth error code for the client; default `access_denied`.
    error: Option<String>,
    error_description: Option<String>,
}

/// Reject: the client is told the sign-in did not happen. PUT, or PATCH.
#[utoipa::path(
    method(put, patch),
    path = "/admin/login-requests/{challenge}/reject",
    tag = "login",
    params(("challenge" = String, Path, description = "login_challenge")),
    request_body = RejectLogin,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["login:manage"]))
)]
#[route(
    "/admin/login-requests/{challenge}/reject",
    method = "PUT",
    method = "PATCH"
)]
pub async fn reject(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    bearer.require("login:manage")?;
    let body: RejectLogin = optional_json(&body)?;
    let decision = LoginDecision::Reject {
        error: body.error,
        error_description: body.error_description,
    };
    answer(state, challenge.into_inner(), decision).await
}

async fn answer(state: State, challenge: String, decision: LoginDecision) -> Result<HttpResponse> {
    let redirect_to = blocking(move || {
        authorize::answer_login(
            &state.db,
            &state.settings,
            &challenge,
            decision,
            time::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(RedirectTo { redirect_to }))
}
