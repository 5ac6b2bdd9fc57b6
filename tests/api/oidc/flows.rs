//! The authorization code flow and OpenID Connect, with the openidconnect crate as the
//! relying party, and the checks of the OpenID Foundation's Basic and Config OP plans.

use openidconnect::core::{CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{
    AuthType, AuthorizationCode, Nonce, OAuth2TokenResponse, RefreshToken, TokenResponse,
};
use serde_json::json;

use crate::helpers::browser::{Landing, Person, SIGNS_IN_AND_ALLOWS};
use crate::helpers::relying_party::{
    base64_url, code_of, fixture, fixture_with, relying_party, sign_in_and_exchange, start,
    urlencode, Fixture, CALLBACK, RP_SECRET,
};
use crate::helpers::{assert_error, json, Backend};

async fn the_whole_flow_works_with_a_relying_party_library(backend: Backend) {
    let f = fixture(backend).await;
    let (token, nonce) = sign_in_and_exchange(&f, &["profile", "email", "offline_access"]).await;
    assert_eq!(f.browser.seen.borrow().as_slice(), ["login", "consent"]);

    let id_token = token.id_token().expect("an ID token");
    let claims = id_token
        .claims(&f.rp.id_token_verifier(), &nonce)
        .expect("the ID token verifies against the JWKS");
    assert_eq!(claims.issuer().as_str(), f.app.base);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ann@example.com"));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("ann"));
    assert!(claims.auth_time().is_some());
    assert!(claims.access_token_hash().is_some(), "at_hash");
    let sub = claims.subject().clone();

    let userinfo: CoreUserInfoClaims =
        f.rp.user_info(token.access_token().clone(), Some(sub.clone()))
            .unwrap()
            .request_async(&f.app.http)
            .await
            .expect("userinfo");
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("ann@example.com")
    );
    assert_eq!(
        userinfo
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str()),
        Some("Ann Example")
    );

    // Refresh: a new pair, and the ID token still names the same user.
    let refreshed =
        f.rp.exchange_refresh_token(
            token
                .refresh_token()
                .expect("offline_access gives a refresh token"),
        )
        .unwrap()
        .request_async(&f.app.http)
        .await
        .expect("refreshed");
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        token.refresh_token().unwrap().secret()
    );
    let again = refreshed
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(again.subject(), &sub);

    // Revocation of the refresh token ends the grant's tokens.
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/revoke"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("token", refreshed.refresh_token().unwrap().secret()),
            ("token_type_hint", &"refresh_token".to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(
        f.app
            .introspect_as("rp", RP_SECRET, refreshed.access_token().secret())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false);
}

async fn client_secret_post_and_no_nonce_work(backend: Backend) {
    let f = fixture(backend).await;
    let rp = f.rp.clone().set_auth_type(AuthType::RequestBody);
    // A plain request without nonce or PKCE, parameters in reverse order.
    let url = format!(
        "{}/oauth2/auth?state=s1&redirect_uri={}&scope=openid&client_id=rp&response_type=code",
        f.app.base,
        urlencode(CALLBACK)
    );
    let landing = f.browser.walk(&url, SIGNS_IN_AND_ALLOWS).await.redirect();
    assert_eq!(Landing::param(&landing, "state").as_deref(), Some("s1"));
    let code = Landing::param(&landing, "code").unwrap();
    let token = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&f.app.http)
        .await
        .expect("exchanged");
    let claims = token
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), |n: Option<&Nonce>| {
            if n.is_none() {
                Ok(())
            } else {
                Err("unexpected nonce".to_string())
            }
        });
    assert!(claims.is_ok(), "{claims:?}");
}

