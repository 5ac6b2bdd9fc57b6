//! Who a request acts as (its principal), and what its scopes may do for it.
//!
//! A bearer token names scopes, but scopes alone never decide: the same `users:write`
//! means "everything" for the system or an admin and "nothing" for anyone else. Every
//! admin and API route asks [`Principal::authorize`], and every issued token is cut to
//! what its principal may hold ([`holdable`]), so the rule lives here and nowhere else.

use super::client::{ClientDraft, GrantType};
use super::error::{ErrorCode, OAuthError};
use super::scope::{is_user_scope, ScopeSet, CONNECTION_SCOPES, OIDC_SCOPES};

/// Scopes that act on other people's data: they take effect only for the system or an
/// admin.
pub const ADMIN_SCOPES: &[&str] = &[
    "users:read",
    "users:write",
    "authorizations:read",
    "authorizations:write",
    "consent:manage",
    "login:manage",
    "tokens:introspect",
    "tokens:flush",
];

/// The server's own name, which pages show as the party asking: an app of a non-admin
/// must not appear to be the server itself.
pub const SERVER_NAME: &str = "Portcullis";

/// Whether a name spells the server's name, whatever the case, spacing or punctuation
/// (`P.O.R.T.C.U.L.L.I.S`, `portcullis-admin`).
pub fn uses_server_name(name: &str) -> bool {
    let letters: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    letters.contains(&SERVER_NAME.to_lowercase())
}

/// The three kinds of authenticated caller (anonymous callers have no principal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The command line, or a machine token of a client nobody owns.
    System,
    /// A user with the admin flag, or a machine token of a client such a user owns.
    Admin,
    /// Anyone else: only their own data.
    User,
}

/// The user whose rights a request carries.
#[derive(Debug, Clone)]
pub struct PrincipalUser {
    pub id: String,
    pub username: String,
    pub is_admin: bool,
}

/// Who is calling an API with a bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub client_id: String,
    pub scope: ScopeSet,
    /// Whose rights the token carries: the user it was issued to, or the owner of the
    /// machine client it was issued to (a client never acts with more rights than its
    /// owner). `None` is the system.
    pub user: Option<PrincipalUser>,
    /// True when the token was issued to `user` herself, not to a client she owns.
    pub user_token: bool,
    /// When the user signed in to get the token, for a user token.
    pub auth_time: Option<super::time::Timestamp>,
}

