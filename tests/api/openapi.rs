use std::collections::BTreeSet;

use crate::helpers::TestApp;

/// The routes of API.md that exist so far; each issue adds its own here.
const CONTRACT: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{key_id}"),
    ("PUT", "/v1/customers/{customer_id}"),
    ("POST", "/v1/customers/import"),
    ("POST", "/v1/customers/{customer_id}/consents"),
    ("GET", "/v1/customers/{customer_id}/consents"),
    ("POST", "/v1/customers/{customer_id}/carts"),
    ("DELETE", "/v1/customers/{customer_id}/carts/{cart_id}"),
    ("GET", "/v1/customers/{customer_id}/export"),
    ("DELETE", "/v1/customers/{customer_id}"),
    ("POST", "/v1/campaigns"),
    ("GET", "/v1/campaigns"),
    ("GET", "/v1/campaigns/{id}"),
    ("PATCH", "/v1/campaigns/{id}"),
    ("POST", "/v1/campaigns/{id}/generations"),
    ("GET", "/v1/generations/{job}"),
    ("POST", "/v1/campaigns/{id}/vouchers"),
    ("GET", "/v1/campaigns/{id}/vouchers"),
    ("POST", "/v1/validations"),
    ("POST", "/v1/redemptions"),
    ("POST", "/v1/redemptions/{id}/rollback"),
    ("GET", "/v1/campaigns/{id}/report"),
    ("GET", "/v1/campaigns/{id}/report.csv"),
    ("GET", "/reports/campaigns/{id}"),
    ("GET", "/reports"),
];

fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn openapi_parses_and_lists_every_route_the_app_serves() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = documented(&doc);

    for (method, path) in CONTRACT {
        assert!(
            routes.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not documented"
        );
    }

    // Every documented route is served: the router knows it (no 404 route_not_found, no 405).
    for (method, path) in &routes {
        let concrete = path
            .replace("{key_id}", "nosuchkey")
            .replace("{customer_id}", "nobody")
            .replace("{cart_id}", "nocart")
            .replace("{id}", "999999")
            .replace("{job}", "nojob");
        let req = app
            .client
            .request(method.parse().unwrap(), app.url(&concrete))
            .bearer_auth(&app.admin_key)
            .header("content-type", "application/json")
            .body("{}");
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("route_not_found") && !body.contains("method_not_allowed") && status != 405,
            "{method} {path} is documented but not served: {status} {body}"
        );
        assert!(status < 500 || path == "/readyz", "{method} {path}: {status} {body}");
    }

    // Every documented operation says how it answers and names its errors' shape.
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}
