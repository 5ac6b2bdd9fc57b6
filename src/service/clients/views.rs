//! How clients are shown: the full registration to those who manage it, the public card
//! to anyone.

use serde::Serialize;

use crate::protocol::client::{Client, ClientExtras};
use crate::protocol::secret::Secret;
use crate::protocol::time::to_rfc3339;

/// A registration as the admin API and the command line show it (RFC 7591 names).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    /// Only in the response that created or rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Secret<String>>,
    pub client_name: String,
    pub description: String,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
    pub token_endpoint_auth_method: String,
    pub client_type: String,
    pub owner: Option<String>,
    pub skip_consent: bool,
    pub access_token_format: String,
    #[serde(flatten)]
    pub extras: ClientExtras,
    pub created_at: String,
    pub updated_at: String,
}

impl ClientView {
    pub fn new(c: &Client, secret: Option<Secret<String>>) -> Self {
        Self {
            client_id: c.id.clone(),
            client_secret: secret,
            client_name: c.name.clone(),
            description: c.description.clone(),
            client_uri: c.client_uri.clone(),
            logo_uri: c.logo_uri.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            response_types: c.response_types.clone(),
            scope: c.scope.to_string(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            client_type: c.client_type.as_str().to_owned(),
            owner: c.owner.clone(),
            skip_consent: c.skip_consent,
            access_token_format: c.access_token_format.as_str().to_owned(),
            extras: c.extras.clone(),
            created_at: to_rfc3339(c.created_at),
            updated_at: to_rfc3339(c.updated_at),
        }
    }
}

/// The public card of an app: what any page may show about it. Never a secret or owner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppCard {
    pub client_id: String,
    pub name: String,
    pub url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// URL of the uploaded logo, if there is one (a registered `logo_uri` is not shown).
    pub logo: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A card's bounds beside its name's (200 characters at registration): a longer `url`
/// is left out, and redirect URIs are listed while they fit in this many bytes together.
pub const CARD_URL_BYTES: usize = 512;
pub const CARD_REDIRECT_URI_BYTES: usize = 2048;

impl AppCard {
    pub fn new(c: &Client, issuer: &str) -> Self {
        // Only an uploaded logo: a remote `logo_uri` on a page would tell its owner
        // whenever someone opens the page, and could show anyone's logo.
        let logo = c.has_logo.then(|| format!("{issuer}/apps/{}/logo", c.id));
        // Anyone may fetch cards, many at a time: what one carries is bounded, whatever
        // was registered.
        let mut budget = CARD_REDIRECT_URI_BYTES;
        let redirect_uris = c
            .redirect_uris
            .iter()
            .take_while(|uri| match budget.checked_sub(uri.len()) {
                Some(left) => {
                    budget = left;
                    true
                }
                None => false,
            })
            .cloned()
            .collect();
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            url: c.client_uri.clone().filter(|u| u.len() <= CARD_URL_BYTES),
            redirect_uris,
            logo,
            created_at: to_rfc3339(c.created_at),
            updated_at: to_rfc3339(c.updated_at),
        }
    }
}
