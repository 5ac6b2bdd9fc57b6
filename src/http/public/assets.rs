use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::{Error, Result};

/// Stylesheets and images, compiled into the binary so there is nothing to deploy.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

#[get("/static/{path:.*}")]
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse> {
    let file = Assets::get(&path)
        .ok_or_else(|| Error::NotFound(format!("no asset {:?}", path.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(&path))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.data.into_owned()))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
