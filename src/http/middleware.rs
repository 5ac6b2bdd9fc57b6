//! Cross-cutting request handling: one log line and metrics per request, and the
//! security headers every response carries.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};

use super::State;

/// Logs method, route, path (never the query, which may carry codes or tokens), status
/// and latency, and records the same in the metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let state = req.app_data::<State>().cloned();
    let response = next.call(req).await?;
    let elapsed = start.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let status = response.status().as_u16();
    if let Some(state) = state {
        let status_text = status.to_string();
        state
            .metrics
            .requests
            .with_label_values(&[method.as_str(), &route, &status_text])
            .inc();
        state
            .metrics
            .latency
            .with_label_values(&[method.as_str(), &route])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        method = %method,
        route = %route,
        path = %path,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    Ok(response)
}

/// Headers for every response: no framing (clickjacking), no MIME sniffing, no referrer.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", "frame-ancestors 'none'"))
        .add(("Referrer-Policy", "no-referrer"))
}
