//! Who may call what: every route of the served OpenAPI document (the HTML pages included) ×
//! every kind of credential, in one table, over real HTTP.
//!
//! API.md: `crm` (customers, consents, campaigns, generation), `checkout` (validations,
//! redemptions, rollbacks), `reports` (reports, read-only campaign data), `admin` (everything,
//! keys); missing or unknown key → 401, key without the scope → 403. The voucher export is
//! `crm` only: codes are secrets. HTTP Basic with the key as the password counts as the key.

use std::{collections::BTreeSet, time::Duration};

use base64::Engine;
use reqwest::{header::HeaderValue, Method};
use serde_json::{json, Value};
use vouchsafe::store::api_keys;

use crate::helpers::{Options, TestApp};

/// Which keys a route lets in (admin always passes a scope check).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Public,
    Crm,
    Checkout,
    Reports,
    CrmOrReports,
    Admin,
}

impl Rule {
    fn allows(self, scope: &str) -> bool {
        match self {
            Rule::Public => true,
            _ if scope == "admin" => true,
            Rule::Crm => scope == "crm",
            Rule::Checkout => scope == "checkout",
            Rule::Reports => scope == "reports",
            Rule::CrmOrReports => scope == "crm" || scope == "reports",
            Rule::Admin => false,
        }
    }
}

/// Every route and who may call it. A route missing here fails the test.
const ROUTES: &[(&str, &str, Rule)] = &[
    ("GET", "/", Rule::Public),
    ("GET", "/healthz", Rule::Public),
    ("GET", "/readyz", Rule::Public),
    ("GET", "/metrics", Rule::Public),
    ("GET", "/openapi.json", Rule::Public),
    ("POST", "/v1/keys", Rule::Admin),
    ("GET", "/v1/keys", Rule::Admin),
    ("DELETE", "/v1/keys/{key_id}", Rule::Admin),
    ("PUT", "/v1/customers/{customer_id}", Rule::Crm),
    ("POST", "/v1/customers/import", Rule::Crm),
    ("POST", "/v1/customers/import.json", Rule::Crm),
    ("POST", "/v1/customers/{customer_id}/consents", Rule::Crm),
    ("GET", "/v1/customers/{customer_id}/consents", Rule::Crm),
    ("POST", "/v1/customers/{customer_id}/carts", Rule::Crm),
    ("DELETE", "/v1/customers/{customer_id}/carts/{cart_id}", Rule::Crm),
    ("GET", "/v1/customers/{customer_id}/export", Rule::Crm),
    ("DELETE", "/v1/customers/{customer_id}", Rule::Crm),
    ("POST", "/v1/campaigns", Rule::Crm),
    ("GET", "/v1/campaigns", Rule::CrmOrReports),
    ("GET", "/v1/campaigns/{id}", Rule::CrmOrReports),
    ("PATCH", "/v1/campaigns/{id}", Rule::Crm),
    ("POST", "/v1/campaigns/{id}/generations", Rule::Crm),
    ("GET", "/v1/generations/{job}", Rule::Crm),
    ("POST", "/v1/campaigns/{id}/vouchers", Rule::Crm),
    ("GET", "/v1/campaigns/{id}/vouchers", Rule::Crm),
    ("POST", "/v1/validations", Rule::Checkout),
    ("POST", "/v1/redemptions", Rule::Checkout),
    ("POST", "/v1/redemptions/{id}/rollback", Rule::Checkout),
    ("GET", "/v1/campaigns/{id}/report", Rule::Reports),
    ("GET", "/v1/campaigns/{id}/report.csv", Rule::Reports),
    ("GET", "/reports/campaigns/{id}", Rule::Reports),
    ("GET", "/reports", Rule::Reports),
];

