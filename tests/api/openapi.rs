use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{assert_problem, TestApp};

/// The routes of API.md that exist so far; each issue adds its own here.
const CONTRACT: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{key_id}"),
    ("PUT", "/v1/customers/{customer_id}"),
    ("POST", "/v1/customers/import"),
    ("POST", "/v1/customers/import.json"),
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

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn fetch_doc(app: &TestApp) -> serde_json::Value {
    app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap()
}

/// Every operation: (method, path template, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn is_html_page(path: &str) -> bool {
    path == "/reports" || path.starts_with("/reports/")
}

/// The media type without parameters (`text/csv; charset=utf-8` → `text/csv`).
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Asserts that the document declares this answer of this operation, status and media type.
fn assert_documented(doc: &Value, method: &str, template: &str, status: u16, content_type: &str) {
    let op = &doc["paths"][template][method.to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not documented");
    let response = &op["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which its document does not declare"
    );
    let media = essence(content_type);
    assert!(
        response["content"].get(&media).is_some(),
        "{method} {template} answered {status} as {media}; the document says {}",
        response["content"]
    );
}

/// A small JSON Schema check, enough for the schemas utoipa writes: `$ref`, `type` (one or a
/// list), `properties` (and no property the schema does not name), `required`, `items`,
/// `oneOf`/`anyOf`/`allOf`, `enum`.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/components/schemas/").ok_or_else(|| format!("{at}: odd $ref {r}"))?;
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: {r} is not in components"));
        }
        return conforms(doc, target, value, at);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            conforms(doc, s, value, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().filter(|s| conforms(doc, s, value, at).is_ok()).count();
            if ok == 0 || (key == "oneOf" && ok > 1) {
                return Err(format!("{at}: {value} matches {ok} of the {key} alternatives"));
            }
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{at}: a {actual} ({value}) where the schema says {t}"));
        }
    }
    if let Value::Object(fields) = value {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                return Err(format!("{at}: required `{name}` is missing from {value}"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, v) in fields {
                let s =
                    props.get(name).ok_or_else(|| format!("{at}: `{name}` is sent but not documented"))?;
                conforms(doc, s, v, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(doc, s, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_error_answer_is_documented_as_problem_json() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if !status.starts_with(['4', '5']) {
                continue;
            }
            let content = response["content"].as_object();
            let content = content.filter(|c| !c.is_empty());
            let content = content.unwrap_or_else(|| panic!("{method} {path} {status} has no media type"));
            for (media, c) in content {
                if media == "text/html" {
                    // A person in a browser gets a page that asks for the key, not JSON.
                    assert!(
                        is_html_page(&path) && (status == "401" || status == "403"),
                        "{method} {path} {status}"
                    );
                    continue;
                }
                assert_eq!(media, "application/problem+json", "{method} {path} {status}");
                assert_eq!(c["schema"]["$ref"], "#/components/schemas/Problem", "{method} {path} {status}");
            }
        }
        let declares = |status: &str| responses.contains_key(status);
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            for status in ["401", "403", "503"] {
                assert!(declares(status), "{method} {path} is secured but does not declare {status}");
            }
        }
        if op["requestBody"]["content"].get("application/json").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(declares(status), "{method} {path} takes JSON but does not declare {status}");
            }
        }
        if op["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key")) {
            for status in ["409", "422"] {
                assert!(
                    declares(status),
                    "{method} {path} takes an Idempotency-Key but does not declare {status}"
                );
            }
        }
    }
    // The routes of people and machines that need a key all say so.
    for (method, path, op) in operations(&doc) {
        let open = ["/", "/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
        assert_eq!(op["security"].is_array(), !open, "{method} {path}");
    }
}

#[tokio::test]
async fn real_error_answers_are_the_documented_ones() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    let crm = app.key("crm").await;
    let admin = app.admin_key.clone();
    let c = &app.client;
    let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(2 << 20));
    let cases: Vec<(&str, &str, reqwest::RequestBuilder)> = vec![
        ("GET", "/v1/keys", c.get(app.url("/v1/keys"))),
        ("GET", "/v1/keys", c.get(app.url("/v1/keys")).bearer_auth(&crm)),
        ("GET", "/v1/keys", c.get(app.url("/v1/keys?limit=0")).bearer_auth(&admin)),
        ("POST", "/v1/keys", c.post(app.url("/v1/keys")).bearer_auth(&admin).header("content-type", "application/json").body("{")),
        ("POST", "/v1/campaigns", c.post(app.url("/v1/campaigns")).bearer_auth(&admin).header("content-type", "application/json").body(big)),
        ("POST", "/v1/validations", c.post(app.url("/v1/validations")).bearer_auth(&admin).header("content-type", "text/plain").body("{}")),
        ("POST", "/v1/customers/{customer_id}/carts", c.post(app.url("/v1/customers/c-1/carts")).bearer_auth(&admin).json(&json!({"cart_id": "x", "value": -1, "currency": "EUR", "abandoned_at": "2026-01-01T00:00:00Z"}))),
        ("POST", "/v1/customers/{customer_id}/consents", c.post(app.url("/v1/customers/c-1/consents")).bearer_auth(&admin).json(&json!({"purpose": "?", "granted": true, "source": "s", "policy_version": "1"}))),
        ("DELETE", "/v1/customers/{customer_id}", c.delete(app.url("/v1/customers/nobody")).bearer_auth(&admin)),
        ("PATCH", "/v1/campaigns/{id}", c.patch(app.url("/v1/campaigns/999999")).bearer_auth(&admin).json(&json!({}))),
        ("POST", "/v1/campaigns/{id}/generations", c.post(app.url("/v1/campaigns/999999/generations")).bearer_auth(&admin)),
        ("GET", "/v1/campaigns/{id}/vouchers", c.get(app.url("/v1/campaigns/999999/vouchers")).bearer_auth(&admin)),
        ("GET", "/v1/campaigns/{id}/vouchers", c.get(app.url("/v1/campaigns/1/vouchers?format=xml")).bearer_auth(&admin)),
        ("GET", "/v1/campaigns/{id}/report.csv", c.get(app.url("/v1/campaigns/999999/report.csv")).bearer_auth(&admin)),
        ("POST", "/v1/redemptions", c.post(app.url("/v1/redemptions")).bearer_auth(&admin).json(&json!({"code": "NOPE-0000", "customer_id": "c-1", "order": {"id": "o", "amount": 1, "currency": "EUR"}}))),
        ("GET", "/reports/campaigns/{id}", c.get(app.url("/reports/campaigns/1"))),
        ("GET", "/reports/campaigns/{id}", c.get(app.url("/reports/campaigns/999999")).bearer_auth(&admin)),
    ];
    let mut seen = BTreeSet::new();
    for (method, template, req) in cases {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ctype =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!((400..500).contains(&status), "{method} {template}: {status}");
        assert_documented(&doc, method, template, status, &ctype);
        seen.insert(status);
    }
    // The cases above cover every client error the issue named.
    for status in [400, 401, 403, 404, 413, 415, 422] {
        assert!(seen.contains(&status), "no case answered {status}");
    }
}

