//! The consent-request API for an external consent app (Hydra-style).

use actix_web::{get, put, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::authorize::{self, ConsentRequestView};

/// What the consent app answers with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedirectTo {
    /// Where the consent app sends the browser next.
    redirect_to: String,
}

/// The pending request behind a challenge: the client, the user, the scopes.
#[utoipa::path(
    tag = "consent",
    params(("challenge" = String, Path, description = "consent_challenge")),
    responses(
        (status = 200, body = ConsentRequestView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown or expired", body = ErrorBody),
        (status = 409, description = "Already answered", body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[get("/admin/consent-requests/{challenge}")]
pub async fn get_request(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let view = blocking(move || {
        authorize::consent_request_view(&state.db, &state.settings.issuer, &challenge, time::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The scopes the user allowed; a subset of the requested ones. Default: all requested.
    grant_scope: Option<Vec<String>>,
    /// Skip asking next time for these scopes.
    #[serde(default)]
    remember: bool,
}

/// Accept: the user allowed (some of) the scopes.
#[utoipa::path(
    tag = "consent",
    params(("challenge" = String, Path, description = "consent_challenge")),
    request_body = AcceptRequest,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[put("/admin/consent-requests/{challenge}/accept")]
pub async fn accept(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: Option<web::Json<AcceptRequest>>,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let redirect_to = blocking(move || {
        authorize::answer_challenge(
            &state.db,
            &state.settings.issuer,
            &challenge,
            true,
            body.grant_scope,
            body.remember,
            None,
            None,
            time::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(RedirectTo { redirect_to }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// An OAuth error code for the client; default `access_denied`.
    error: Option<String>,
    error_description: Option<String>,
}

/// Reject: the client is told the request was refused.
#[utoipa::path(
    tag = "consent",
    params(("challenge" = String, Path, description = "consent_challenge")),
    request_body = RejectRequest,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[put("/admin/consent-requests/{challenge}/reject")]
pub async fn reject(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: Option<web::Json<RejectRequest>>,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body = body.map(|b| b.into_inner()).unwrap_or_default();
    let redirect_to = blocking(move || {
        authorize::answer_challenge(
            &state.db,
            &state.settings.issuer,
            &challenge,
            false,
            None,
            false,
            body.error,
            body.error_description,
            time::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(RedirectTo { redirect_to }))
}
