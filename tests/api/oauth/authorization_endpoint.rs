//! Requests an attacker would send, each with the exact answer expected. The authorization
//! endpoint must never redirect to a URI it cannot verify: every variant of the
//! registered redirect URI gets an error page.

use crate::helpers::browser::{Landing, Person};
use crate::helpers::relying_party::{fixture, urlencode, CALLBACK};
use crate::helpers::{Backend, TestApp};

const NOBODY: Person<'static> = Person {
    credentials: None,
    consent: None,
};

/// Redirect URIs that differ from the registered `http://127.0.0.1:1/callback` in one way.
const REDIRECT_VARIANTS: &[(&str, &str)] = &[
    ("a prefix", "http://127.0.0.1:1/call"),
    ("a longer path", "http://127.0.0.1:1/callback/more"),
    ("extra characters", "http://127.0.0.1:1/callbackx"),
    ("a trailing slash", "http://127.0.0.1:1/callback/"),
    ("the path in capitals", "http://127.0.0.1:1/CALLBACK"),
    ("the scheme in capitals", "HTTP://127.0.0.1:1/callback"),
    ("a percent-encoded letter", "http://127.0.0.1:1/%63allback"),
    ("a dot segment", "http://127.0.0.1:1/x/../callback"),
    (
        "a query",
        "http://127.0.0.1:1/callback?next=http://evil.example",
    ),
    ("a fragment", "http://127.0.0.1:1/callback#x"),
    ("user info", "http://evil.example@127.0.0.1:1/callback"),
    ("another port", "http://127.0.0.1:2/callback"),
    ("https", "https://127.0.0.1:1/callback"),
    ("another host name", "http://localhost:1/callback"),
    ("another host", "http://evil.example/callback"),
    ("a scheme-relative URI", "//evil.example/callback"),
    ("a relative path", "/callback"),
    ("a javascript URI", "javascript:alert(1)"),
    ("an empty value", ""),
    ("spaces around it", " http://127.0.0.1:1/callback "),
];

async fn no_variant_of_the_redirect_uri_is_followed(backend: Backend) {
    let f = fixture(backend).await;
    for (what, uri) in REDIRECT_VARIANTS {
        let url = format!(
            "{}/oauth2/auth?client_id=rp&response_type=code&scope=openid&state=s&redirect_uri={}",
            f.app.base,
            urlencode(uri)
        );
        match f.browser.walk(&url, NOBODY).await {
            Landing::ErrorPage(400, html) => assert!(
                html.contains("This request cannot be completed"),
                "{what}: {html}"
            ),
            other => panic!("{what} ({uri}): expected an error page, got {other:?}"),
        }
    }
}

/// Requests whose client or redirect URI cannot be trusted: an error page, no redirect.
async fn untrusted_requests_get_an_error_page(backend: Backend) {
    let f = fixture(backend).await;
    let cb = urlencode(CALLBACK);
    let cases = [
        (
            "unknown client",
            format!("client_id=nobody&response_type=code&redirect_uri={cb}&scope=openid"),
        ),
        (
            "no client",
            format!("response_type=code&redirect_uri={cb}&scope=openid"),
        ),
        (
            "empty client",
            format!("client_id=&response_type=code&redirect_uri={cb}&scope=openid"),
        ),
        (
            "client given twice",
            format!("client_id=rp&client_id=rp&response_type=code&redirect_uri={cb}&scope=openid"),
        ),
        (
            "redirect URI given twice",
            format!(
                "client_id=rp&response_type=code&redirect_uri={cb}&redirect_uri={cb}&scope=openid"
            ),
        ),
        (
            "OpenID Connect request without a redirect URI",
            "client_id=rp&response_type=code&scope=openid".to_owned(),
        ),
        (
            "client id with SQL",
            format!(
                "client_id={}&response_type=code&redirect_uri={cb}&scope=openid",
                urlencode("rp' OR '1'='1")
            ),
        ),
    ];
    for (what, query) in cases {
        let url = format!("{}/oauth2/auth?{query}", f.app.base);
        match f.browser.walk(&url, NOBODY).await {
            Landing::ErrorPage(400, _) => {}
            other => panic!("{what}: expected an error page, got {other:?}"),
        }
    }
}

