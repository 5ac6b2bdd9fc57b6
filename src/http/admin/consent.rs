//! The consent-request API for an external consent app (Hydra-style).

use actix_web::{get, route, web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::{optional_json, Bearer};
use crate::http::{blocking, State};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::time;
use crate::service::authorize::{self, AnswerBinding, ConsentRequestView};

/// What the consent app answers with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedirectTo {
    /// Where the app sends the browser next.
    pub(super) redirect_to: String,
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
        authorize::consent_request_view(&state.db, &state.settings, &challenge, time::now())
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
    /// With `remember`: for this many seconds; absent or 0, until the user revokes it.
    remember_for: Option<i64>,
    /// Claims for the grant's tokens: `access_token` (JWT access tokens, introspection's
    /// `ext`) and `id_token` (ID tokens, userinfo); each at most 4 KiB, no reserved names.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    session: ExtraClaims,
}

/// Accept: the user allowed (some of) the scopes. PUT, or PATCH as Hydra's consent API
/// took it.
#[utoipa::path(
    method(put, patch),
    path = "/admin/consent-requests/{challenge}/accept",
    tag = "consent",
    params(("challenge" = String, Path, description = "consent_challenge")),
    request_body = AcceptRequest,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[route(
    "/admin/consent-requests/{challenge}/accept",
    method = "PUT",
    method = "PATCH"
)]
pub async fn accept(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body: AcceptRequest = optional_json(&body)?;
    let decision = authorize::Decision::Accept {
        grant_scope: body.grant_scope,
        remember: body.remember,
        subject: None,
        session: body.session,
        remember_for: body.remember_for,
    };
    answer(state, challenge.into_inner(), decision).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// An OAuth error code for the client; default `access_denied`.
    error: Option<String>,
    error_description: Option<String>,
}

/// Reject: the client is told the request was refused. PUT, or PATCH.
#[utoipa::path(
    method(put, patch),
    path = "/admin/consent-requests/{challenge}/reject",
    tag = "consent",
    params(("challenge" = String, Path, description = "consent_challenge")),
    request_body = RejectRequest,
    responses(
        (status = 200, body = RedirectTo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[route(
    "/admin/consent-requests/{challenge}/reject",
    method = "PUT",
    method = "PATCH"
)]
pub async fn reject(
    state: State,
    bearer: Bearer,
    challenge: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body: RejectRequest = optional_json(&body)?;
    let decision = authorize::Decision::Reject {
        error: body.error,
        error_description: body.error_description,
    };
    answer(state, challenge.into_inner(), decision).await
}

async fn answer(
    state: State,
    challenge: String,
    decision: authorize::Decision,
) -> Result<HttpResponse> {
    let redirect_to = record(state, challenge, decision, AnswerBinding::Verifier).await?;
    Ok(HttpResponse::Ok().json(RedirectTo { redirect_to }))
}

/// Records a decision; where the browser goes next.
pub(super) async fn record(
    state: State,
    challenge: String,
    decision: authorize::Decision,
    binding: AnswerBinding,
) -> Result<String> {
    blocking(move || {
        authorize::answer_challenge(
            &state.db,
            &state.settings.issuer,
            &challenge,
            decision,
            binding,
            time::now(),
        )
    })
    .await
}
