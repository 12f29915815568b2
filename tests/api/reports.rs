//! Reports: exact counts and sums after scripted redemptions and rollbacks, CSV, the HTML page
//! in a real headless browser, and the demo.

use std::process::Command;

use serde_json::{json, Value};

use crate::{
    checkout::{shop, Shop},
    helpers::{assert_problem, Options, TestApp},
};

/// Two variants (control: 25% capped at 50.00; fixed: 10.00 off) and a scripted history.
async fn scripted() -> (Shop, Value) {
    let s = shop(
        Options::default(),
        40,
        json!({"variants": [{"name": "control", "weight": 1},
                            {"name": "fixed", "weight": 1, "discount": {"type": "amount", "amount": 1000}}],
               "budget": {"max_amount": 100000, "max_redemptions": 500}}),
    )
    .await;
    (s, Value::Null)
}

#[tokio::test]
async fn the_report_counts_live_redemptions_exactly() {
    let (s, _) = scripted().await;
    let ring = s.app.state.signing.keyring();
    let variant_of = |i: usize| {
        vouchsafe::domain::code::verify(&ring, &s.vouchers[i].1, &s.vouchers[i].0).unwrap().variant
    };
    // Redeem the first 12 vouchers for 100.00 each, roll back 3 of them.
    let mut expected = [(0u64, 0i64, 0i64); 2]; // (redeemed, discount, order value)
    let mut rolled_back = [0u64; 2];
    let mut discount_sq = [0f64; 2];
    let mut issued = [0u64; 2];
    for i in 0..s.vouchers.len() {
        issued[variant_of(i) as usize] += 1;
    }
    let mut ids = Vec::new();
    for i in 0..12 {
        let (c, k) = &s.vouchers[i];
        let r: Value = s.redeem(c, k, &format!("o-{i}"), 10000).await.json().await.unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
        let v = variant_of(i) as usize;
        let discount = if v == 0 { 2500 } else { 1000 };
        assert_eq!(r["discount"], discount);
        if i % 4 != 3 {
            expected[v].0 += 1;
            expected[v].1 += discount;
            expected[v].2 += 10000;
            discount_sq[v] += (discount * discount) as f64;
        } else {
            rolled_back[v] += 1;
        }
    }
    for (i, id) in ids.iter().enumerate() {
        if i % 4 == 3 {
            let resp = s
                .app
                .post_json(
                    &format!("/v1/redemptions/{id}/rollback"),
                    &s.checkout,
                    &json!({"reason": "order_cancelled"}),
                )
                .await;
            assert_eq!(resp.status(), 200);
        }
    }
    let reports = s.app.key("reports").await;
    let report: Value =
        s.app.get(&format!("/v1/campaigns/{}/report", s.campaign), &reports).await.json().await.unwrap();
    let spent: i64 = expected.iter().map(|e| e.1).sum();
    let count: u64 = expected.iter().map(|e| e.0).sum();
    assert_eq!(report["campaign_id"], s.campaign.as_str());
    assert_eq!(report["currency"], "EUR");
    assert_eq!(report["budget"]["spent"], spent);
    assert_eq!(report["budget"]["remaining"], 100000 - spent);
    assert_eq!(report["budget"]["redemptions"], count);
    assert_eq!(report["budget"]["max_redemptions"], 500);
    for (v, name) in ["control", "fixed"].iter().enumerate() {
        let row = &report["variants"][v];
        assert_eq!(row["name"], *name);
        assert_eq!(row["issued"], issued[v]);
        assert_eq!(row["redeemed"], expected[v].0);
        assert_eq!(row["discount_spent"], expected[v].1);
        assert_eq!(row["order_value"], expected[v].2);
        // The money moments come from the same grouped pass: rolled-back rows count apart.
        assert_eq!(row["rolled_back"], rolled_back[v], "{row}");
        let per_issued = row["discount_per_issued"].as_f64().unwrap();
        assert!((per_issued - expected[v].1 as f64 / issued[v] as f64).abs() < 1e-9, "{row}");
        let (n, mean) = (issued[v] as f64, expected[v].1 as f64 / issued[v] as f64);
        let sd = ((discount_sq[v] - n * mean * mean) / (n - 1.0) / n).sqrt();
        let (lo, hi) = (
            row["discount_per_issued_ci_low"].as_f64().unwrap(),
            row["discount_per_issued_ci_high"].as_f64().unwrap(),
        );
        assert!(
            lo < per_issued && per_issued < hi && hi - lo > 2.0 * 1.95 * sd,
            "sequential is wider than fixed: {row}"
        );
        let rate = row["rate"].as_f64().unwrap();
        assert!((rate - expected[v].0 as f64 / issued[v] as f64).abs() < 1e-12);
        assert!(
            row["rate_ci_low"].as_f64().unwrap() <= rate && rate <= row["rate_ci_high"].as_f64().unwrap()
        );
    }
    assert_eq!(report["comparisons"][0]["variant"], "fixed");
    assert_eq!(report["comparisons"][0]["control"], "control");
    let p = report["comparisons"][0]["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert!(report["srm_p_value"].as_f64().is_some());
    let daily = report["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1, "all today");
    assert_eq!(daily[0]["redemptions"], count);
    assert_eq!(daily[0]["discount_spent"], spent);
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"));

    // CSV: one row per variant, then the days.
    let resp = s.app.get(&format!("/v1/campaigns/{}/report.csv", s.campaign), &reports).await;
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert_eq!(csv.lines().filter(|l| l.starts_with("variant,")).count(), 2, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("daily,")).count(), 1, "{csv}");

    // Scopes: a checkout key may not read reports.
    assert_problem(
        s.app.get(&format!("/v1/campaigns/{}/report", s.campaign), &s.checkout).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(s.app.get("/v1/campaigns/999999/report", &reports).await, 404, "not_found").await;
}

#[tokio::test]
async fn the_page_asks_a_browser_for_the_key() {
    let (s, _) = scripted().await;
    let resp =
        s.app.client.get(s.app.url(&format!("/reports/campaigns/{}", s.campaign))).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").unwrap().to_str().unwrap().starts_with("Basic"));
    assert!(resp.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let resp =
        s.app.client.get(s.app.url("/reports")).basic_auth("me", Some(&s.checkout)).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = s
        .app
        .client
        .get(s.app.url("/reports"))
        .basic_auth("me", Some(&s.app.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(&format!("/reports/campaigns/{}", s.campaign)));
}

#[tokio::test]
async fn every_html_answer_forbids_sniffing_and_framing() {
    let app = TestApp::spawn().await;
    let campaign = app.campaign(json!({})).await;
    let checkout = app.key("checkout").await;
    let page = format!("/reports/campaigns/{campaign}");
    let cases = [
        ("/reports", Some(app.admin_key.as_str()), 200),
        (page.as_str(), Some(app.admin_key.as_str()), 200),
        (page.as_str(), None, 401),
        ("/reports", Some("vs_nosuchkey_000000000000"), 401),
        (page.as_str(), Some(checkout.as_str()), 403),
    ];
    for (path, key, status) in cases {
        let mut req = app.client.get(app.url(path));
        if let Some(key) = key {
            req = req.basic_auth("me", Some(key));
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let header =
            |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(header("content-type").starts_with("text/html"), "{path} {status}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path} {status}");
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path} {status}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path} {status}: {csp}");
    }
}

#[tokio::test]
async fn the_page_renders_its_charts_in_a_real_headless_browser() {
    if !crate::helpers::tool_on_path("chromium", "chromium") {
        return;
    }
    let (s, _) = scripted().await;
    for i in 0..10 {
        let (c, k) = &s.vouchers[i];
        assert_eq!(s.redeem(c, k, &format!("o-{i}"), 8000).await.status(), 201);
    }
    let reports = s.app.key("reports").await;
    let port = s.app.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("http://marketer:{reports}@127.0.0.1:{port}/reports/campaigns/{}", s.campaign);
    let profile = tempfile::tempdir().unwrap();
    let shot = profile.path().join("report.png");
    let chromium = |extra: &[String]| chromium_run(profile.path(), &url, extra);
    let dom = chromium(&["--dump-dom".to_string()]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    for id in ["verdict", "budget-gauge", "burn-down", "variant-rates", "daily-series", "variants-table"] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "the rendered page lacks #{id}:\n{}",
            &dom[..dom.len().min(2000)]
        );
    }
    assert!(dom.matches("<svg").count() >= 4, "charts are SVG");
    assert!(dom.contains("Test campaign"), "the campaign name");
    assert!(dom.contains("control") && dom.contains("fixed"));
    let out = chromium(&[format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real picture, {} bytes", png.len());
    if let Ok(dir) = std::env::var("REPORT_SCREENSHOT_DIR") {
        std::fs::copy(&shot, std::path::Path::new(&dir).join("report.png")).unwrap();
    }
}

#[test]
fn the_demo_runs_on_its_own_database_and_without_serving_prints_no_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vouchsafe"))
        .env_clear()
        .current_dir(dir.path())
        .args(["demo", "--size", "600", "--no-serve"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("VERDICT") && stdout.contains("control") && stdout.contains("fixed10"),
        "{stdout}"
    );
    assert!(stdout.contains("vsk_"), "a reports key for when it is served: {stdout}");
    assert!(
        !stdout.contains("http://") && !stderr.contains("http://"),
        "nothing serves: no URL\n{stdout}{stderr}"
    );
    let own = dir.path().join("vouchsafe-demo.db");
    assert!(stderr.contains(&format!("SQLite file {}", own.display())), "{stderr}");
    assert!(own.exists() && !dir.path().join("vouchsafe.db").exists());
}

/// `analysis` on create and PATCH: defaults, ranges (422 naming the field), replaced by PATCH,
/// and what the report says it used.
#[tokio::test]
async fn the_analysis_setting_is_validated_stored_and_used_by_the_report() {
    let app = TestApp::spawn().await;
    let crm = app.key("crm").await;
    let id = app.campaign(json!({})).await;
    let c: Value = app.get(&format!("/v1/campaigns/{id}"), &crm).await.json().await.unwrap();
    assert_eq!(
        c["analysis"],
        json!({"method": "sequential", "alpha": 0.05, "gross_margin": null,
               "min_detectable_lift": 0.1, "tuning": 5000.0, "expected_rate": null})
    );
    assert_eq!(c["plan"], Value::Null, "one variant: nothing to compare, no plan");
    for (bad, field) in [
        (json!({"alpha": 0.7}), "analysis.alpha"),
        (json!({"gross_margin": 1.5}), "analysis.gross_margin"),
        (json!({"min_detectable_lift": 0}), "analysis.min_detectable_lift"),
        (json!({"tuning": 1}), "analysis.tuning"),
        (json!({"expected_rate": 1.0}), "analysis.expected_rate"),
        (json!({"expected_rate": "8%"}), "analysis.expected_rate"),
    ] {
        let mut body = json!({"name": "x", "currency": "EUR", "segment": {"kind": "all_consented"},
                              "discount": {"type": "amount", "amount": 500},
                              "expires_at": "2099-01-01T00:00:00Z"});
        body["analysis"] = bad.clone();
        let p = assert_problem(app.post_json("/v1/campaigns", &crm, &body).await, 422, "invalid_body").await;
        assert_eq!(p["field"], field, "{bad}");
        let p = assert_problem(
            app.patch_json(&format!("/v1/campaigns/{id}"), &crm, &json!({"analysis": bad})).await,
            422,
            "invalid_body",
        )
        .await;
        assert_eq!(p["field"], field);
    }
    let bad_method = json!({"analysis": {"method": "bayes"}});
    assert_problem(
        app.patch_json(&format!("/v1/campaigns/{id}"), &crm, &bad_method).await,
        422,
        "invalid_body",
    )
    .await;
    let set = json!({"analysis": {"method": "fixed", "alpha": 0.01, "gross_margin": 0.4}});
    let c: Value = app.patch_json(&format!("/v1/campaigns/{id}"), &crm, &set).await.json().await.unwrap();
    assert_eq!(c["analysis"]["method"], "fixed");
    assert_eq!(c["analysis"]["gross_margin"], 0.4);
    assert_eq!(c["analysis"]["min_detectable_lift"], 0.1, "left out: the default");
    let reports = app.key("reports").await;
    let r: Value = app.get(&format!("/v1/campaigns/{id}/report"), &reports).await.json().await.unwrap();
    assert_eq!(
        r["analysis"],
        json!({"method": "fixed", "alpha": 0.01, "tuning": 5000.0, "correction": "holm", "gross_margin": 0.4})
    );
}

#[tokio::test]
async fn a_campaign_says_at_creation_how_many_vouchers_its_arms_need() {
    let app = TestApp::spawn().await;
    let crm = app.key("crm").await;
    let arms = json!([{"name": "control", "weight": 1}, {"name": "b", "weight": 1}]);
    // The helper's budget allows 500 redemptions: far fewer than +10% at 8% needs.
    let body = json!({"name": "Plan", "currency": "EUR", "segment": {"kind": "all_consented"},
                      "discount": {"type": "amount", "amount": 500},
                      "budget": {"max_redemptions": 500},
                      "expires_at": "2099-01-01T00:00:00Z", "variants": arms,
                      "analysis": {"method": "fixed", "expected_rate": 0.078}});
    let c = app.post_ok("/v1/campaigns", &body, 201).await;
    let plan = &c["plan"];
    assert_eq!(plan["metric"], "redemption_rate");
    assert_eq!(plan["expected_rate"], 0.078);
    assert_eq!(plan["at_rates"].as_array().unwrap().len(), 1);
    let row = &plan["at_rates"][0];
    let per_arm = row["issued_needed_per_arm"].as_u64().unwrap();
    assert_eq!(per_arm, 20_504, "{row}");
    assert_eq!(row["issued_needed_total"].as_u64(), Some(2 * per_arm));
    assert_eq!(row["budget_allows"], false);
    let text = plan["text"].as_str().unwrap();
    assert!(text.contains("per arm") && text.contains("The budget's 500 redemptions"), "{text}");

    // Without an expected rate: typical rates; the same plan on GET, and PATCH recomputes it.
    let id = c["id"].as_str().unwrap();
    let patched: Value = app
        .patch_json(&format!("/v1/campaigns/{id}"), &crm, &json!({"analysis": {}, "budget": {}}))
        .await
        .json()
        .await
        .unwrap();
    let rows = patched["plan"]["at_rates"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["rate"].as_f64().unwrap()).collect::<Vec<_>>(), [0.02, 0.05, 0.1, 0.2]);
    assert!(rows.iter().all(|r| r["budget_allows"].is_null()), "no count limit left: {rows:?}");
    let got: Value = app.get(&format!("/v1/campaigns/{id}"), &crm).await.json().await.unwrap();
    assert_eq!(got["plan"], patched["plan"]);
    let sequential = got["plan"]["at_rates"][2]["issued_needed_per_arm"].as_u64().unwrap();
    let fixed_10 = {
        let f = json!({"analysis": {"method": "fixed"}});
        let v: Value = app.patch_json(&format!("/v1/campaigns/{id}"), &crm, &f).await.json().await.unwrap();
        v["plan"]["at_rates"][2]["issued_needed_per_arm"].as_u64().unwrap()
    };
    assert!(sequential > fixed_10, "always-valid inference costs vouchers: {sequential} vs {fixed_10}");
}

/// Runs a real headless Chromium on `url` with its own profile and the `extra` arguments.
fn chromium_run(profile: &std::path::Path, url: &str, extra: &[String]) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium must be installed (.ci/run installs Debian's chromium)")
}

/// Dumps the DOM of a page a real headless Chromium rendered.
fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = chromium_run(profile.path(), url, &["--dump-dom".to_string()]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pages a marketer opens on the edges of the calendar and of the design: five variants on
/// a campaign running to 2099, and a campaign one day long with one redemption (no projection
/// from an hour of data, a one-point chart).
#[tokio::test]
async fn five_variants_to_2099_and_a_one_day_campaign_render_in_chromium() {
    if !crate::helpers::tool_on_path("chromium", "chromium") {
        return;
    }
    let five = json!({"variants": [
        {"name": "control", "weight": 1}, {"name": "v-two", "weight": 1}, {"name": "v-three", "weight": 1},
        {"name": "v-four", "weight": 1}, {"name": "v-five", "weight": 1}],
        "analysis": {"gross_margin": 0.4},
        "expires_at": "2099-12-31T00:00:00Z"});
    let now = chrono::Utc::now();
    let one_day = json!({"budget": {"max_amount": 20000},
                         "starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
                         "expires_at": (now + chrono::Duration::hours(23)).to_rfc3339()});
    for (overrides, names) in
        [(five, &["control", "v-two", "v-three", "v-four", "v-five"][..]), (one_day, &["default"][..])]
    {
        let s = shop(Options::default(), 25, overrides).await;
        for i in 0..5 {
            let (c, k) = &s.vouchers[i];
            assert_eq!(s.redeem(c, k, &format!("o-{i}"), 9000).await.status(), 201);
        }
        let reports = s.app.key("reports").await;
        let port = s.app.address.rsplit(':').next().unwrap().to_owned();
        let dom =
            chromium_dom(&format!("http://m:{reports}@127.0.0.1:{port}/reports/campaigns/{}", s.campaign));
        for id in [
            "verdict",
            "budget-gauge",
            "burn-down",
            "variant-rates",
            "daily-series",
            "variants-table",
            "power-note",
        ] {
            assert!(dom.contains(&format!("id=\"{id}\"")), "#{id} missing:\n{}", &dom[..dom.len().min(1500)]);
        }
        for name in names {
            assert!(dom.contains(name), "variant {name}");
        }
        assert!(!dom.contains("NaN") && !dom.contains("Infinity"), "no broken number");
        // The daily chart shows its one day as a point.
        assert!(dom.contains("<circle"), "a one-point chart still shows its point");
        let r: Value =
            s.app.get(&format!("/v1/campaigns/{}/report", s.campaign), &reports).await.json().await.unwrap();
        if names.len() == 1 {
            assert_eq!(
                r["budget"]["projected_exhaustion_at"],
                Value::Null,
                "no projection from an hour: {r}"
            );
            assert!(dom.contains("less than a day of data"), "the page says why");
        } else {
            assert_eq!(r["comparisons"].as_array().unwrap().len(), 4);
            assert!(r["comparisons"][0]["net_diff"].is_number(), "{r}");
            assert!(dom.contains("Holm-adjusted"));
        }
    }
}
