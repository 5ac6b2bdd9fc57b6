//! What a client's owner may register: redirect URIs that are what they look like.

use serde_json::{json, Value};

use crate::helpers::browser::{Browser, Landing, Person};
use crate::helpers::census::census;
use crate::helpers::relying_party::urlencode;
use crate::helpers::{assert_error, json, Backend, TestApp};

async fn register_as(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.register_as(token, &body).await
}

async fn redirect_uris_are_what_they_look_like(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mallory = app.user_token("mallory", false, "clients:read clients:write");
    let system = app.admin_token("clients:write").await;
    let before = census(&app);
    for (what, uri, public) in [
        (
            "plain http to another host",
            "http://evil.example/cb",
            false,
        ),
        ("plain http, public client", "http://evil.example/cb", true),
        (
            "a trusted name as userinfo",
            "https://trusted.example@evil.example/cb",
            false,
        ),
        ("a newline", "https://app.example/cb\nSet-Cookie: x", false),
        ("a space", "https://app.example/c b", false),
        ("a wildcard host", "https://*.example.com/cb", false),
        ("the browser's own pages", "chrome://settings", true),
        ("ftp", "ftp://files.example/cb", true),
        (
            "a private-use scheme, confidential",
            "com.example.app:/cb",
            false,
        ),
        ("a private-use scheme not reverse-domain", "myapp:/cb", true),
        ("a fragment", "https://app.example/cb#x", false),
    ] {
        for token in [&mallory, &system] {
            let mut body = json!({"client_name": "app", "redirect_uris": [uri], "scope": "openid"});
            if public {
                body["client_type"] = json!("public");
            }
            let r = register_as(&app, token, body).await;
            let error = assert_error(r, 400, "invalid_request").await;
            let description = error["error_description"].as_str().unwrap();
            assert!(
                description.starts_with("redirect_uris:"),
                "{what}: {description}"
            );
            assert!(!description.contains('\n'), "{what}: {description}");
        }
        // post-logout redirects follow the same rules.
        let body = json!({"client_name": "app", "post_logout_redirect_uris": [uri], "client_type": if public { "public" } else { "confidential" }});
        let r = register_as(&app, &mallory, body).await;
        assert_error(r, 400, "invalid_request").await;
    }
    assert_eq!(census(&app), before, "nothing was registered");

    // What is allowed, and stored as it will be matched.
    let r = register_as(
        &app,
        &mallory,
        json!({
            "client_name": "native",
            "client_type": "public",
            "redirect_uris": [
                "com.example.app:/cb",
                "http://127.0.0.1:7/cb",
                "http://[::1]:7/cb",
                "HTTPS://App.Example/a/../cb",
            ],
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created = json(r).await;
    assert_eq!(
        created["redirect_uris"],
        json!([
            "com.example.app:/cb",
            "http://127.0.0.1:7/cb",
            "http://[::1]:7/cb",
            "https://app.example/cb",
        ])
    );
    let id = created["client_id"].as_str().unwrap();
    // The authorization endpoint matches the stored form exactly: the spelling that was
    // registered is not a second way in.
    let browser = Browser::new(&app);
    let person = Person {
        credentials: None,
        consent: None,
    };
    for (uri, accepted) in [
        ("https://app.example/cb", true),
        ("HTTPS://App.Example/a/../cb", false),
    ] {
        let url = app.url(&format!(
            "/oauth2/auth?client_id={id}&response_type=code&scope=openid&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\
             &redirect_uri={}",
            urlencode(uri)
        ));
        let response = browser.http.get(&url).send().await.unwrap();
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if accepted {
            assert_eq!(response.status(), 303, "{uri}");
            assert!(location.starts_with("/login"), "{uri}: {location}");
        } else {
            match browser.follow(response, person).await {
                Landing::ErrorPage(400, _) => {}
                other => panic!("{uri}: {other:?}"),
            }
        }
    }
}

on_both_backends!(redirect_uris_are_what_they_look_like);
