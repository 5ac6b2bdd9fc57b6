//! A user's own API: bearer tokens issued to that user.

mod connections;
mod consent;

use crate::error::{Error, Result};
use crate::http::extract::Bearer;
use crate::protocol::principal::Principal;

/// The user behind a token; machine tokens have none.
fn user_of(bearer: &Bearer, scope: &'static str) -> Result<String> {
    token_user(bearer.require(scope)?)
}

/// The user a token was issued to, for APIs that only a user's own token may use.
fn token_user(principal: &Principal) -> Result<String> {
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
