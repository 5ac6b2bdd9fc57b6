//! User accounts. Passwords are write-only.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};

use super::{only_parameters, paginated, PageQuery};
use crate::error::Result;
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::users::{self, NewUser, UserPatch, UserView};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Letters, digits and `. _ - @`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$", min_length = 1, max_length = 64)]
    username: String,
    #[schema(value_type = String, min_length = 8, max_length = 1024)]
    password: Secret<String>,
    email: Option<String>,
    name: Option<String>,
    phone_number: Option<String>,
    address: Option<String>,
    #[serde(default)]
    admin: bool,
}

/// Tells a field set to `null` (clear it) from a field left out (keep it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    address: Option<Option<String>>,
    admin: Option<bool>,
    #[schema(value_type = Option<String>)]
    password: Option<Secret<String>>,
}

/// List users.
#[utoipa::path(
    tag = "admin",
    params(PageQuery),
    responses((status = 200, body = Vec<UserView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["users:read"]))
)]
#[get("/admin/users")]
pub async fn list(
    state: State,
    bearer: Bearer,
    req: HttpRequest,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    bearer.require("users:read")?;
    only_parameters(&req, &["limit", "offset"])?;
    let page = page.page()?;
    let st = state.clone();
    let (items, total) = blocking(move || users::list(&st.db, page)).await?;
    Ok(paginated(&req, &state.settings.issuer, &items, total, page))
}

/// Create a user.
#[utoipa::path(
    tag = "admin",
    request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = ["users:write"]))
)]
#[post("/admin/users")]
pub async fn create(
    state: State,
    bearer: Bearer,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse> {
    bearer.require("users:write")?;
    let b = body.into_inner();
    let user = NewUser {
        username: b.username,
        email: b.email,
        name: b.name,
        password: b.password,
        admin: b.admin,
        phone_number: b.phone_number,
        address: b.address,
    };
    let view = blocking(move || users::create(&state.db, user, time::now())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/admin/users/{}", view.username)))
        .json(view))
}

/// One user.
#[utoipa::path(
    tag = "admin",
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["users:read"]))
)]
#[get("/admin/users/{username}")]
pub async fn get_one(
    state: State,
    bearer: Bearer,
    username: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("users:read")?;
    let view = blocking(move || users::get(&state.db, &username)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Change some fields of a user; `null` clears one. A new password is hashed.
#[utoipa::path(
    tag = "admin",
    params(("username" = String, Path)),
    request_body = PatchUser,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The last admin cannot lose the flag", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = ["users:write"]))
)]
#[patch("/admin/users/{username}")]
pub async fn update(
    state: State,
    bearer: Bearer,
    username: web::Path<String>,
    body: web::Json<PatchUser>,
) -> Result<HttpResponse> {
    bearer.require("users:write")?;
    let b = body.into_inner();
    let patch = UserPatch {
        email: b.email,
        name: b.name,
        phone_number: b.phone_number,
        address: b.address,
        admin: b.admin,
        password: b.password,
    };
    let view = blocking(move || users::update(&state.db, &username, patch, time::now())).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Sign a user out everywhere: every browser session of hers ends at once.
#[utoipa::path(
    tag = "admin",
    params(("username" = String, Path)),
    responses((status = 204, description = "Every session ended"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["users:write"]))
)]
#[delete("/admin/users/{username}/sessions")]
pub async fn end_sessions(
    state: State,
    bearer: Bearer,
    username: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("users:write")?;
    blocking(move || users::end_sessions(&state.db, &username)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a user with their grants and tokens.
#[utoipa::path(
    tag = "admin",
    params(("username" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The last admin cannot be deleted", body = ErrorBody)),
    security(("bearer" = ["users:write"]))
)]
#[delete("/admin/users/{username}")]
pub async fn remove(
    state: State,
    bearer: Bearer,
    username: web::Path<String>,
) -> Result<HttpResponse> {
    bearer.require("users:write")?;
    blocking(move || users::delete(&state.db, &username)).await?;
    Ok(HttpResponse::NoContent().finish())
}
