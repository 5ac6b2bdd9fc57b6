//! The consent-request API in the Hydra 0.x form, for consent apps written against it:
//! the same requests and rules as `/admin/consent-requests`, with that version's paths
//! and field names. Such an app reads the request, answers it with PATCH (no body in
//! the answer), and sends the browser to the `redirectUrl` it read.

use actix_web::{get, patch, web, HttpResponse};
use serde::Deserialize;

use super::consent::record;
use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::extract::{optional_json, Bearer};
use crate::http::{blocking, State};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::time;
use crate::service::authorize::{self, AnswerBinding, LegacyConsentRequest};

/// A pending consent request (Hydra 0.x `OAuth2ConsentRequest`).
#[utoipa::path(
    tag = "consent",
    params(("id" = String, Path, description = "the consent request id (the consent_challenge)")),
    responses(
        (status = 200, body = LegacyConsentRequest),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown or expired", body = ErrorBody),
        (status = 409, description = "Already answered", body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[get("/oauth2/consent/requests/{id}")]
pub async fn get_request(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let view = blocking(move || {
        authorize::legacy_consent_request(&state.db, &state.settings, &id, time::now())
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Hydra 0.x `ConsentRequestAcceptance`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacyAcceptance {
    /// The scopes the user allowed; a subset of the requested ones. Default: all requested.
    grant_scopes: Option<Vec<String>>,
    /// When given, the signed-in user's `sub` or username.
    subject: Option<String>,
    /// Extra claims for the grant's access tokens (JWT access tokens, introspection's
    /// `ext`).
    #[schema(value_type = Option<Object>)]
    access_token_extra: Option<serde_json::Value>,
    /// Extra claims for its ID tokens and userinfo.
    #[schema(value_type = Option<Object>)]
    id_token_extra: Option<serde_json::Value>,
}

/// Accept a consent request (Hydra 0.x form). Then send the browser to the request's
/// `redirectUrl`.
#[utoipa::path(
    tag = "consent",
    params(("id" = String, Path, description = "the consent request id (the consent_challenge)")),
    request_body = LegacyAcceptance,
    responses(
        (status = 204, description = "Accepted"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[patch("/oauth2/consent/requests/{id}/accept")]
pub async fn accept(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body: LegacyAcceptance = optional_json(&body)?;
    let mut session = ExtraClaims::default();
    for (field, extra, into) in [
        (
            "accessTokenExtra",
            body.access_token_extra,
            &mut session.access_token,
        ),
        ("idTokenExtra", body.id_token_extra, &mut session.id_token),
    ] {
        match extra {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(map)) => *into = map,
            Some(_) => {
                return Err(Error::InvalidRequest(format!(
                    "{field} must be a JSON object"
                )))
            }
        }
    }
    let decision = authorize::Decision::Accept {
        grant_scope: body.grant_scopes,
        // Hydra 0.x answers were remembered by the consent app, not the server.
        remember: false,
        subject: body.subject,
        session,
        remember_for: None,
    };
    record(state, id.into_inner(), decision, AnswerBinding::Challenge).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Hydra 0.x `ConsentRequestRejection`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegacyRejection {
    /// Why: sent to the client as the `error_description` of `access_denied`.
    reason: Option<String>,
}

/// Reject a consent request (Hydra 0.x form). Then send the browser to the request's
/// `redirectUrl`.
#[utoipa::path(
    tag = "consent",
    params(("id" = String, Path, description = "the consent request id (the consent_challenge)")),
    request_body = LegacyRejection,
    responses(
        (status = 204, description = "Rejected"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["consent:manage"]))
)]
#[patch("/oauth2/consent/requests/{id}/reject")]
pub async fn reject(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    bearer.require("consent:manage")?;
    let body: LegacyRejection = optional_json(&body)?;
    let decision = authorize::Decision::Reject {
        error: None,
        error_description: body.reason,
    };
    record(state, id.into_inner(), decision, AnswerBinding::Challenge).await?;
    Ok(HttpResponse::NoContent().finish())
}
