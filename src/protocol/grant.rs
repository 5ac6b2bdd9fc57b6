//! Deciding what a token request may be granted, and who may act on what.

use super::client::{Client, ClientType, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::scope::{ScopeSet, USER_SCOPES};

/// The scope of a `client_credentials` token (RFC 6749 §4.4).
///
/// A client may only receive scopes it is registered for. Without a `scope` parameter it
/// receives all of them except those that need a user, which mean nothing here.
pub fn client_credentials_scope(
    client: &Client,
    requested: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    if client.client_type == ClientType::Public {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "a public client cannot use the client_credentials grant",
        ));
    }
    if !client.allows_grant(GrantType::ClientCredentials) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the client_credentials grant",
        ));
    }
    match requested {
        None => Ok(client.scope.without(USER_SCOPES)),
        Some(text) => allowed_scope(client, text),
    }
}

/// Parses a requested scope and checks the client is registered for all of it.
pub fn allowed_scope(client: &Client, requested: &str) -> Result<ScopeSet, OAuthError> {
    let requested = ScopeSet::parse(requested).map_err(OAuthError::invalid_scope)?;
    let missing: Vec<&str> = requested.missing_from(&client.scope).collect();
    if !missing.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "the client may not request: {}",
            missing.join(" ")
        )));
    }
    Ok(requested)
}

/// Who is calling an API with a bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub client_id: String,
    /// Present when a user obtained the token; absent for `client_credentials`.
    pub user: Option<PrincipalUser>,
    pub scope: ScopeSet,
}

#[derive(Debug, Clone)]
pub struct PrincipalUser {
    pub id: String,
    pub username: String,
    pub is_admin: bool,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    /// A system token or an admin user acts on every object; any other user only on
    /// objects they own.
    pub fn may_manage(&self, owner: Option<&str>) -> bool {
        match &self.user {
            None => true,
            Some(u) if u.is_admin => true,
            Some(u) => owner == Some(u.username.as_str()),
        }
    }

    /// The owner filter a list must apply for this caller: `None` lists everything.
    pub fn forced_owner(&self) -> Option<&str> {
        match &self.user {
            Some(u) if !u.is_admin => Some(&u.username),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client::ClientRequest;

    fn client(grants: &[&str], scope: &str, public: bool) -> Client {
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
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: draft.grant_types,
            response_types: draft.response_types,
            scope: draft.scope,
            auth_method: draft.auth_method,
            client_type: draft.client_type,
            owner: None,
            skip_consent: false,
            access_token_format: draft.access_token_format,
            has_logo: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn without_a_scope_parameter_the_client_gets_its_non_user_scopes() {
        let c = client(
            &["client_credentials"],
            "openid clients:read clients:write",
            false,
        );
        assert_eq!(
            client_credentials_scope(&c, None).unwrap().to_string(),
            "clients:read clients:write"
        );
    }

    #[test]
    fn scope_escalation_is_invalid_scope() {
        let c = client(&["client_credentials"], "clients:read", false);
        let err = client_credentials_scope(&c, Some("clients:read clients:write")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidScope);
        assert!(err.description.contains("clients:write"));
    }

    #[test]
    fn a_client_without_the_grant_type_is_unauthorized() {
        let c = client(&["authorization_code"], "clients:read", false);
        assert_eq!(
            client_credentials_scope(&c, None).unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn users_manage_only_what_they_own_unless_admin() {
        let user = |admin| Principal {
            client_id: "c".into(),
            user: Some(PrincipalUser {
                id: "1".into(),
                username: "ann".into(),
                is_admin: admin,
            }),
            scope: ScopeSet::default(),
        };
        assert!(user(false).may_manage(Some("ann")));
        assert!(!user(false).may_manage(Some("bob")));
        assert!(!user(false).may_manage(None));
        assert!(user(true).may_manage(Some("bob")));
        let system = Principal {
            client_id: "c".into(),
            user: None,
            scope: ScopeSet::default(),
        };
        assert!(system.may_manage(None));
        assert_eq!(user(false).forced_owner(), Some("ann"));
        assert_eq!(system.forced_owner(), None);
    }
}
