//! The UserInfo endpoint (OpenID Connect Core §5.3), by GET or POST, with the access
//! token in the header or, for POST, in the body (RFC 6750 §2.1, §2.2).

use actix_web::{route, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::error::Error;
use crate::http::error::{ErrorBody, ProtocolError};
use crate::http::extract::authorization;
use crate::http::{blocking, State};
use crate::protocol::claims;
use crate::protocol::credentials::parse_bearer;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::secret::Secret;
use crate::protocol::time;
use crate::service;
use crate::service::issue::user_claims;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserinfoForm {
    #[schema(value_type = Option<String>)]
    access_token: Option<Secret<String>>,
}

/// Claims about the signed-in user, as the token's scope allows.
#[utoipa::path(
    tag = "oauth2",
    responses(
        (status = 200, description = "The user's claims"),
        (status = 400, description = "The token was sent in more than one way", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked token", body = ErrorBody),
        (status = 403, description = "The token lacks the openid scope", body = ErrorBody),
    )
)]
#[route("/userinfo", method = "GET", method = "POST")]
pub async fn userinfo(
    state: State,
    req: HttpRequest,
    form: Option<web::Form<UserinfoForm>>,
) -> Result<HttpResponse, ProtocolError> {
    let header = authorization(&req)
        .and_then(parse_bearer)
        .map(|t| Secret::new(t.to_owned()));
    let body = form.and_then(|f| f.into_inner().access_token);
    let token = match (header, body) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "send the token in the header or the body, not both",
            )
            .into())
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => {
            return Err(
                OAuthError::new(ErrorCode::InvalidToken, "an access token is required").into(),
            )
        }
    };
    let claims = blocking(move || {
        let principal = service::tokens::principal(&state.db, token.expose_str(), time::now())?;
        // A machine token acts for no user, so it has nobody to describe.
        let Some(user) = principal.user.as_ref() else {
            return Err(Error::invalid_token());
        };
        if !principal.has_scope("openid") {
            return Err(Error::OAuth(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the token lacks the openid scope",
            )));
        }
        let record = service::users::find(&state.db, &user.id)?.ok_or_else(Error::invalid_token)?;
        let extra = service::tokens::session_claims(&state.db, token.expose_str())?;
        Ok(claims::userinfo(
            &user_claims(&record),
            &principal.scope,
            &extra,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(claims))
}
