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
            let refused = extra(set, name).unwrap_err().0;
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
                acr: None,
                amr: &["pwd".to_owned()],
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
                acr: Some("urn:example:badge"),
                amr: &["hwk".to_owned(), "pin".to_owned()],
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
        let acr = claims.auth_context_ref().map(|acr| acr.to_string());
        assert_eq!(acr.as_deref(), Some("urn:example:badge"));
        let amr: Vec<String> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(amr, ["hwk", "pin"]);
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