async fn a_replayed_code_fails_and_revokes_the_first_tokens(backend: Backend) {
    let f = fixture(backend).await;
    let started = start(&f.rp, &["offline_access"], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let code = code_of(&landing, &started, &f.app.base);
    let exchange = |verifier: &str| {
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(RP_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let first = exchange(started.verifier.secret()).await.unwrap();
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first = json(first).await;
    let second = exchange(started.verifier.secret()).await.unwrap();
    assert_error(second, 400, "invalid_grant").await;
    for token in [&first["access_token"], &first["refresh_token"]] {
        let body = json(
            f.app
                .introspect_as("rp", RP_SECRET, token.as_str().unwrap())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            body["active"], false,
            "tokens of a replayed code are revoked"
        );
    }
}

async fn code_exchange_checks_client_redirect_uri_and_verifier(backend: Backend) {
    let f = fixture(backend).await;
    let (other, other_secret) = f
        .app
        .register(json!({ "client_id": "other", "redirect_uris": [CALLBACK] }));
    let other_secret = other_secret.unwrap();
    let started = start(&f.rp, &[], &[]);
    let code = code_of(
        &f.browser
            .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
            .await
            .redirect(),
        &started,
        &f.app.base,
    );
    let exchange = |who: (&str, &str), form: Vec<(&'static str, String)>| {
        let mut full = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
        ];
        if !form.iter().any(|(k, _)| *k == "redirect_uri") {
            full.push(("redirect_uri", CALLBACK.to_owned()));
        }
        full.extend(form.into_iter().filter(|(_, v)| !v.is_empty()));
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth(who.0, Some(who.1))
            .form(&full)
            .send()
    };
    let v = started.verifier.secret().to_owned();
    let r = exchange((&other, &other_secret), vec![("code_verifier", v.clone())])
        .await
        .unwrap();
    assert_error(r, 400, "invalid_grant").await;
    let r = exchange(
        ("rp", RP_SECRET),
        vec![
            ("code_verifier", v.clone()),
            ("redirect_uri", format!("{CALLBACK}/x")),
        ],
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_grant").await;
    let wrong = "x".repeat(43);
    let r = exchange(("rp", RP_SECRET), vec![("code_verifier", wrong)])
        .await
        .unwrap();
    assert_error(r, 400, "invalid_grant").await;
    let r = exchange(("rp", RP_SECRET), vec![]).await.unwrap();
    assert_error(r, 400, "invalid_request").await;
    // RFC 6749 §4.1.3: the request carried redirect_uri, so the exchange must repeat it.
    let r = exchange(
        ("rp", RP_SECRET),
        vec![
            ("code_verifier", v.clone()),
            ("redirect_uri", String::new()),
        ],
    )
    .await
    .unwrap();
    let body = assert_error(r, 400, "invalid_request").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("redirect_uri"));
    let r = exchange(("rp", "wrong secret"), vec![("code_verifier", v.clone())])
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
    // None of those consumed the code.
    let r = exchange(("rp", RP_SECRET), vec![("code_verifier", v)])
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(backend: Backend) {
    let f = fixture_with(backend, &[("PORTCULLIS_REFRESH_GRACE", "1s")]).await;
    let (token, _) = sign_in_and_exchange(&f, &["offline_access", "profile"]).await;
    let first = token.refresh_token().unwrap().clone();
    let refresh = |t: &RefreshToken, scope: Option<&str>| {
        let mut form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", t.secret().clone()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.to_owned()));
        }
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(RP_SECRET))
            .form(&form)
            .send()
    };

    // Parallel refreshes of one token (two tabs) get the same successor.
    let (a, b) = tokio::join!(refresh(&first, None), refresh(&first, None));
    let (a, b) = (json(a.unwrap()).await, json(b.unwrap()).await);
    assert!(a["refresh_token"].is_string(), "{a}");
    assert_eq!(a["refresh_token"], b["refresh_token"], "{a} {b}");
    assert_eq!(a["access_token"], b["access_token"]);

    // Scope can narrow but not widen.
    let second = RefreshToken::new(a["refresh_token"].as_str().unwrap().to_owned());
    let r = refresh(&second, Some("openid profile email"))
        .await
        .unwrap();
    assert_error(r, 400, "invalid_scope").await;
    let narrowed = json(
        refresh(&second, Some("openid offline_access"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(narrowed["scope"], "offline_access openid");

    // Client B cannot use A's refresh token.
    let (b_id, b_secret) = f.app.register(
        json!({ "client_id": "b", "redirect_uris": [CALLBACK], "scope": "openid offline_access" }),
    );
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .basic_auth(&b_id, Some(b_secret.as_deref().unwrap()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_grant").await;

    // After the grace window, the spent first token is reuse: the whole family dies.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = refresh(&first, None).await.unwrap();
    assert_error(r, 400, "invalid_grant").await;
    let latest = narrowed["access_token"].as_str().unwrap();
    let body = json(
        f.app
            .introspect_as("rp", RP_SECRET, latest)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["active"], false,
        "the family's newest token is revoked"
    );
    let r = refresh(
        &RefreshToken::new(narrowed["refresh_token"].as_str().unwrap().to_owned()),
        None,
    )
    .await
    .unwrap();
    assert_error(r, 400, "invalid_grant").await;
}

async fn prompt_none_login_and_max_age(backend: Backend) {
    let f = fixture(backend).await;
    // Signed out, prompt=none: login_required back to the client, with state and iss.
    let started = start(&f.rp, &[], &[("prompt", "none")]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        Landing::param(&landing, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(
        Landing::param(&landing, "iss").as_deref(),
        Some(f.app.base.as_str())
    );

    let (first, nonce) = sign_in_and_exchange(&f, &[]).await;
    let first_claims = first
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), &nonce)
        .unwrap()
        .clone();

    // Signed in and consented: prompt=none gives a code with no page, for the same sub.
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
    let code = code_of(&landing, &started, &f.app.base);
    let token =
        f.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&f.app.http)
            .await
            .unwrap();
    let claims = token
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), &started.nonce)
        .unwrap();
    assert_eq!(claims.subject(), first_claims.subject());

    // An id_token_hint for the signed-in user works with prompt=none; a forged one does not.
    let hint = first.id_token().unwrap().to_string();
    let started = start(&f.rp, &[], &[("prompt", "none"), ("id_token_hint", &hint)]);
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
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
    let mut forged = hint.clone();
    forged.pop();
    forged.push(if hint.ends_with('A') { 'B' } else { 'A' });
    let started = start(
        &f.rp,
        &[],
        &[("prompt", "none"), ("id_token_hint", &forged)],
    );
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
        Some("invalid_request")
    );

    // prompt=login asks again and moves auth_time on.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let started = start(&f.rp, &[], &[("prompt", "login")]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(
        f.browser.seen.borrow().as_slice(),
        ["login"],
        "remembered consent, fresh sign-in"
    );
    let code = code_of(&landing, &started, &f.app.base);
    let token =
        f.rp.exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&f.app.http)
            .await
            .unwrap();
    let claims = token
        .id_token()
        .unwrap()
        .claims(&f.rp.id_token_verifier(), &started.nonce)
        .unwrap();
    assert!(claims.auth_time().unwrap() > first_claims.auth_time().unwrap());

    // max_age=1, more than a second after signing in, asks again.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let started = start(&f.rp, &[], &[("max_age", "1")]);
    f.browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(f.browser.seen.borrow().as_slice(), ["login"]);
    // ...and prompt=consent shows the consent page although it was remembered.
    let started = start(&f.rp, &[], &[("prompt", "consent")]);
    f.browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(f.browser.seen.borrow().as_slice(), ["consent"]);
}

