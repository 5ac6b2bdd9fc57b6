use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, PageError, PageInput};
use crate::error::Error;
use crate::http::session::TypedSession;
use crate::http::{blocking, State};
use crate::protocol::secret::Secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time;
use crate::service;
use crate::service::users::SignIn;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    flow: Option<&'a str>,
    client_name: Option<&'a str>,
    username: &'a str,
    error: Option<&'a str>,
    next: Option<&'a str>,
}

/// Where a plain sign-in may continue to: only this server's own pages, never an
/// address a link could smuggle in.
fn safe_next(next: Option<&str>) -> Option<&'static str> {
    match next {
        Some("/connections") => Some("/connections"),
        Some("/logout") => Some("/logout"),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
    next: Option<String>,
}

/// The name of the app a flow belongs to, to say what the sign-in is for.
async fn client_name(
    state: &State,
    session: &TypedSession,
    flow: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(flow) = flow.map(str::to_owned) else {
        return Ok(None);
    };
    let binding = session.binding()?;
    let st = state.clone();
    blocking(move || service::sign_in::app_name(&st.db, &flow, &binding, time::now())).await
}

/// With a login app configured, people sign in there only: a password typed here would
/// go around whatever the app asks (a second factor, the organisation's directory).
fn built_in_sign_in(state: &State) -> Result<(), PageError> {
    match state.settings.login_url {
        Some(_) => Err(PageError(Error::Forbidden(
            "Sign-in for this server is through its sign-in app: start again from the app you came from.".into(),
        ))),
        None => Ok(()),
    }
}

#[get("/login")]
pub async fn page(
    state: State,
    session: TypedSession,
    PageInput(query): PageInput<web::Query<LoginQuery>>,
) -> Result<HttpResponse, PageError> {
    built_in_sign_in(&state)?;
    let csrf = session.csrf_token()?;
    let name = client_name(&state, &session, query.flow.as_deref()).await?;
    render(
        StatusCode::OK,
        &LoginPage {
            csrf_token: &csrf,
            flow: query.flow.as_deref(),
            client_name: name.as_deref(),
            username: "",
            error: None,
            next: safe_next(query.next.as_deref()),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf_token: Option<Secret<String>>,
    flow: Option<String>,
    username: Option<String>,
    password: Option<Secret<String>>,
    next: Option<String>,
}

/// Checks the credentials. A wrong username and a wrong password read the same, and
/// repeated failures are throttled per account and address.
#[post("/login")]
pub async fn submit(
    state: State,
    session: TypedSession,
    req: HttpRequest,
    PageInput(form): PageInput<web::Form<LoginForm>>,
) -> Result<HttpResponse, PageError> {
    built_in_sign_in(&state)?;
    let form = form.into_inner();
    session.check_csrf(form.csrf_token.as_ref())?;
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let flow = form.flow.filter(|f| !f.is_empty());
    let address = crate::http::extract::peer_ip(&req);
    if let Err(seconds) = state.login_limiter.begin(&username, &address) {
        return Err(Error::TooManyRequests(seconds).into());
    }
    let st = state.clone();
    let (name, pass) = (username.clone(), password);
    let network = crate::http::ratelimit::network(&address).to_string();
    let outcome = blocking(move || {
        service::users::sign_in(&st.db, &name, pass.expose_str(), &network, time::now())
    })
    .await;
    let outcome = outcome.inspect_err(|_| state.login_limiter.withdraw(&username, &address))?;
    let user = match outcome {
        SignIn::Accepted(user) => user,
        SignIn::Delayed(seconds) => {
            state.login_limiter.withdraw(&username, &address);
            return Err(Error::TooManyRequests(seconds).into());
        }
        SignIn::Wrong => {
            // A wrong password: the attempt stays counted.
            let csrf = session.csrf_token()?;
            let name = client_name(&state, &session, flow.as_deref()).await?;
            return render(
                StatusCode::UNAUTHORIZED,
                &LoginPage {
                    csrf_token: &csrf,
                    flow: flow.as_deref(),
                    client_name: name.as_deref(),
                    username: &username,
                    error: Some("The username or password is incorrect."),
                    next: safe_next(form.next.as_deref()),
                },
            );
        }
    };
    state.login_limiter.succeeded(&username, &address);
    let ttl = state.settings.session_ttl.as_secs() as i64;
    let password = SignInMethod::password();
    match flow {
        None => {
            keep_signed_in(&state, &session, &req, &user.id, ttl, &password, None).await?;
            Ok(see_other(safe_next(form.next.as_deref()).unwrap_or("/")))
        }
        Some(flow) => {
            keep_signed_in(
                &state,
                &session,
                &req,
                &user.id,
                ttl,
                &password,
                Some(&flow),
            )
            .await?;
            Ok(see_other(&format!("/oauth2/auth/resume?flow={flow}")))
        }
    }
}

/// Starts a server-side session of `ttl` seconds for `user_id` in this browser, with a
/// renewed cookie, and signs her in to `flow`, which moves along to the new cookie.
pub async fn keep_signed_in(
    state: &State,
    session: &TypedSession,
    req: &HttpRequest,
    user_id: &str,
    ttl: i64,
    method: &SignInMethod,
    flow: Option<&str>,
) -> Result<(), Error> {
    let now = time::now();
    let origin = service::sessions::Origin::new(
        req.headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        crate::http::extract::peer_ip(req),
    );
    let st = state.clone();
    let id = user_id.to_owned();
    let stored = method.clone();
    let secret =
        blocking(move || service::sessions::start(&st.db, &id, &origin, ttl, &stored, now)).await?;
    let old_binding = session.binding()?;
    let new_binding = session.sign_in(&secret)?;
    let Some(flow) = flow.map(str::to_owned) else {
        return Ok(());
    };
    let st = state.clone();
    let (id, method) = (user_id.to_owned(), method.clone());
    let moved = blocking(move || {
        service::sign_in::hand_over(&st.db, &flow, &old_binding, &new_binding, &id, &method, now)
    })
    .await?;
    if !moved {
        return Err(Error::InvalidRequest(
            "this sign-in request has expired; start again from the app".into(),
        ));
    }
    Ok(())
}
