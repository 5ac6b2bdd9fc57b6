use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{outcome, render, see_other, PageError, PageInput};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::scope::{describe, display_order};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::authorize;
use crate::service::clients::AppCard;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf_token: &'a str,
    flow: &'a str,
    client_name: &'a str,
    client_url: Option<&'a str>,
    logo: Option<&'a str>,
    scopes: Vec<String>,
    /// Where the answer is sent, as a person can check it: the redirect URI's host.
    destination: String,
    /// Registered by the server's administrators (or by the system), not by any user.
    verified: bool,
    remember_checked: bool,
}

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    flow: String,
}

/// With a consent app configured, consent is given through its challenge only: this page
/// must not be a way around it.
fn built_in_consent(state: &State) -> Result<(), PageError> {
    match state.settings.consent_url {
        Some(_) => Err(PageError(crate::error::Error::Forbidden(
            "Consent for this server is given through its consent app, not on this page.".into(),
        ))),
        None => Ok(()),
    }
}

#[get("/consent")]
pub async fn page(
    state: State,
    session: TypedSession,
    req: HttpRequest,
    PageInput(query): PageInput<web::Query<ConsentQuery>>,
) -> Result<HttpResponse, PageError> {
    built_in_consent(&state)?;
    let browser = session.browser(&state, &req).await?;
    let now = time::now();
    let st = state.clone();
    let flow = query.into_inner().flow;
    let flow_id = flow.clone();
    let request =
        blocking(move || authorize::consent_request(&st.db, &flow_id, &browser, now)).await?;
    let Some(request) = request else {
        return Ok(see_other(&format!("/login?flow={flow}")));
    };
    let csrf = session.csrf_token()?;
    let card = AppCard::new(&request.client, &state.settings.issuer);
    render(
        StatusCode::OK,
        &ConsentPage {
            csrf_token: &csrf,
            flow: &request.flow,
            client_name: &card.name,
            client_url: card.url.as_deref(),
            logo: card.logo.as_deref(),
            scopes: display_order(&request.scope)
                .into_iter()
                .map(describe)
                .collect(),
            destination: request.redirect_uri.destination(),
            verified: request.client.owner.is_none() || request.client.owner_is_admin,
            remember_checked: state.settings.consent_remember_default,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf_token: Option<Secret<String>>,
    flow: String,
    decision: Option<String>,
    remember: Option<String>,
}

#[post("/consent")]
pub async fn submit(
    state: State,
    session: TypedSession,
    req: HttpRequest,
    PageInput(form): PageInput<web::Form<ConsentForm>>,
) -> Result<HttpResponse, PageError> {
    built_in_consent(&state)?;
    let form = form.into_inner();
    session.check_csrf(form.csrf_token.as_ref())?;
    let browser = session.browser(&state, &req).await?;
    let now = time::now();
    let allow = form.decision.as_deref() == Some("allow");
    let remember = form.remember.is_some();
    let st = state.clone();
    let result = blocking(move || {
        authorize::answer_consent(
            &st.db,
            &st.settings,
            &form.flow,
            &browser,
            allow,
            remember,
            now,
        )
    })
    .await?;
    outcome(result)
}
