use actix_web::{get, HttpResponse};
use serde::Serialize;

use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::{blocking, State};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/health/alive")]
pub async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(
    tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "Database unreachable", body = ErrorBody))
)]
#[get("/health/ready")]
pub async fn ready(state: State) -> Result<HttpResponse> {
    blocking(move || state.db.ping()).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text", content_type = "text/plain"), (status = 401, description = "PORTCULLIS_METRICS_TOKEN is set and the request does not bear it", body = ErrorBody)))]
#[get("/metrics")]
pub async fn metrics(state: State, req: actix_web::HttpRequest) -> Result<HttpResponse> {
    if let Some(expected) = &state.settings.metrics_token {
        use subtle::ConstantTimeEq;
        let given = crate::http::extract::authorization(&req)
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
            return Err(crate::error::Error::Unauthorized {
                description: "the metrics need the bearer token set in PORTCULLIS_METRICS_TOKEN"
                    .into(),
                invalid_token: !given.is_empty(),
            });
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render() + &state.db.work().exposition()))
}