/// Bad requests from a verified client to its verified redirect URI: the error goes back
/// to the client with the state, as RFC 6749 §4.1.2.1 says.
async fn bad_requests_from_a_known_client_are_sent_back_with_their_error(backend: Backend) {
    let f = fixture(backend).await;
    let cb = urlencode(CALLBACK);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases = [
        ("no response type", format!("client_id=rp&redirect_uri={cb}&scope=openid&state=s"), "invalid_request"),
        ("implicit token", format!("client_id=rp&response_type=token&redirect_uri={cb}&scope=openid&state=s"), "unsupported_response_type"),
        ("hybrid", format!("client_id=rp&response_type=code%20id_token&redirect_uri={cb}&scope=openid&state=s"), "unsupported_response_type"),
        ("unknown response type", format!("client_id=rp&response_type=magic&redirect_uri={cb}&scope=openid&state=s"), "unsupported_response_type"),
        ("scope the client lacks", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid%20users:write&state=s"), "invalid_scope"),
        ("unknown scope", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid%20root&state=s"), "invalid_scope"),
        ("scope given twice", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&scope=email&state=s"), "invalid_request"),
        ("response type given twice", format!("client_id=rp&response_type=code&response_type=code&redirect_uri={cb}&scope=openid&state=s"), "invalid_request"),
        ("PKCE plain", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&code_challenge={challenge}&code_challenge_method=plain&state=s"), "invalid_request"),
        ("PKCE unknown method", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&code_challenge={challenge}&code_challenge_method=S512&state=s"), "invalid_request"),
        ("PKCE challenge too short", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&code_challenge=abc&code_challenge_method=S256&state=s"), "invalid_request"),
        ("PKCE challenge with bad characters", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&code_challenge={}&code_challenge_method=S256&state=s", "%2B".repeat(43)), "invalid_request"),
        ("request object", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&request=eyJ9.e30.&state=s"), "request_not_supported"),
        ("request URI", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&request_uri=https://x.example/r&state=s"), "request_uri_not_supported"),
        ("prompt none with login", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&prompt=none%20login&state=s"), "invalid_request"),
        ("unknown prompt", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&prompt=always&state=s"), "invalid_request"),
        ("prompt none without a session", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&prompt=none&state=s"), "login_required"),
        ("negative max_age", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&max_age=-1&state=s"), "invalid_request"),
        ("unknown response mode", format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&response_mode=web_message&state=s"), "invalid_request"),
    ];
    for (what, query, error) in cases {
        let url = format!("{}/oauth2/auth?{query}", f.app.base);
        let landing = match f.browser.walk(&url, NOBODY).await {
            Landing::Redirect(url) => url,
            other => panic!("{what}: expected a redirect to the client, got {other:?}"),
        };
        assert!(landing.as_str().starts_with(CALLBACK), "{what}: {landing}");
        assert_eq!(
            Landing::param(&landing, "error").as_deref(),
            Some(error),
            "{what}"
        );
        assert_eq!(
            Landing::param(&landing, "state").as_deref(),
            Some("s"),
            "{what}"
        );
        assert!(Landing::param(&landing, "code").is_none(), "{what}");
    }
}

/// How a token request authenticates.
enum Auth<'a> {
    Basic(&'a str, &'a str),
    Header(&'a str),
    None,
}

/// Token requests that must fail, each with its status and RFC 6749 error code; none of
/// them issues anything.
async fn bad_token_requests_fail_with_their_exact_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cc, cc_secret) = app.machine_client("clients:read");
    let (rp, rp_secret) = app.register(serde_json::json!({
        "client_name": "web app",
        "redirect_uris": ["http://127.0.0.1:1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid offline_access",
    }));
    let rp_secret = rp_secret.expect("a confidential client");
    let (cc, rp) = (cc.as_str(), rp.as_str());
    let (cc_secret, rp_secret) = (cc_secret.as_str(), rp_secret.as_str());
    let grant = "grant_type=client_credentials";
    let cases: Vec<(&str, Auth, String, u16, &str)> = vec![
        (
            "unknown client",
            Auth::Basic("nobody", "secret"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "wrong secret",
            Auth::Basic(cc, "wrong"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "empty secret",
            Auth::Basic(cc, ""),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "another client's secret",
            Auth::Basic(cc, rp_secret),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "SQL in the client id",
            Auth::Basic("x' OR '1'='1", "secret"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "SQL in the secret",
            Auth::Basic(cc, "' OR '1'='1"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "Basic that is not base64",
            Auth::Header("Basic !!!"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "Basic without a colon",
            Auth::Header("Basic Y2xpZW50"),
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "no authentication",
            Auth::None,
            grant.into(),
            401,
            "invalid_client",
        ),
        (
            "secret in the body without an id",
            Auth::None,
            format!("{grant}&client_secret=x"),
            400,
            "invalid_request",
        ),
        (
            "Basic and a body secret",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&client_secret={cc_secret}"),
            400,
            "invalid_request",
        ),
        (
            "Basic and another body client id",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&client_id={rp}"),
            400,
            "invalid_request",
        ),
        (
            "no grant type",
            Auth::Basic(cc, cc_secret),
            "scope=clients:read".into(),
            400,
            "invalid_request",
        ),
        (
            "empty grant type",
            Auth::Basic(cc, cc_secret),
            "grant_type=".into(),
            400,
            "invalid_request",
        ),
        (
            "unknown grant type",
            Auth::Basic(cc, cc_secret),
            "grant_type=magic".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            "implicit is not a grant",
            Auth::Basic(cc, cc_secret),
            "grant_type=implicit".into(),
            400,
            "unsupported_grant_type",
        ),
        (
            "grant type given twice",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&{grant}"),
            400,
            "invalid_request",
        ),
        (
            "scope given twice",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&scope=clients:read&scope=clients:read"),
            400,
            "invalid_request",
        ),
        (
            "scope beyond the registration",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&scope=clients:write"),
            400,
            "invalid_scope",
        ),
        (
            "unknown scope",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&scope=root"),
            400,
            "invalid_scope",
        ),
        (
            "a user scope for a machine",
            Auth::Basic(cc, cc_secret),
            format!("{grant}&scope=openid"),
            400,
            "invalid_scope",
        ),
        (
            "code grant not registered",
            Auth::Basic(cc, cc_secret),
            "grant_type=authorization_code&code=x".into(),
            400,
            "unauthorized_client",
        ),
        (
            "refresh grant not registered",
            Auth::Basic(cc, cc_secret),
            "grant_type=refresh_token&refresh_token=x".into(),
            400,
            "unauthorized_client",
        ),
        (
            "password grant not registered",
            Auth::Basic(cc, cc_secret),
            "grant_type=password&username=a&password=b".into(),
            400,
            "unauthorized_client",
        ),
        (
            "client_credentials not registered",
            Auth::Basic(rp, rp_secret),
            grant.into(),
            400,
            "unauthorized_client",
        ),
        (
            "code missing",
            Auth::Basic(rp, rp_secret),
            "grant_type=authorization_code".into(),
            400,
            "invalid_request",
        ),
        (
            "unknown code",
            Auth::Basic(rp, rp_secret),
            "grant_type=authorization_code&code=forged".into(),
            400,
            "invalid_grant",
        ),
        (
            "refresh token missing",
            Auth::Basic(rp, rp_secret),
            "grant_type=refresh_token".into(),
            400,
            "invalid_request",
        ),
        (
            "unknown refresh token",
            Auth::Basic(rp, rp_secret),
            "grant_type=refresh_token&refresh_token=pc_rt_forged".into(),
            400,
            "invalid_grant",
        ),
        (
            "an access token as refresh token",
            Auth::Basic(rp, rp_secret),
            format!(
                "grant_type=refresh_token&refresh_token={}",
                app.client_credentials_token(cc, cc_secret, &[]).await
            ),
            400,
            "invalid_grant",
        ),
        (
            "a body that is not a form",
            Auth::Basic(cc, cc_secret),
            "%%%".into(),
            400,
            "invalid_request",
        ),
    ];
    for (what, auth, body, status, code) in cases {
        let mut request = app
            .http
            .post(app.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        request = match auth {
            Auth::Basic(id, secret) => request.basic_auth(id, Some(secret)),
            Auth::Header(value) => request.header("authorization", value),
            Auth::None => request,
        };
        let response = request.send().await.expect("an answer");
        let got = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{what}: {body}");
        let body: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(body.get("access_token").is_none(), "{what}");
    }
    // Nothing but the one token above was issued.
    let stored: i64 = {
        use diesel::prelude::*;
        portcullis::storage::schema::tokens::table
            .count()
            .get_result(&mut *app.db.conn().expect("a connection"))
            .expect("a count")
    };
    assert_eq!(stored, 1);

    // Parameters sent without a value count as omitted (RFC 6749 §3.1): an empty scope
    // asks for the client's registered scopes, an empty body secret beside Basic is no
    // second authentication method.
    let response = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(cc, Some(cc_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", ""),
            ("client_secret", ""),
        ])
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["scope"], "clients:read");
}

/// A code exchanged within its lifetime works; one exchanged after it is `invalid_grant`.
async fn an_expired_code_is_refused(backend: Backend) {
    let f =
        crate::helpers::relying_party::fixture_with(backend, &[("PORTCULLIS_AUTH_CODE_TTL", "3s")])
            .await;
    let code = || async {
        let started = crate::helpers::relying_party::start(&f.rp, &["openid"], &[]);
        let landing = f
            .browser
            .walk(
                started.url.as_str(),
                crate::helpers::browser::SIGNS_IN_AND_ALLOWS,
            )
            .await
            .redirect();
        let code = Landing::param(&landing, "code").expect("a code");
        (code, started.verifier.secret().clone())
    };
    let exchange = |code: String, verifier: String| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(crate::helpers::relying_party::RP_SECRET))
            .form(&[
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", CALLBACK.to_owned()),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let (fresh, verifier) = code().await;
    let r = exchange(fresh, verifier).await.expect("an answer");
    assert_eq!(r.status(), 200, "a code used at once works");
    let (stale, verifier) = code().await;
    tokio::time::sleep(std::time::Duration::from_millis(4_100)).await;
    let r = exchange(stale, verifier).await.expect("an answer");
    crate::helpers::assert_error(r, 400, "invalid_grant").await;
}

on_both_backends!(
    an_expired_code_is_refused,
    no_variant_of_the_redirect_uri_is_followed,
    untrusted_requests_get_an_error_page,
    bad_requests_from_a_known_client_are_sent_back_with_their_error,
    bad_token_requests_fail_with_their_exact_error,
);
