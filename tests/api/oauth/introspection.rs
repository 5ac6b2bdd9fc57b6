//! Introspection (RFC 7662), revocation (RFC 7009) and flushing old tokens.

use crate::helpers::browser::{Browser, Landing, SIGNS_IN_AND_ALLOWS};
use crate::helpers::relying_party::{fixture, start, RP_SECRET};
use crate::helpers::{assert_error, json, Backend, TestApp};

async fn a_client_introspects_its_own_tokens_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, a_secret) = app.machine_client("clients:read tokens:flush");
    let (b, b_secret) = app.machine_client("clients:read");
    let token_a = app
        .client_credentials_token(&a, &a_secret, &["clients:read"])
        .await;
    let token_b = app.client_credentials_token(&b, &b_secret, &[]).await;

    let r = app
        .introspect_as(&a, &a_secret, &token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = json(r).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], a.as_str());
    assert_eq!(body["scope"], "clients:read");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], app.base.as_str());
    let (iat, exp) = (body["iat"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3600);

    // Another client's token and an unknown token look the same: inactive.
    for token in [token_b.as_str(), "pc_at_unknown"] {
        let body = json(
            app.introspect_as(&a, &a_secret, token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(body, serde_json::json!({ "active": false }));
    }
}

async fn a_bearer_with_tokens_introspect_sees_every_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (b, b_secret) = app.machine_client("clients:read clients:write");
    let token_b = app.client_credentials_token(&b, &b_secret, &[]).await;
    let introspector = app.admin_token("tokens:introspect").await;
    let outsider = app.admin_token("clients:read").await;

    let ask = |bearer: String, extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("token", token_b.clone())];
        form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        app.http
            .post(app.url("/oauth2/introspect"))
            .bearer_auth(bearer)
            .form(&form)
            .send()
    };
    let body = json(ask(introspector.clone(), vec![]).await.unwrap()).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], b.as_str());

    // The optional scope parameter: active only if the token holds every scope listed.
    let body = json(
        ask(introspector.clone(), vec![("scope", "clients:write")])
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true);
    let body = json(
        ask(
            introspector.clone(),
            vec![("scope", "clients:write users:write")],
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false);

    let r = ask(outsider, vec![]).await.unwrap();
    assert_error(r, 403, "insufficient_scope").await;
    // A protocol endpoint answers in RFC 6750's terms.
    let r = ask("pc_at_forged".into(), vec![]).await.unwrap();
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer realm="portcullis", error="invalid_token""#
    );
    assert_error(r, 401, "invalid_token").await;

    let r = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", &token_b)])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
    let r = app.introspect_as(&b, &b_secret, "").send().await.unwrap();
    assert_error(r, 400, "invalid_request").await;
}

