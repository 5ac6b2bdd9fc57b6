//! Client logos: checked by content, bounded in size, served on the public app card.

use serde_json::json;

use crate::helpers::{assert_error, Backend, TestApp};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9";

async fn a_logo_is_uploaded_served_and_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:write").await;
    let (id, _) = app.register(json!({ "client_name": "Pictured" }));
    let logo_url = app.url(&format!("/admin/clients/{id}/logo"));

    let r = app
        .http
        .put(&logo_url)
        .bearer_auth(&admin)
        .header("content-type", "image/png")
        .body(PNG)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let served = app
        .http
        .get(app.url(&format!("/apps/{id}/logo")))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let card: serde_json::Value = app
        .http
        .get(app.url(&format!("/apps/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["logo"], format!("{}/apps/{id}/logo", app.base));

    // Multipart, field `image`, replacing the first; the declared type does not matter.
    let part = reqwest::multipart::Part::bytes(JPEG.to_vec())
        .file_name("logo.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("note", "ignored")
        .part("image", part);
    let r = app
        .http
        .put(&logo_url)
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let served = app
        .http
        .get(app.url(&format!("/apps/{id}/logo")))
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/jpeg");

    let r = app
        .http
        .delete(&logo_url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .http
        .get(app.url(&format!("/apps/{id}/logo")))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    let r = app
        .http
        .delete(&logo_url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

async fn disguised_oversized_and_svg_logos_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:write").await;
    let (id, _) = app.register(json!({ "client_name": "Pictured" }));
    let logo_url = app.url(&format!("/admin/clients/{id}/logo"));
    let put = |body: Vec<u8>, content_type: &'static str| {
        app.http
            .put(&logo_url)
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    assert_error(
        put(svg, "image/svg+xml").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        put(b"<html>hello</html>".to_vec(), "image/png")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;

    let mut huge = PNG.to_vec();
    huge.resize(256 * 1024 + 1, 0);
    assert_error(
        put(huge.clone(), "image/png").await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;
    let part = reqwest::multipart::Part::bytes(huge).file_name("big.png");
    let form = reqwest::multipart::Form::new().part("image", part);
    let r = app
        .http
        .put(&logo_url)
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "payload_too_large").await;

    let mut just_fits = PNG.to_vec();
    just_fits.resize(256 * 1024, 0);
    assert_eq!(put(just_fits, "image/png").await.unwrap().status(), 204);

    let form = reqwest::multipart::Form::new()
        .part("picture", reqwest::multipart::Part::bytes(PNG.to_vec()));
    let r = app
        .http
        .put(&logo_url)
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "invalid_request").await;
    assert_error(
        put(Vec::new(), "image/png").await.unwrap(),
        400,
        "invalid_request",
    )
    .await;

    let r = app
        .http
        .put(app.url("/admin/clients/nope/logo"))
        .bearer_auth(&admin)
        .body(PNG)
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
}

/// A remembered client says whether it has a logo; a new or removed logo must show at
/// once, not when the memory would have expired.
async fn a_remembered_client_sees_its_logo_change_at_once(backend: Backend) {
    use portcullis::storage::clients::find_remembered;
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token("clients:write").await;
    let (id, _) = app.register(json!({ "client_name": "Pictured" }));
    let has_logo = || {
        find_remembered(&app.db, &id)
            .expect("a read")
            .expect("the client")
            .client
            .has_logo
    };
    assert!(!has_logo());
    let logo_url = app.url(&format!("/admin/clients/{id}/logo"));
    let put = app
        .http
        .put(&logo_url)
        .bearer_auth(&admin)
        .header("content-type", "image/png")
        .body(PNG);
    assert_eq!(put.send().await.unwrap().status(), 204);
    assert!(has_logo());
    let deleted = app.http.delete(&logo_url).bearer_auth(&admin).send();
    assert_eq!(deleted.await.unwrap().status(), 204);
    assert!(!has_logo());
}

on_both_backends!(
    a_logo_is_uploaded_served_and_removed,
    a_remembered_client_sees_its_logo_change_at_once,
    disguised_oversized_and_svg_logos_are_refused,
);
