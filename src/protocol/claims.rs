//! ID tokens (OpenID Connect Core §2, §3.1.3.6), JWT access tokens (RFC 9068) and the
//! claims each scope releases (§5.4).

use chrono::{TimeZone, Utc};
use openidconnect::core::{CoreGenderClaim, CoreIdTokenClaims};
use openidconnect::{
    AccessToken, AccessTokenHash, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, EmptyAdditionalClaims, IssuerUrl, Nonce, PrivateSigningKey,
    StandardClaims,
};
use serde_json::{json, Map, Value};

use super::keys::{KeyError, SigningKey};
use super::scope::{ScopeSet, SCOPE_CLAIMS};
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

/// Claims of the token itself, in every ID token whatever the scope (OpenID Connect
/// Core §2); `sub` is also the one userinfo always returns.
pub const ID_TOKEN_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "at_hash",
];

/// Claims a consent app adds to the tokens of a grant: into JWT access tokens (and
/// introspection's `ext`) and into ID tokens and userinfo.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtraClaims {
    pub access_token: Map<String, Value>,
    pub id_token: Map<String, Value>,
}

/// The most of each set of extra claims, as JSON: they travel in every token.
pub const MAX_EXTRA_CLAIMS_BYTES: usize = 4096;

/// Names an extra claim may not take: those of the tokens themselves (RFC 7519 §4.1,
/// RFC 9068 §2.2, OpenID Connect Core §2) and those the scopes release (§5.1), which
/// must keep meaning what this server says they mean.
#[rustfmt::skip]
const RESERVED_CLAIMS: &[&str] = &[
    // The tokens' own (RFC 7519 §4.1, RFC 9068 §2.2, RFC 7662 §2.2, RFC 8693 §4).
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce", "acr", "amr", "azp",
    "at_hash", "c_hash", "s_hash", "sid", "client_id", "scope", "cnf", "typ", "token_type",
    "token_use", "active", "username", "ext", "act", "may_act", "roles", "groups",
    "entitlements",
    // Every standard claim about the user (OpenID Connect Core §5.1).
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "email", "email_verified", "gender", "birthdate",
    "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
];

/// Why extra claims were refused; the message names the offending set and claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidClaims(pub String);

impl ExtraClaims {
    /// Refuses reserved names and oversized sets.
    pub fn check(self) -> Result<Self, InvalidClaims> {
        for (set, claims) in [
            ("access_token", &self.access_token),
            ("id_token", &self.id_token),
        ] {
            // `name#en` is `name` in a language (OpenID Connect Core §5.2).
            let reserved = |k: &str| {
                k.is_empty() || RESERVED_CLAIMS.contains(&k.split('#').next().unwrap_or(k))
            };
            if let Some(name) = claims.keys().find(|k| reserved(k)) {
                let shown: String = name.chars().take(40).collect();
                return Err(InvalidClaims(format!(
                    "session.{set}: {shown:?} is a claim this server sets itself"
                )));
            }
            let size = serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len());
            if size > MAX_EXTRA_CLAIMS_BYTES {
                return Err(InvalidClaims(format!(
                    "session.{set} is {size} bytes as JSON; at most {MAX_EXTRA_CLAIMS_BYTES}"
                )));
            }
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.access_token.is_empty() && self.id_token.is_empty()
    }

    /// As stored with a grant; `None` when there are none.
    pub fn stored(&self) -> Option<String> {
        (!self.is_empty())
            .then(|| serde_json::to_string(self).ok())
            .flatten()
    }

    /// Reads what [`ExtraClaims::stored`] wrote; nothing stored is no claims.
    pub fn from_stored(text: Option<&str>) -> Result<Self, serde_json::Error> {
        text.map_or(Ok(Self::default()), serde_json::from_str)
    }
}