async fn bad_requests_are_refused_without_open_redirects(backend: Backend) {
    let f = fixture(backend).await;
    let base = format!("{}/oauth2/auth", f.app.base);
    let cb = urlencode(CALLBACK);
    let nobody = Person {
        credentials: None,
        consent: None,
    };
    // Unverifiable client or redirect URI: an error page, never a redirect.
    for query in [
        format!("client_id=nobody&response_type=code&redirect_uri={cb}&scope=openid"),
        format!(
            "client_id=rp&response_type=code&redirect_uri={}&scope=openid",
            urlencode(&format!("{CALLBACK}/extra"))
        ),
        format!(
            "client_id=rp&response_type=code&redirect_uri={}&scope=openid",
            urlencode(&format!("{CALLBACK}?x=1"))
        ),
        format!(
            "client_id=rp&response_type=code&redirect_uri={}&scope=openid",
            urlencode("http://evil.example/callback")
        ),
        "response_type=code&scope=openid".to_string(),
    ] {
        match f.browser.walk(&format!("{base}?{query}"), nobody).await {
            Landing::ErrorPage(400, html) => {
                assert!(html.contains("This request cannot be completed"), "{html}")
            }
            other => panic!("{query}: expected an error page, got {other:?}"),
        }
    }
    // Verified redirect URI: errors go back to the client.
    for (query, error) in [
        (format!("client_id=rp&redirect_uri={cb}&scope=openid&state=s"), "invalid_request"),
        (format!("client_id=rp&response_type=token&redirect_uri={cb}&scope=openid&state=s"), "unsupported_response_type"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid%20users:write&state=s"), "invalid_scope"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&request=eyJ9.e30.&state=s"), "request_not_supported"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&request_uri=https://x.example/r&state=s"), "request_uri_not_supported"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&code_challenge={}&code_challenge_method=plain&state=s", "a".repeat(43)), "invalid_request"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&scope=email&state=s"), "invalid_request"),
        (format!("client_id=rp&response_type=code&redirect_uri={cb}&scope=openid&prompt=none%20login&state=s"), "invalid_request"),
    ] {
        let landing = f.browser.walk(&format!("{base}?{query}"), nobody).await.redirect();
        assert_eq!(Landing::param(&landing, "error").as_deref(), Some(error), "{query}");
        assert_eq!(Landing::param(&landing, "state").as_deref(), Some("s"), "{query}");
        assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    }
}

