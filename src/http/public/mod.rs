//! Public, unauthenticated endpoints: app cards, health, metrics, the home page and
//! static assets.

mod apps;
pub(crate) mod assets;
mod health;
pub(crate) mod home;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(apps::card)
        .service(apps::cards)
        .service(apps::logo)
        .service(health::alive)
        .service(health::ready)
        .service(health::metrics);
}
