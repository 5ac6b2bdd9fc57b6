use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::{only_parameters, paginated, PageQuery};
use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::client::ClientRequest;
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::clients::{self, ClientView, MAX_LOGO_BYTES};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(replace)
        .service(update)
        .service(remove)
        .service(rotate_secret)
        .service(put_logo)
        .service(delete_logo);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnerQuery {
    /// Only clients owned by this username.
    owner: Option<String>,
    /// The same as `owner` (the name older client registries gave it).
    username: Option<String>,
}

/// List clients (never their secrets).
#[utoipa::path(
    tag = "admin",
    params(PageQuery, OwnerQuery),
    responses(
        (status = 200, description = "A page of clients; X-Total-Count and Link headers", body = Vec<ClientView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/admin/clients")]
pub async fn list(
    state: State,
    bearer: Bearer,
    req: HttpRequest,
    page: web::Query<PageQuery>,
    owner: web::Query<OwnerQuery>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:read")?;
    only_parameters(&req, &["limit", "offset", "owner", "username"])?;
    let page = page.page()?;
    let owner = match owner.into_inner() {
        OwnerQuery {
            owner: Some(o),
            username: Some(u),
        } if o != u => {
            return Err(Error::InvalidRequest(
                "owner and username name different users".into(),
            ))
        }
        OwnerQuery { owner, username } => owner.or(username),
    };
    let st = state.clone();
    let (items, total) =
        blocking(move || clients::list(&st.db, Some(&principal), owner.as_deref(), page)).await?;
    let views: Vec<ClientView> = items.iter().map(|c| ClientView::new(c, None)).collect();
    Ok(paginated(&req, &state.settings.issuer, &views, total, page))
}

/// Register a client. The secret (generated when absent) is returned only here.
#[utoipa::path(
    tag = "admin",
    request_body = ClientRequest,
    responses(
        (status = 201, description = "Registered", body = ClientView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The client_id is taken", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[post("/admin/clients")]
pub async fn create(
    state: State,
    bearer: Bearer,
    body: web::Json<ClientRequest>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    let draft = body.into_inner().validate()?;
    let view = blocking(move || {
        clients::create(
            &state.db,
            Some(&principal),
            &state.settings.quotas,
            draft,
            time::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/admin/clients/{}", view.client_id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// The full registration, including owner, client type and timestamps.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, body = ClientView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/admin/clients/{client_id}")]
pub async fn get_one(state: State, bearer: Bearer, id: web::Path<String>) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:read")?;
    let client = blocking(move || clients::get(&state.db, Some(&principal), &id)).await?;
    Ok(HttpResponse::Ok().json(ClientView::new(&client, None)))
}

/// Replace a registration. A new `client_secret` is hashed and returned once.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    request_body = ClientRequest,
    responses(
        (status = 200, body = ClientView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[put("/admin/clients/{client_id}")]
pub async fn replace(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
    body: web::Json<ClientRequest>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    let request = body.into_inner();
    let view =
        blocking(move || clients::replace(&state.db, Some(&principal), &id, request, time::now()))
            .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Change only the fields sent (JSON Merge Patch, RFC 7396; `null` resets a field to its
/// default). The result must be a valid registration. A new `client_secret` is hashed
/// and returned once.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    request_body(content = ClientRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = ClientView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[patch("/admin/clients/{client_id}")]
pub async fn update(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    let patch = body.into_inner();
    let view =
        blocking(move || clients::patch(&state.db, Some(&principal), &id, patch, time::now()))
            .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Delete a client with its logo and tokens.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[delete("/admin/clients/{client_id}")]
pub async fn remove(state: State, bearer: Bearer, id: web::Path<String>) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    blocking(move || clients::delete(&state.db, Some(&principal), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    client_id: String,
    #[schema(value_type = String)]
    client_secret: Secret<String>,
}

/// Rotate a confidential client's secret; the old one stops working at once.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 200, body = RotatedSecret),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[post("/admin/clients/{client_id}/secret")]
pub async fn rotate_secret(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    let client_id = id.into_inner();
    let cid = client_id.clone();
    let client_secret =
        blocking(move || clients::rotate_secret(&state.db, Some(&principal), &cid, time::now()))
            .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RotatedSecret {
            client_id,
            client_secret,
        }))
}

/// Upload the client's logo: PNG, JPEG or GIF (checked by content), at most 256 KiB, as
/// the multipart field `image` or as the raw body.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    request_body(
        content = Vec<u8>,
        content_type = "application/octet-stream",
        description = "A PNG, JPEG or GIF image as the raw body, or multipart/form-data with the field image"
    ),
    responses(
        (status = 204, description = "Stored"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[put("/admin/clients/{client_id}/logo")]
pub async fn put_logo(
    state: State,
    bearer: Bearer,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    let data = read_logo(&req, payload).await?;
    blocking(move || {
        clients::set_logo(
            &state.db,
            Some(&principal),
            &state.settings.quotas,
            &id,
            &data,
            time::now(),
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove the client's logo.
#[utoipa::path(
    tag = "admin",
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["clients:write"]))
)]
#[delete("/admin/clients/{client_id}/logo")]
pub async fn delete_logo(
    state: State,
    bearer: Bearer,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let principal = bearer.into_principal("clients:write")?;
    blocking(move || clients::delete_logo(&state.db, Some(&principal), &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn too_large() -> Error {
    Error::PayloadTooLarge(format!(
        "a logo may be at most {} KiB",
        MAX_LOGO_BYTES / 1024
    ))
}

/// Reads the image from a multipart field `image` or from the raw body, never buffering
/// more than the size limit.
async fn read_logo(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Multipart framing adds a little; anything beyond that is certainly too large.
    if declared.is_some_and(|n| n > MAX_LOGO_BYTES + 16 * 1024) {
        return Err(too_large());
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut data = Vec::new();
    if is_multipart {
        let mut form = Multipart::new(req.headers(), payload);
        while let Some(field) = form.next().await {
            let mut field = field
                .map_err(|e| Error::InvalidRequest(format!("malformed multipart body: {e}")))?;
            let is_image = field.name() == Some("image");
            while let Some(chunk) = field.next().await {
                let chunk = chunk
                    .map_err(|e| Error::InvalidRequest(format!("malformed multipart body: {e}")))?;
                if is_image {
                    data.extend_from_slice(&chunk);
                    if data.len() > MAX_LOGO_BYTES {
                        return Err(too_large());
                    }
                }
            }
            if is_image {
                return Ok(data);
            }
        }
        Err(Error::InvalidRequest(
            "the multipart body has no field named image".into(),
        ))
    } else {
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| Error::InvalidRequest(format!("unreadable body: {e}")))?;
            data.extend_from_slice(&chunk);
            if data.len() > MAX_LOGO_BYTES {
                return Err(too_large());
            }
        }
        if data.is_empty() {
            return Err(Error::InvalidRequest(
                "the body is empty; send the image".into(),
            ));
        }
        Ok(data)
    }
}
