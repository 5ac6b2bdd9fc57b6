//! The HTTP surface: thin actix-web handlers grouped by audience. Handlers parse the
//! request, run a [`crate::service`] function on the blocking pool and render the result;
//! every failure goes through [`crate::error::Error`]'s one mapping in [`error`].

pub mod admin;
pub mod api;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod pages;
pub mod public;
pub mod ratelimit;
pub mod session;

use std::sync::Arc;

use actix_web::web;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::storage::Db;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub metrics: metrics::Metrics,
    /// Key for signing and encrypting session cookies, shared by all nodes.
    pub cookie_key: Vec<u8>,
    pub signer: crate::service::keys::Signer,
    /// Throttles failed sign-ins (pages and the password grant).
    pub login_limiter: ratelimit::Limiter,
    /// Throttles failed client authentication (token, introspection, revocation).
    pub client_limiter: ratelimit::Limiter,
}

impl AppState {
    /// The token issuer over this server's database, settings and signing keys.
    pub fn issuer(&self) -> crate::service::issue::Issuer<'_> {
        crate::service::issue::Issuer {
            db: &self.db,
            settings: &self.settings,
            signer: &self.signer,
        }
    }
}

pub type State = web::Data<AppState>;

/// Runs blocking work (Diesel, argon2) on actix's blocking thread pool so that the async
/// workers keep serving other requests.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await.map_err(Error::internal)?
}

/// Registers every documented route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    oauth::configure(cfg);
    admin::configure(cfg);
    api::configure(cfg);
    public::configure(cfg);
}

/// Registers the server-rendered pages and their assets (not part of the JSON API
/// document).
/// Paths of the pages, which the OpenAPI document (JSON endpoints only) leaves out, with
/// their methods.
const PAGE_ROUTES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/static/{path:.*}", "GET"),
    ("/oauth2/auth", "GET, POST"),
    ("/oauth2/auth/resume", "GET"),
    ("/oauth2/sessions/logout", "GET, POST"),
    ("/openapi.json", "GET"),
    ("/login", "GET, POST"),
    ("/consent", "GET, POST"),
    ("/connections", "GET"),
    ("/connections/revoke", "POST"),
    ("/connections/sessions/end", "POST"),
    ("/logout", "GET, POST"),
];

/// Every path the server answers and the methods it answers there, to tell "no such
/// endpoint" (404) from "not with this method" (405 with `Allow`, RFC 9110 §15.5.6).
pub fn known_routes(api: &utoipa::openapi::OpenApi) -> Vec<(actix_web::dev::ResourceDef, String)> {
    use utoipa::openapi::path::HttpMethod;
    let documented = api.paths.paths.iter().map(|(path, item)| {
        let methods: Vec<&str> = [
            (HttpMethod::Get, item.get.is_some()),
            (HttpMethod::Post, item.post.is_some()),
            (HttpMethod::Put, item.put.is_some()),
            (HttpMethod::Patch, item.patch.is_some()),
            (HttpMethod::Delete, item.delete.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(method, _)| match method {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            _ => "DELETE",
        })
        .collect();
        (path.clone(), methods.join(", "))
    });
    let pages = PAGE_ROUTES
        .iter()
        .map(|(path, methods)| ((*path).to_owned(), (*methods).to_owned()));
    documented
        .chain(pages)
        .map(|(path, methods)| (actix_web::dev::ResourceDef::new(path), methods))
        .collect()
}

/// The error for a request no route took: 405 where the path exists, else 404.
pub fn unmatched(routes: &[(actix_web::dev::ResourceDef, String)], path: &str) -> Error {
    match routes.iter().find(|(def, _)| def.is_match(path)) {
        Some((_, methods)) => Error::MethodNotAllowed(methods.clone()),
        None => Error::NotFound("there is no such endpoint".into()),
    }
}

pub fn configure_pages(cfg: &mut web::ServiceConfig) {
    cfg.service(public::home::home)
        .service(public::assets::asset)
        .service(oauth::authorize::authorize)
        .service(oauth::authorize::resume);
    pages::configure(cfg);
}
