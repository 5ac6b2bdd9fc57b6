//! A user's own API: bearer tokens issued to that user.

mod connections;
mod consent;

use crate::error::{Error, Result};
use crate::http::extract::Bearer;

/// The user behind a token; machine tokens have none.
fn user_of(bearer: &Bearer, scope: &'static str) -> Result<String> {
    let principal = bearer.require(scope)?;
    principal
        .user
        .as_ref()
        .filter(|_| principal.user_token)
        .map(|u| u.id.clone())
        .ok_or_else(|| Error::Unauthorized {
            description: "this API needs a token issued to a user".into(),
            invalid_token: false,
        })
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(connections::list)
        .service(connections::get_one)
        .service(connections::remove)
        .service(consent::grant);
}
