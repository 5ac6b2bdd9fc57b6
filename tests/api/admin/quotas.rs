//! What one account that is not an admin may register, and what anyone may read back.

use serde_json::{json, Value};

use crate::helpers::census::census;
use crate::helpers::{assert_error, json, settings_for, Backend, TestApp};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn a_client(name: &str) -> Value {
    json!({"client_name": name, "redirect_uris": ["https://mallory.example/cb"]})
}

async fn an_account_owns_at_most_its_quota_of_clients(backend: Backend) {
    assert_eq!(
        settings_for("sqlite://unused.db", &[])
            .quotas
            .clients_per_owner,
        25,
        "the default"
    );
    let app = TestApp::spawn_with(backend, &[("PORTCULLIS_MAX_CLIENTS_PER_OWNER", "3")]).await;
    let mallory = app.user_token("mallory", false, "clients:write clients:read");
    for i in 0..3 {
        let r = app.register_as(&mallory, &a_client(&format!("m{i}"))).await;
        assert_eq!(r.status(), 201);
    }
    let before = census(&app);
    let refused = app.register_as(&mallory, &a_client("one too many")).await;
    let body = assert_error(refused, 403, "forbidden").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{body}"
    );
    assert_eq!(census(&app), before, "a refusal changes nothing");

    // Registrations sent at once are counted one after the other.
    let listed = json(app.get_as("/admin/clients", &mallory).await).await;
    let one = listed[0]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete_as(&format!("/admin/clients/{one}"), &mallory)
            .await
            .status(),
        204
    );
    let attempts = (0..6).map(|i| {
        let body = a_client(&format!("rush {i}"));
        let (app, mallory) = (&app, &mallory);
        async move { app.register_as(mallory, &body).await.status().as_u16() }
    });
    let mut answers = futures_util::future::join_all(attempts).await;
    answers.sort();
    assert_eq!(answers, [201, 403, 403, 403, 403, 403]);

    // Admins and the system register what they need, for her too.
    let admin = app.user_token("root", true, "clients:write");
    let mut for_her = a_client("by an admin");
    for_her["owner"] = json!("mallory");
    assert_eq!(app.register_as(&admin, &for_her).await.status(), 201);
    let system = app.admin_token("clients:write").await;
    assert_eq!(app.register_as(&system, &for_her).await.status(), 201);
}

async fn the_logos_of_one_account_share_a_budget(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[("PORTCULLIS_MAX_LOGO_BYTES_PER_OWNER", "300000")],
    )
    .await;
    let mallory = app.user_token("mallory", false, "clients:write");
    let mut ids = Vec::new();
    for i in 0..2 {
        let r = app.register_as(&mallory, &a_client(&format!("m{i}"))).await;
        ids.push(json(r).await["client_id"].as_str().unwrap().to_owned());
    }
    let logo = |bytes: usize| {
        let mut data = PNG.to_vec();
        data.resize(bytes, 0);
        data
    };
    let put = |id: &str, token: &str, data: Vec<u8>| {
        app.http
            .put(app.url(&format!("/admin/clients/{id}/logo")))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(data)
            .send()
    };
    assert_eq!(
        put(&ids[0], &mallory, logo(200_000))
            .await
            .unwrap()
            .status(),
        204
    );
    let refused = put(&ids[1], &mallory, logo(200_000)).await.unwrap();
    let body = assert_error(refused, 413, "payload_too_large").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("in all"),
        "{body}"
    );
    let card = json(
        app.http
            .get(app.url(&format!("/apps/{}", ids[1])))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(card["logo"].is_null(), "refused, and nothing stored");
    assert_eq!(
        put(&ids[0], &mallory, logo(250_000))
            .await
            .unwrap()
            .status(),
        204,
        "replacing a logo counts only the new one"
    );
    let admin = app.admin_token("clients:write").await;
    assert_eq!(
        put(&ids[1], &admin, logo(200_000)).await.unwrap().status(),
        204,
        "an admin is not held to it"
    );
}

async fn cards_are_bounded_and_so_is_what_apps_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long_path = "p".repeat(1_900);
    let uris: Vec<String> = (0..32)
        .map(|i| format!("https://big.example/{i}/{long_path}"))
        .collect();
    let mut ids = Vec::new();
    for i in 0..30 {
        let (id, _) = app.register(json!({
            "client_id": format!("big{i}"),
            "client_name": format!("{i:02} {}", "N".repeat(197)),
            "client_uri": format!("https://big.example/{long_path}"),
            "redirect_uris": uris,
        }));
        ids.push(id);
    }
    let r = app.http.get(app.url("/apps/big0")).send().await.unwrap();
    let card_bytes = r.bytes().await.unwrap();
    assert!(card_bytes.len() <= 3_500, "{} bytes", card_bytes.len());
    let card: Value = serde_json::from_slice(&card_bytes).unwrap();
    assert!(
        card["url"].is_null(),
        "a URL too long for a card is left out"
    );
    let shown = card["redirect_uris"].as_array().unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0], uris[0].as_str());

    let ten = ids[..10].join(",");
    let r = app
        .http
        .get(app.url(&format!("/apps?ids={ten}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await.as_array().unwrap().len(), 10);
    let all = ids.join(",");
    let r = app
        .http
        .get(app.url(&format!("/apps?ids={all}")))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("fewer ids"),
        "{body}"
    );
}

on_both_backends!(
    an_account_owns_at_most_its_quota_of_clients,
    the_logos_of_one_account_share_a_budget,
    cards_are_bounded_and_so_is_what_apps_answers,
);
