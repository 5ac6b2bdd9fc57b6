//! Cross-cutting request handling: one log line and metrics per request, and the
//! security headers every response carries.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::ResponseError;

use super::State;

/// Paths that carry a login or consent challenge (consent in the current form and in
/// Hydra 0.x's).
const CHALLENGE_PATHS: [&str; 3] = [
    "/admin/consent-requests/",
    "/oauth2/consent/requests/",
    "/admin/login-requests/",
];

/// Logs method, route, path (never the query, which may carry codes or tokens), status
/// and latency, and records the same in the metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = method_label(req.method());
    let path = req.path().to_owned();
    let state = req.app_data::<State>().cloned();
    let response = next.call(req).await?;
    let elapsed = start.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let status = response.status().as_u16();
    // A challenge in a path is a credential for its flow: such paths are logged
    // as their route only.
    let path = match CHALLENGE_PATHS.iter().find(|p| path.starts_with(*p)) {
        Some(prefix) => format!("{prefix}…"),
        None => path,
    };
    if let Some(state) = state {
        let status_text = status.to_string();
        state
            .metrics
            .requests
            .with_label_values(&[method, &route, &status_text])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[method, &route])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        method,
        route = %route,
        path = %path,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    Ok(response)
}

/// The method as a metrics label and in the log: a client may send any token as a
/// method, and each distinct label would be a new time series kept forever.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, label)| label)
}

/// Headers for every response: no framing (clickjacking), no MIME sniffing, no referrer;
/// behind an https issuer, HSTS too, so that no browser talks to it in clear again.
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", "frame-ancestors 'none'"))
        .add(("Referrer-Policy", "no-referrer"));
    match https {
        true => headers.add(("Strict-Transport-Security", "max-age=31536000")),
        false => headers,
    }
}

/// Refuses a path or query carrying an encoded NUL character. No id, name or parameter
/// may hold one, and PostgreSQL cannot even compare text with one (it would answer with
/// an error where SQLite answers "not found"), so it is stopped here, the same way on
/// every backend.
pub async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri = req.uri();
    let carries_nul = |part: Option<&str>| part.is_some_and(|p| p.contains("%00"));
    if carries_nul(Some(uri.path())) || carries_nul(uri.query()) {
        let refusal =
            crate::error::Error::InvalidRequest("the request URL contains a NUL character".into())
                .error_response();
        return Ok(req.into_response(refusal).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