/// Adds `extra` to a claims object; names already set are kept (checked names never
/// collide, and a stored set must not override the server's own).
fn add_claims(target: &mut Value, extra: &Map<String, Value>) {
    if let Value::Object(map) = target {
        for (name, value) in extra {
            map.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}

/// The value of one claim about `user`, if she has one.
fn claim_value(user: &UserClaims, claim: &str) -> Option<Value> {
    match claim {
        "preferred_username" => Some(json!(user.username)),
        "name" => user.name.as_ref().map(|n| json!(n)),
        "updated_at" => Some(json!(user.updated_at)),
        "email" => user.email.as_ref().map(|e| json!(e)),
        // Addresses are entered by admins, not verified by a mail round-trip.
        "email_verified" => user.email.as_ref().map(|_| json!(false)),
        "phone_number" => user.phone_number.as_ref().map(|p| json!(p)),
        "phone_number_verified" => user.phone_number.as_ref().map(|_| json!(false)),
        "address" => user.address.as_ref().map(|a| json!({ "formatted": a })),
        _ => None,
    }
}

/// `sub` and the claims `scope` releases ([`SCOPE_CLAIMS`], OpenID Connect Core §5.4).
fn released(user: &UserClaims, scope: &ScopeSet) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.sub));
    for (_, names) in SCOPE_CLAIMS.iter().filter(|(s, _)| scope.contains(s)) {
        for name in names.iter() {
            if let Some(value) = claim_value(user, name) {
                claims.insert((*name).into(), value);
            }
        }
    }
    claims
}

/// The userinfo claims `scope` releases (OpenID Connect Core §5.3.2), and those a consent
/// app added for ID tokens.
pub fn userinfo(user: &UserClaims, scope: &ScopeSet, extra: &ExtraClaims) -> Value {
    let mut claims = Value::Object(released(user, scope));
    add_claims(&mut claims, &extra.id_token);
    claims
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
    pub extra: &'a ExtraClaims,
    /// How the user signed in: `acr` when named, `amr` unless empty (not known).
    pub acr: Option<&'a str>,
    pub amr: &'a [String],
}

fn datetime(ts: Timestamp) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).single().unwrap_or_default()
}

/// Why a signed token could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedTokenError {
    #[error("the token's claims are not valid: {0}")]
    Claims(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Signs an ID token with the scope's claims, `auth_time`, `nonce`, `acr`, `amr` and `at_hash`.
pub fn id_token(key: &SigningKey, input: &IdTokenInput<'_>) -> Result<String, SignedTokenError> {
    let issuer = IssuerUrl::new(input.issuer.to_owned())
        .map_err(|e| SignedTokenError::Claims(e.to_string()))?;
    // The same claims as userinfo, read into the library's types.
    let standard: StandardClaims<CoreGenderClaim> =
        serde_json::from_value(Value::Object(released(input.user, input.scope)))
            .map_err(|e| SignedTokenError::Claims(e.to_string()))?;
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
    .set_auth_context_ref(
        input
            .acr
            .map(|acr| AuthenticationContextClass::new(acr.to_owned())),
    )
    .set_auth_method_refs(Some(input.amr).filter(|amr| !amr.is_empty()).map(|amr| {
        amr.iter()
            .map(|m| AuthenticationMethodReference::new(m.clone()))
            .collect()
    }));
    let claims = match input.access_token {
        Some(token) => {
            let hash = AccessTokenHash::from_token(
                &AccessToken::new(token.to_owned()),
                &key.alg.jws(),
                &key.as_verification_key(),
            )
            .map_err(|e| SignedTokenError::Claims(e.to_string()))?;
            claims.set_access_token_hash(Some(hash))
        }
        None => claims,
    };
    // Signed here rather than by the openidconnect crate, which leaves `typ` out: an ID
    // token says `JWT` and a JWT access token `at+jwt`, so neither passes for the other.
    let mut claims =
        serde_json::to_value(&claims).map_err(|e| SignedTokenError::Claims(e.to_string()))?;
    add_claims(&mut claims, &input.extra.id_token);
    Ok(key.sign_jwt(ID_TOKEN_TYPE, &claims)?)
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
    pub extra: &'a ExtraClaims,
}

/// An RFC 9068 access token: a JWT with `typ: at+jwt`.
pub fn access_token_jwt(
    key: &SigningKey,
    input: &AccessTokenJwt<'_>,
) -> Result<String, SignedTokenError> {
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
    add_claims(&mut claims, &input.extra.access_token);
    Ok(key.sign_jwt("at+jwt", &claims)?)
}

#[cfg(test)]
mod tests;
