//! Several nodes on one database: the in-process test server and a second `portcullis
//! serve` process. What one node issues, the other sees at once; what one node revokes
//! or deletes, it stops honouring at once, and the other within the memo bound.

use std::time::{Duration, Instant};

use portcullis::storage::memo::MEMO_BOUND;

use std::collections::HashSet;

use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, OAuth2TokenResponse};
use portcullis::service::keys::SIGNER_CACHE;

use crate::helpers::browser::{Landing, SIGNS_IN_AND_ALLOWS};
use crate::helpers::relying_party::{base64_url, fixture, sign_in_and_exchange, RP_SECRET};
use crate::helpers::{assert_error, json, Backend, Node, TestApp};

async fn introspect_at(app: &TestApp, url: String, id: &str, secret: &str, token: &str) -> bool {
    let response = app
        .http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection answered");
    assert_eq!(response.status(), 200);
    json(response).await["active"]
        .as_bool()
        .expect("an active flag")
}

async fn token_at(app: &TestApp, url: String, id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(url)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token endpoint answered")
}

/// Polls until `check` is true; returns how long after `since` (the change) that was,
/// or panics after `limit`.
async fn within<F, Fut>(since: Instant, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = since;
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tokens_issued_concurrently_on_one_node_are_active_on_another(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let (id, secret) = app.machine_client("clients:read");
    // Concurrent requests share commits; each response still means "written".
    let requests = (0..32).map(|_| token_at(&app, app.url("/oauth2/token"), &id, &secret));
    let mut tokens = Vec::new();
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 200);
        tokens.push(
            json(response).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for token in &tokens {
        assert!(
            introspect_at(&app, node.url("/oauth2/introspect"), &id, &secret, token).await,
            "a token answered on one node is active on the other"
        );
    }
}

async fn a_revocation_is_honoured_at_once_here_and_within_the_bound_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let (id, secret) = app.machine_client("clients:read");
    let token = app.client_credentials_token(&id, &secret, &[]).await;
    // Both nodes have now read (and remember) the token.
    for url in [
        app.url("/oauth2/introspect"),
        node.url("/oauth2/introspect"),
    ] {
        assert!(introspect_at(&app, url, &id, &secret, &token).await);
    }

    let changed = Instant::now();
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(
        !introspect_at(&app, app.url("/oauth2/introspect"), &id, &secret, &token).await,
        "the revoking node stops honouring the token at once"
    );
    let took = within(changed, MEMO_BOUND + Duration::from_secs(2), || {
        let url = node.url("/oauth2/introspect");
        let (id, secret, token) = (&id, &secret, &token);
        let app = &app;
        async move { !introspect_at(app, url, id, secret, token).await }
    })
    .await;
    assert!(took <= MEMO_BOUND + Duration::from_millis(500), "{took:?}");
}

async fn a_deleted_client_is_refused_at_once_here_and_within_the_bound_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let node = Node::start(&app).await;
    let admin = app.admin_token("clients:write").await;
    let (id, secret) = app.machine_client("clients:read");
    for url in [app.url("/oauth2/token"), node.url("/oauth2/token")] {
        assert_eq!(token_at(&app, url, &id, &secret).await.status(), 200);
    }

    let changed = Instant::now();
    let deleted = app.delete_as(&format!("/admin/clients/{id}"), &admin).await;
    assert_eq!(deleted.status(), 204);
    let here = token_at(&app, app.url("/oauth2/token"), &id, &secret).await;
    assert_eq!(
        here.status(),
        401,
        "the deleting node refuses the client at once"
    );
    within(changed, MEMO_BOUND + Duration::from_secs(2), || {
        let url = node.url("/oauth2/token");
        let (id, secret) = (&id, &secret);
        let app = &app;
        async move { token_at(app, url, id, secret).await.status() == 401 }
    })
    .await;
}

