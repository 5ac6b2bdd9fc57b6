//! Server-rendered pages for people: sign-in, consent, sign-out. They work without
//! JavaScript, carry a CSRF token in every form, and cannot be framed.

mod connections;
mod consent;
mod login;
mod logout;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use askama::Template;

use crate::error::Error;
use crate::protocol::authorize::ResponseMode;
use crate::service::authorize::{ClientResponse, Outcome};

pub use login::keep_signed_in;
pub use logout::rp_logout;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login::page)
        .service(login::submit)
        .service(consent::page)
        .service(consent::submit)
        .service(connections::page)
        .service(connections::revoke)
        .service(connections::end_session)
        .service(logout::page)
        .service(logout::submit)
        .service(logout::rp_logout);
}

/// Pages may load their own assets (uploaded app logos among them), nothing else, and
/// may not be framed.
const PAGE_CSP: &str = "default-src 'self'; img-src 'self'; style-src 'self'; \
     script-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Content-Security-Policy", PAGE_CSP))
        .body(body)
}

pub fn render<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|e| PageError(Error::internal(e)))?;
    Ok(html(status, body))
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
}

/// An [`Error`] met while serving a page: the same status as the API would give, shown
/// as a page instead of JSON.
#[derive(Debug)]
pub struct PageError(pub Error);

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        // The JSON rendering logs causes and hides internals; reuse its description.
        let json = self.0.error_response();
        let message = match &self.0 {
            Error::Internal(_) | Error::Unavailable(_) => {
                "Something went wrong on our side. Please try again.".to_owned()
            }
            other => other.to_string(),
        };
        let page = MessagePage {
            title: "Something is not right",
            message: &message,
            is_error: true,
        };
        let mut response = html(json.status(), page.render().unwrap_or(message));
        if let Some(retry) = json.headers().get(header::RETRY_AFTER) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry.clone());
        }
        response
    }
}

/// A page's form or query: input that cannot be read gets the page's HTML error, not
/// the JSON one the API's extractors give.
pub struct PageInput<E>(pub E);

impl<E> actix_web::FromRequest for PageInput<E>
where
    E: actix_web::FromRequest + 'static,
    E::Future: 'static,
{
    type Error = PageError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, PageError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let extracting = E::from_request(req, payload);
        Box::pin(async move {
            extracting.await.map(PageInput).map_err(|e| {
                let e: actix_web::Error = e.into();
                PageError(match e.as_response_error().status_code() {
                    StatusCode::PAYLOAD_TOO_LARGE => {
                        Error::PayloadTooLarge("The form is too large.".into())
                    }
                    _ => Error::InvalidRequest(
                        "The form could not be read. Go back and try again.".into(),
                    ),
                })
            })
        })
    }
}

/// Where to send a person next.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(&'static str, String)>,
    nonce: String,
}

/// Turns the outcome of an authorization step into the browser's next move.
pub fn outcome(outcome: Outcome) -> Result<HttpResponse, PageError> {
    match outcome {
        Outcome::Render(err) => {
            let message = format!(
                "The application sent an invalid request: {}",
                err.description
            );
            render(
                StatusCode::BAD_REQUEST,
                &MessagePage {
                    title: "This request cannot be completed",
                    message: &message,
                    is_error: true,
                },
            )
        }
        Outcome::Login { flow } => Ok(see_other(&format!("/login?flow={flow}"))),
        Outcome::Consent { flow } => Ok(see_other(&format!("/consent?flow={flow}"))),
        Outcome::External(url) => Ok(see_other(&url)),
        Outcome::Respond(response) => respond(response),
    }
}

fn respond(response: ClientResponse) -> Result<HttpResponse, PageError> {
    let ClientResponse {
        redirect_uri,
        mode,
        params,
    } = response;
    let mut url = redirect_uri.url().clone();
    match mode {
        ResponseMode::Query => {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            Ok(see_other(url.as_str()))
        }
        ResponseMode::Fragment => {
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            url.set_fragment(Some(&fragment));
            Ok(see_other(url.as_str()))
        }
        ResponseMode::FormPost => {
            let nonce = crate::protocol::secret::random_string(16);
            let page = FormPostPage {
                action: url.as_str(),
                fields: params,
                nonce: nonce.clone(),
            };
            let body = page.render().map_err(|e| PageError(Error::internal(e)))?;
            Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((
                    "Content-Security-Policy",
                    format!(
                        "default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors 'none'"
                    ),
                ))
                .body(body))
        }
    }
}

#[cfg(test)]
mod secret_tests {
    #[test]
    fn page_forms_never_print_passwords_or_csrf_tokens() {
        let s = "S3CRET-never-printed";
        let login: super::login::LoginForm =
            serde_urlencoded::from_str(&format!("csrf_token={s}&username=ann&password={s}"))
                .unwrap();
        let consent: super::consent::ConsentForm =
            serde_urlencoded::from_str(&format!("csrf_token={s}&flow=f")).unwrap();
        let logout: super::logout::LogoutForm =
            serde_urlencoded::from_str(&format!("csrf_token={s}")).unwrap();
        let revoke: super::connections::RevokeForm =
            serde_urlencoded::from_str(&format!("csrf_token={s}&client_id=a")).unwrap();
        for printed in [
            format!("{login:?}"),
            format!("{consent:?}"),
            format!("{logout:?}"),
            format!("{revoke:?}"),
        ] {
            assert!(!printed.contains(s), "{printed}");
        }
    }
}
