use actix_web::http::StatusCode;
use actix_web::{get, post, route, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, MessagePage, PageError, PageInput};
use crate::error::{Error, Result};
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::time;
use crate::service;

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    csrf_token: &'a str,
    client_name: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
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

/// The client a logout request names, and its post-logout URI if it is registered
/// exactly. An unregistered URI is an error, never a redirect.
fn check_logout(
    state: &State,
    params: &LogoutParams,
) -> Result<(Option<String>, Option<String>, Option<String>)> {
    let now = time::now();
    let hinted = match &params.id_token_hint {
        Some(hint) => {
            let max_ttl = state.settings.max_token_ttl();
            let payload = service::keys::verify_id_token_hint(&state.db, hint, max_ttl, now)?
                .filter(|p| p["iss"] == state.settings.issuer.as_str())
                .ok_or_else(|| {
                    Error::InvalidRequest(
                        "id_token_hint is not an ID token from this issuer".into(),
                    )
                })?;
            let aud = match &payload["aud"] {
                serde_json::Value::String(a) => Some(a.clone()),
                serde_json::Value::Array(list) => {
                    list.first().and_then(|a| a.as_str()).map(str::to_owned)
                }
                _ => None,
            };
            aud
        }
        None => None,
    };
    let client_id = match (&params.client_id, hinted) {
        (Some(given), Some(hinted)) if *given != hinted => {
            return Err(Error::InvalidRequest(
                "client_id does not match the id_token_hint".into(),
            ))
        }
        (Some(given), _) => Some(given.clone()),
        (None, hinted) => hinted,
    };
    let client = match &client_id {
        Some(id) => Some(
            service::clients::get(&state.db, None, id).map_err(|e| match e {
                Error::NotFound(_) => Error::InvalidRequest("unknown client_id".into()),
                other => other,
            })?,
        ),
        None => None,
    };
    let redirect = match (&params.post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(Error::InvalidRequest(
                "post_logout_redirect_uri needs a client_id or an id_token_hint".into(),
            ))
        }
        (Some(uri), Some(c)) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            Some(uri.clone())
        }
        (Some(_), Some(_)) => {
            return Err(Error::InvalidRequest(
                "post_logout_redirect_uri is not registered for this client".into(),
            ))
        }
    };
    Ok((
        client.as_ref().map(|c| c.id.clone()),
        client.map(|c| c.name),
        redirect,
    ))
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
    let st = state.clone();
    let (params, (client_id, client_name, redirect)) = blocking(move || {
        let checked = check_logout(&st, &params)?;
        Ok((params, checked))
    })
    .await?;
    let csrf = session.csrf_token()?;
    render(
        StatusCode::OK,
        &LogoutPage {
            csrf_token: &csrf,
            client_name: client_name.as_deref(),
            client_id: client_id.as_deref(),
            post_logout_redirect_uri: redirect.as_deref(),
            state: params.state.as_deref(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf_token: Option<String>,
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
    session.check_csrf(form.csrf_token.as_deref())?;
    let params = LogoutParams {
        id_token_hint: None,
        post_logout_redirect_uri: form.post_logout_redirect_uri,
        state: form.state,
        client_id: form.client_id,
    };
    let st = state.clone();
    let (params, (_, _, redirect)) = blocking(move || {
        let checked = check_logout(&st, &params)?;
        Ok((params, checked))
    })
    .await?;
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
