//! A consent app written against the Hydra 0.x API works unchanged: it is handed
//! `?consent=`, reads `/oauth2/consent/requests/{id}`, answers with PATCH and the field
//! names of that version, and sends the browser to the `redirectUrl` it read.

use serde_json::{json, Value};

use super::consent_app::{consent_app, hold_flow, Mode};
use crate::helpers::browser::{Landing, Person};
use crate::helpers::census::census;
use crate::helpers::relying_party::{fixture_with, start, Fixture, CALLBACK, RP_SECRET};
use crate::helpers::{assert_error, json, Backend};

const NOBODY: Person<'static> = Person {
    credentials: None,
    consent: None,
};

async fn patch(f: &Fixture, token: &str, path: &str, body: Value) -> reqwest::Response {
    f.app
        .http
        .patch(f.app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn read(f: &Fixture, token: &str, id: &str) -> reqwest::Response {
    f.app
        .http
        .get(f.app.url(&format!("/oauth2/consent/requests/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Where the browser lands after the consent app sent it to `url`.
async fn browser_goes_to(f: &Fixture, url: &str) -> url::Url {
    let back = f.browser.http.get(url).send().await.unwrap();
    f.browser.follow(back, NOBODY).await.redirect()
}

async fn a_consent_app_written_for_hydra_0_x_works_unchanged(backend: Backend) {
    let (port, shared) = consent_app().await;
    let consent_url = format!("http://127.0.0.1:{port}/consent");
    let f = fixture_with(backend, &[("PORTCULLIS_CONSENT_URL", &consent_url)]).await;
    let manager = f.app.admin_token("consent:manage").await;
    shared
        .lock()
        .unwrap()
        .set(&f.app.base, &manager, Mode::Hold);

    let started = start(&f.rp, &["email", "profile"], &[]);
    let id = hold_flow(&f, &started).await;
    let request = json(read(&f, &manager, &id).await).await;
    assert_eq!(request["id"], id.as_str());
    assert_eq!(request["clientId"], "rp");
    assert_eq!(
        request["requestedScopes"],
        json!(["email", "openid", "profile"])
    );
    assert!(request["expiresAt"].as_str().unwrap().ends_with('Z'));
    let redirect_url = request["redirectUrl"].as_str().unwrap().to_owned();
    assert!(
        redirect_url.starts_with(&f.app.url("/oauth2/auth/resume?")),
        "{redirect_url}"
    );

    // Refused answers leave the request as it was.
    let accept = format!("/oauth2/consent/requests/{id}/accept");
    let other = f.app.admin_token("clients:read").await;
    let before = census(&f.app);
    for (token, body, status, code) in [
        (&other, json!({}), 403, "insufficient_scope"),
        (&manager, json!({"subject": "bob"}), 400, "invalid_request"),
        (
            &manager,
            json!({"grantScopes": ["openid", "phone"]}),
            400,
            "invalid_request",
        ),
        (
            &manager,
            json!({"grant_scope": ["openid"]}),
            400,
            "invalid_request",
        ),
        (
            &manager,
            json!({"accessTokenExtra": {"sub": "someone"}}),
            400,
            "invalid_request",
        ),
        (
            &manager,
            json!({"idTokenExtra": "text"}),
            400,
            "invalid_request",
        ),
    ] {
        let r = patch(&f, token, &accept, body.clone()).await;
        assert_error(r, status, code).await;
        assert_eq!(census(&f.app), before, "{body}");
    }
    assert_eq!(read(&f, &manager, &id).await.status(), 200, "still pending");
    let r = browser_goes_to(&f, &redirect_url).await;
    assert!(
        !r.as_str().starts_with(CALLBACK),
        "nothing to resume with before an answer: {r}"
    );

    // Accepted with that version's names, no body in the answer; the browser goes to
    // the redirectUrl read before.
    let id = hold_flow(&f, &started).await;
    let redirect_url = json(read(&f, &manager, &id).await).await["redirectUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = patch(
        &f,
        &manager,
        &format!("/oauth2/consent/requests/{id}/accept"),
        json!({"grantScopes": ["openid", "email"], "subject": "ann", "accessTokenExtra": {}, "idTokenExtra": {}}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.text().await.unwrap().is_empty());
    let landing = browser_goes_to(&f, &redirect_url).await;
    assert!(landing.as_str().starts_with(CALLBACK), "{landing}");
    let code = Landing::param(&landing, "code").unwrap();
    let token = json(
        f.app
            .http
            .post(f.app.url("/oauth2/token"))
            .basic_auth("rp", Some(RP_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", started.verifier.secret().as_str()),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(token["scope"], "email openid", "what grantScopes named");
    // Answered and used: gone.
    assert_error(read(&f, &manager, &id).await, 404, "not_found").await;

    // Rejected with a reason: the client hears access_denied and the reason.
    let started = start(&f.rp, &["profile"], &[]);
    let id = hold_flow(&f, &started).await;
    let redirect_url = json(read(&f, &manager, &id).await).await["redirectUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = patch(
        &f,
        &manager,
        &format!("/oauth2/consent/requests/{id}/reject"),
        json!({"reason": "not now"}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let landing = browser_goes_to(&f, &redirect_url).await;
    assert_eq!(
        Landing::param(&landing, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        Landing::param(&landing, "error_description").as_deref(),
        Some("not now")
    );

    // The current paths take PATCH too; their answer is bound to the verifier it hands
    // out, so the redirectUrl of the old form does not complete it.
    let started = start(&f.rp, &["profile"], &[]);
    let id = hold_flow(&f, &started).await;
    let redirect_url = json(read(&f, &manager, &id).await).await["redirectUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = patch(
        &f,
        &manager,
        &format!("/admin/consent-requests/{id}/accept"),
        json!({"grant_scope": ["openid"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let redirect_to = json(r).await["redirect_to"].as_str().unwrap().to_owned();
    let r = f.browser.http.get(&redirect_url).send().await.unwrap();
    assert_eq!(r.status(), 400, "the old form's URL is not this answer's");
    let landing = browser_goes_to(&f, &redirect_to).await;
    assert!(Landing::param(&landing, "code").is_some(), "{landing}");
}

on_both_backends!(a_consent_app_written_for_hydra_0_x_works_unchanged);
