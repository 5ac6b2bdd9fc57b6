//! Request extractors and the extractor configuration that turns malformed input into
//! errors of the contract's shape.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::{JsonPayloadError, QueryPayloadError, UrlencodedError};
use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{blocking, State};
use crate::error::Error;
use crate::protocol::credentials::parse_bearer;
use crate::protocol::error::OAuthError;
use crate::protocol::principal::Principal;
use crate::protocol::time;
use crate::service;

pub const MAX_JSON_BYTES: usize = 64 * 1024;
pub const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> Error {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            Error::PayloadTooLarge(format!(
                "a JSON body may be at most {} KiB",
                MAX_JSON_BYTES / 1024
            ))
        }
        JsonPayloadError::ContentType => {
            Error::UnsupportedMediaType("send the body as application/json".into())
        }
        JsonPayloadError::Deserialize(e) => {
            Error::InvalidRequest(format!("invalid JSON body: {e}"))
        }
        other => Error::InvalidRequest(format!("unreadable body: {other}")),
    }
}

/// Forms are only used by the protocol endpoints, so their errors are OAuth errors.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_FORM_BYTES)
        .error_handler(|err, _| form_error(err).into())
}

fn form_error(err: UrlencodedError) -> Error {
    match err {
        UrlencodedError::Overflow { .. } => Error::PayloadTooLarge(format!(
            "a form body may be at most {} KiB",
            MAX_FORM_BYTES / 1024
        )),
        UrlencodedError::ContentType => Error::OAuth(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        )),
        UrlencodedError::Parse(e) => Error::OAuth(OAuthError::invalid_request(format!(
            "malformed parameters: {e}"
        ))),
        other => Error::OAuth(OAuthError::invalid_request(format!(
            "unreadable body: {other}"
        ))),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| query_error(err).into())
}

fn query_error(err: QueryPayloadError) -> Error {
    match err {
        QueryPayloadError::Deserialize(e) => {
            Error::InvalidRequest(format!("invalid query parameters: {e}"))
        }
        other => Error::InvalidRequest(format!("invalid query parameters: {other}")),
    }
}

/// A JSON body that may be left out: empty means the type's default; anything else must
/// parse, so a malformed answer is refused rather than read as "no preference".
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::InvalidRequest(format!("invalid JSON body: {e}")))
}

/// For `#[serde(deserialize_with)]` on the fields of protocol forms: a parameter sent
/// without a value counts as omitted (RFC 6749 §3.1).
pub fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: From<String>,
{
    let value: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(value.filter(|v| !v.is_empty()).map(T::from))
}

/// The raw `Authorization` header, if it is valid text.
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The address the request came from, as the throttles key it ("" if unknown): the
/// connection's peer, or, when the peer is a trusted proxy, the nearest address in
/// `X-Forwarded-For` that is not one (the ones before it could be made up by anyone).
pub fn peer_ip(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    let trusted = req
        .app_data::<State>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    client_address(peer, trusted, req.headers().get_all("x-forwarded-for")).to_string()
}

fn client_address<'a>(
    peer: std::net::IpAddr,
    trusted: &[ipnet::IpNet],
    forwarded: impl Iterator<Item = &'a header::HeaderValue>,
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => nearest = ip,
            Ok(ip) => return ip,
            // A hop that is not an address: believe nothing beyond the last good one.
            Err(_) => return nearest,
        }
    }
    nearest
}

/// The principal behind the request's bearer token, decided once per request: the
/// system, an admin or a user (see [`Principal`]). Missing or invalid tokens give 401.
pub struct Bearer(pub Principal);

impl Bearer {
    /// Fails with 403 `insufficient_scope` unless the token holds `scope` and its
    /// principal may use it (admin scopes count only for the system and admins).
    pub fn require(&self, scope: &'static str) -> Result<&Principal, Error> {
        self.0.authorize(scope)?;
        Ok(&self.0)
    }

    /// Like [`Bearer::require`], handing over the principal.
    pub fn into_principal(self, scope: &'static str) -> Result<Principal, Error> {
        self.require(scope)?;
        Ok(self.0)
    }
}

impl FromRequest for Bearer {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let token = authorization(req).and_then(parse_bearer).map(str::to_owned);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| Error::internal_msg("application state is missing".into()))?;
            let token = token.ok_or_else(|| Error::Unauthorized {
                description: "this endpoint needs an Authorization: Bearer token".into(),
                invalid_token: false,
            })?;
            let principal =
                blocking(move || service::tokens::principal(&state.db, &token, time::now()))
                    .await?;
            Ok(Bearer(principal))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let header = |v: &str| header::HeaderValue::from_str(v).unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let forged = [header("6.6.6.6, 203.0.113.9")];
        assert_eq!(
            client_address(ip("10.1.2.3"), &trusted, forged.iter()),
            ip("203.0.113.9"),
            "the proxy's own entry, not the client's claim"
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &trusted, forged.iter()),
            ip("198.51.100.1"),
            "an untrusted peer's header is ignored"
        );
        let chain = [header("203.0.113.9"), header("10.9.9.9")];
        assert_eq!(
            client_address(ip("10.1.2.3"), &trusted, chain.iter()),
            ip("203.0.113.9")
        );
        let junk = [header("203.0.113.9, nonsense")];
        assert_eq!(
            client_address(ip("10.1.2.3"), &trusted, junk.iter()),
            ip("10.1.2.3")
        );
    }
}
