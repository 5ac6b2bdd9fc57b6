//! Signing out is not a way to send people to someone's site: a registered
//! post-logout URI is used only for a signed-in user who has a grant for that client
//! (and is the user an `id_token_hint` names).

use openidconnect::TokenResponse;
use serde_json::json;

use crate::browser::{field, Browser};
use crate::helpers::{Backend, TestApp};
use crate::oidc::{exchange_with, fixture, relying_party, urlencode, CALLBACK};

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
    let started = crate::oidc::start(&bobs_rp, &[], &[]);
    let landing = bob
        .walk(
            started.url.as_str(),
            crate::browser::Person {
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

on_both_backends!(logout_is_not_an_open_redirect);