#[tokio::test]
async fn every_secured_route_answers_its_documented_503_when_the_database_is_down() {
    let app = TestApp::spawn_on_a_dead_database().await;
    let doc = fetch_doc(&app).await;
    let secured: Vec<(String, String)> = operations(&doc)
        .into_iter()
        // A body the extractors refuse at once can answer before the key lookup does.
        .filter(|(_, _, op)| op["security"].is_array() && op["requestBody"].is_null())
        .map(|(method, path, _)| (method, path))
        .collect();
    assert!(secured.len() > 12, "{secured:?}");
    // The key cannot be looked up: every one of them, the HTML pages too, says so as problem+json.
    let answers = futures_util::future::join_all(secured.iter().map(|(method, path)| {
        let concrete = path
            .replace("{key_id}", "k")
            .replace("{customer_id}", "c-1")
            .replace("{cart_id}", "cart")
            .replace("{id}", "1")
            .replace("{job}", "j");
        app.client.request(method.parse().unwrap(), app.url(&concrete)).bearer_auth(&app.admin_key).send()
    }))
    .await;
    for ((method, path), resp) in secured.iter().zip(answers) {
        let resp = resp.unwrap();
        assert_eq!(resp.status(), 503, "{method} {path}");
        let ctype =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert_documented(&doc, method, path, resp.status().as_u16(), &ctype);
        assert_problem(resp, 503, "database_unavailable").await;
    }
}

#[tokio::test]
async fn the_voucher_export_sends_what_the_document_says_in_each_media_type() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    app.consented_customer("c-1", json!({})).await;
    app.consented_customer("c-2", json!({"loyalty_tier": "gold"})).await;
    let campaign = app.campaign(json!({})).await;
    let job = app.generate(&campaign).await;
    assert_eq!(job["issued"], 2, "{job}");

    let content = doc["paths"]["/v1/campaigns/{id}/vouchers"]["get"]["responses"]["200"]["content"]
        .as_object()
        .expect("the export documents its media types")
        .clone();
    let mut served = BTreeSet::new();
    for format in ["json", "ndjson", "csv"] {
        let resp =
            app.get(&format!("/v1/campaigns/{campaign}/vouchers?format={format}"), &app.admin_key).await;
        assert_eq!(resp.status(), 200, "{format}");
        let media = essence(resp.headers().get("content-type").unwrap().to_str().unwrap());
        assert_documented(&doc, "GET", "/v1/campaigns/{id}/vouchers", 200, &media);
        let schema = &content[&media]["schema"];
        let body = resp.text().await.unwrap();
        match format {
            "json" => {
                let value: Value = serde_json::from_str(&body).expect("JSON");
                conforms(&doc, schema, &value, "$").unwrap_or_else(|e| panic!("{e}\n{body}"));
                assert_eq!(value["items"].as_array().map(Vec::len), Some(2), "{body}");
            }
            "ndjson" => {
                let lines: Vec<&str> = body.lines().collect();
                assert_eq!(lines.len(), 2, "{body}");
                for line in lines {
                    let value: Value = serde_json::from_str(line).expect("one JSON object per line");
                    conforms(&doc, schema, &value, "$").unwrap_or_else(|e| panic!("{e}\n{line}"));
                }
            }
            _ => {
                conforms(&doc, schema, &Value::String(body.clone()), "$").unwrap();
                assert_eq!(body.lines().next(), Some("customer_id,code,variant,expires_at,status"), "{body}");
                assert_eq!(body.lines().count(), 3, "{body}");
            }
        }
        served.insert(media);
    }
    let documented: BTreeSet<String> = content.keys().cloned().collect();
    assert_eq!(documented, served, "the document names exactly the media types the export sends");
}
