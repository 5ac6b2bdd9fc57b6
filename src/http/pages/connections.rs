use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, PageError, PageInput};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::grants::{self, AuthorizationView, Connection};
use crate::service::sessions::{self, SessionView};
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
    sessions: Vec<SessionRow>,
}

/// A signed-in browser, with its times written for people.
struct SessionRow {
    s: SessionView,
    current: bool,
    started: String,
    last_seen: String,
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
    ended: Option<String>,
}

#[get("/connections")]
pub async fn page(
    state: State,
    session: TypedSession,
    PageInput(query): PageInput<web::Query<ConnectionsQuery>>,
) -> Result<HttpResponse, PageError> {
    let Some(user) = session.user(&state).await? else {
        return Ok(see_other("/login?next=/connections"));
    };
    let csrf = session.csrf_token()?;
    let st = state.clone();
    let current = user.session.clone();
    let (record, connections, all, signed_in) = blocking(move || {
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
        let signed_in = sessions::list(&st.db, &user.id, time::now())?;
        Ok((record, connections, all, signed_in))
    })
    .await?;
    let notice = match (&query.revoked, &query.ended) {
        (Some(_), _) => Some("Access was revoked."),
        (_, Some(_)) => Some("The session was ended."),
        _ => None,
    };
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
            sessions: signed_in
                .into_iter()
                .map(|s| SessionRow {
                    current: current.as_deref() == Some(s.id.as_str()),
                    started: time::human_rfc3339(&s.created_at),
                    last_seen: time::human_rfc3339(&s.last_seen_at),
                    s,
                })
                .collect(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf_token: Option<Secret<String>>,
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
    session.check_csrf(form.csrf_token.as_ref())?;
    let Some(user) = session.user(&state).await? else {
        return Ok(see_other("/login?next=/connections"));
    };
    blocking(move || grants::revoke_connection(&state.db, &user.id, &form.client_id, time::now()))
        .await?;
    Ok(see_other("/connections?revoked=1"))
}

#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    csrf_token: Option<Secret<String>>,
    session: String,
}

/// End session: that browser is signed out at once (this one too, if it is the one).
#[post("/connections/sessions/end")]
pub async fn end_session(
    state: State,
    session: TypedSession,
    PageInput(form): PageInput<web::Form<EndSessionForm>>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_csrf(form.csrf_token.as_ref())?;
    let Some(user) = session.user(&state).await? else {
        return Ok(see_other("/login?next=/connections"));
    };
    let current = user.session.as_deref() == Some(form.session.as_str());
    let st = state.clone();
    let ended = blocking(move || sessions::end_one(&st.db, &user.id, &form.session)).await?;
    if !ended {
        return Err(crate::error::Error::NotFound("there is no such session".into()).into());
    }
    if current {
        session.sign_out(&state).await?;
        return Ok(see_other("/login?next=/connections"));
    }
    Ok(see_other("/connections?ended=1"))
}