/// A user's consent revoked through one node: that node stops honouring the grant's
/// tokens at once, the other node within the memo bound; refreshing fails everywhere at
/// once (refresh always reads the database), and the next sign-in asks again.
async fn a_revoked_consent_is_honoured_at_once_here_and_within_the_bound_elsewhere(
    backend: Backend,
) {
    let f = fixture(backend).await;
    let node = Node::start(&f.app).await;
    let (token, _) = sign_in_and_exchange(&f, &["offline_access"]).await;
    let access = token.access_token().secret().clone();
    let refresh = token
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    for url in [
        f.app.url("/oauth2/introspect"),
        node.url("/oauth2/introspect"),
    ] {
        assert!(introspect_at(&f.app, url, "rp", RP_SECRET, &access).await);
    }

    let remover = f.app.admin_token("authorizations:write").await;
    let changed = Instant::now();
    let removed = f
        .app
        .http
        .delete(node.url("/admin/authorizations?subject=ann&client_id=rp"))
        .bearer_auth(&remover)
        .send()
        .await
        .expect("an answer");
    assert!(removed.status().is_success(), "{}", removed.status());
    assert!(
        !introspect_at(
            &f.app,
            node.url("/oauth2/introspect"),
            "rp",
            RP_SECRET,
            &access
        )
        .await,
        "the node that removed the grant stops honouring its tokens at once"
    );
    for url in [f.app.url("/oauth2/token"), node.url("/oauth2/token")] {
        let r = f
            .app
            .http
            .post(url)
            .basic_auth("rp", Some(RP_SECRET))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .expect("an answer");
        assert_error(r, 400, "invalid_grant").await;
    }
    let took = within(changed, MEMO_BOUND + Duration::from_secs(2), || {
        let url = f.app.url("/oauth2/introspect");
        let (app, access) = (&f.app, &access);
        async move { !introspect_at(app, url, "rp", RP_SECRET, access).await }
    })
    .await;
    assert!(took <= MEMO_BOUND + Duration::from_millis(500), "{took:?}");
    // The remembered decision went with the grant: the other node asks again.
    let started = crate::helpers::relying_party::start(&f.rp, &["offline_access"], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert!(Landing::param(&landing, "code").is_some());
    assert_eq!(f.browser.seen.borrow().as_slice(), ["consent"]);
}

async fn jwks_at(app: &TestApp, base: &str) -> serde_json::Value {
    let r = app
        .http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("the key set");
    json(r).await
}

fn kids(jwks: &serde_json::Value) -> HashSet<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

/// An ID token from the password grant at `base`: its key id and whether the key set
/// `jwks` verifies its signature.
async fn id_token_kid(app: &TestApp, base: &str, jwks: &serde_json::Value) -> (String, bool) {
    let r = app
        .http
        .post(format!("{base}/oauth2/token"))
        .basic_auth("pw", Some("pw secret of at least 32 characters"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ann"),
            ("password", "ann's password"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .expect("an answer");
    let body = json(r).await;
    let id_token = body["id_token"].as_str().expect("an ID token");
    let parts: Vec<&str> = id_token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&base64_url(parts[0])).expect("a JOSE header");
    let kid = header["kid"].as_str().expect("a kid").to_owned();
    let verified = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["kid"] == kid.as_str())
        .filter_map(|k| serde_json::from_value::<CoreJsonWebKey>(k.clone()).ok())
        .any(|key| {
            key.verify_signature(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &base64_url(parts[2]),
            )
            .is_ok()
        });
    (kid, verified)
}

/// `keys rotate` makes the published next key current. Every node signs with it within
/// the signer's cache bound, and it was in every node's key set before the rotation, so
/// a relying party holding a key set fetched before the rotation verifies every token.
async fn a_key_rotation_is_published_by_every_node_before_use(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(serde_json::json!({
        "client_id": "pw",
        "client_secret": "pw secret of at least 32 characters",
        "grant_types": ["password"],
        "scope": "openid",
    }));
    let node = Node::start(&f.app).await;
    let bases = [f.app.base.clone(), node.base.clone()];
    let mut before = Vec::new();
    for base in &bases {
        before.push(jwks_at(&f.app, base).await);
    }
    assert_eq!(
        kids(&before[0]),
        kids(&before[1]),
        "every node publishes the same keys"
    );
    let (signing, _) = id_token_kid(&f.app, &bases[0], &before[0]).await;

    let out = f.app.cli(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    let mut switched = [None, None];
    while switched.iter().any(Option::is_none) {
        assert!(
            start.elapsed() < SIGNER_CACHE + Duration::from_secs(3),
            "not every node signs with the new key: {switched:?}"
        );
        for (i, base) in bases.iter().enumerate() {
            for jwks in &before {
                let (kid, verified) = id_token_kid(&f.app, base, jwks).await;
                assert!(
                    verified,
                    "{base} signed with {kid}, not in a key set from before"
                );
                if kid != signing && switched[i].is_none() {
                    switched[i] = Some(start.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The retired key stays published, so tokens signed before the rotation verify.
    for base in &bases {
        let now = kids(&jwks_at(&f.app, base).await);
        assert!(
            now.contains(&signing),
            "{base} still publishes the retired key"
        );
        assert!(
            now.len() >= 3,
            "{base} publishes a new next key as well: {now:?}"
        );
    }
}

/// What `/oauth2/auth` at `base` says to `prompt=none` with `hint`, for a browser with no
/// session: `login_required` when the hint is accepted.
async fn silent_error_with_hint(app: &TestApp, base: &str, hint: &str) -> Option<String> {
    let url = format!(
        "{base}/oauth2/auth?client_id=rp&response_type=code&scope=openid&state=s\
         &redirect_uri={}&prompt=none&id_token_hint={hint}",
        crate::helpers::relying_party::urlencode(crate::helpers::relying_party::CALLBACK)
    );
    let r = app.http.get(url).send().await.expect("an answer");
    let location = r.headers().get("location")?.to_str().ok()?;
    Landing::param(&url::Url::parse(location).ok()?, "error")
}

async fn a_revoked_key_leaves_every_node_at_once(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(serde_json::json!({
        "client_id": "pw",
        "client_secret": "pw secret of at least 32 characters",
        "grant_types": ["password"],
        "scope": "openid",
    }));
    // One issuer behind two nodes, as behind a load balancer.
    let node = Node::start_with(
        &f.app,
        &[
            ("PORTCULLIS_WORKERS", "1"),
            ("PORTCULLIS_DB_POOL_SIZE", "2"),
            ("PORTCULLIS_ISSUER", &f.app.base),
        ],
    )
    .await;
    let bases = [f.app.base.clone(), node.base.clone()];
    let (token, _) = sign_in_and_exchange(&f, &[]).await;
    let hint = openidconnect::TokenResponse::id_token(&token)
        .expect("an ID token")
        .to_string();
    let jwks = jwks_at(&f.app, &bases[0]).await;
    let (compromised, verified) = id_token_kid(&f.app, &bases[1], &jwks).await;
    assert!(verified);
    for base in &bases {
        assert_eq!(
            silent_error_with_hint(&f.app, base, &hint).await.as_deref(),
            Some("login_required"),
            "the hint is taken before"
        );
    }

    let out = f.app.cli(&["keys", "revoke", &compromised]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("revoked"), "{said}");
    let revoked_at = Instant::now();
    for base in &bases {
        assert!(
            !kids(&jwks_at(&f.app, base).await).contains(&compromised),
            "{base} no longer publishes it"
        );
        assert_eq!(
            silent_error_with_hint(&f.app, base, &hint).await.as_deref(),
            Some("invalid_request"),
            "{base} no longer takes a hint it signed"
        );
    }
    // Nodes cached it as their signer; within the signer bound they sign with the
    // promoted key, which every node publishes.
    for base in &bases {
        within(
            revoked_at,
            SIGNER_CACHE + Duration::from_secs(3),
            || async {
                let jwks = jwks_at(&f.app, base).await;
                let (kid, verified) = id_token_kid(&f.app, base, &jwks).await;
                kid != compromised && verified
            },
        )
        .await;
    }

    let listed: serde_json::Value =
        serde_json::from_slice(&f.app.cli(&["keys", "list"]).stdout).expect("JSON");
    let states: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert!(
        states.contains(&(compromised.as_str(), "revoked")),
        "{states:?}"
    );
    assert_eq!(states.iter().filter(|(_, s)| *s == "current").count(), 1);
    assert_eq!(states.iter().filter(|(_, s)| *s == "next").count(), 1);
    let again = f.app.cli(&["keys", "revoke", &compromised]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    let unknown = f.app.cli(&["keys", "revoke", "no-such-kid"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("does not exist"));
    // Key ids are URL-safe base64 and may begin with "-".
    let hyphen = f.app.cli(&["keys", "revoke", "-no-such-kid"]);
    assert!(!hyphen.status.success());
    assert!(String::from_utf8_lossy(&hyphen.stderr).contains("does not exist"));
    let rotated = f.app.cli(&["keys", "rotate-master"]);
    assert!(
        rotated.status.success(),
        "a revoked key has nothing to re-seal: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
}

on_both_backends!(
    a_revoked_consent_is_honoured_at_once_here_and_within_the_bound_elsewhere,
    a_key_rotation_is_published_by_every_node_before_use,
    a_revoked_key_leaves_every_node_at_once,
    tokens_issued_concurrently_on_one_node_are_active_on_another,
    a_revocation_is_honoured_at_once_here_and_within_the_bound_elsewhere,
    a_deleted_client_is_refused_at_once_here_and_within_the_bound_elsewhere,
);
