//! Integrity at the edges: CSV cells a spreadsheet would run, path ids that are not UTF-8, and
//! an erased customer's id left behind in a generation job.

use serde_json::{json, Value};

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn a_path_that_is_not_utf8_is_refused_not_merged() {
    let app = TestApp::spawn().await;
    let k = &app.admin_key;
    // Two different invalid ids used to become the same U+FFFD id: 201, then 200.
    for id in ["%FF", "%FE", "ok%C3", "%E2%82"] {
        let resp = app.put_json(&format!("/v1/customers/{id}"), k, &json!({})).await;
        let body = assert_problem(resp, 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().contains("UTF-8"), "{body}");
    }
    assert_problem(app.get("/v1/customers/%EF%BF%BD/export", k).await, 404, "not_found").await;

    // Every kind of path parameter, on every route that has one.
    let campaign = app.campaign(json!({})).await;
    let bad = "x%FFy";
    let cases: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::POST, format!("/v1/customers/{bad}/consents")),
        (reqwest::Method::GET, format!("/v1/customers/{bad}/consents")),
        (reqwest::Method::POST, format!("/v1/customers/{bad}/carts")),
        (reqwest::Method::DELETE, format!("/v1/customers/ok/carts/{bad}")),
        (reqwest::Method::GET, format!("/v1/customers/{bad}/export")),
        (reqwest::Method::DELETE, format!("/v1/customers/{bad}")),
        (reqwest::Method::GET, format!("/v1/campaigns/{bad}")),
        (reqwest::Method::PATCH, format!("/v1/campaigns/{bad}")),
        (reqwest::Method::POST, format!("/v1/campaigns/{bad}/generations")),
        (reqwest::Method::GET, format!("/v1/generations/{bad}")),
        (reqwest::Method::POST, format!("/v1/campaigns/{bad}/vouchers")),
        (reqwest::Method::GET, format!("/v1/campaigns/{bad}/vouchers")),
        (reqwest::Method::POST, format!("/v1/redemptions/{bad}/rollback")),
        (reqwest::Method::GET, format!("/v1/campaigns/{bad}/report")),
        (reqwest::Method::GET, format!("/v1/campaigns/{bad}/report.csv")),
        (reqwest::Method::GET, format!("/reports/campaigns/{bad}")),
        (reqwest::Method::DELETE, format!("/v1/keys/{bad}")),
        (reqwest::Method::GET, format!("/v1/campaigns/{campaign}%FF")),
    ];
    for (method, path) in cases {
        let resp = app.client.request(method.clone(), app.url(&path)).bearer_auth(k).send().await.unwrap();
        let body = assert_problem(resp, 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().contains("UTF-8"), "{method} {path}: {body}");
    }

    // Valid UTF-8, percent-encoded, is an id like any other, and U+FFFD itself is one more.
    let resp = app.put_json("/v1/customers/caf%C3%A9", k, &json!({})).await;
    assert_eq!(resp.status(), 201);
    let export: Value = app.get("/v1/customers/caf%C3%A9/export", k).await.json().await.unwrap();
    assert_eq!(export["customer"]["id"], "café", "{export}");
    assert_eq!(app.put_json("/v1/customers/%EF%BF%BD", k, &json!({})).await.status(), 201);
    // An escape that is not one (`%` without two hex digits) is text, as before.
    assert_ne!(app.put_json("/v1/customers/100%25", k, &json!({})).await.status(), 400);
}