/// Why a principal may not use a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token does not carry the scope.
    MissingScope(&'static str),
    /// The token carries it, but its principal is not the system or an admin.
    AdminOnly(&'static str),
}

impl Principal {
    pub fn role(&self) -> Role {
        match &self.user {
            None => Role::System,
            Some(u) if u.is_admin => Role::Admin,
            Some(_) => Role::User,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    /// May this request use `scope`? The token must carry it, and an admin scope counts
    /// only for the system or an admin (checked at every use: an admin may have lost the
    /// flag since the token was issued).
    pub fn authorize(&self, scope: &'static str) -> Result<(), Refusal> {
        if !self.has_scope(scope) {
            return Err(Refusal::MissingScope(scope));
        }
        if self.role() == Role::User && ADMIN_SCOPES.contains(&scope) {
            return Err(Refusal::AdminOnly(scope));
        }
        Ok(())
    }

    /// The system and admins act on every object; any other user only on what she owns.
    pub fn may_manage(&self, owner: Option<&str>) -> bool {
        match (self.role(), &self.user) {
            (Role::User, Some(u)) => owner == Some(u.username.as_str()),
            _ => true,
        }
    }

    /// The owner a list or a registration must be limited to for this caller: `None`
    /// means every owner.
    pub fn forced_owner(&self) -> Option<&str> {
        match (self.role(), &self.user) {
            (Role::User, Some(u)) => Some(&u.username),
            _ => None,
        }
    }
}

/// The part of `scope` a principal of this kind may hold: a token is cut to it when it
/// is issued.
pub fn holdable(scope: &ScopeSet, role: Role) -> ScopeSet {
    match role {
        Role::System | Role::Admin => scope.clone(),
        Role::User => scope.without(|s| ADMIN_SCOPES.contains(&s)),
    }
}

/// The role of a user, or of a client's owner.
pub fn role_of_user(is_admin: bool) -> Role {
    if is_admin {
        Role::Admin
    } else {
        Role::User
    }
}

/// What a non-admin may register on a client she owns (RFC 7591 §3.2.2: the refusal is
/// `invalid_client_metadata`, naming the field). Admins and the system may set anything.
pub fn check_self_service(draft: &ClientDraft) -> Result<(), OAuthError> {
    let refuse = |text: String| OAuthError::new(ErrorCode::InvalidClientMetadata, text);
    if draft.skip_consent {
        return Err(refuse(
            "skip_consent: only admins may let a client skip consent".into(),
        ));
    }
    if uses_server_name(&draft.name) {
        return Err(refuse(format!(
            "client_name: {SERVER_NAME:?} is this server's own name; only admins may use it"
        )));
    }
    if let Some(grant) = draft
        .grant_types
        .iter()
        .find(|g| !matches!(g, GrantType::AuthorizationCode | GrantType::RefreshToken))
    {
        return Err(refuse(format!(
            "grant_types: only admins may register clients for {}; use authorization_code and refresh_token",
            grant.as_str()
        )));
    }
    let beyond: Vec<&str> = draft.scope.iter().filter(|s| !is_user_scope(s)).collect();
    if !beyond.is_empty() {
        return Err(refuse(format!(
            "scope: only admins may register clients for {}; you may use {}",
            beyond.join(" "),
            OIDC_SCOPES
                .iter()
                .chain(CONNECTION_SCOPES)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client::ClientRequest;

    fn principal(user: Option<(&str, bool)>, scope: &str) -> Principal {
        Principal {
            client_id: "c".into(),
            scope: ScopeSet::parse(scope).unwrap_or_default(),
            user: user.map(|(name, is_admin)| PrincipalUser {
                id: format!("id-{name}"),
                username: name.into(),
                is_admin,
            }),
            user_token: true,
            auth_time: None,
        }
    }

    #[test]
    fn admin_scopes_count_only_for_the_system_and_admins() {
        let scope = "users:write clients:write";
        assert_eq!(principal(None, scope).authorize("users:write"), Ok(()));
        assert_eq!(
            principal(Some(("root", true)), scope).authorize("users:write"),
            Ok(())
        );
        assert_eq!(
            principal(Some(("ann", false)), scope).authorize("users:write"),
            Err(Refusal::AdminOnly("users:write"))
        );
        assert_eq!(
            principal(Some(("ann", false)), scope).authorize("clients:write"),
            Ok(()),
            "her own clients"
        );
        assert_eq!(
            principal(None, "clients:read").authorize("clients:write"),
            Err(Refusal::MissingScope("clients:write"))
        );
    }

    #[test]
    fn users_manage_only_what_they_own_unless_admin() {
        let ann = principal(Some(("ann", false)), "");
        assert!(ann.may_manage(Some("ann")));
        assert!(!ann.may_manage(Some("bob")));
        assert!(!ann.may_manage(None));
        assert!(principal(Some(("root", true)), "").may_manage(Some("bob")));
        assert!(principal(None, "").may_manage(None));
        assert_eq!(ann.forced_owner(), Some("ann"));
        assert_eq!(principal(None, "").forced_owner(), None);
        assert_eq!(principal(Some(("root", true)), "").forced_owner(), None);
    }

    #[test]
    fn tokens_are_cut_to_what_their_principal_may_hold() {
        let asked = ScopeSet::parse("openid users:write tokens:flush clients:read").unwrap();
        assert_eq!(
            holdable(&asked, Role::User).to_string(),
            "clients:read openid"
        );
        assert_eq!(holdable(&asked, Role::Admin), asked);
    }

    #[test]
    fn non_admins_register_only_user_facing_clients() {
        let draft = |json: serde_json::Value| {
            serde_json::from_value::<ClientRequest>(json)
                .unwrap()
                .validate()
                .unwrap()
        };
        let ok =
            draft(serde_json::json!({"scope": "openid profile offline_access connections:read"}));
        assert!(check_self_service(&ok).is_ok());
        for (json, field) in [
            (serde_json::json!({"skip_consent": true}), "skip_consent"),
            (
                serde_json::json!({"grant_types": ["client_credentials"], "scope": "clients:read"}),
                "grant_types",
            ),
            (
                serde_json::json!({"grant_types": ["authorization_code", "password"]}),
                "grant_types",
            ),
            (serde_json::json!({"scope": "openid users:write"}), "scope"),
            (
                serde_json::json!({"scope": "openid clients:write"}),
                "scope",
            ),
            (
                serde_json::json!({"client_name": "Portcullis Admin"}),
                "client_name",
            ),
            (
                serde_json::json!({"client_name": "p.o.r.t.c.u.l.l.i.s"}),
                "client_name",
            ),
            (
                serde_json::json!({"client_name": "MyPORTCULLIS-login"}),
                "client_name",
            ),
        ] {
            let err = check_self_service(&draft(json)).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
            assert!(err.description.starts_with(field), "{}", err.description);
        }
    }
}
