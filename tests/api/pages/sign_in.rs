//! The sign-in page: what it shows and says, and how repeated failures are throttled.

use crate::helpers::browser::{field, Browser};
use crate::helpers::relying_party::fixture;
use crate::helpers::Backend;

async fn the_sign_in_page_is_safe_and_says_little_on_failure(backend: Backend) {
    let f = fixture(backend).await;
    let page = f
        .browser
        .http
        .get(f.app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["cache-control"], "no-store");
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let html = page.text().await.unwrap();
    for label in [
        "<label for=\"username\">Username</label>",
        "<label for=\"password\">Password</label>",
        ">Sign in</button>",
    ] {
        assert!(html.contains(label), "{label}");
    }
    let csrf = field(&html, "csrf_token").unwrap();

    let post = |form: Vec<(&'static str, String)>| {
        f.browser.http.post(f.app.url("/login")).form(&form).send()
    };
    let wrong_password = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "ann".into()),
        ("password", "nope nope".into()),
    ])
    .await
    .unwrap();
    assert_eq!(wrong_password.status(), 401);
    let wrong_password = wrong_password.text().await.unwrap();
    let unknown_user = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "nobody".into()),
        ("password", "nope nope".into()),
    ])
    .await
    .unwrap();
    let unknown_user = unknown_user.text().await.unwrap();
    let message = "The username or password is incorrect.";
    assert!(wrong_password.contains(message) && unknown_user.contains(message));

    // Without the form's CSRF token, or with another session's, nothing happens.
    let r = post(vec![
        ("username", "ann".into()),
        ("password", "ann's password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let other = Browser::new(&f.app);
    let r = other
        .http
        .post(f.app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "ann"),
            ("password", "ann's password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The session cookie changes at sign-in.
    let signed_in = post(vec![
        ("csrf_token", csrf.clone()),
        ("username", "ann".into()),
        ("password", "ann's password".into()),
    ])
    .await
    .unwrap();
    assert_eq!(signed_in.status(), 303);
    let new_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_cookie.split(';').next(), cookie.split(';').next());
}

async fn repeated_failures_are_throttled_for_that_account_only(backend: Backend) {
    let f = fixture(backend).await;
    f.app
        .cli(&["users", "create", "bob", "--password", "bob's password"]);
    let page = f
        .browser
        .http
        .get(f.app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf_token").unwrap();
    let attempt = |user: &'static str, password: &'static str| {
        f.browser
            .http
            .post(f.app.url("/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("ann", "guess guess").await.unwrap().status(), 401);
    }
    let blocked = attempt("ann", "ann's password").await.unwrap();
    assert_eq!(blocked.status(), 429);
    assert!(
        blocked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(
        attempt("bob", "bob's password").await.unwrap().status(),
        303,
        "other accounts are unaffected"
    );
}

on_both_backends!(
    the_sign_in_page_is_safe_and_says_little_on_failure,
    repeated_failures_are_throttled_for_that_account_only,
);
