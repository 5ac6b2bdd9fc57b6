use actix_web::{get, HttpResponse};
use askama::Template;

use crate::error::{Error, Result};
use crate::http::State;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    issuer: &'a str,
}

/// A landing page that tells a person where they are and where the metadata is.
#[get("/")]
pub async fn home(state: State) -> Result<HttpResponse> {
    let page = HomePage {
        issuer: &state.settings.issuer,
    };
    let html = page.render().map_err(Error::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}
