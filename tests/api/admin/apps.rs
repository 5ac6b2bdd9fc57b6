//! Public app cards.

use serde_json::json;

use crate::helpers::{assert_error, json, Backend, TestApp};

async fn an_app_card_shows_public_fields_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.cli(&[
        "users",
        "create",
        "owner1",
        "--password",
        "owner's password",
    ]);
    let (id, _) = app.register(json!({
        "client_name": "Reader",
        "client_uri": "https://reader.example",
        "logo_uri": "https://reader.example/logo.png",
        "redirect_uris": ["https://reader.example/cb"],
        "owner": "owner1",
    }));
    let card = json(
        app.http
            .get(app.url(&format!("/apps/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let keys: Vec<&str> = card
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        [
            "client_id",
            "created_at",
            "logo",
            "name",
            "redirect_uris",
            "updated_at",
            "url"
        ]
    );
    assert_eq!(card["name"], "Reader");
    assert_eq!(card["url"], "https://reader.example");
    // A registered logo_uri is never shown: only an uploaded logo would be.
    assert_eq!(card["logo"], serde_json::Value::Null);
    assert_eq!(card["redirect_uris"], json!(["https://reader.example/cb"]));

    let r = app.http.get(app.url("/apps/unknown")).send().await.unwrap();
    assert_error(r, 404, "not_found").await;
}

async fn several_cards_at_once_skip_unknown_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (a, _) = app.register(json!({ "client_id": "a", "client_name": "A" }));
    let (b, _) = app.register(json!({ "client_id": "b", "client_name": "B" }));
    let cards = json(
        app.http
            .get(app.url(&format!("/apps?ids={a},zzz,{b},../x")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<&str> = cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "B"]);
    assert_error(
        app.http.get(app.url("/apps")).send().await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let r = app
        .http
        .get(app.url(&format!("/apps?ids={}", many.join(","))))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
}

on_both_backends!(
    an_app_card_shows_public_fields_only,
    several_cards_at_once_skip_unknown_ids
);
