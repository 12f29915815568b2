//! The CRM side over real HTTP and the real store: customers, consent, segments, campaigns,
//! generation, export and erasure.

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use diesel::{sql_query, sql_types::BigInt, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use vouchsafe::{
    domain::{code, segment::Segment, variant},
    per_backend,
    service::generation::{self, Generator},
    store::{campaigns, jobs, segments, Conn},
};

use crate::helpers::{assert_problem, TestApp};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs a `SELECT COUNT(*) AS n …` written by hand, independent of the code under test.
async fn sql_count(app: &TestApp, sql: String) -> i64 {
    app.state
        .db
        .run(move |c: &mut Conn| Ok(per_backend!(c, |c| sql_query(&sql).get_result::<Count>(c))?.n))
        .await
        .unwrap()
}

#[tokio::test]
async fn customers_upsert_clear_fields_and_validate() {
    let app = TestApp::spawn().await;
    let k = &app.admin_key;
    let resp = app
        .put_json(
            "/v1/customers/c-1",
            k,
            &json!({"birthday": {"month": 2, "day": 29}, "loyalty_tier": " Gold "}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["birthday"], json!({"month": 2, "day": 29}));
    assert_eq!(body["loyalty_tier"], "gold");
    assert_eq!(body["personalized_offers"], false);

    // Absent leaves alone, null clears.
    let body: Value =
        app.put_json("/v1/customers/c-1", k, &json!({"loyalty_tier": null})).await.json().await.unwrap();
    assert_eq!(body["birthday"], json!({"month": 2, "day": 29}));
    assert_eq!(body["loyalty_tier"], Value::Null);

    for (body, field) in [
        (json!({"birthday": {"month": 2, "day": 30}}), "birthday"),
        (json!({"birthday": {"month": 13, "day": 1}}), "birthday"),
        (json!({"loyalty_tier": "   "}), "loyalty_tier"),
        (json!({"loyalty_tier": "x".repeat(65)}), "loyalty_tier"),
    ] {
        let p = assert_problem(app.put_json("/v1/customers/c-1", k, &body).await, 422, "invalid_body").await;
        assert_eq!(p["field"], field, "{body}");
    }
    let long_id = "x".repeat(129);
    let p = assert_problem(
        app.put_json(&format!("/v1/customers/{long_id}"), k, &json!({})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(p["field"], "customer_id");
    assert_problem(app.put_json("/v1/customers/c-1", k, &json!({"email": "x@y"})).await, 422, "invalid_body")
        .await;
    // Scope: a checkout key may not touch customers.
    let checkout = app.key("checkout").await;
    assert_problem(app.put_json("/v1/customers/c-1", &checkout, &json!({})).await, 403, "forbidden").await;
}

#[tokio::test]
async fn consent_history_is_append_only_newest_first_and_revocation_voids_open_vouchers() {
    let app = TestApp::spawn().await;
    app.consented_customer("c-1", json!({})).await;
    let campaign = app.campaign(json!({})).await;
    let job = app.generate(&campaign).await;
    assert_eq!(job["issued"], 1);
    assert_eq!(app.vouchers(&campaign).await[0]["status"], "issued");

    let revoked = app.consent("c-1", false).await;
    assert_eq!(revoked["voided_vouchers"], 1);
    assert_eq!(app.vouchers(&campaign).await[0]["status"], "voided");
    let history: Value = app.get("/v1/customers/c-1/consents", &app.admin_key).await.json().await.unwrap();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["granted"], false, "newest first");
    assert_eq!(items[1]["granted"], true);

    assert_problem(app.get("/v1/customers/nobody/consents", &app.admin_key).await, 404, "not_found").await;
    let bad =
        json!({"purpose": "Personalized Offers", "granted": true, "source": "x", "policy_version": "1"});
    let p = assert_problem(
        app.post_json("/v1/customers/c-1/consents", &app.admin_key, &bad).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(p["field"], "purpose");
}

#[tokio::test]
async fn a_revoked_customer_is_never_issued_and_a_regranted_one_is() {
    let app = TestApp::spawn().await;
    app.consented_customer("keeps", json!({})).await;
    app.consented_customer("leaves", json!({})).await;
    app.consent("leaves", false).await;
    app.consented_customer("returns", json!({})).await;
    app.consent("returns", false).await;
    app.consent("returns", true).await;
    app.put_json("/v1/customers/never", &app.admin_key, &json!({})).await;

    let campaign = app.campaign(json!({})).await;
    let job = app.generate(&campaign).await;
    assert_eq!(job["status"], "done");
    assert_eq!(
        (job["total"].as_i64(), job["issued"].as_i64(), job["skipped_no_consent"].as_i64()),
        (Some(4), Some(2), Some(2))
    );
    let holders: HashSet<String> =
        app.vouchers(&campaign).await.iter().map(|v| v["customer_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(holders, HashSet::from(["keeps".to_owned(), "returns".to_owned()]));
}

#[tokio::test]
async fn segment_sql_handles_edge_dates_and_thresholds_like_the_domain_rules() {
    let app = TestApp::spawn().await;
    let k = &app.admin_key;
    for (id, m, d) in [
        ("jan2", 1, 2),
        ("jan4", 1, 4),
        ("dec28", 12, 28),
        ("feb28", 2, 28),
        ("feb29", 2, 29),
        ("mar1", 3, 1),
    ] {
        app.consented_customer(id, json!({"birthday": {"month": m, "day": d}})).await;
    }
    let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap().naive_utc();
    let members = |seg: Segment, now| {
        let db = app.state.db.clone();
        async move {
            db.run(move |c| {
                let at = segments::SegmentAt { segment: &seg, currency: "EUR", now };
                Ok(segments::page(c, &at, None, 100)?.into_iter().map(|(id, _)| id).collect::<Vec<_>>())
            })
            .await
            .unwrap()
        }
    };
    // Dec 28 + 7 days crosses the year end and includes Jan 2 (not Jan 4).
    let got = members(Segment::Birthday { window_days: 7 }, at(2026, 12, 28)).await;
    assert_eq!(got, vec!["dec28", "jan2"]);
    // 2027 is a common year: the 29 February customer celebrates on the 28th.
    assert_eq!(members(Segment::Birthday { window_days: 1 }, at(2027, 2, 28)).await, vec!["feb28", "feb29"]);
    // 2028 is a leap year: 28 February is only the 28th.
    assert_eq!(members(Segment::Birthday { window_days: 1 }, at(2028, 2, 28)).await, vec!["feb28"]);
    assert_eq!(members(Segment::Birthday { window_days: 2 }, at(2028, 2, 28)).await, vec!["feb28", "feb29"]);

    // Carts: exactly min_value counts, a cent less does not; currency and age matter; a bought
    // (deleted) cart no longer counts.
    let now = Utc::now();
    for (id, value, currency, hours) in [
        ("at", 5000, "EUR", 1),
        ("below", 4999, "EUR", 1),
        ("usd", 9000, "USD", 1),
        ("old", 9000, "EUR", 30),
        ("bought", 9000, "EUR", 1),
    ] {
        app.consented_customer(id, json!({})).await;
        let cart = json!({"cart_id": "k1", "value": value, "currency": currency,
            "abandoned_at": (now - Duration::hours(hours)).to_rfc3339()});
        assert_eq!(app.post_json(&format!("/v1/customers/{id}/carts"), k, &cart).await.status(), 201);
    }
    assert_eq!(app.delete("/v1/customers/bought/carts/k1", k).await.status(), 204);
    assert_problem(app.delete("/v1/customers/bought/carts/k1", k).await, 404, "not_found").await;
    let seg = Segment::AbandonedCart {
        min_value: vouchsafe::domain::money::Money::new(5000).unwrap(),
        within_hours: 24,
    };
    assert_eq!(members(seg, now.naive_utc()).await, vec!["at"]);
}

#[tokio::test]
async fn sql_segments_and_domain_rules_agree_customer_by_customer() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let tiers = ["gold", "silver", "bronze", "platinum"];
    for i in 0..120u32 {
        let id = format!("cust-{i:03}");
        let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(i64::from(i * 37 % 366));
        app.consented_customer(&id, json!({"birthday": {"month": day.month(), "day": day.day()}, "loyalty_tier": tiers[i as usize % 4]})).await;
        if i % 3 == 0 {
            let cart = json!({"cart_id": "c", "value": (i * 97) % 10_000, "currency": if i % 5 == 0 { "USD" } else { "EUR" },
                "abandoned_at": (now - Duration::hours(i64::from(i % 48))).to_rfc3339()});
            app.post_json(&format!("/v1/customers/{id}/carts"), &app.admin_key, &cart).await;
        }
    }
    let segs = vec![
        Segment::Birthday { window_days: 30 },
        Segment::Birthday { window_days: 366 },
        Segment::AbandonedCart {
            min_value: vouchsafe::domain::money::Money::new(3000).unwrap(),
            within_hours: 24,
        },
        Segment::LoyaltyTier { tiers: vec!["gold".into(), "platinum".into()] },
        Segment::AllConsented,
    ];
    for seg in segs {
        let s2 = seg.clone();
        let disagreements = app
            .state
            .db
            .run(move |c| {
                let at = segments::SegmentAt { segment: &s2, currency: "EUR", now: now.naive_utc() };
                let mut bad = Vec::new();
                for i in 0..120u32 {
                    let id = format!("cust-{i:03}");
                    let facts = vouchsafe::service::issuance::facts_of(c, &id)?.unwrap();
                    if segments::contains(c, &at, &id)? != s2.matches(&facts, "EUR", now) {
                        bad.push(id);
                    }
                }
                Ok(bad)
            })
            .await
            .unwrap();
        assert!(disagreements.is_empty(), "{seg:?}: {disagreements:?}");
    }
}

fn import_file() -> (String, usize, BTreeMap<usize, &'static str>) {
    let mut lines = Vec::new();
    let mut bad = BTreeMap::new();
    let kinds: [(&str, &str); 8] = [
        ("malformed_json", "{\"id\": \"x\", "),
        ("invalid_birthday", "{\"id\": \"bad-bday\", \"birthday\": {\"month\": 2, \"day\": 30}}"),
        ("invalid_customer_id", "{\"id\": \"\"}"),
        ("invalid_body", "{\"id\": \"c\", \"email\": \"someone@example.com\"}"),
        ("invalid_consent", "{\"id\": \"c\", \"consent\": {\"purpose\": \"ALL\", \"granted\": true, \"source\": \"s\", \"policy_version\": \"1\"}}"),
        ("invalid_loyalty_tier", "{\"id\": \"c\", \"loyalty_tier\": \"   \"}"),
        ("invalid_body", "{\"id\": \"c\", \"birthday\": \"1990-05-17\"}"),
        ("line_too_long", ""),
    ];
    let long_line = format!("{{\"id\": \"long\", \"loyalty_tier\": \"{}\"}}", "x".repeat(70_000));
    for n in 1..=10_000usize {
        if n % 270 == 0 && bad.len() < 37 {
            let (code, text) = kinds[bad.len() % kinds.len()];
            lines.push(if code == "line_too_long" { long_line.clone() } else { text.to_owned() });
            bad.insert(n, code);
        } else {
            let consent = if n % 2 == 0 {
                r#", "consent": {"purpose": "personalized_offers", "granted": true, "source": "import", "policy_version": "2026-01"}"#
            } else {
                ""
            };
            lines.push(format!(
                r#"{{"id": "imp-{n:05}", "birthday": {{"month": {}, "day": {}}}, "loyalty_tier": "tier{}"{consent}}}"#,
                n % 12 + 1,
                n % 28 + 1,
                n % 3
            ));
        }
    }
    assert_eq!(bad.len(), 37);
    (lines.join("\n") + "\n", 10_000 - 37, bad)
}

#[tokio::test]
async fn import_reports_each_bad_line_writes_the_good_ones_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let (file, good, bad) = import_file();
    let post = || async {
        let resp = app.import(file.clone()).await;
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()
    };
    let summary = post().await;
    assert_eq!(summary["imported"], good);
    assert_eq!(summary["rejected_total"], 37);
    let rejected: BTreeMap<usize, String> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap() as usize, r["code"].as_str().unwrap().to_owned()))
        .collect();
    let expected: BTreeMap<usize, String> = bad.iter().map(|(l, c)| (*l, c.to_string())).collect();
    assert_eq!(rejected, expected);

    let customers = sql_count(&app, "SELECT COUNT(*) AS n FROM customers".into()).await;
    let consents = sql_count(&app, "SELECT COUNT(*) AS n FROM consents".into()).await;
    let consented = sql_count(&app, "SELECT COUNT(*) AS n FROM customers WHERE offers_consent".into()).await;
    assert_eq!(customers, good as i64);
    assert_eq!(consents, consented);
    assert!(consented > 4_900);

    // A second import of the same file changes nothing.
    let again = post().await;
    assert_eq!(again["imported"], good);
    assert_eq!(sql_count(&app, "SELECT COUNT(*) AS n FROM customers".into()).await, customers);
    assert_eq!(sql_count(&app, "SELECT COUNT(*) AS n FROM consents".into()).await, consents);
    let one: Value = app.get("/v1/customers/imp-00002/export", &app.admin_key).await.json().await.unwrap();
    assert_eq!(one["customer"]["birthday"], json!({"month": 3, "day": 3}));
    assert_eq!(one["consents"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn generation_issues_exactly_the_eligible_customers_once_even_with_concurrent_jobs_and_a_takeover() {
    let app = TestApp::spawn().await;
    // 2,500 customers: 5 tiers, two thirds consented.
    let mut ndjson = String::new();
    for i in 0..2_500 {
        let consent = if i % 3 != 0 {
            r#", "consent": {"purpose": "personalized_offers", "granted": true, "source": "t", "policy_version": "1"}"#
        } else {
            ""
        };
        ndjson += &format!("{{\"id\": \"g-{i:05}\", \"loyalty_tier\": \"t{}\"{consent}}}\n", i % 5);
    }
    let resp = app.import(ndjson).await;
    assert_eq!(resp.status(), 200);
    let id = app
        .campaign(json!({"segment": {"kind": "loyalty_tier", "tiers": ["T1", "t2", "t3"]},
            "variants": [{"name": "control", "weight": 1}, {"name": "b", "weight": 2}, {"name": "c", "weight": 1,
                "discount": {"type": "amount", "amount": 500}}]}))
        .await;
    let campaign_id: i32 = id.parse().unwrap();
    let eligible = sql_count(
        &app,
        "SELECT COUNT(*) AS n FROM customers WHERE offers_consent AND loyalty_tier IN ('t1', 't2', 't3')"
            .into(),
    )
    .await;
    assert!(eligible > 900);

    // A worker that dies after one batch: its job is taken over from the cursor once stale.
    let dead = app.state.db.run(move |c| jobs::create(c, campaign_id)).await.unwrap();
    let dead_id = dead.id.clone();
    let campaign = app.state.db.run(move |c| campaigns::get(c, campaign_id)).await.unwrap().unwrap();
    let keyring = app.state.signing.keyring();
    {
        let (job, c2, ring) = (dead_id.clone(), campaign.clone(), keyring.clone());
        app.state
            .db
            .run(move |c| {
                assert!(jobs::claim(c, &job, "dead-worker", chrono::Utc::now().naive_utc())?);
                let at = segments::SegmentAt {
                    segment: &c2.segment,
                    currency: &c2.currency,
                    now: chrono::Utc::now().naive_utc(),
                };
                let total = segments::count(c, &at)?;
                assert!(jobs::set_total(c, &job, "dead-worker", total)?);
                generation::run_batch(
                    c,
                    &c2,
                    &ring,
                    &job,
                    "dead-worker",
                    None,
                    chrono::Utc::now().naive_utc(),
                )
                .map_err(|e| vouchsafe::store::StoreError::Conflict(e.to_string()))?;
                Ok(())
            })
            .await
            .unwrap();
    }
    app.state
        .db
        .run(move |c: &mut Conn| {
            per_backend!(c, |c| sql_query(format!(
                "UPDATE generation_jobs SET updated_at = updated_at - INTERVAL '1 minute' WHERE id = '{dead_id}'"
            ))
            .execute(c)
            .or_else(|_| sql_query(format!(
                "UPDATE generation_jobs SET updated_at = datetime(updated_at, '-1 minute') WHERE id = '{dead_id}'"
            ))
            .execute(c)))?;
            Ok(())
        })
        .await
        .unwrap();

    // Two more jobs at once, each on its own worker (two instances of the service).
    let other = Generator::new(app.state.db.clone(), app.state.signing.clone());
    let j1 = app.state.generator.enqueue(campaign_id).await.unwrap();
    let j2 = app.state.db.run(move |c| jobs::create(c, campaign_id)).await.unwrap();
    // Either worker may win each claim; what matters is that no claim is taken twice and
    // every job ends.
    let (r2, r_dead) = tokio::join!(other.run(&j2.id), other.run(&dead.id));
    r2.unwrap();
    r_dead.unwrap();
    for job in [&j1.id, &j2.id, &dead.id] {
        let done = app.wait_job(job).await;
        assert_eq!(done["status"], "done", "{done}");
    }
    let taken_over: Value =
        app.get(&format!("/v1/generations/{}", dead.id), &app.admin_key).await.json().await.unwrap();
    assert_eq!(taken_over["processed"], taken_over["total"], "{taken_over}");

    // A third run later (a restart) issues nothing new.
    let third = app.generate(&id).await;
    assert_eq!(third["issued"], 0);
    assert_eq!(third["skipped_existing"].as_i64().unwrap(), eligible);

    let issued =
        sql_count(&app, format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id}"))
            .await;
    assert_eq!(issued, eligible, "one voucher per eligible customer");
    let distinct = sql_count(
        &app,
        format!("SELECT COUNT(DISTINCT customer_id) AS n FROM vouchers WHERE campaign_id = {campaign_id}"),
    )
    .await;
    assert_eq!(distinct, eligible);

    // Every code verifies for its customer and decodes to its campaign and variant.
    let vouchers = app.vouchers(&id).await;
    assert_eq!(vouchers.len() as i64, eligible);
    let ring = app.state.signing.keyring();
    let names: Vec<&str> = vec!["control", "b", "c"];
    let mut per_variant = [0usize; 3];
    for v in &vouchers {
        let customer = v["customer_id"].as_str().unwrap();
        let fields = code::verify(&ring, v["code"].as_str().unwrap(), customer).unwrap();
        assert_eq!(fields.campaign, campaign_id as u32);
        let expected = variant::assign(&campaign.salt, customer, &[1, 2, 1]);
        assert_eq!(fields.variant as usize, expected);
        assert_eq!(v["variant"], names[expected]);
        assert!(v["code"].as_str().unwrap().starts_with("TEST-"));
        assert!(matches!(
            code::verify(&ring, v["code"].as_str().unwrap(), "someone-else"),
            Err(code::CodeError::CustomerMismatch)
        ));
        per_variant[expected] += 1;
    }
    assert!(per_variant[1] > per_variant[0] && per_variant[1] > per_variant[2], "{per_variant:?}");
}

#[tokio::test]
async fn single_issuance_gives_each_reason() {
    let app = TestApp::spawn().await;
    let id = app.campaign(json!({"segment": {"kind": "loyalty_tier", "tiers": ["gold"]}})).await;
    app.consented_customer("gold", json!({"loyalty_tier": "gold"})).await;
    app.consented_customer("silver", json!({"loyalty_tier": "silver"})).await;
    app.put_json("/v1/customers/quiet", &app.admin_key, &json!({"loyalty_tier": "gold"})).await;
    let path = format!("/v1/campaigns/{id}/vouchers");
    let issued = app.post_ok(&path, &json!({"customer_id": "gold"}), 201).await;
    assert_eq!(issued["customer_id"], "gold");
    assert_eq!(issued["status"], "issued");
    assert!(code::verify(&app.state.signing.keyring(), issued["code"].as_str().unwrap(), "gold").is_ok());
    let k = &app.admin_key;
    assert_problem(app.post_json(&path, k, &json!({"customer_id": "gold"})).await, 409, "already_issued")
        .await;
    assert_problem(app.post_json(&path, k, &json!({"customer_id": "silver"})).await, 422, "not_in_segment")
        .await;
    assert_problem(app.post_json(&path, k, &json!({"customer_id": "quiet"})).await, 422, "no_consent").await;
    assert_problem(app.post_json(&path, k, &json!({"customer_id": "ghost"})).await, 404, "not_found").await;
    assert_problem(
        app.post_json("/v1/campaigns/999999/vouchers", k, &json!({"customer_id": "gold"})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn campaigns_validate_every_field_and_patch_by_the_rules() {
    let app = TestApp::spawn().await;
    let k = &app.admin_key;
    let base = json!({"name": "B", "currency": "EUR", "segment": {"kind": "birthday", "window_days": 7},
        "discount": {"type": "percent", "percent": 25}, "expires_at": "2099-01-01T00:00:00Z"});
    let cases = [
        ("currency", json!("euro")),
        ("discount", json!({"type": "percent", "percent": 0})),
        ("discount", json!({"type": "percent", "percent": 101})),
        ("discount", json!({"type": "amount", "amount": 0})),
        ("segment", json!({"kind": "birthday", "window_days": 0})),
        ("segment", json!({"kind": "loyalty_tier", "tiers": []})),
        ("budget", json!({"max_amount": 0})),
        ("expires_at", json!("2000-01-01T00:00:00Z")),
        ("variants", json!([{"name": "a", "weight": 1}, {"name": "a", "weight": 1}])),
        ("variants", json!([{"name": "a", "weight": 0}])),
        ("code", json!({"prefix": "bday"})),
        ("code", json!({"prefix": "TOOLONGPFX"})),
        ("name", json!("  ")),
        ("min_order", json!(-1)),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let p = assert_problem(app.post_json("/v1/campaigns", k, &body).await, 422, "invalid_body").await;
        let named = p["field"].as_str().unwrap_or("");
        assert!(named.starts_with(field), "{field}={value}: field {named}");
    }
    let created = app.post_ok("/v1/campaigns", &base, 201).await;
    assert_eq!(created["status"], "active");
    assert_eq!(created["variants"], json!([{"name": "default", "weight": 1}]));
    assert_eq!(created["code"]["prefix"], "VS");
    let id = created["id"].as_str().unwrap();

    let reports = app.key("reports").await;
    assert_eq!(app.get(&format!("/v1/campaigns/{id}"), &reports).await.status(), 200);
    assert_problem(app.post_json("/v1/campaigns", &reports, &base).await, 403, "forbidden").await;
    let list: Value = app.get("/v1/campaigns?limit=10", &reports).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let path = format!("/v1/campaigns/{id}");
    let patched: Value = app
        .patch_json(
            &path,
            k,
            &json!({"budget": {"max_amount": 500, "max_redemptions": 3}, "status": "paused"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["budget"], json!({"max_amount": 500, "max_redemptions": 3}));
    assert_eq!(patched["status"], "paused");
    assert_eq!(app.patch_json(&path, k, &json!({"status": "ended"})).await.status(), 200);
    assert_problem(app.patch_json(&path, k, &json!({"status": "active"})).await, 409, "conflict").await;
    assert_problem(app.post_json(&format!("{path}/generations"), k, &Value::Null).await, 410, "expired")
        .await;
    assert_problem(app.get("/v1/campaigns/nope", k).await, 404, "not_found").await;
}

#[tokio::test]
async fn campaign_creation_honours_idempotency_keys() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "I", "currency": "EUR", "segment": {"kind": "all_consented"},
        "discount": {"type": "amount", "amount": 100}, "expires_at": "2099-01-01T00:00:00Z"});
    let send = |b: Value| {
        app.client
            .post(app.url("/v1/campaigns"))
            .bearer_auth(&app.admin_key)
            .header("Idempotency-Key", "k-1")
            .json(&b)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let mut other = body.clone();
    other["name"] = json!("J");
    assert_problem(send(other).await.unwrap(), 422, "idempotency_key_reused").await;
    let list: Value = app.get("/v1/campaigns", &app.admin_key).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "one campaign made");
}

#[tokio::test]
async fn exports_stream_json_ndjson_and_csv() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.consented_customer(&format!("e-{i}"), json!({})).await;
    }
    let id = app.campaign(json!({})).await;
    app.generate(&id).await;
    let json_items = app.vouchers(&id).await;
    assert_eq!(json_items.len(), 5);
    let nd = app
        .get(&format!("/v1/campaigns/{id}/vouchers?format=ndjson"), &app.admin_key)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(nd.lines().count(), 5);
    for line in nd.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["code"].as_str().unwrap().starts_with("TEST-"));
    }
    let resp = app.get(&format!("/v1/campaigns/{id}/vouchers?format=csv"), &app.admin_key).await;
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "customer_id,code,variant,expires_at,status");
    assert_eq!(lines.count(), 5);
    assert_problem(
        app.get(&format!("/v1/campaigns/{id}/vouchers?format=xml"), &app.admin_key).await,
        400,
        "invalid_parameter",
    )
    .await;
}

#[tokio::test]
async fn erasure_removes_personal_data_and_keeps_totals() {
    let app = TestApp::spawn().await;
    app.consented_customer("forget-me", json!({"birthday": {"month": 5, "day": 17}, "loyalty_tier": "gold"}))
        .await;
    app.consented_customer("stay", json!({})).await;
    let id = app.campaign(json!({})).await;
    app.generate(&id).await;
    let campaign_id: i32 = id.parse().unwrap();
    let before =
        sql_count(&app, format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id}"))
            .await;
    assert_eq!(before, 2);

    assert_eq!(app.delete("/v1/customers/forget-me", &app.admin_key).await.status(), 204);
    assert_problem(app.get("/v1/customers/forget-me/export", &app.admin_key).await, 404, "not_found").await;
    assert_problem(app.delete("/v1/customers/forget-me", &app.admin_key).await, 404, "not_found").await;
    let after =
        sql_count(&app, format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id}"))
            .await;
    assert_eq!(after, before, "issued count unchanged");
    assert_eq!(
        sql_count(&app, "SELECT COUNT(*) AS n FROM vouchers WHERE customer_id = 'forget-me'".into()).await,
        0
    );
    assert_eq!(
        sql_count(&app, "SELECT COUNT(*) AS n FROM consents WHERE customer_id = 'forget-me'".into()).await,
        0
    );
    let exported = app.vouchers(&id).await;
    assert_eq!(exported.len(), 1, "the erased customer's code is gone from exports");
    assert_eq!(exported[0]["customer_id"], "stay");
}

#[tokio::test]
async fn an_import_applies_lines_in_order_even_for_one_customer_twice() {
    let app = TestApp::spawn().await;
    app.consented_customer("twice", json!({})).await;
    let id = app.campaign(json!({})).await;
    app.generate(&id).await;
    let file = [
        r#"{"id": "twice", "birthday": {"month": 4, "day": 1}}"#,
        r#"{"id": "twice", "loyalty_tier": "Gold", "consent": {"purpose": "personalized_offers", "granted": false, "source": "crm", "policy_version": "2"}}"#,
        r#"{"id": "twice", "loyalty_tier": null, "consent": {"purpose": "personalized_offers", "granted": true, "source": "crm", "policy_version": "3"}}"#,
        r#"{"id": "fresh", "loyalty_tier": "silver"}"#,
    ]
    .join("\n");
    let resp = app.import(file).await;
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(summary["imported"], 4, "{summary}");
    assert_eq!(summary["voided_vouchers"], 1, "the revocation voided the open voucher: {summary}");
    let export: Value = app.get("/v1/customers/twice/export", &app.admin_key).await.json().await.unwrap();
    assert_eq!(export["customer"]["birthday"], json!({"month": 4, "day": 1}));
    assert_eq!(export["customer"]["loyalty_tier"], Value::Null, "the last line cleared it");
    assert_eq!(export["customer"]["personalized_offers"], true, "re-granted last");
    assert_eq!(export["consents"].as_array().unwrap().len(), 3);
    assert_eq!(export["vouchers"][0]["status"], "voided");
    let fresh: Value = app.get("/v1/customers/fresh/export", &app.admin_key).await.json().await.unwrap();
    assert_eq!(fresh["customer"]["loyalty_tier"], "silver");
}

#[tokio::test]
async fn a_job_of_several_batches_runs_on_a_pool_of_one_connection() {
    // SQLite in memory has exactly one connection: the job's reader and writer must take turns.
    let app = TestApp::spawn().await;
    let n = 2 * generation::BATCH as usize + 7;
    crate::checkout::import_consented(&app, n).await;
    let campaign: i32 = app.campaign(json!({})).await.parse().unwrap();
    let one = vouchsafe::store::Db::connect(&app.db.url, 1).unwrap();
    let generator = Generator::new(one, app.state.signing.clone());
    let job = generator.enqueue(campaign).await.unwrap();
    let ran = tokio::time::timeout(std::time::Duration::from_secs(60), generator.run(&job.id))
        .await
        .expect("the job finished instead of waiting for a second connection");
    assert!(ran.unwrap(), "the job was this generator's to run");
    let issued =
        sql_count(&app, format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign}")).await;
    assert_eq!(issued, n as i64);
}
