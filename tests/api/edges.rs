//! Integrity at the edges: CSV cells a spreadsheet would run, path ids that are not UTF-8, and
//! an erased customer's id left behind in a generation job.

use diesel::{sql_query, sql_types::BigInt, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use vouchsafe::{
    domain::csv::FORMULA_TRIGGERS,
    per_backend,
    service::generation,
    store::{campaigns, jobs, Conn},
};

use crate::helpers::{assert_problem, TestApp};

/// A strict RFC 4180 reader (CRLF rows, `"` quoting), kept apart from the code under test.
fn parse_csv(input: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell) = (Vec::new(), String::new());
    let mut chars = input.chars().peekable();
    let mut quoted_cell = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if cell.is_empty() && !quoted_cell => {
                quoted_cell = true;
                loop {
                    match chars.next().expect("unterminated quote") {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            cell.push('"');
                        }
                        '"' => break,
                        other => cell.push(other),
                    }
                }
            }
            '"' => panic!("stray quote in {input:?}"),
            ',' => {
                row.push(std::mem::take(&mut cell));
                quoted_cell = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF in {input:?}");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                quoted_cell = false;
            }
            '\n' => panic!("bare LF in {input:?}"),
            other => {
                assert!(!quoted_cell, "text after a closing quote in {input:?}");
                cell.push(other);
            }
        }
    }
    assert!(row.is_empty() && cell.is_empty(), "last row without CRLF in {input:?}");
    rows
}

/// Ids a spreadsheet would run as formulas, and one it would not.
const HOSTILE_IDS: [&str; 5] = ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain-1"];

/// Checks one CSV: no cell starts a formula, and the customer ids and variant names read
/// back as sent once the leading `'` is taken off.
fn assert_neutral(csv: &str, id_column: Option<usize>, variant_column: usize) {
    let rows = parse_csv(csv);
    for row in &rows {
        for cell in row {
            // A number (a negative lift) is read as a number, not run.
            let number = cell.parse::<f64>().is_ok_and(f64::is_finite);
            assert!(
                number || !cell.starts_with(FORMULA_TRIGGERS),
                "cell {cell:?} would run in a spreadsheet:\n{csv}"
            );
        }
    }
    let unquote = |s: &str| match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_TRIGGERS) => rest.to_owned(),
        _ => s.to_owned(),
    };
    let variants: std::collections::BTreeSet<String> = rows[1..]
        .iter()
        .filter(|r| !r[variant_column].is_empty())
        .map(|r| unquote(&r[variant_column]))
        .collect();
    let names: std::collections::BTreeSet<String> = ["=cmd".to_owned(), "+fixed".to_owned()].into();
    // The report lists every variant; the export those that were drawn (five customers may all
    // land in one).
    assert!(!variants.is_empty() && variants.is_subset(&names), "{variants:?} in\n{csv}");
    if id_column.is_none() {
        assert_eq!(variants, names, "{csv}");
    }
    if let Some(col) = id_column {
        let mut ids: Vec<String> = rows[1..].iter().map(|r| unquote(&r[col])).collect();
        ids.sort();
        let mut want: Vec<String> = HOSTILE_IDS.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(ids, want, "{csv}");
    }
}

