use std::{sync::Arc, time::Duration};

use vouchsafe::{ledger::redis::RedisLedger, store::Db};

use crate::helpers::{assert_problem, closed_port, random_name, Options, TestApp, TestDb};

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));

    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let backend = if TestDb::is_postgres() { "postgres" } else { "sqlite" };
    let ledger = if std::env::var("TEST_REDIS_URL").is_ok() { "redis" } else { "sql" };
    assert_eq!(body, serde_json::json!({ "status": "ready", "database": backend, "ledger": ledger }));
}

#[tokio::test]
async fn the_root_names_the_report_pages_and_the_openapi_document_and_its_links_answer() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("content-type").unwrap(), "application/json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["service"], "vouchsafe");
    assert_eq!(body["links"]["reports"], "/reports");
    assert_eq!(body["links"]["openapi"], "/openapi.json");
    // Every link leads somewhere: public ones answer 200, the report pages ask for a key.
    for (name, link) in body["links"].as_object().unwrap() {
        let path = link.as_str().unwrap();
        let status = app.client.get(app.url(path)).send().await.unwrap().status().as_u16();
        let key = app.client.get(app.url(path)).bearer_auth(&app.admin_key).send().await.unwrap().status();
        assert_eq!((status, key.as_u16()), (if name == "reports" { 401 } else { 200 }, 200), "{name} {path}");
    }
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_unreachable() {
    let app = TestApp::spawn_on_a_dead_database().await;
    let started = std::time::Instant::now();
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "readiness must not hang");
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    let body = assert_problem(resp, 503, "not_ready").await;
    assert!(body["detail"].as_str().unwrap().contains("database (postgres) does not answer"), "{body}");
    // Liveness is not readiness: the process still answers.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn readyz_is_503_when_the_redis_ledger_is_unreachable() {
    let ledger = RedisLedger::new(&format!("redis://127.0.0.1:{}", closed_port()), "t", None).unwrap();
    let app = TestApp::spawn_with(Options { ledger: Some(Arc::new(ledger)), ..Options::default() }).await;
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body = assert_problem(resp, 503, "not_ready").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("ledger (redis) does not answer"), "{body}");
    assert!(!detail.contains("database"), "the database is fine: {body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.get("/v1/keys/someone-secret-id", &app.admin_key).await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#), "{text}");
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200","#)
    );
    // Concrete paths (ids, codes) never become labels.
    assert!(!text.contains("someone-secret-id"));
}

/// The sample lines of `/metrics` (one per series and bucket).
async fn metric_samples(app: &TestApp) -> Vec<String> {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(str::to_owned).collect()
}

/// Sends `n` unauthenticated requests, each with a made-up method, to a made-up path or a real one.
async fn made_up_requests(app: &TestApp, n: usize) -> Vec<String> {
    let mut methods = Vec::new();
    for i in 0..n {
        let method = random_name("X").to_uppercase();
        let path = if i % 2 == 0 {
            format!("/{}/{}", random_name("p"), random_name("q"))
        } else {
            "/v1/keys".into()
        };
        let resp = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert!(matches!(resp.status().as_u16(), 404 | 405), "{method} {path}: {}", resp.status());
        methods.push(method);
    }
    methods
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_add_metric_series() {
    let app = TestApp::spawn().await;
    made_up_requests(&app, 4).await;
    metric_samples(&app).await; // the scrape itself is counted from now on
    let before = metric_samples(&app).await;

    let methods = made_up_requests(&app, 100).await;
    let after = metric_samples(&app).await;
    assert_eq!(after.len(), before.len(), "series grew: {:#?}", &after[..after.len().min(40)]);
    let text = after.join("\n");
    for method in &methods {
        assert!(!text.contains(method.as_str()), "{method} became a label");
    }
    assert!(
        text.contains(r#"http_requests_total{method="OTHER",route="unmatched",status="404"} 52"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="OTHER",route="/v1/keys",status="405"} 52"#),
        "{text}"
    );
}

#[tokio::test]
async fn migrations_run_twice_are_a_no_op() {
    let db = TestDb::new();
    let store = Db::connect(&db.url, 2).unwrap();
    let first = store.migrate().unwrap();
    assert!(!first.is_empty(), "a fresh database gets every migration");
    assert!(store.migrate().unwrap().is_empty(), "the second run applies nothing");
}
