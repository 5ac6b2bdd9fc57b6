//! The JSON admin API. Every route needs a bearer token with the scope it names.

mod authorizations;
mod clients;
mod consent;
mod consent_legacy;
mod login;
mod tokens;
mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::service::Page;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    clients::configure(cfg);
    cfg.service(tokens::flush)
        .service(users::list)
        .service(users::create)
        .service(users::get_one)
        .service(users::update)
        .service(users::remove)
        .service(users::end_sessions)
        .service(authorizations::list)
        .service(authorizations::remove)
        .service(authorizations::remove_for)
        .service(consent::get_request)
        .service(consent::accept)
        .service(consent::reject)
        .service(consent_legacy::get_request)
        .service(consent_legacy::accept)
        .service(consent_legacy::reject)
        .service(login::get_request)
        .service(login::accept)
        .service(login::reject);
}

/// `limit` and `offset` of a list request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most 500; default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page> {
        Page::new(self.limit, self.offset).map_err(Error::InvalidRequest)
    }
}

/// Refuses a query parameter the route does not take instead of ignoring it: a filter
/// misspelt, or named as another system names it, would otherwise answer every row.
pub fn only_parameters(req: &HttpRequest, known: &[&str]) -> Result<()> {
    for (name, _) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if !known.contains(&name.as_ref()) {
            let shown: String = name.chars().take(40).collect();
            return Err(Error::InvalidRequest(format!(
                "unknown query parameter {shown:?}; this request takes {}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// A list response: the JSON array, `X-Total-Count`, and a `Link` to the next page when
/// there is one (other query parameters kept).
pub fn paginated<T: Serialize>(
    req: &HttpRequest,
    issuer: &str,
    items: &[T],
    total: i64,
    page: Page,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header(("X-Total-Count", total.to_string()));
    let next_offset = page.offset + items.len() as i64;
    if !items.is_empty() && next_offset < total {
        if let Ok(mut url) = url::Url::parse(&format!("{issuer}{}", req.path())) {
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
                    if k != "limit" && k != "offset" {
                        pairs.append_pair(&k, &v);
                    }
                }
                pairs.append_pair("limit", &page.limit.to_string());
                pairs.append_pair("offset", &next_offset.to_string());
            }
            response.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
        }
    }
    response.json(items)
}

#[cfg(test)]
mod secret_tests {
    #[test]
    fn admin_bodies_never_print_passwords_or_secrets() {
        let s = "S3CRET-never-printed";
        let create: super::users::CreateUser =
            serde_json::from_value(serde_json::json!({"username": "ann", "password": s})).unwrap();
        let patch: super::users::PatchUser =
            serde_json::from_value(serde_json::json!({"password": s})).unwrap();
        let client: crate::protocol::client::ClientRequest =
            serde_json::from_value(serde_json::json!({"client_secret": s})).unwrap();
        for printed in [
            format!("{create:?}"),
            format!("{patch:?}"),
            format!("{client:?}"),
        ] {
            assert!(!printed.contains(s), "{printed}");
        }
    }
}
