use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, PageError, PageInput};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service::grants::{self, AuthorizationView, Connection};
use crate::service::{users, Page};

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    connections: Vec<Row>,
    notice: Option<&'a str>,
    /// Every grant, read-only, for admins.
    all_grants: Option<Vec<AuthorizationView>>,
}

/// A connection with its times written for people.
struct Row {
    c: Connection,
    first_granted: String,
    last_used: String,
}

#[derive(Debug, Deserialize)]
pub struct ConnectionsQuery {
    revoked: Option<String>,
}

#[get("/connections")]
pub async fn page(
    state: State,
    session: TypedSession,
    PageInput(query): PageInput<web::Query<ConnectionsQuery>>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = session.user(state.settings.session_ttl.as_secs() as i64, time::now()) else {
        return Ok(see_other("/login?next=/connections"));
    };
    let csrf = session.csrf_token()?;
    let st = state.clone();
    let (record, connections, all) = blocking(move || {
        let record = users::find(&st.db, &user.id)?
            .ok_or_else(|| crate::error::Error::NotFound("your account no longer exists".into()))?;
        let connections = grants::connections(&st.db, &user.id, &st.settings.issuer)?;
        let all = if record.is_admin {
            Some(
                grants::list(
                    &st.db,
                    None,
                    None,
                    Page {
                        limit: Page::MAX_LIMIT,
                        offset: 0,
                    },
                )?
                .0,
            )
        } else {
            None
        };
        Ok((record, connections, all))
    })
    .await?;
    let notice = query.revoked.as_ref().map(|_| "Access was revoked.");
    render(
        StatusCode::OK,
        &ConnectionsPage {
            csrf_token: &csrf,
            username: &record.username,
            connections: connections
                .into_iter()
                .map(|c| Row {
                    first_granted: time::human_rfc3339(&c.created_at),
                    last_used: time::human_rfc3339(&c.last_used),
                    c,
                })
                .collect(),
            notice,
            all_grants: all,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf_token: Option<String>,
    client_id: String,
}

/// Revoke access: the grant goes and every token issued under it stops working.
#[post("/connections/revoke")]
pub async fn revoke(
    state: State,
    session: TypedSession,
    PageInput(form): PageInput<web::Form<RevokeForm>>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_csrf(form.csrf_token.as_deref())?;
    let Some(user) = session.user(state.settings.session_ttl.as_secs() as i64, time::now()) else {
        return Ok(see_other("/login?next=/connections"));
    };
    blocking(move || grants::revoke_connection(&state.db, &user.id, &form.client_id, time::now()))
        .await?;
    Ok(see_other("/connections?revoked=1"))
}
