//! Admins' view of users' grants.

use actix_web::{delete, get, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{only_parameters, paginated, PageQuery};
use crate::error::{Error, Result};
use crate::http::error::ErrorBody;
use crate::http::extract::Bearer;
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::grants::{self, AuthorizationView};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizationFilter {
    /// The user's `sub` or username.
    subject: Option<String>,
    client_id: Option<String>,
}

/// List grants, by user and/or client.
#[utoipa::path(
    tag = "admin",
    params(PageQuery, AuthorizationFilter),
    responses(
        (status = 200, body = Vec<AuthorizationView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = ["authorizations:read"]))
)]
#[get("/admin/authorizations")]
pub async fn list(
    state: State,
    bearer: Bearer,
    req: HttpRequest,
    page: web::Query<PageQuery>,
    filter: web::Query<AuthorizationFilter>,
) -> Result<HttpResponse> {
    bearer.require("authorizations:read")?;
    only_parameters(&req, &["limit", "offset", "subject", "client_id"])?;
    let page = page.page()?;
    let AuthorizationFilter { subject, client_id } = filter.into_inner();
    let st = state.clone();
    let (items, total) =
        blocking(move || grants::list(&st.db, subject.as_deref(), client_id.as_deref(), page))
            .await?;
    Ok(paginated(&req, &state.settings.issuer, &items, total, page))
}

/// Remove one grant and revoke its tokens.
#[utoipa::path(
    tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["authorizations:write"]))
)]
#[delete("/admin/authorizations/{id}")]
pub async fn remove(state: State, bearer: Bearer, id: web::Path<String>) -> Result<HttpResponse> {
    bearer.require("authorizations:write")?;
    blocking(move || grants::remove(&state.db, &id, time::now())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove the grant of a user (`subject`) to a client (`client_id`) and revoke its tokens.
#[utoipa::path(
    tag = "admin",
    params(
        ("subject" = String, Query, description = "The user's `sub` or username"),
        ("client_id" = String, Query),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = ["authorizations:write"]))
)]
#[delete("/admin/authorizations")]
pub async fn remove_for(
    state: State,
    bearer: Bearer,
    req: HttpRequest,
    filter: web::Query<AuthorizationFilter>,
) -> Result<HttpResponse> {
    bearer.require("authorizations:write")?;
    only_parameters(&req, &["subject", "client_id"])?;
    let AuthorizationFilter { subject, client_id } = filter.into_inner();
    let (Some(subject), Some(client_id)) = (subject, client_id) else {
        return Err(Error::InvalidRequest(
            "both subject and client_id are required".into(),
        ));
    };
    blocking(move || grants::remove_for(&state.db, &subject, &client_id, time::now())).await?;
    Ok(HttpResponse::NoContent().finish())
}
