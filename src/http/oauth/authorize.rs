//! The authorization endpoint (RFC 6749 §3.1), answered with redirects and pages.

use actix_web::{get, route, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::http::pages::{keep_signed_in, outcome, PageError};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::authorize::Params;
use crate::protocol::time;
use crate::service::authorize::{self as flow, LoginReturn};

fn collect(pairs: Vec<(String, String)>) -> Params {
    let mut params = Params::new();
    for (k, v) in pairs {
        params.entry(k).or_default().push(v);
    }
    params
}

/// Authorization request by GET (query) or POST (form body), as OpenID Connect Core
/// §3.1.2.1 requires both.
#[route("/oauth2/auth", method = "GET", method = "POST")]
pub async fn authorize(
    state: State,
    session: TypedSession,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    form: Option<web::Form<Vec<(String, String)>>>,
) -> Result<HttpResponse, PageError> {
    let pairs = match form {
        Some(form) if !form.is_empty() => form.into_inner(),
        _ => query.into_inner(),
    };
    let params = collect(pairs);
    let cookie = session.cookie(&req)?;
    let result = blocking(move || {
        let now = time::now();
        let browser = cookie.resolve(&state.db, now)?;
        flow::start(&state.db, &state.settings, &params, &browser, now)
    })
    .await?;
    outcome(result)
}

#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    flow: String,
    /// Present when the external consent app answered.
    consent_verifier: Option<String>,
    /// Present when the external login app answered.
    login_verifier: Option<String>,
}

/// Where the sign-in page sends the browser back to.
#[get("/oauth2/auth/resume")]
pub async fn resume(
    state: State,
    session: TypedSession,
    req: HttpRequest,
    query: web::Query<ResumeQuery>,
) -> Result<HttpResponse, PageError> {
    let ResumeQuery {
        flow,
        consent_verifier,
        login_verifier,
    } = query.into_inner();
    let mut browser = session.browser(&state, &req).await?;
    if let Some(verifier) = login_verifier {
        let (st, id, b) = (state.clone(), flow.clone(), browser.clone());
        let returned = blocking(move || {
            flow::return_from_login(&st.db, &st.settings, &id, &verifier, &b, time::now())
        })
        .await?;
        match returned {
            LoginReturn::Refused(refusal) => return outcome(refusal),
            LoginReturn::SignedIn {
                user_id,
                method,
                remember: Some(ttl),
            } => {
                keep_signed_in(&state, &session, &req, &user_id, ttl, &method, Some(&flow)).await?;
                browser = session.browser(&state, &req).await?;
            }
            LoginReturn::SignedIn { remember: None, .. } => {}
        }
    }
    let now = time::now();
    let result = blocking(move || {
        flow::resume(
            &state.db,
            &state.settings,
            &flow,
            consent_verifier.as_deref(),
            &browser,
            now,
        )
    })
    .await?;
    outcome(result)
}
