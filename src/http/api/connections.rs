//! The apps connected to the token's user.

use actix_web::{delete, get, web, HttpResponse};

use super::user_of;
use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::grants::{self, Connection};

/// Every app connected to the user's account.
#[utoipa::path(
    tag = "connections",
    responses((status = 200, body = Vec<Connection>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["connections:read"]))
)]
#[get("/api/connections")]
pub async fn list(state: State, bearer: Bearer) -> Result<HttpResponse> {
    let user = user_of(&bearer, "connections:read")?;
    let items =
        blocking(move || grants::connections(&state.db, &user, &state.settings.issuer)).await?;
    Ok(HttpResponse::Ok().json(items))
}

/// One connected app.
#[utoipa::path(
    tag = "connections",
    params(("client_id" = String, Path)),
    responses((status = 200, body = Connection), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["connections:read"]))
)]
#[get("/api/connections/{client_id}")]
pub async fn get_one(
    state: State,
    bearer: Bearer,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    let user = user_of(&bearer, "connections:read")?;
    let item = blocking(move || {
        grants::connection_of(&state.db, &user, &client_id, &state.settings.issuer)
    })
    .await?;
    Ok(HttpResponse::Ok().json(item))
}

/// Disconnect an app: its grant goes and its tokens are revoked.
#[utoipa::path(
    tag = "connections",
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Disconnected"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["connections:write"]))
)]
#[delete("/api/connections/{client_id}")]
pub async fn remove(
    state: State,
    bearer: Bearer,
    client_id: web::Path<String>,
) -> Result<HttpResponse> {
    let user = user_of(&bearer, "connections:write")?;
    blocking(move || grants::revoke_connection(&state.db, &user, &client_id, time::now())).await?;
    Ok(HttpResponse::NoContent().finish())
}
