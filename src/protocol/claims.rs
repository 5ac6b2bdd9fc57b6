//! ID tokens (OpenID Connect Core §2, §3.1.3.6), JWT access tokens (RFC 9068) and the
//! claims each scope releases (§5.4).

use chrono::{TimeZone, Utc};
use openidconnect::core::{CoreGenderClaim, CoreIdTokenClaims};
use openidconnect::{
    AccessToken, AccessTokenHash, AddressClaim, Audience, AuthenticationMethodReference,
    EmptyAdditionalClaims, EndUserEmail, EndUserName, EndUserPhoneNumber, EndUserUsername,
    FormattedAddress, IssuerUrl, LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims,
    SubjectIdentifier,
};
use serde_json::{json, Map, Value};

use super::keys::SigningKey;
use super::scope::ScopeSet;
use super::time::Timestamp;

/// What is known about the user, for claims.
#[derive(Debug, Clone)]
pub struct UserClaims {
    pub sub: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<String>,
    pub updated_at: Timestamp,
}

/// The userinfo claims `scope` releases (OpenID Connect Core §5.4).
pub fn userinfo(user: &UserClaims, scope: &ScopeSet) -> Value {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.sub));
    if scope.contains("profile") {
        claims.insert("preferred_username".into(), json!(user.username));
        if let Some(name) = &user.name {
            claims.insert("name".into(), json!(name));
        }
        claims.insert("updated_at".into(), json!(user.updated_at));
    }
    if scope.contains("email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), json!(email));
            // Addresses are entered by admins, not verified by a mail round-trip.
            claims.insert("email_verified".into(), json!(false));
        }
    }
    if scope.contains("phone") {
        if let Some(phone) = &user.phone_number {
            claims.insert("phone_number".into(), json!(phone));
            claims.insert("phone_number_verified".into(), json!(false));
        }
    }
    if scope.contains("address") {
        if let Some(address) = &user.address {
            claims.insert("address".into(), json!({ "formatted": address }));
        }
    }
    Value::Object(claims)
}

pub struct IdTokenInput<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a UserClaims,
    pub scope: &'a ScopeSet,
    pub nonce: Option<&'a str>,
    pub auth_time: Timestamp,
    pub now: Timestamp,
    pub ttl_secs: i64,
    /// Sets `at_hash` when the ID token travels with an access token.
    pub access_token: Option<&'a str>,
}

fn datetime(ts: Timestamp) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).single().unwrap_or_default()
}

/// Signs an ID token with the scope's claims, `auth_time`, `nonce`, `amr` and `at_hash`.
pub fn id_token(key: &SigningKey, input: &IdTokenInput<'_>) -> Result<String, String> {
    let issuer = IssuerUrl::new(input.issuer.to_owned()).map_err(|e| e.to_string())?;
    let user = input.user;
    let mut standard =
        StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new(user.sub.clone()));
    if input.scope.contains("profile") {
        standard = standard
            .set_preferred_username(Some(EndUserUsername::new(user.username.clone())))
            .set_name(
                user.name
                    .clone()
                    .map(|n| LocalizedClaim::from(EndUserName::new(n))),
            )
            .set_updated_at(Some(datetime(user.updated_at)));
    }
    if input.scope.contains("email") {
        standard = standard
            .set_email(user.email.clone().map(EndUserEmail::new))
            .set_email_verified(user.email.as_ref().map(|_| false));
    }
    if input.scope.contains("phone") {
        standard = standard
            .set_phone_number(user.phone_number.clone().map(EndUserPhoneNumber::new))
            .set_phone_number_verified(user.phone_number.as_ref().map(|_| false));
    }
    if input.scope.contains("address") {
        standard = standard.set_address(user.address.clone().map(|a| AddressClaim {
            formatted: Some(FormattedAddress::new(a)),
            ..Default::default()
        }));
    }
    let claims = CoreIdTokenClaims::new(
        issuer,
        vec![Audience::new(input.client_id.to_owned())],
        datetime(input.now + input.ttl_secs),
        datetime(input.now),
        standard,
        EmptyAdditionalClaims {},
    )
    .set_auth_time(Some(datetime(input.auth_time)))
    .set_nonce(input.nonce.map(|n| Nonce::new(n.to_owned())))
    .set_auth_method_refs(Some(vec![AuthenticationMethodReference::new("pwd".into())]));
    let claims = match input.access_token {
        Some(token) => {
            let hash = AccessTokenHash::from_token(
                &AccessToken::new(token.to_owned()),
                &key.alg.jws(),
                &key.as_verification_key(),
            )
            .map_err(|e| e.to_string())?;
            claims.set_access_token_hash(Some(hash))
        }
        None => claims,
    };
    // Signed here rather than by the openidconnect crate, which leaves `typ` out: an ID
    // token says `JWT` and a JWT access token `at+jwt`, so neither passes for the other.
    let claims = serde_json::to_value(&claims).map_err(|e| e.to_string())?;
    key.sign_jwt(ID_TOKEN_TYPE, &claims)
}