/// What a request carries in `Authorization`.
#[derive(Debug, Clone)]
enum Cred {
    None,
    /// A well-formed token no key has.
    Unknown,
    Revoked,
    Bearer(&'static str),
    /// HTTP Basic, any user name, the key of this scope as the password.
    Basic(&'static str),
    /// An `Authorization` header that names no key, whatever it holds.
    Malformed(&'static str, HeaderValue),
}

impl Cred {
    fn describe(&self) -> String {
        match self {
            Cred::None => "no credentials".into(),
            Cred::Unknown => "an unknown key".into(),
            Cred::Revoked => "a revoked key".into(),
            Cred::Bearer(s) => format!("a {s} key"),
            Cred::Basic(s) => format!("a {s} key over Basic"),
            Cred::Malformed(what, _) => format!("a malformed header ({what})"),
        }
    }

    /// The scope of the key it presents, when it presents a valid one.
    fn scope(&self) -> Option<&'static str> {
        match self {
            Cred::Bearer(s) | Cred::Basic(s) => Some(s),
            _ => None,
        }
    }
}

/// What a request sends besides its credentials.
#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Ndjson(&'static str),
    /// A body (and query) every route refuses: it must not matter before 401 or 403.
    Garbage,
}

struct Matrix {
    app: TestApp,
    keys: std::collections::HashMap<&'static str, String>,
    unknown: String,
    revoked: String,
    campaign: String,
    job: String,
}

impl Matrix {
    async fn new() -> Matrix {
        // Keys are looked up on every request, never from the cache: a look-up still running
        // must not let a bad body answer before 401 or 403.
        let app = TestApp::spawn_with(Options { key_ttl: Duration::ZERO, ..Options::default() }).await;
        app.consented_customer("m-1", json!({})).await;
        let campaign = app.campaign(json!({})).await;
        let job = app.generate(&campaign).await["id"].as_str().unwrap().to_owned();
        let mut keys = std::collections::HashMap::new();
        for scope in ["crm", "checkout", "reports", "admin"] {
            keys.insert(scope, app.key(scope).await);
        }
        let revoked = app.key("admin").await;
        let id = revoked.split('_').nth(1).unwrap().to_owned();
        app.state.db.run(move |c| api_keys::revoke(c, &id)).await.unwrap();
        let unknown = format!("vsk_aaaaaaaaaaaa_{}", "0".repeat(64));
        Matrix { app, keys, unknown, revoked, campaign, job }
    }

    fn path(&self, template: &str) -> String {
        template
            .replace("/v1/redemptions/{id}", "/v1/redemptions/nosuchredemption")
            .replace("{id}", &self.campaign)
            .replace("{customer_id}", "m-x")
            .replace("{cart_id}", "cart-1")
            .replace("{job}", &self.job)
            .replace("{key_id}", "nosuchkey")
    }

    /// A body the route accepts, so that an allowed caller gets past validation.
    fn body(method: &str, template: &str) -> Body {
        let order = json!({"code": "TEST-0000-0000", "customer_id": "m-1",
                           "order": {"id": "o-1", "amount": 5000, "currency": "EUR"}});
        match (method, template) {
            ("POST", "/v1/keys") => Body::Json(json!({"name": "matrix", "scopes": ["reports"]})),
            ("PUT", "/v1/customers/{customer_id}") => Body::Json(json!({"loyalty_tier": "gold"})),
            ("POST", "/v1/customers/import") => Body::Ndjson("{\"id\": \"m-imported\"}\n"),
            ("POST", "/v1/customers/import.json") => Body::Json(json!([{"id": "m-imported-json"}])),
            ("POST", "/v1/customers/{customer_id}/consents") => Body::Json(json!({
                "purpose": "personalized_offers", "granted": true, "source": "t", "policy_version": "1"})),
            ("POST", "/v1/customers/{customer_id}/carts") => Body::Json(json!({
                "cart_id": "cart-1", "value": 3000, "currency": "EUR", "abandoned_at": "2026-01-01T00:00:00Z"})),
            ("POST", "/v1/campaigns") => Body::Json(json!({
                "name": "Matrix", "currency": "EUR", "segment": {"kind": "all_consented"},
                "discount": {"type": "amount", "amount": 100}, "expires_at": "2099-01-01T00:00:00Z"})),
            ("PATCH", "/v1/campaigns/{id}") => Body::Json(json!({"name": "Matrix renamed"})),
            ("POST", "/v1/campaigns/{id}/vouchers") => Body::Json(json!({"customer_id": "m-x"})),
            ("POST", "/v1/validations") | ("POST", "/v1/redemptions") => Body::Json(order),
            ("POST", "/v1/redemptions/{id}/rollback") => Body::Json(json!({"reason": "order_cancelled"})),
            _ => Body::None,
        }
    }

    async fn send(&self, method: &str, path: &str, cred: &Cred, body: &Body) -> reqwest::Response {
        let path = match body {
            Body::Garbage => format!("{path}?limit=0&format=xml"),
            _ => path.to_owned(),
        };
        let mut req =
            self.app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), self.app.url(&path));
        req = match cred {
            Cred::None => req,
            Cred::Unknown => req.bearer_auth(&self.unknown),
            Cred::Revoked => req.bearer_auth(&self.revoked),
            Cred::Bearer(s) => req.bearer_auth(&self.keys[s]),
            Cred::Basic(s) => req.basic_auth("someone", Some(&self.keys[s])),
            Cred::Malformed(_, v) => req.header("authorization", v.clone()),
        };
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Ndjson(text) => req.header("content-type", "application/x-ndjson").body(*text),
            Body::Garbage => req.header("content-type", "text/plain").body("{ not json"),
        };
        req.send().await.expect("request")
    }
}

