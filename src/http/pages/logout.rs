use actix_web::http::StatusCode;
use actix_web::{get, post, route, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, MessagePage, PageError, PageInput};
use crate::error::{Error, Result};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service;
use crate::service::logout::{LogoutRequest, LogoutTarget};

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    csrf_token: &'a str,
    client_name: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    id_token_hint: Option<&'a str>,
    state: Option<&'a str>,
}

#[get("/logout")]
pub async fn page(session: TypedSession) -> Result<HttpResponse, PageError> {
    let csrf = session.csrf_token()?;
    render(
        StatusCode::OK,
        &LogoutPage {
            csrf_token: &csrf,
            client_name: None,
            client_id: None,
            post_logout_redirect_uri: None,
            id_token_hint: None,
            state: None,
        },
    )
}

/// Parameters of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

impl LogoutParams {
    fn request(&self) -> LogoutRequest {
        LogoutRequest {
            id_token_hint: self.id_token_hint.clone().filter(|h| !h.is_empty()),
            client_id: self.client_id.clone().filter(|c| !c.is_empty()),
            post_logout_redirect_uri: self.post_logout_redirect_uri.clone(),
        }
    }
}

/// Checks the request for the signed-in user (if any) on the blocking pool.
async fn check(
    state: &State,
    session: &TypedSession,
    params: &LogoutParams,
) -> Result<LogoutTarget> {
    let user = session.user(state).await?.map(|u| u.id);
    let request = params.request();
    let st = state.clone();
    blocking(move || {
        service::logout::check(
            &st.db,
            &st.settings.issuer,
            st.settings.max_token_ttl(),
            &request,
            user.as_deref(),
            time::now(),
        )
    })
    .await
}

/// RP-initiated logout: asks the person to confirm, then signs out and returns to the
/// registered post-logout URI.
#[route("/oauth2/sessions/logout", method = "GET", method = "POST")]
pub async fn rp_logout(
    state: State,
    session: TypedSession,
    PageInput(query): PageInput<web::Query<LogoutParams>>,
    form: Option<web::Form<LogoutParams>>,
) -> Result<HttpResponse, PageError> {
    let params = match form {
        Some(form) => form.into_inner(),
        None => query.into_inner(),
    };
    let target = check(&state, &session, &params).await?;
    let csrf = session.csrf_token()?;
    render(
        StatusCode::OK,
        &LogoutPage {
            csrf_token: &csrf,
            client_name: target.client_name.as_deref(),
            client_id: target.client_id.as_deref(),
            post_logout_redirect_uri: target.redirect.as_deref(),
            // Carried into the form so that the sign-out repeats the same proof.
            id_token_hint: target
                .redirect
                .as_ref()
                .and(params.id_token_hint.as_deref()),
            state: params.state.as_deref(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf_token: Option<Secret<String>>,
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    client_id: Option<String>,
    state: Option<String>,
}

#[post("/logout")]
pub async fn submit(
    state: State,
    session: TypedSession,
    PageInput(form): PageInput<web::Form<LogoutForm>>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    session.check_csrf(form.csrf_token.as_ref())?;
    let params = LogoutParams {
        id_token_hint: form.id_token_hint,
        post_logout_redirect_uri: form.post_logout_redirect_uri,
        state: form.state,
        client_id: form.client_id,
    };
    let redirect = check(&state, &session, &params).await?.redirect;
    session.sign_out(&state).await?;
    if let Some(uri) = redirect {
        let mut url = url::Url::parse(&uri).map_err(|e| PageError(Error::internal(e)))?;
        if let Some(s) = &params.state {
            url.query_pairs_mut().append_pair("state", s);
        }
        return Ok(see_other(url.as_str()));
    }
    render(
        StatusCode::OK,
        &MessagePage {
            title: "Signed out",
            message: "You are signed out.",
            is_error: false,
        },
    )
}