async fn a_revoked_token_is_inactive_and_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, a_secret) = app.machine_client("clients:read");
    let token = app.client_credentials_token(&a, &a_secret, &[]).await;

    let revoke = |token: String, who: (String, String)| {
        app.http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(who.0, Some(who.1))
            .form(&[("token", token), ("token_type_hint", "access_token".into())])
            .send()
    };
    let r = revoke(token.clone(), (a.clone(), a_secret.clone()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(
        app.introspect_as(&a, &a_secret, &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false);
    let r = app.get_as("/admin/clients", &token).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer realm="portcullis", error="invalid_token""#
    );
    assert_error(r, 401, "unauthorized").await;

    // Revoking again, or an unknown token, is not an error (RFC 7009 §2.2).
    assert_eq!(
        revoke(token.clone(), (a.clone(), a_secret.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        revoke("pc_at_nope".into(), (a.clone(), a_secret.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn a_client_cannot_revoke_another_clients_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, a_secret) = app.machine_client("clients:read");
    let (b, b_secret) = app.machine_client("clients:read");
    let token_a = app.client_credentials_token(&a, &a_secret, &[]).await;
    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&b, Some(&b_secret))
        .form(&[("token", &token_a)])
        .send()
        .await
        .unwrap();
    // RFC 7009 §2.2: answered like an unknown token, so that b learns nothing.
    assert_eq!(r.status(), 200);
    let answer = r.text().await.unwrap();
    let unknown = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&b, Some(&b_secret))
        .form(&[("token", "pc_at_no_such_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);
    assert_eq!(answer, unknown.text().await.unwrap());
    let body = json(
        app.introspect_as(&a, &a_secret, &token_a)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true, "the token survives");

    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", &token_a)])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&b, Some("wrong secret"))
        .form(&[("token", &token_a)])
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "invalid_client").await;
}

async fn flush_deletes_expired_and_revoked_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, a_secret) = app.machine_client("clients:read");
    let revoked = app.client_credentials_token(&a, &a_secret, &[]).await;
    let live = app.client_credentials_token(&a, &a_secret, &[]).await;
    app.http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&a, Some(&a_secret))
        .form(&[("token", &revoked)])
        .send()
        .await
        .unwrap();
    let flusher = app.admin_token("tokens:flush").await;
    let flush = |body: Option<serde_json::Value>| {
        let req = app
            .http
            .post(app.url("/admin/tokens/flush"))
            .bearer_auth(&flusher);
        match body {
            Some(b) => req.json(&b).send(),
            None => req.send(),
        }
    };

    let r = flush(Some(serde_json::json!({ "not_after": "last tuesday" })))
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let r = flush(Some(
        serde_json::json!({ "before": "2026-01-01T00:00:00Z" }),
    ))
    .await
    .unwrap();
    assert_error(r, 400, "invalid_request").await;
    let other = app.admin_token("clients:read").await;
    let r = app
        .http
        .post(app.url("/admin/tokens/flush"))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "insufficient_scope").await;

    // Nothing was revoked or expired an hour ago.
    let hour_ago = portcullis::protocol::time::to_rfc3339(portcullis::protocol::time::now() - 3600);
    let body = json(
        flush(Some(serde_json::json!({ "not_after": hour_ago })))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["deleted"], 0);

    // Now (and a second on, so that "revoked before" holds) the revoked token goes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = json(flush(None).await.unwrap()).await;
    assert_eq!(body["deleted"], 1);
    let body = json(
        app.introspect_as(&a, &a_secret, &live)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true, "a live token is kept");

    // Two hours from now, every token issued here has expired.
    let later = portcullis::protocol::time::to_rfc3339(portcullis::protocol::time::now() + 7200);
    let body = json(
        flush(Some(serde_json::json!({ "not_after": later })))
            .await
            .unwrap(),
    )
    .await;
    assert!(body["deleted"].as_u64().unwrap() >= 2, "{body}");
    let body = json(
        app.introspect_as(&a, &a_secret, &live)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false);
}

/// The clean-up removes rows a batch at a time until none are left: 2,500 expired
/// tokens take three batches, and the live ones stay.
async fn flush_removes_every_expired_token_batch_by_batch(backend: Backend) {
    use portcullis::storage::tokens::{insert, NewToken, ACCESS};
    let app = TestApp::spawn(backend).await;
    let (id, secret) = app.machine_client("clients:read");
    let now = portcullis::protocol::time::now();
    {
        let conn = &mut *app.db.conn().expect("a connection");
        for i in 0..2_500u32 {
            let hash = portcullis::protocol::secret::token_hash(&format!("expired {i}"));
            insert(
                conn,
                &NewToken {
                    hash: &hash,
                    kind: ACCESS,
                    client_id: &id,
                    user_id: None,
                    grant_id: None,
                    family_id: None,
                    scope: "clients:read",
                    issued_at: now - 7200,
                    expires_at: now - 3600,
                    auth_time: None,
                    sign_in: None,
                },
            )
            .expect("stored");
        }
    }
    const { assert!(portcullis::service::tokens::FLUSH_BATCH < 2_500) };
    let live = app.client_credentials_token(&id, &secret, &[]).await;
    let out = app.cli(&["tokens", "flush"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["deleted"], 2_500, "{report}");
    let r = app.introspect_as(&id, &secret, &live).send().await.unwrap();
    assert_eq!(json(r).await["active"], true);
}

async fn flush_also_removes_expired_codes_and_sign_in_requests(backend: Backend) {
    let f = fixture(backend).await;
    // A sign-in request left waiting, and a code never exchanged.
    let waiting = Browser::new(&f.app);
    let started = start(&f.rp, &[], &[]);
    waiting.http.get(started.url.as_str()).send().await.unwrap();
    let started = start(&f.rp, &[], &[]);
    let landing = f
        .browser
        .walk(started.url.as_str(), SIGNS_IN_AND_ALLOWS)
        .await
        .redirect();
    let code = Landing::param(&landing, "code").unwrap();

    let flusher = f.app.admin_token("tokens:flush").await;
    let body = json(
        f.app
            .http
            .post(f.app.url("/admin/tokens/flush"))
            .bearer_auth(&flusher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (
            body["codes_deleted"].as_u64(),
            body["flows_deleted"].as_u64()
        ),
        (Some(0), Some(0)),
        "nothing has expired yet"
    );

    {
        use diesel::prelude::*;
        use portcullis::storage::schema::{auth_codes, auth_flows};
        let past = portcullis::protocol::time::now() - 10;
        let mut conn = f.app.db.conn().unwrap();
        diesel::update(auth_codes::table)
            .set(auth_codes::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
        diesel::update(auth_flows::table)
            .set(auth_flows::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
    }
    let body = json(
        f.app
            .http
            .post(f.app.url("/admin/tokens/flush"))
            .bearer_auth(&flusher)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(body["codes_deleted"].as_u64().unwrap() >= 1, "{body}");
    assert!(body["flows_deleted"].as_u64().unwrap() >= 1, "{body}");
    let r = f
        .app
        .http
        .post(f.app.url("/oauth2/token"))
        .basic_auth("rp", Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", started.verifier.secret().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_grant").await;
}

/// Tokens issued before keys began with a selector are stored under their bare SHA-256
/// and keep working: introspection finds them and revocation ends them. A new token with
/// its selector changed (still well formed) is another key, and is found nowhere.
async fn tokens_from_before_selectors_still_work(backend: Backend) {
    use portcullis::protocol::secret;
    use portcullis::storage::tokens::{insert, NewToken, ACCESS};
    use sha2::Digest;
    let app = TestApp::spawn(backend).await;
    let (id, client_secret) = app.machine_client("tokens:introspect");
    let now = portcullis::protocol::time::now();
    let old = format!(
        "{}{}",
        secret::ACCESS_TOKEN_PREFIX,
        secret::random_string(32)
    );
    let bare = sha2::Sha256::digest(old.as_bytes()).to_vec();
    assert_eq!(secret::token_hash(&old), bare);
    insert(
        &mut app.db.conn().expect("a connection"),
        &NewToken {
            hash: &bare,
            kind: ACCESS,
            client_id: &id,
            user_id: None,
            grant_id: None,
            family_id: None,
            scope: "tokens:introspect",
            issued_at: now,
            expires_at: now + 3600,
            auth_time: None,
            sign_in: None,
        },
    )
    .expect("stored");
    let body = json(
        app.introspect_as(&id, &client_secret, &old)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], id.as_str());

    let new = app.client_credentials_token(&id, &client_secret, &[]).await;
    assert_eq!(new.len(), old.len() + 11, "{new}");
    let body = json(
        app.introspect_as(&id, &client_secret, &new)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], true, "{body}");
    // Another well-formed selector (the first selector character moved by one).
    let first = new.as_bytes()[6];
    let other = if first == b'A' { 'B' } else { 'A' };
    let moved = format!("{}{other}{}", &new[..6], &new[7..]);
    let body = json(
        app.introspect_as(&id, &client_secret, &moved)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false, "{body}");

    let r = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&id, Some(&client_secret))
        .form(&[("token", old.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(
        app.introspect_as(&id, &client_secret, &old)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["active"], false, "{body}");
}

on_both_backends!(
    tokens_from_before_selectors_still_work,
    flush_removes_every_expired_token_batch_by_batch,
    a_client_introspects_its_own_tokens_only,
    a_bearer_with_tokens_introspect_sees_every_token,
    a_revoked_token_is_inactive_and_refused,
    a_client_cannot_revoke_another_clients_token,
    flush_deletes_expired_and_revoked_tokens,
    flush_also_removes_expired_codes_and_sign_in_requests,
);
