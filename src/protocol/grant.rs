//! Deciding what a token request may be granted, and who may act on what.

use super::client::{Client, ClientType, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::principal::holdable;
use super::scope::{is_user_scope, ScopeSet};

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
    let scope = match requested {
        None => client.scope.without(is_user_scope),
        Some(text) => allowed_scope(client, text)?,
    };
    Ok(holdable(&scope, client.acting_role()))
}

/// Parses a requested scope and checks the client is registered for all of it.
pub fn allowed_scope(client: &Client, requested: &str) -> Result<ScopeSet, OAuthError> {
    let requested = ScopeSet::parse(requested).map_err(|_| {
        OAuthError::invalid_scope("scope holds a character RFC 6749 does not allow")
    })?;
    let missing: Vec<&str> = requested.missing_from(&client.scope).collect();
    if !missing.is_empty() {
        return Err(OAuthError::invalid_scope(refused_scopes(&missing)));
    }
    Ok(requested)
}

/// Names the refused scopes this server defines; others, which a caller made up, are
/// only counted, so that an error never repeats text of the caller's choosing.
fn refused_scopes(missing: &[&str]) -> String {
    let known = |s: &&str| {
        is_user_scope(s)
            || super::principal::ADMIN_SCOPES.contains(s)
            || matches!(
                *s,
                "clients:read" | "clients:write" | super::scope::CONSENT_GRANT
            )
    };
    let named: Vec<&str> = missing.iter().copied().filter(known).collect();
    let others = missing.len() - named.len();
    match (named.is_empty(), others) {
        (false, 0) => format!("the client may not request: {}", named.join(" ")),
        (false, n) => format!(
            "the client may not request: {} and {n} other scope(s)",
            named.join(" ")
        ),
        (true, n) => format!("the client may not request {n} of the scopes asked for"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(grants: &[&str], scope: &str, public: bool) -> Client {
        crate::protocol::testing::client(grants, scope, public, &[])
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
    fn rfc_6749_4_4_only_confidential_clients_registered_for_it_use_client_credentials() {
        // Registration refuses this pair; a row written otherwise must still not pass.
        let mut public = client(&["authorization_code"], "clients:read", true);
        public.grant_types.push(GrantType::ClientCredentials);
        let unregistered = client(&["authorization_code"], "clients:read", false);
        for c in [&public, &unregistered] {
            let e = client_credentials_scope(c, None).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnauthorizedClient, "{e:?}");
        }
    }

    #[test]
    fn rfc_6749_3_3_a_malformed_or_made_up_scope_is_invalid_scope_and_not_repeated() {
        let c = client(&["client_credentials"], "clients:read", false);
        let e = allowed_scope(&c, "clients:read a\"b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        let e = allowed_scope(&c, "clients:read <script>made-up users:write").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("users:write"), "{e:?}");
        assert!(!e.description.contains("script"), "{e:?}");
        assert!(!e.description.contains("made-up"), "{e:?}");
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
}
