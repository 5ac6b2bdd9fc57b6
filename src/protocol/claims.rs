//! ID tokens (OpenID Connect Core §2, §3.1.3.6), JWT access tokens (RFC 9068) and the
//! claims each scope releases (§5.4).

use chrono::{TimeZone, Utc};
use openidconnect::core::{CoreGenderClaim, CoreIdTokenClaims};
use openidconnect::{
    AccessToken, AccessTokenHash, Audience, AuthenticationMethodReference, EmptyAdditionalClaims,
    IssuerUrl, Nonce, PrivateSigningKey, StandardClaims,
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

impl ExtraClaims {
    /// Refuses reserved names and oversized sets; the message names the offender.
    pub fn check(self) -> Result<Self, String> {
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
                return Err(format!(
                    "session.{set}: {shown:?} is a claim this server sets itself"
                ));
            }
            let size = serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len());
            if size > MAX_EXTRA_CLAIMS_BYTES {
                return Err(format!(
                    "session.{set} is {size} bytes as JSON; at most {MAX_EXTRA_CLAIMS_BYTES}"
                ));
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

/// Signs an ID token with the scope's claims, `auth_time`, `nonce`, `amr` and `at_hash`.
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
    .set_auth_method_refs(Some(vec![AuthenticationMethodReference::new("pwd".into())]));
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
mod tests {
    use super::*;
    use crate::protocol::keys::{generate, Algorithm};
    use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKeySet};
    use openidconnect::{ClientId, PrivateSigningKey};

    #[test]
    fn rfc_9068_2_an_access_token_jwt_is_typed_and_never_for_the_client() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let key =
            SigningKey::load("k", Algorithm::EdDsa, &generate(Algorithm::EdDsa).unwrap()).unwrap();
        let decode = |part: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        let one = vec!["https://api.example".to_owned()];
        let two = vec![
            "https://a.example".to_owned(),
            "https://b.example".to_owned(),
        ];
        for (audience, auth_time, aud) in [
            (&one, None, json!("https://api.example")),
            (
                &two,
                Some(1_000),
                json!(["https://a.example", "https://b.example"]),
            ),
        ] {
            let input = AccessTokenJwt {
                issuer: "https://id.example",
                audience,
                client_id: "reading-room",
                subject: "u-1",
                scope: "openid profile",
                now: 1_700_000_000,
                ttl_secs: 600,
                auth_time,
                extra: &ExtraClaims::default(),
            };
            let jwt = access_token_jwt(&key, &input).unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(decode(parts[0])["typ"], "at+jwt");
            let claims = decode(parts[1]);
            assert_eq!(claims["aud"], aud);
            assert_eq!(claims["iss"], "https://id.example");
            assert_eq!(claims["sub"], "u-1");
            assert_eq!(claims["client_id"], "reading-room");
            assert_eq!(claims["scope"], "openid profile");
            assert_eq!(claims["iat"], 1_700_000_000);
            assert_eq!(claims["exp"], 1_700_000_600);
            assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
            assert_eq!(
                claims.get("auth_time").cloned(),
                auth_time.map(|t| json!(t))
            );
        }
    }

    #[test]
    fn extra_claims_never_take_a_name_the_server_sets() {
        let extra = |set: &str, name: &str| {
            let mut claims = ExtraClaims::default();
            let map = if set == "id_token" {
                &mut claims.id_token
            } else {
                &mut claims.access_token
            };
            map.insert(name.into(), json!("x"));
            claims.check()
        };
        for name in [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nonce",
            "auth_time",
            "scope",
            "client_id",
            "email",
            "name",
            "preferred_username",
            "ext",
            "locale",
            "birthdate",
            "name#en",
            "roles",
        ] {
            for set in ["id_token", "access_token"] {
                let refused = extra(set, name).unwrap_err();
                assert!(refused.starts_with(&format!("session.{set}")), "{refused}");
            }
        }
        assert!(extra("id_token", "department").is_ok());
        let mut big = ExtraClaims::default();
        big.access_token
            .insert("blob".into(), json!("x".repeat(MAX_EXTRA_CLAIMS_BYTES)));
        assert!(big.check().is_err());
        assert_eq!(ExtraClaims::default().stored(), None, "nothing to store");
        assert_eq!(
            ExtraClaims::from_stored(None).unwrap(),
            ExtraClaims::default()
        );
    }

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

    /// OpenID Connect Core §5.4: a scope releases the same claims in the ID token as at
    /// userinfo, and only those.
    #[test]
    fn oidc_core_5_4_id_token_and_userinfo_release_the_same_claims() {
        use base64::Engine;
        let key = SigningKey::load(
            "kid-1",
            Algorithm::Es256,
            &generate(Algorithm::Es256).unwrap(),
        )
        .unwrap();
        let user = UserClaims {
            phone_number: Some("+41 00 000 00 00".into()),
            address: Some("1 Main Street".into()),
            ..user()
        };
        let protocol_claims: Vec<&str> = ID_TOKEN_CLAIMS
            .iter()
            .copied()
            .filter(|c| *c != "sub")
            .collect();
        for scope in [
            "openid",
            "openid profile",
            "openid email phone",
            "openid profile email address phone",
        ] {
            let scope = ScopeSet::parse(scope).unwrap();
            let token = id_token(
                &key,
                &IdTokenInput {
                    issuer: "https://id.example",
                    client_id: "rp",
                    user: &user,
                    scope: &scope,
                    nonce: None,
                    auth_time: 1_700_000_000,
                    now: 1_700_000_000,
                    ttl_secs: 60,
                    access_token: None,
                    extra: &ExtraClaims::default(),
                },
            )
            .unwrap();
            let payload = token.split('.').nth(1).unwrap();
            let payload: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            let mut in_token: Vec<&str> = payload
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| !protocol_claims.contains(k))
                .collect();
            let info = userinfo(&user, &scope, &ExtraClaims::default());
            let mut at_userinfo: Vec<&str> = info
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            in_token.sort();
            at_userinfo.sort();
            assert_eq!(in_token, at_userinfo, "{scope}");
            for (released_by, claims) in SCOPE_CLAIMS {
                for claim in claims.iter() {
                    assert_eq!(
                        at_userinfo.contains(claim),
                        scope.contains(released_by),
                        "{claim}"
                    );
                }
            }
            assert_eq!(payload["updated_at"], info["updated_at"]);
            assert_eq!(payload["address"], info["address"]);
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
                    extra: &ExtraClaims::default(),
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
        let only_openid = userinfo(
            &user(),
            &ScopeSet::parse("openid").unwrap(),
            &ExtraClaims::default(),
        );
        assert_eq!(only_openid, json!({ "sub": "u-1" }));
        let email = userinfo(
            &user(),
            &ScopeSet::parse("openid email").unwrap(),
            &ExtraClaims::default(),
        );
        assert_eq!(email["email"], "ann@example.com");
        assert!(email.get("name").is_none());
    }
}
