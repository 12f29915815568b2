use serde_json::json;

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "scopes": ["crm"]"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "malformed_json").await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body(r#"{"name": "x", "scopes": ["crm"]}"#)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_2_mib_body_is_413() {
    let app = TestApp::spawn().await;
    let big = format!(r#"{{"name": "{}", "scopes": ["crm"]}}"#, "a".repeat(2 << 20));
    let resp = app
        .client
        .post(app.url("/v1/keys"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("1048576"), "{body}");
}

#[tokio::test]
async fn a_well_formed_body_with_bad_fields_is_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "  ", "scopes": ["crm"]})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(body["field"], "name");
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": []})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(body["field"], "scopes");
    let body = assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": ["root"]})).await,
        422,
        "invalid_body",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("root"), "{body}");
    assert_problem(
        app.post_json("/v1/keys", &app.admin_key, &json!({"name": "x", "scopes": ["crm"], "extra": 1})).await,
        422,
        "invalid_body",
    )
    .await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/v1/nothing-here")).send().await.unwrap();
    assert_problem(resp, 404, "route_not_found").await;

    let resp = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "GET");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app.client.patch(app.url("/v1/keys")).bearer_auth(&app.admin_key).send().await.unwrap();
    let allow = resp.headers().get("allow").unwrap().to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app.client.post(app.url("/v1/keys/abc")).bearer_auth(&app.admin_key).send().await.unwrap();
    assert_eq!(resp.headers().get("allow").unwrap(), "DELETE");
    assert_problem(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::spawn().await;
    assert_problem(app.get("/v1/keys?limit=0", &app.admin_key).await, 400, "invalid_parameter").await;
    assert_problem(app.get("/v1/keys?limit=banana", &app.admin_key).await, 400, "invalid_parameter").await;
}

#[tokio::test]
async fn garbage_never_gets_a_500() {
    let app = TestApp::spawn().await;
    let bodies: [&[u8]; 6] =
        [b"", b"null", b"[]", b"\xff\xfe\x00", b"{\"name\": 5, \"scopes\": \"crm\"}", b"{{{{"];
    for body in bodies {
        let resp = app
            .client
            .post(app.url("/v1/keys"))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {body:?}");
        assert_eq!(resp.headers().get("content-type").unwrap(), "application/problem+json");
    }
}
