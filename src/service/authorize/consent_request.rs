//! What a consent app reads about a pending request, in the current form and in
//! Hydra 0.x's.

use serde_json::Value;

use super::consent_app::pending;
use super::{holdable_by, remembered_covers};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::protocol::authorize::AuthorizationRequest;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::{to_rfc3339, Timestamp};
use crate::service;
use crate::storage::flows::FlowRow;
use crate::storage::Db;

/// What the external consent app reads about a pending request.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ConsentRequestView {
    pub challenge: String,
    pub client: service::clients::AppCard,
    /// The user's subject identifier.
    pub subject: String,
    pub username: String,
    pub requested_scope: Vec<String>,
    /// The user's remembered decisions already cover the request: it is asked only
    /// because of `prompt=consent`.
    pub skip: bool,
    pub oidc_context: OidcContext,
    /// The authorization request as this server understood it (without `id_token_hint`,
    /// whose claims are in `oidc_context`).
    pub request_url: String,
    /// The login app's challenge, when it signed the user in for this request.
    pub login_challenge: Option<String>,
    /// How she signed in, as ID tokens will say: the authentication context class a
    /// login app named…
    pub acr: Option<String>,
    /// …and the methods (RFC 8176): `pwd` on this server's own page.
    pub amr: Vec<String>,
    pub requested_at: String,
    pub expires_at: String,
}

/// What the authorization request said about the person and the screen (OpenID
/// Connect Core §3.1.2.1).
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct OidcContext {
    pub acr_values: Vec<String>,
    pub ui_locales: Vec<String>,
    pub login_hint: Option<String>,
    pub display: Option<String>,
    /// The claims of a valid `id_token_hint`.
    #[schema(value_type = Option<Object>)]
    pub id_token_hint_claims: Option<Value>,
}

pub fn consent_request_view(
    db: &Db,
    settings: &Settings,
    challenge: &str,
    now: Timestamp,
) -> Result<ConsentRequestView> {
    let (flow, req) = pending(db, challenge, now)?;
    view_of(db, settings, challenge, &flow, &req, now)
}

fn view_of(
    db: &Db,
    settings: &Settings,
    challenge: &str,
    flow: &FlowRow,
    req: &AuthorizationRequest,
    now: Timestamp,
) -> Result<ConsentRequestView> {
    let client = service::clients::get(db, None, &flow.client_id)?;
    let login = super::login_app::signed_in_by_app(flow)?;
    let method = SignInMethod::from_stored(flow.sign_in.as_deref());
    let user_id = flow.user_id.clone().unwrap_or_default();
    let requested = holdable_by(db, &user_id, req.scope_set())?;
    let username = service::users::find(db, &user_id)?
        .map(|u| u.username)
        .unwrap_or_default();
    Ok(ConsentRequestView {
        challenge: challenge.to_owned(),
        client: service::clients::AppCard::new(&client, &settings.issuer),
        skip: remembered_covers(db, &user_id, &client.id, &requested, now)?,
        subject: user_id,
        username,
        requested_scope: requested.iter().map(str::to_owned).collect(),
        oidc_context: oidc_context(db, settings, req, now)?,
        request_url: request_url(&settings.issuer, req)?,
        login_challenge: login.map(|l| l.challenge),
        acr: method.acr,
        amr: method.amr,
        requested_at: to_rfc3339(flow.created_at),
        expires_at: to_rfc3339(flow.expires_at),
    })
}

pub(super) fn oidc_context(
    db: &Db,
    settings: &Settings,
    req: &AuthorizationRequest,
    now: Timestamp,
) -> Result<OidcContext> {
    let words = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let id_token_hint_claims = match &req.id_token_hint {
        Some(hint) => service::keys::verify_id_token_hint(db, hint, settings.max_token_ttl(), now)?,
        None => None,
    };
    Ok(OidcContext {
        acr_values: words(&req.acr_values),
        ui_locales: words(&req.ui_locales),
        login_hint: req.login_hint.clone(),
        display: req.display.clone(),
        id_token_hint_claims,
    })
}

/// The request as an authorization URL, parameter by parameter.
pub(super) fn request_url(issuer: &str, req: &AuthorizationRequest) -> Result<String> {
    // The protocol names of prompt values and response modes, as they are stored.
    let name = |v: serde_json::Result<Value>| -> Result<String> {
        match v.map_err(Error::internal)? {
            Value::String(s) => Ok(s),
            _ => Err(Error::internal_msg("a protocol value is not a name".into())),
        }
    };
    let prompt = req
        .prompt
        .iter()
        .map(|p| name(serde_json::to_value(p)))
        .collect::<Result<Vec<_>>>()?
        .join(" ");
    let mut url = url::Url::parse(&format!("{issuer}/oauth2/auth")).map_err(Error::internal)?;
    let mut q = url.query_pairs_mut();
    q.append_pair("response_type", "code")
        .append_pair("client_id", &req.client_id)
        .append_pair("scope", &req.scope.to_string())
        .append_pair(
            "response_mode",
            &name(serde_json::to_value(req.response_mode))?,
        );
    if req.redirect_uri_given {
        q.append_pair("redirect_uri", req.redirect_uri.as_str());
    }
    let max_age = req.max_age.map(|m| m.to_string());
    let optional = [
        ("state", req.state.as_deref()),
        ("nonce", req.nonce.as_deref()),
        ("code_challenge", req.code_challenge.as_deref()),
        (
            "code_challenge_method",
            req.code_challenge.as_ref().map(|_| "S256"),
        ),
        ("prompt", Some(prompt.as_str()).filter(|p| !p.is_empty())),
        ("max_age", max_age.as_deref()),
        ("login_hint", req.login_hint.as_deref()),
        ("acr_values", req.acr_values.as_deref()),
        ("ui_locales", req.ui_locales.as_deref()),
        ("display", req.display.as_deref()),
    ];
    for (param, value) in optional {
        if let Some(value) = value {
            q.append_pair(param, value);
        }
    }
    drop(q);
    Ok(url.into())
}

/// A pending request in the Hydra 0.x shape, for consent apps written against it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyConsentRequest {
    /// The challenge.
    pub id: String,
    pub client_id: String,
    pub requested_scopes: Vec<String>,
    /// Where the consent app sends the browser once it has accepted or rejected.
    pub redirect_url: String,
    pub expires_at: String,
}

pub fn legacy_consent_request(
    db: &Db,
    settings: &Settings,
    challenge: &str,
    now: Timestamp,
) -> Result<LegacyConsentRequest> {
    let (flow, req) = pending(db, challenge, now)?;
    let view = view_of(db, settings, challenge, &flow, &req, now)?;
    Ok(LegacyConsentRequest {
        id: view.challenge,
        client_id: view.client.client_id,
        requested_scopes: view.requested_scope,
        redirect_url: super::resume_url(&settings.issuer, &flow.id, "consent_verifier", challenge)?,
        expires_at: view.expires_at,
    })
}
