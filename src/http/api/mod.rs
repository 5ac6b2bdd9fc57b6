//! A user's own API: bearer tokens issued to that user.

mod connections;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(connections::list)
        .service(connections::get_one)
        .service(connections::remove);
}