#[tokio::test]
async fn every_csv_neutralises_cells_a_spreadsheet_would_run() {
    let app = TestApp::spawn().await;
    let mut ndjson = String::new();
    for id in HOSTILE_IDS {
        let line = json!({"id": id, "consent": {"purpose": "personalized_offers", "granted": true,
                                                "source": "t", "policy_version": "1"}});
        ndjson += &format!("{line}\n");
    }
    let resp = app.import(ndjson).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["imported"], HOSTILE_IDS.len(), "{body}");
    // A tab or a CR cannot start a cell through an id: ids with control characters are refused.
    for id in ["%09x", "%0Dx"] {
        assert_problem(
            app.put_json(&format!("/v1/customers/{id}"), &app.admin_key, &json!({})).await,
            422,
            "invalid_body",
        )
        .await;
    }
    let campaign = app
        .campaign(json!({"variants": [{"name": "=cmd", "weight": 1},
                                      {"name": "+fixed", "weight": 1, "discount": {"type": "amount", "amount": 100}}]}))
        .await;
    let job = app.generate(&campaign).await;
    assert_eq!(job["issued"], HOSTILE_IDS.len(), "{job}");

    // The voucher export over HTTP.
    let crm = app.key("crm").await;
    let resp = app.get(&format!("/v1/campaigns/{campaign}/vouchers?format=csv"), &crm).await;
    assert_eq!(resp.status(), 200);
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("customer_id,code,variant,expires_at,status\r\n"), "{csv}");
    assert_neutral(&csv, Some(0), 2);
    assert!(csv.contains("\r\n\"'=HYPERLINK(\"\"x\"\")\","), "quoted, quotes doubled, marked: {csv}");
    assert!(csv.contains("\r\n'-2,") && csv.contains("\r\n'+1,") && csv.contains("\r\n'@SUM(A1),"), "{csv}");
    assert!(csv.contains("\r\nplain-1,"), "a harmless id is left alone: {csv}");

    // The report: the variant column is text; the counts stay numbers.
    let reports = app.key("reports").await;
    let resp = app.get(&format!("/v1/campaigns/{campaign}/report.csv"), &reports).await;
    assert_eq!(resp.status(), 200);
    let report = resp.text().await.unwrap();
    assert_neutral(&report, None, 1);
    let rows = parse_csv(&report);
    let issued: i64 =
        rows[1..].iter().filter(|r| r[0] == "variant").map(|r| r[3].parse::<i64>().unwrap()).sum();
    assert_eq!(issued, HOSTILE_IDS.len() as i64, "{report}");

    // `vouchsafe export` on the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", app.db.url_string())
        .args(["export", &campaign, "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli = String::from_utf8(out.stdout).unwrap();
    assert_eq!(cli, csv, "the command line writes the same CSV as the API");
}

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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: String) -> i64 {
    app.state
        .db
        .run(move |c: &mut Conn| Ok(per_backend!(c, |c| sql_query(&sql).get_result::<Count>(c))?.n))
        .await
        .unwrap()
}

async fn execute(app: &TestApp, sql: String) {
    app.state.db.run(move |c: &mut Conn| Ok(per_backend!(c, |c| sql_query(&sql).execute(c))?)).await.unwrap();
}

/// How many rows of any table still hold `id` in a text column (customer ids, codes, cursors,
/// stored answers).
async fn rows_naming(app: &TestApp, id: &str) -> Vec<(String, i64)> {
    let like = format!("'%{id}%'");
    let checks = [
        ("customers", format!("id LIKE {like}")),
        ("consents", format!("customer_id LIKE {like}")),
        ("carts", format!("customer_id LIKE {like}")),
        ("vouchers", format!("customer_id LIKE {like}")),
        ("redemptions", format!("customer_id LIKE {like}")),
        ("generation_jobs", format!("cursor LIKE {like} OR error LIKE {like}")),
        ("idempotency_keys", format!("body LIKE {like}")),
    ];
    let mut out = Vec::new();
    for (table, filter) in checks {
        let n = count(app, format!("SELECT COUNT(*) AS n FROM {table} WHERE {filter}")).await;
        if n > 0 {
            out.push((table.to_owned(), n));
        }
    }
    out
}

async fn job_cursor(app: &TestApp, id: &str) -> Option<String> {
    let id = id.to_owned();
    app.state.db.run(move |c| jobs::get(c, &id)).await.unwrap().unwrap().cursor
}

