//! Fixtures for the unit tests of the protocol rules.

use super::client::{Client, ClientRequest};

/// A client as registration would store it, with the given grants, scope and redirect URIs.
pub fn client(grants: &[&str], scope: &str, public: bool, redirect_uris: &[&str]) -> Client {
    let draft = ClientRequest {
        grant_types: Some(grants.iter().map(|g| g.to_string()).collect()),
        scope: Some(scope.into()),
        client_type: public.then(|| "public".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Client {
        id: "c".into(),
        name: draft.name,
        description: draft.description,
        client_uri: None,
        logo_uri: None,
        redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
        post_logout_redirect_uris: vec![],
        grant_types: draft.grant_types,
        response_types: draft.response_types,
        scope: draft.scope,
        auth_method: draft.auth_method,
        client_type: draft.client_type,
        owner: None,
        owner_id: None,
        owner_is_admin: false,
        skip_consent: false,
        access_token_format: draft.access_token_format,
        extras: draft.extras,
        has_logo: false,
        created_at: 0,
        updated_at: 0,
    }
}
