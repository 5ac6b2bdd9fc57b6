//! Signing out is not a way to send people to someone's site: a registered
//! post-logout URI is used only for a signed-in user who has a grant for that client
//! (and is the user an `id_token_hint` names).

use openidconnect::TokenResponse;
use serde_json::json;

use crate::helpers::browser::{field, Browser, Landing, Person};
use crate::helpers::relying_party::{
    exchange_with, fixture, relying_party, sign_in_and_exchange, start, urlencode, CALLBACK,
};
use crate::helpers::{Backend, TestApp};

const EVIL_SECRET: &str = "the secret of a client of her own, 32+";
const LANDING: &str = "https://evil.example/landing";

/// Opens the logout URL in `browser`, then presses **Sign out** with whatever fields the
/// attacker would like the form to carry. Returns where the browser was sent, if anywhere.
async fn sign_out_through(
    app: &TestApp,
    browser: &Browser,
    hint: Option<&str>,
) -> (String, Option<String>) {
    let mut url = format!(
        "{}/oauth2/sessions/logout?client_id=evil&post_logout_redirect_uri={}&state=s",
        app.base,
        urlencode(LANDING)
    );
    if let Some(hint) = hint {
        url.push_str(&format!("&id_token_hint={hint}"));
    }
    let page = browser.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let mut form = vec![
        ("csrf_token", field(&page, "csrf_token").unwrap()),
        ("client_id", "evil".to_owned()),
        ("post_logout_redirect_uri", LANDING.to_owned()),
        ("state", "s".to_owned()),
    ];
    if let Some(hint) = hint {
        form.push(("id_token_hint", hint.to_owned()));
    }
    let r = browser
        .http
        .post(app.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (page, location)
}

async fn logout_is_not_an_open_redirect(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({
        "client_id": "evil",
        "client_secret": EVIL_SECRET,
        "client_name": "Portcullis Security Check",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [LANDING],
        "scope": "openid",
    }));
    // The attacker's own ID token for her client (she is ann here).
    let evil = relying_party(&f.app, "evil", Some(EVIL_SECRET)).await;
    let (token, _) = exchange_with(&f.app, &evil, &f.browser, &[]).await;
    let her_hint = token.id_token().unwrap().to_string();

    // Someone with no session, without and with her hint.
    for hint in [None, Some(her_hint.as_str())] {
        let victim = Browser::new(&f.app);
        let (page, location) = sign_out_through(&f.app, &victim, hint).await;
        assert_eq!(location, None, "hint {}", hint.is_some());
        assert!(field(&page, "post_logout_redirect_uri").is_none(), "{page}");
        assert!(
            !page.contains("Portcullis Security Check"),
            "an unproven client's name is not shown: {page}"
        );
    }

    // Bob, signed in, who has no grant for her client: without and with her hint.
    f.app
        .cli(&["users", "create", "bob", "--password", "bob's password"]);
    for hint in [None, Some(her_hint.as_str())] {
        let bob = Browser::new(&f.app);
        assert_eq!(bob.sign_in("bob", "bob's password").await.status(), 303);
        let (_, location) = sign_out_through(&f.app, &bob, hint).await;
        assert_eq!(location, None, "hint {}", hint.is_some());
    }

    // Bob with a grant for the client but her hint: the hint names someone else.
    let bob = Browser::new(&f.app);
    let bobs_rp = relying_party(&f.app, "evil", Some(EVIL_SECRET)).await;
    let started = crate::helpers::relying_party::start(&bobs_rp, &[], &[]);
    let landing = bob
        .walk(
            started.url.as_str(),
            crate::helpers::browser::Person {
                credentials: Some(("bob", "bob's password")),
                consent: Some((true, false)),
            },
        )
        .await
        .redirect();
    assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    let (_, location) = sign_out_through(&f.app, &bob, Some(&her_hint)).await;
    assert_eq!(location, None);

    // Her own browser, signed in, with a grant: the registered URI is honoured.
    let (page, location) = sign_out_through(&f.app, &f.browser, Some(&her_hint)).await;
    assert!(page.contains("Portcullis Security Check"), "{page}");
    assert_eq!(location.as_deref(), Some(&*format!("{LANDING}?state=s")));
}

async fn rp_initiated_logout_returns_to_a_registered_uri_only(backend: Backend) {
    let f = fixture(backend).await;
    let (token, _) = sign_in_and_exchange(&f, &[]).await;
    let hint = token.id_token().unwrap().to_string();
    use openidconnect::TokenResponse;

    let bad = format!(
        "{}/oauth2/sessions/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
        f.app.base,
        urlencode("http://evil.example/")
    );
    let r = f.browser.http.get(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());

    let url = format!(
        "{}/oauth2/sessions/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        f.app.base,
        urlencode("http://127.0.0.1:1/signed-out")
    );
    let page = f
        .browser
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">Sign out</button>") && page.contains("Reading Room"),
        "{page}"
    );
    let form = [
        ("csrf_token", field(&page, "csrf_token").unwrap()),
        (
            "post_logout_redirect_uri",
            field(&page, "post_logout_redirect_uri").unwrap(),
        ),
        ("client_id", field(&page, "client_id").unwrap()),
        ("state", field(&page, "state").unwrap()),
    ];
    let r = f
        .browser
        .http
        .post(f.app.url("/logout"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "http://127.0.0.1:1/signed-out?state=bye"
    );

    // Signed out: prompt=none now needs a sign-in.
    let started = start(&f.rp, &[], &[("prompt", "none")]);
    let landing = f
        .browser
        .walk(
            started.url.as_str(),
            Person {
                credentials: None,
                consent: None,
            },
        )
        .await
        .redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("login_required")
    );

    // The plain /logout page signs out too.
    f.browser.sign_in("ann", "ann's password").await;
    let page = f
        .browser
        .http
        .get(f.app.url("/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = f
        .browser
        .http
        .post(f.app.url("/logout"))
        .form(&[("csrf_token", field(&page, "csrf_token").unwrap())])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("You are signed out."));
}

on_both_backends!(
    logout_is_not_an_open_redirect,
    rp_initiated_logout_returns_to_a_registered_uri_only,
);
