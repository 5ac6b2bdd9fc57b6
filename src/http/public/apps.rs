use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::{blocking, State};
use crate::service::clients::{self, AppCard};

/// The public card of one app.
#[utoipa::path(
    tag = "apps",
    params(("client_id" = String, Path)),
    responses((status = 200, body = AppCard), (status = 404, body = ErrorBody))
)]
#[get("/apps/{client_id}")]
pub async fn card(state: State, id: web::Path<String>) -> Result<HttpResponse> {
    let st = state.clone();
    let client = blocking(move || clients::get(&st.db, None, &id)).await?;
    Ok(HttpResponse::Ok().json(AppCard::new(&client, &state.settings.issuer)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardsQuery {
    /// Comma-separated client ids (at most 100). Unknown ids are left out.
    #[param(required = true)]
    ids: Option<String>,
}

/// The most `GET /apps` answers with, in bytes.
const MAX_CARDS_BYTES: usize = 64 * 1024;

/// The public cards of several apps (64 KiB of them at most).
#[utoipa::path(
    tag = "apps",
    params(CardsQuery),
    responses((status = 200, body = Vec<AppCard>), (status = 400, body = ErrorBody))
)]
#[get("/apps")]
pub async fn cards(state: State, query: web::Query<CardsQuery>) -> Result<HttpResponse> {
    let ids: Vec<String> = query
        .ids
        .as_deref()
        .ok_or_else(|| {
            Error::InvalidRequest("the ids parameter is required, e.g. ?ids=a,b".into())
        })?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let st = state.clone();
    let found = blocking(move || clients::cards(&st.db, &ids)).await?;
    let cards: Vec<AppCard> = found
        .iter()
        .map(|c| AppCard::new(c, &state.settings.issuer))
        .collect();
    let body = serde_json::to_vec(&cards).map_err(Error::internal)?;
    // A short request must not buy a long answer.
    if body.len() > MAX_CARDS_BYTES {
        return Err(Error::InvalidRequest(format!(
            "these cards together exceed {} KiB; ask for fewer ids at once",
            MAX_CARDS_BYTES / 1024
        )));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// The app's uploaded logo.
#[utoipa::path(
    tag = "apps",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, description = "The image: PNG, JPEG or GIF", content_type = "image/png"),
        (status = 404, body = ErrorBody)
    )
)]
#[get("/apps/{client_id}/logo")]
pub async fn logo(state: State, id: web::Path<String>) -> Result<HttpResponse> {
    let logo = blocking(move || clients::logo(&state.db, &id)).await?;
    Ok(HttpResponse::Ok()
        .content_type(logo.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .body(logo.data))
}
