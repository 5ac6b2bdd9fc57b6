//! Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

use actix_web::http::header;
use actix_web::{get, HttpResponse};
use serde_json::json;

use crate::error::Result;
use crate::http::{blocking, State};
use crate::protocol::claims::ID_TOKEN_CLAIMS;
use crate::protocol::scope::{OIDC_SCOPES, SCOPE_CLAIMS};
use crate::protocol::time;
use crate::service::keys;

/// The claims of every ID token, then those the scopes release.
fn claims_supported() -> Vec<&'static str> {
    let by_scope = SCOPE_CLAIMS
        .iter()
        .flat_map(|(_, claims)| claims.iter().copied());
    ID_TOKEN_CLAIMS.iter().copied().chain(by_scope).collect()
}

fn metadata(issuer: &str, signing_algs: &[String]) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/auth"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "end_session_endpoint": format!("{issuer}/oauth2/sessions/logout"),
        "scopes_supported": OIDC_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing_algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims_supported(),
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    })
}

async fn document(state: State) -> Result<HttpResponse> {
    let ttl = state.settings.max_token_ttl();
    let st = state.clone();
    let algs = blocking(move || keys::algorithms(&st.db, ttl, time::now())).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(metadata(&state.settings.issuer, &algs)))
}

/// OpenID Connect Discovery metadata.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Provider metadata")))]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(state: State) -> Result<HttpResponse> {
    document(state).await
}

/// RFC 8414 authorization server metadata (the same document).
#[utoipa::path(tag = "discovery", responses((status = 200, description = "Authorization server metadata")))]
#[get("/.well-known/oauth-authorization-server")]
pub async fn oauth_authorization_server(state: State) -> Result<HttpResponse> {
    document(state).await
}

/// Public signing keys: next, current and recently retired.
#[utoipa::path(tag = "discovery", responses((status = 200, description = "JSON Web Key Set")))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: State) -> Result<HttpResponse> {
    let ttl = state.settings.max_token_ttl();
    let set = blocking(move || keys::jwks(&state.db, ttl, time::now())).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(set))
}
