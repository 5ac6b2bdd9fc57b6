use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{no_store, settle, token_asked_about, ClientAuth};
use crate::error::Error;
use crate::http::error::{ErrorBody, ProtocolError};
use crate::http::extract::{authorization, Bearer};
use crate::http::{blocking, State};
use crate::protocol::client::ClientType;
use crate::protocol::credentials::parse_bearer;
use crate::protocol::error::OAuthError;
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service::tokens::{self, Introspection, Introspector};

/// Parameters of an introspection request (RFC 7662 §2.1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IntrospectForm {
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(required = true, min_length = 1)]
    #[schema(value_type = Option<String>)]
    token: Option<Secret<String>>,
    /// Accepted and not needed: a token's kind is stored with it.
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    /// When given, the token is reported active only if it holds every scope listed.
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::http::extract::empty_as_none")]
    #[schema(value_type = Option<String>)]
    client_secret: Option<Secret<String>>,
}

/// Introspect a token. The caller authenticates as a confidential client (its own
/// tokens) or with a bearer token holding `tokens:introspect` (any token; for the system
/// and admins only). Public clients cannot introspect.
#[utoipa::path(
    tag = "oauth2",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state", body = Introspection),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Caller not authenticated", body = ErrorBody),
        (status = 403, description = "Bearer token lacks tokens:introspect", body = ErrorBody),
        (status = 429, description = "Too many failed attempts for this client (or user) from this address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/oauth2/introspect")]
pub async fn introspect(
    state: State,
    req: HttpRequest,
    form: web::Form<IntrospectForm>,
) -> Result<HttpResponse, ProtocolError> {
    let form = form.into_inner();
    let token = token_asked_about(form.token)?;
    let bearer = authorization(&req)
        .and_then(parse_bearer)
        .map(str::to_owned);
    let st = state.clone();
    let answer = if let Some(bearer) = bearer {
        blocking(move || {
            let now = time::now();
            let principal = tokens::principal(&st.db, &bearer, now)?;
            Bearer(principal).require("tokens:introspect")?;
            tokens::introspect(
                &st.db,
                &Introspector::Privileged,
                token.expose_str(),
                form.scope.as_deref(),
                &st.settings.issuer,
                now,
            )
        })
        .await
    } else {
        let auth = ClientAuth::begin(
            &state,
            &req,
            form.client_id.as_deref(),
            form.client_secret.as_ref(),
        )?
        .required()?;
        async {
            let client = auth.client().await?;
            // RFC 7662 §2.1: the caller must be authorized; a client_id alone proves
            // nothing (anyone can send a public client's id).
            if client.client_type == ClientType::Public {
                return Err(Error::OAuth(OAuthError::invalid_client(
                    "a public client cannot introspect tokens; authenticate as a confidential client or use a bearer token with tokens:introspect",
                )));
            }
            let caller = Introspector::Client(Box::new(client));
            let now = time::now();
            let scope = form.scope.as_deref();
            let issuer = &state.settings.issuer;
            if let Some(answer) =
                tokens::introspect_from_memory(&state.db, &caller, token.expose_str(), scope, issuer, now)
            {
                return answer;
            }
            blocking(move || {
                let scope = form.scope.as_deref();
                tokens::introspect(&st.db, &caller, token.expose_str(), scope, &st.settings.issuer, now)
            })
            .await
        }
        .await
    };
    let body = settle(&state, answer)?;
    Ok(no_store(HttpResponse::Ok()).json(body))
}