async fn customers_with_vouchers(app: &TestApp, campaign: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        app.vouchers(campaign).await.iter().map(|v| v["customer_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn erasure_takes_the_id_out_of_a_stopped_jobs_cursor_and_the_job_resumes_in_place() {
    let app = TestApp::spawn().await;
    for i in 1..=5 {
        app.consented_customer(&format!("g-{i}"), json!({})).await;
    }
    let campaign = app.campaign(json!({})).await;
    let campaign_id: i32 = campaign.parse().unwrap();
    // A job whose worker stopped after walking up to g-3 (a crash, a deploy): its cursor is g-3.
    // Made and claimed in one go, before the service's own worker could take it.
    let job = app
        .state
        .db
        .run(move |c| {
            let job = jobs::create(c, campaign_id)?;
            assert!(jobs::claim(c, &job.id, "gone-worker", chrono::Utc::now().naive_utc())?);
            Ok(job)
        })
        .await
        .unwrap();
    let id = job.id.clone();
    app.state
        .db
        .run(move |c| {
            assert!(jobs::set_total(c, &id, "gone-worker", 5)?);
            let walked = jobs::Progress { processed: 3, ..Default::default() };
            assert!(jobs::advance(c, &id, "gone-worker", walked, "g-3")?);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(job_cursor(&app, &job.id).await.as_deref(), Some("g-3"));

    assert_eq!(app.delete("/v1/customers/g-3", &app.admin_key).await.status(), 204);
    assert_eq!(rows_naming(&app, "g-3").await, vec![], "no table names the erased customer");
    assert_eq!(job_cursor(&app, &job.id).await.as_deref(), Some("g-2"), "the place before it");

    // The job is taken over (as once its worker is stale) and goes on from where it was: the
    // service's worker finds it within its polling interval.
    execute(&app, format!("UPDATE generation_jobs SET status = 'queued' WHERE id = '{}'", job.id)).await;
    let done = app.wait_job(&job.id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["issued"], 2, "{done}");
    assert_eq!(done["processed"], 5, "three walked before, two after: {done}");
    assert_eq!(
        customers_with_vouchers(&app, &campaign).await,
        vec!["g-4".to_owned(), "g-5".to_owned()],
        "neither started over (g-1, g-2) nor skipped anyone (g-4, g-5)"
    );
}

#[tokio::test]
async fn a_batch_read_before_an_erasure_issues_nothing_to_the_erased_and_does_not_name_them() {
    let app = TestApp::spawn().await;
    for i in 1..=4 {
        app.consented_customer(&format!("w-{i}"), json!({})).await;
    }
    let campaign = app.campaign(json!({})).await;
    let campaign_id: i32 = campaign.parse().unwrap();
    let job = app
        .state
        .db
        .run(move |c| {
            let job = jobs::create(c, campaign_id)?;
            assert!(jobs::claim(c, &job.id, "worker", chrono::Utc::now().naive_utc())?);
            Ok(job)
        })
        .await
        .unwrap();
    let c = app.state.db.run(move |c| campaigns::get(c, campaign_id)).await.unwrap().unwrap();
    let keyring = app.state.signing.keyring();
    // The worker has read and signed the batch w-1 … w-4 and is about to write it …
    let batch = app
        .state
        .db
        .run(move |conn| {
            let b = generation::prepare_batch(conn, &c, &keyring, None, job.created_at)
                .map_err(|e| vouchsafe::store::StoreError::Conflict(e.to_string()))?;
            Ok(b.expect("a batch"))
        })
        .await
        .unwrap();
    // … when w-4 (its last customer, the cursor to be) and w-2 are erased.
    for gone in ["w-4", "w-2"] {
        assert_eq!(app.delete(&format!("/v1/customers/{gone}"), &app.admin_key).await.status(), 204);
    }
    let id = job.id.clone();
    app.state
        .db
        .run(move |conn| {
            generation::write_batch(conn, batch, &id, "worker")
                .map_err(|e| vouchsafe::store::StoreError::Conflict(e.to_string()))
        })
        .await
        .unwrap();

    for gone in ["w-4", "w-2"] {
        assert_eq!(rows_naming(&app, gone).await, vec![], "no table names {gone}");
    }
    assert_eq!(job_cursor(&app, &job.id).await.as_deref(), Some("w-3"), "the last one still there");
    assert_eq!(customers_with_vouchers(&app, &campaign).await, vec!["w-1".to_owned(), "w-3".to_owned()]);
    let issued =
        count(&app, format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id}")).await;
    assert_eq!(issued, 2, "no anonymous voucher either");
    let progress: Value =
        app.get(&format!("/v1/generations/{}", job.id), &app.admin_key).await.json().await.unwrap();
    assert_eq!(progress["issued"], 2, "{progress}");
    assert_eq!(progress["processed"], 4, "{progress}");
}
