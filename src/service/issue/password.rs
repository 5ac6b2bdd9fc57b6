//! The resource owner password grant (RFC 6749 §4.3), for clients that list it.

use super::{invalid_grant, Issue, Issuer};
use crate::error::{Error, Result};
use crate::protocol::claims::ExtraClaims;
use crate::protocol::client::{Client, GrantType};
use crate::protocol::error::ErrorCode;
use crate::protocol::grant::allowed_scope;
use crate::protocol::secret;
use crate::protocol::sign_in::SignInMethod;
use crate::protocol::time::Timestamp;
use crate::service::tokens::TokenResponse;
use crate::storage::{grants, write};

impl Issuer<'_> {
    /// The resource owner password grant, for clients that explicitly list it.
    pub fn password(
        &self,
        client: &Client,
        username: &str,
        password: &str,
        network: &str,
        requested_scope: Option<&str>,
        now: Timestamp,
    ) -> Result<TokenResponse> {
        if !client.allows_grant(GrantType::Password) {
            return Err(Error::oauth(
                ErrorCode::UnauthorizedClient,
                "the client may not use the password grant",
            ));
        }
        let scope = match requested_scope {
            None => client.scope.clone(),
            Some(text) => allowed_scope(client, text)?,
        };
        let user = match crate::service::users::sign_in(self.db, username, password, network, now)?
        {
            crate::service::users::SignIn::Accepted(user) => user,
            crate::service::users::SignIn::Wrong => {
                return Err(invalid_grant("the username or password is wrong"))
            }
            crate::service::users::SignIn::Delayed(seconds) => {
                return Err(Error::TooManyRequests(seconds))
            }
        };
        let refresh =
            scope.contains("offline_access") && client.allows_grant(GrantType::RefreshToken);
        let key = self.key()?;
        let family = secret::new_id();
        let what = Issue {
            client,
            user: &user,
            scope: &scope,
            refresh_scope: None,
            family_id: &family,
            auth_time: now,
            nonce: None,
            refresh,
            extra: &ExtraClaims::default(),
            sign_in: &SignInMethod::password(),
        };
        let response = self.prepare(&what, &key, now)?;
        write(&mut *self.db.conn()?, |conn| {
            let grant_id = grants::upsert(
                conn,
                &user.id,
                &client.id,
                &scope.to_string(),
                false,
                now,
                now,
            )?;
            self.persist(conn, &what, &grant_id, &response, now)
        })?;
        Ok(response)
    }
}