#[tokio::test]
async fn every_route_times_every_credential() {
    let m = Matrix::new().await;

    // The table covers exactly the routes the service documents (and so serves).
    let doc: Value = m.app.client.get(m.app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                served.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, table, "every served route has a row in ROUTES, and no more");

    let admin = m.keys["admin"].clone();
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let malformed = |v: String| HeaderValue::from_str(&v).unwrap();
    let mut creds = vec![Cred::None, Cred::Unknown, Cred::Revoked];
    for scope in ["crm", "checkout", "reports", "admin"] {
        creds.push(Cred::Bearer(scope));
        creds.push(Cred::Basic(scope));
    }
    creds.extend([
        Cred::Malformed("scheme without a token", malformed("Bearer".into())),
        Cred::Malformed("an admin key under an unknown scheme", malformed(format!("Token {admin}"))),
        Cred::Malformed("an admin key with a byte more", malformed(format!("Bearer {admin}0"))),
        Cred::Malformed("an admin key without a scheme", malformed(admin.clone())),
        Cred::Malformed("Basic without a colon", malformed(format!("Basic {}", b64(admin.clone())))),
        Cred::Malformed("Basic that is not base64", malformed("Basic !!!".into())),
        Cred::Malformed("bytes that are not UTF-8", HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()),
    ]);

    let mut failures = Vec::new();
    for (method, template, rule) in ROUTES {
        let path = m.path(template);
        let page = template.starts_with("/reports");
        for cred in &creds {
            let allowed = *rule == Rule::Public || cred.scope().is_some_and(|s| rule.allows(s));
            let expected = match (allowed, cred.scope()) {
                (true, _) => None,
                (false, Some(_)) => Some(403),
                (false, None) => Some(401),
            };
            let mut bodies = vec![Matrix::body(method, template)];
            if expected.is_some() {
                bodies.push(Body::Garbage);
            }
            for body in &bodies {
                let resp = m.send(method, &path, cred, body).await;
                let status = resp.status().as_u16();
                let ctype = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
                    .unwrap_or_default();
                let challenge =
                    resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
                let text = resp.text().await.unwrap_or_default();
                let what = format!("{method} {path} with {} and {body:?}", cred.describe());
                match expected {
                    None if status == 401 || status == 403 || status >= 500 => {
                        failures.push(format!("{what}: expected to be let in, got {status} {text}"));
                    }
                    None => {}
                    Some(want) if status != want => {
                        failures.push(format!("{what}: expected {want}, got {status} {text}"));
                    }
                    Some(want) if page => {
                        if !ctype.starts_with("text/html") {
                            failures.push(format!("{what}: a page answers {want} as HTML, not {ctype}"));
                        }
                        if want == 401 && !challenge.as_deref().is_some_and(|c| c.starts_with("Basic")) {
                            failures.push(format!("{what}: a page's 401 asks for Basic, not {challenge:?}"));
                        }
                    }
                    Some(want) => {
                        let code = if want == 401 { "unauthorized" } else { "forbidden" };
                        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        if ctype != "application/problem+json" || body["code"] != code {
                            failures
                                .push(format!("{what}: expected problem+json `{code}`, got {ctype} {text}"));
                        }
                        if want == 401 && challenge.as_deref() != Some("Bearer realm=\"vouchsafe\"") {
                            failures.push(format!("{what}: a 401 challenges with Bearer, not {challenge:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells of the matrix are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_reports_key_cannot_export_codes_in_any_format() {
    let m = Matrix::new().await;
    for format in ["json", "ndjson", "csv"] {
        let path = format!("/v1/campaigns/{}/vouchers?format={format}", m.campaign);
        let resp = m.app.get(&path, &m.keys["reports"]).await;
        assert_eq!(resp.status(), 403, "{format}");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("TEST-"), "no code leaks in the refusal: {text}");
        let resp = m.app.get(&path, &m.keys["crm"]).await;
        assert_eq!(resp.status(), 200, "{format}");
        assert!(resp.text().await.unwrap().contains("TEST-"), "crm gets the codes");
    }
    // Reading the campaign itself stays open to reports.
    assert_eq!(m.app.get(&format!("/v1/campaigns/{}", m.campaign), &m.keys["reports"]).await.status(), 200);
}