async fn requests_by_post_with_unknown_parameters_and_other_response_modes(backend: Backend) {
    let f = fixture(backend).await;
    f.browser.sign_in("ann", "ann's password").await;
    // POST, with parameters the server does not use.
    let form = [
        ("client_id", "rp"),
        ("response_type", "code"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "posted"),
        ("display", "page"),
        ("login_hint", "ann"),
        ("ui_locales", "en fr"),
        ("claims_locales", "en"),
        ("acr_values", "1"),
        ("vendor_extension", "x"),
    ];
    let response = f
        .browser
        .http
        .post(f.app.url("/oauth2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let landing = f
        .browser
        .follow(response, SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(Landing::param(&landing, "state").as_deref(), Some("posted"));
    assert!(Landing::param(&landing, "code").is_some());

    // Fragment mode puts the answer in the fragment.
    let url = format!("{}/oauth2/auth?client_id=rp&response_type=code&redirect_uri={}&scope=openid&response_mode=fragment&state=f", f.app.base, urlencode(CALLBACK));
    let landing = f.browser.walk(&url, SIGNS_IN_AND_ALLOWS).await.redirect();
    assert!(
        landing.query().is_none() && landing.fragment().unwrap().contains("code="),
        "{landing}"
    );

    // form_post answers with a self-submitting form to the redirect URI.
    let url = format!("{}/oauth2/auth?client_id=rp&response_type=code&redirect_uri={}&scope=openid&response_mode=form_post&state=p", f.app.base, urlencode(CALLBACK));
    match f.browser.walk(&url, SIGNS_IN_AND_ALLOWS).await {
        Landing::FormPost(action, fields) => {
            assert_eq!(action, CALLBACK);
            assert!(
                fields.iter().any(|(k, v)| k == "state" && v == "p"),
                "{fields:?}"
            );
            assert!(fields.iter().any(|(k, _)| k == "code"));
        }
        other => panic!("expected form_post, got {other:?}"),
    }
}

async fn consent_can_be_denied_remembered_or_skipped(backend: Backend) {
    let f = fixture(backend).await;
    let started = start(&f.rp, &["email"], &[]);
    let deny = Person {
        credentials: Some(("ann", "ann's password")),
        consent: Some((false, false)),
    };
    let landing = f.browser.walk(started.url.as_str(), deny).await.redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("access_denied")
    );

    // Allowed without remembering: asked again next time.
    let once = Person {
        credentials: Some(("ann", "ann's password")),
        consent: Some((true, false)),
    };
    let started = start(&f.rp, &["email"], &[]);
    f.browser.walk(started.url.as_str(), once).await.redirect();
    let started = start(&f.rp, &["email"], &[]);
    f.browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(f.browser.seen.borrow().as_slice(), ["consent"]);
    // Remembered: no page.
    let started = start(&f.rp, &["email"], &[]);
    f.browser
        .walk(
            started.url.as_str(),
            Person {
                credentials: None,
                consent: None,
            },
        )
        .await
        .redirect();
    assert!(f.browser.seen.borrow().is_empty());
    // A wider request asks again.
    let started = start(&f.rp, &["email", "profile"], &[]);
    f.browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    assert_eq!(f.browser.seen.borrow().as_slice(), ["consent"]);

    // A first-party client is never asked about.
    f.app.register(json!({ "client_id": "first", "client_secret": "first party secret of at least 32 chars", "redirect_uris": [CALLBACK], "skip_consent": true, "scope": "openid profile" }));
    let first = relying_party(
        &f.app,
        "first",
        Some("first party secret of at least 32 chars"),
    )
    .await;
    let started = start(&first, &["profile"], &[]);
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
    assert!(Landing::param(&landing, "code").is_some());
}

async fn public_clients_must_use_pkce_s256(backend: Backend) {
    let f = fixture(backend).await;
    f.app.register(json!({ "client_id": "spa", "client_type": "public", "redirect_uris": [CALLBACK], "scope": "openid" }));
    let spa = relying_party(&f.app, "spa", None).await;
    let nobody = Person {
        credentials: None,
        consent: None,
    };
    let url = format!(
        "{}/oauth2/auth?client_id=spa&response_type=code&redirect_uri={}&scope=openid&state=s",
        f.app.base,
        urlencode(CALLBACK)
    );
    let landing = f.browser.walk(&url, nobody).await.redirect();
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("invalid_request")
    );

    let started = start(&spa, &[], &[]);
    let code = code_of(
        &f.browser
            .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
            .await
            .redirect(),
        &started,
        &f.app.base,
    );
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let token = spa
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(started.verifier)
        .request_async(&f.app.http)
        .await
        .expect("public client exchange");
    token
        .id_token()
        .unwrap()
        .claims(&spa.id_token_verifier(), &started.nonce)
        .unwrap();
}

async fn userinfo_by_get_post_header_and_body_with_claims_per_scope(backend: Backend) {
    let f = fixture(backend).await;
    {
        use diesel::prelude::*;
        use portcullis::storage::schema::users;
        diesel::update(users::table.filter(users::username.eq("ann")))
            .set((
                users::phone_number.eq("+44 20 7946 0000"),
                users::address.eq("1 Example Street, London"),
            ))
            .execute(&mut *f.app.db.conn().unwrap())
            .unwrap();
    }
    let (token, _) = sign_in_and_exchange(&f, &["profile", "email", "address", "phone"]).await;
    let at = token.access_token().secret().clone();
    let get = json(f.app.get_as("/userinfo", &at).await).await;
    let post_header = json(
        f.app
            .http
            .post(f.app.url("/userinfo"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let post_body = json(
        f.app
            .http
            .post(f.app.url("/userinfo"))
            .form(&[("access_token", &at)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(get, post_header);
    assert_eq!(get, post_body);
    assert_eq!(get["email"], "ann@example.com");
    assert_eq!(get["name"], "Ann Example");
    assert_eq!(get["preferred_username"], "ann");
    assert_eq!(get["phone_number"], "+44 20 7946 0000");
    assert_eq!(get["address"]["formatted"], "1 Example Street, London");

    // Only openid: only sub.
    let (narrow, _) = sign_in_and_exchange(&f, &[]).await;
    let claims = json(
        f.app
            .get_as("/userinfo", narrow.access_token().secret())
            .await,
    )
    .await;
    assert_eq!(
        claims.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sub"]
    );

    let r = f.app.http.get(f.app.url("/userinfo")).send().await.unwrap();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_error(r, 401, "invalid_token").await;
    let r = f
        .app
        .http
        .get(f.app.url("/userinfo"))
        .bearer_auth("pc_at_nope")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_error(r, 401, "invalid_token").await;
    let machine = f.app.admin_token("clients:read").await;
    let r = f
        .app
        .http
        .get(f.app.url("/userinfo"))
        .bearer_auth(machine)
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_token").await;
}

async fn discovery_and_key_rotation_keep_relying_parties_working(backend: Backend) {
    let f = fixture(backend).await;
    let doc = json(
        f.app
            .http
            .get(f.app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for (key, path) in [
        ("authorization_endpoint", "/oauth2/auth"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("end_session_endpoint", "/oauth2/sessions/logout"),
    ] {
        assert_eq!(doc[key], format!("{}{path}", f.app.base), "{key}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "fragment", "form_post"])
    );
    let rfc8414 = json(
        f.app
            .http
            .get(f.app.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc, rfc8414);

    let kids = |jwks: serde_json::Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = kids(
        json(
            f.app
                .http
                .get(f.app.url("/.well-known/jwks.json"))
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    assert_eq!(before.len(), 2, "current and next are published");
    let (old_token, old_nonce) = sign_in_and_exchange(&f, &[]).await;

    // Rotate to ES256: the new next key is published at once and the old ones remain.
    let out = f.app.cli(&["keys", "rotate", "--alg", "ES256"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = kids(
        json(
            f.app
                .http
                .get(f.app.url("/.well-known/jwks.json"))
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    assert_eq!(after.len(), 3);
    assert!(
        before.iter().all(|k| after.contains(k)),
        "the old keys stay published"
    );

    // Rotate again: ES256 signs; tokens from before still verify with a fresh JWKS.
    assert!(f.app.cli(&["keys", "rotate"]).status.success());
    let listed: serde_json::Value =
        serde_json::from_slice(&f.app.cli(&["keys", "list"]).stdout).unwrap();
    let current = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "current")
        .unwrap();
    assert_eq!(current["alg"], "ES256");
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("private_key").is_none()));
    tokio::time::sleep(
        portcullis::service::keys::SIGNER_CACHE + std::time::Duration::from_millis(200),
    )
    .await;
    let rp = relying_party(&f.app, "rp", Some(RP_SECRET)).await;
    old_token
        .id_token()
        .unwrap()
        .claims(&rp.id_token_verifier(), &old_nonce)
        .expect("an old token still verifies");
    let f = Fixture {
        app: f.app,
        rp,
        browser: f.browser,
    };
    let (new_token, new_nonce) = sign_in_and_exchange(&f, &[]).await;
    let header = new_token.id_token().unwrap().to_string();
    let header: serde_json::Value =
        serde_json::from_slice(&base64_url(header.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "ES256");
    let verifier: CoreIdTokenVerifier =
        f.rp.id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    new_token
        .id_token()
        .unwrap()
        .claims(&verifier, &new_nonce)
        .expect("the ES256 ID token verifies");
}

on_both_backends!(
    the_whole_flow_works_with_a_relying_party_library,
    client_secret_post_and_no_nonce_work,
    a_replayed_code_fails_and_revokes_the_first_tokens,
    code_exchange_checks_client_redirect_uri_and_verifier,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    prompt_none_login_and_max_age,
    bad_requests_are_refused_without_open_redirects,
    requests_by_post_with_unknown_parameters_and_other_response_modes,
    consent_can_be_denied_remembered_or_skipped,
    public_clients_must_use_pkce_s256,
    userinfo_by_get_post_header_and_body_with_claims_per_scope,
    discovery_and_key_rotation_keep_relying_parties_working,
);