/// The `typ` of ID tokens (RFC 7519 §5.1; RFC 9068 §2.1 asks the two kinds be told apart).
pub const ID_TOKEN_TYPE: &str = "JWT";

pub struct AccessTokenJwt<'a> {
    pub issuer: &'a str,
    /// The resource servers the token is for (RFC 9068 §3): never the client, so that an
    /// access token cannot pass for an ID token, whose audience is the client.
    pub audience: &'a [String],
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a str,
    pub now: Timestamp,
    pub ttl_secs: i64,
    pub auth_time: Option<Timestamp>,
}

/// An RFC 9068 access token: a JWT with `typ: at+jwt`.
pub fn access_token_jwt(key: &SigningKey, input: &AccessTokenJwt<'_>) -> Result<String, String> {
    let mut claims = json!({
        "iss": input.issuer,
        "sub": input.subject,
        "aud": match input.audience {
            [one] => json!(one),
            several => json!(several),
        },
        "client_id": input.client_id,
        "iat": input.now,
        "exp": input.now + input.ttl_secs,
        "jti": super::secret::new_id(),
        "scope": input.scope,
    });
    if let Some(auth_time) = input.auth_time {
        claims["auth_time"] = json!(auth_time);
    }
    key.sign_jwt("at+jwt", &claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::keys::{generate, Algorithm};
    use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKeySet};
    use openidconnect::{ClientId, PrivateSigningKey};

    fn user() -> UserClaims {
        UserClaims {
            sub: "u-1".into(),
            username: "ann".into(),
            name: Some("Ann".into()),
            email: Some("ann@example.com".into()),
            phone_number: None,
            address: None,
            updated_at: 1_700_000_000,
        }
    }

    #[test]
    fn id_tokens_verify_for_every_algorithm() {
        for alg in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::load("kid-1", alg, &generate(alg).unwrap()).unwrap();
            let now = crate::protocol::time::now();
            let scope = ScopeSet::parse("openid email").unwrap();
            let token = id_token(
                &key,
                &IdTokenInput {
                    issuer: "https://id.example",
                    client_id: "rp",
                    user: &user(),
                    scope: &scope,
                    nonce: Some("n-1"),
                    auth_time: now - 5,
                    now,
                    ttl_secs: 300,
                    access_token: Some("pc_at_x"),
                },
            )
            .unwrap();
            let header: Value = serde_json::from_slice(
                &base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    token.split('.').next().unwrap(),
                )
                .unwrap(),
            )
            .unwrap();
            assert_eq!(header["typ"], "JWT");
            assert_eq!(header["kid"], "kid-1");
            let parsed: openidconnect::core::CoreIdToken = token.parse().unwrap();
            let jwks = CoreJsonWebKeySet::new(vec![key.as_verification_key()]);
            let verifier = CoreIdTokenVerifier::new_public_client(
                ClientId::new("rp".into()),
                IssuerUrl::new("https://id.example".into()).unwrap(),
                jwks,
            )
            .set_allowed_algs(vec![alg.jws()]);
            let claims = parsed.claims(&verifier, &Nonce::new("n-1".into())).unwrap();
            assert_eq!(claims.subject().as_str(), "u-1");
            assert_eq!(claims.email().unwrap().as_str(), "ann@example.com");
            assert!(claims.access_token_hash().is_some());
        }
    }

    #[test]
    fn userinfo_releases_only_what_the_scope_allows() {
        let only_openid = userinfo(&user(), &ScopeSet::parse("openid").unwrap());
        assert_eq!(only_openid, json!({ "sub": "u-1" }));
        let email = userinfo(&user(), &ScopeSet::parse("openid email").unwrap());
        assert_eq!(email["email"], "ann@example.com");
        assert!(email.get("name").is_none());
    }
}
