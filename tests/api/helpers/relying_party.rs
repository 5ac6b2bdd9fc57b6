//! The relying party of the tests: the openidconnect crate registered as a client of a
//! fresh server, and the steps of the code flow it takes.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
};
use serde_json::json;
use url::Url;

use super::browser::{Browser, Landing, SIGNS_IN_AND_ALLOWS};
use super::{Backend, TestApp};

pub const CALLBACK: &str = "http://127.0.0.1:1/callback";
pub const RP_SECRET: &str = "relying party secret of at least 32 chars";

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub struct Fixture {
    pub app: TestApp,
    pub rp: Rp,
    pub browser: Browser,
}

/// A server with the user ann and the confidential client `rp`, and a relying party
/// configured from discovery.
pub async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, &[]).await
}

pub async fn fixture_with(backend: Backend, settings: &[(&str, &str)]) -> Fixture {
    let app = TestApp::spawn_with(backend, settings).await;
    let out = app.cli(&[
        "users",
        "create",
        "ann",
        "--email",
        "ann@example.com",
        "--name",
        "Ann Example",
        "--password",
        "ann's password",
    ]);
    assert!(out.status.success());
    app.register(json!({
        "client_id": "rp",
        "client_secret": RP_SECRET,
        "client_name": "Reading Room",
        "client_uri": "https://reading.example",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": ["http://127.0.0.1:1/signed-out"],
        "scope": "openid profile email address phone offline_access",
    }));
    let rp = relying_party(&app, "rp", Some(RP_SECRET)).await;
    let browser = Browser::new(&app);
    Fixture { app, rp, browser }
}

pub async fn relying_party(app: &TestApp, id: &str, secret: Option<&str>) -> Rp {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &app.http)
            .await
            .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap())
}

pub struct Started {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: openidconnect::PkceCodeVerifier,
}

pub fn start(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in scopes {
        request = request.add_scope(Scope::new((*s).to_owned()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = request.url();
    Started {
        url,
        state,
        nonce,
        verifier,
    }
}

pub fn code_of(url: &Url, started: &Started, issuer: &str) -> String {
    assert_eq!(
        Landing::param(url, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(
        Landing::param(url, "iss").as_deref(),
        Some(issuer),
        "RFC 9207 iss parameter"
    );
    Landing::param(url, "code").unwrap_or_else(|| panic!("no code in {url}"))
}

/// Runs a flow to its code and exchanges it.
pub async fn sign_in_and_exchange(
    f: &Fixture,
    scopes: &[&str],
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    exchange_with(&f.app, &f.rp, &f.browser, scopes).await
}

pub async fn exchange_with(
    app: &TestApp,
    rp: &Rp,
    browser: &Browser,
    scopes: &[&str],
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    let started = start(rp, scopes, &[]);
    let landing = browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let code = code_of(&landing, &started, &app.base);
    let token = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&app.http)
        .await
        .expect("code exchanged");
    (token, started.nonce)
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}
