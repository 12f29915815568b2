//! Integrity at the edges (issue #10): consent and erasure against rollbacks, money bounds and
//! exact sums, idempotency leases, Redis state bound to its database, campaign validation on
//! create and PATCH alike, issuance on ended campaigns, and SQLite's durability setting. Each
//! test failed on the code before its fix.

use std::time::Duration;

use diesel::{sql_query, sql_types::Integer, QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use vouchsafe::{
    config::{DatabaseUrl, SqliteTarget},
    ledger::{redis::RedisLedger, Ledger, LedgerError},
    per_backend,
    store::{redemptions::Redemption, vouchers, Db},
};

use crate::{
    checkout::{shop, Shop},
    helpers::{assert_problem, random_name, test_redis, Options, TestApp},
};

/// What happens to a redeemed voucher before its redemption is rolled back.
#[derive(Clone, Copy, Debug)]
enum Meanwhile {
    ConsentWithdrawn,
    Erased,
    CampaignEnded,
}

async fn redeem_void_then_roll_back(opts: Options, meanwhile: Meanwhile) {
    let s: Shop = shop(opts, 2, json!({})).await;
    let (customer, code) = s.vouchers[0].clone();
    let resp = s.redeem(&customer, &code, "o-1", 12000).await;
    assert_eq!(resp.status(), 201);
    let first: Value = resp.json().await.unwrap();
    let id = first["id"].as_str().unwrap();
    let campaign: i32 = s.campaign.parse().unwrap();
    let serial = s.app.state.db.run(move |c| vouchers::page(c, campaign, None, 1)).await.unwrap()[0].serial;

    match meanwhile {
        Meanwhile::ConsentWithdrawn => {
            s.app.consent(&customer, false).await;
        }
        Meanwhile::Erased => {
            let resp = s.app.delete(&format!("/v1/customers/{customer}"), &s.app.admin_key).await;
            assert_eq!(resp.status(), 204);
        }
        Meanwhile::CampaignEnded => {
            let path = format!("/v1/campaigns/{}", s.campaign);
            let resp = s.app.patch_json(&path, &s.app.admin_key, &json!({"status": "ended"})).await;
            assert_eq!(resp.status(), 200);
        }
    }
    assert_eq!(roll_back(&s, id).await, 200, "{meanwhile:?}");
    assert_eq!(s.spent().await, (0, 0), "{meanwhile:?}: the budget is restored");

    // The voucher never becomes redeemable again, also not after Redis reloads the campaign.
    for round in ["as answered", "after a reload"] {
        let again = s.redeem(&customer, &code, "o-2", 12000).await;
        match meanwhile {
            Meanwhile::CampaignEnded => assert_problem(again, 410, "expired").await,
            _ => assert_problem(again, 410, "voided").await,
        };
        if let Some(redis) = &s.app.redis {
            // Evict the campaign's cached state: the next redemption reloads it.
            let client = redis::Client::open(redis.url.as_str()).unwrap();
            let mut conn = client.get_connection().unwrap();
            let metas: Vec<String> =
                redis::cmd("KEYS").arg(format!("{}:*:meta", redis.prefix)).query(&mut conn).unwrap();
            assert!(!metas.is_empty() || round == "after a reload");
            let _: () = redis::cmd("DEL").arg(metas).query(&mut conn).unwrap_or(());
        }
    }
    let voided = s.app.state.db.run(move |c| vouchers::voided_serials(c, campaign)).await.unwrap();
    assert_eq!(voided, vec![serial], "{meanwhile:?}");
    // Replaying the rollback changes nothing.
    assert_eq!(roll_back(&s, id).await, 200);
    assert_eq!(s.spent().await, (0, 0));
}

async fn roll_back(s: &Shop, id: &str) -> u16 {
    let path = format!("/v1/redemptions/{id}/rollback");
    s.app.post_json(&path, &s.checkout, &json!({"reason": "order_cancelled"})).await.status().as_u16()
}

async fn issue(app: &TestApp, campaign: &str, customer: &str) -> reqwest::Response {
    let path = format!("/v1/campaigns/{campaign}/vouchers");
    app.post_json(&path, &app.admin_key, &json!({"customer_id": customer})).await
}

macro_rules! on_both_ledgers {
    ($name:ident, $meanwhile:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_the_environments_ledger() {
                redeem_void_then_roll_back(Options::default(), $meanwhile).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_the_sql_ledger() {
                redeem_void_then_roll_back(Options { sql_ledger: true, ..Options::default() }, $meanwhile)
                    .await;
            }
        }
    };
}

on_both_ledgers!(rollback_after_consent_withdrawal_leaves_the_voucher_voided, Meanwhile::ConsentWithdrawn);
on_both_ledgers!(rollback_after_erasure_leaves_the_voucher_voided, Meanwhile::Erased);
on_both_ledgers!(rollback_after_the_campaign_ended_leaves_the_voucher_voided, Meanwhile::CampaignEnded);

#[tokio::test]
async fn every_money_amount_is_bounded_and_the_422_names_the_field() {
    let app = TestApp::spawn().await;
    let (big, max) = (1_000_000_000_001i64, i64::MAX);
    let base = json!({
        "name": "Bounds", "currency": "EUR", "segment": {"kind": "all_consented"},
        "discount": {"type": "percent", "percent": 10}, "expires_at": "2099-01-01T00:00:00Z"
    });
    let cases = [
        // Inside a tagged object (`type`, `kind`) the path ends at the object; the detail
        // names the bound.
        ("discount", json!({"discount": {"type": "amount", "amount": max}})),
        ("discount", json!({"discount": {"type": "percent", "percent": 10, "max_amount": big}})),
        ("budget.max_amount", json!({"budget": {"max_amount": big}})),
        ("budget.max_amount", json!({"budget": {"max_amount": -1}})),
        ("budget.max_redemptions", json!({"budget": {"max_redemptions": max}})),
        ("min_order", json!({"min_order": -1})),
        ("min_order", json!({"min_order": big})),
        ("segment", json!({"segment": {"kind": "abandoned_cart", "min_value": big, "within_hours": 24}})),
        (
            "variants[1].discount",
            json!({"variants": [{"name": "a", "weight": 1},
                                {"name": "b", "weight": 1, "discount": {"type": "amount", "amount": big}}]}),
        ),
    ];
    for (field, overrides) in cases {
        let mut body = base.clone();
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        let problem =
            assert_problem(app.post_json("/v1/campaigns", &app.admin_key, &body).await, 422, "invalid_body")
                .await;
        assert_eq!(problem["field"], field, "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("1000000000000") || detail.contains("greater than 0"), "{detail}");
    }

    // The same bounds on a change, a cart and an order.
    let campaign = app.campaign(json!({})).await;
    let path = format!("/v1/campaigns/{campaign}");
    let problem = assert_problem(
        app.patch_json(&path, &app.admin_key, &json!({"budget": {"max_amount": big}})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(problem["field"], "budget.max_amount");
    app.consented_customer("c-1", json!({})).await;
    let cart =
        json!({"cart_id": "k-1", "value": max, "currency": "EUR", "abandoned_at": "2026-11-20T10:00:00Z"});
    let problem = assert_problem(
        app.post_json("/v1/customers/c-1/carts", &app.admin_key, &cart).await,
        422,
        "invalid_body",
    )
    .await;
    assert_eq!(problem["field"], "value");
    let order = json!({"code": "TEST-0000", "customer_id": "c-1", "order": {"id": "o-1", "amount": max, "currency": "EUR"}});
    for route in ["/v1/redemptions", "/v1/validations"] {
        let problem =
            assert_problem(app.post_json(route, &app.admin_key, &order).await, 422, "invalid_body").await;
        assert_eq!(problem["field"], "order.amount", "{route}");
    }
}

#[tokio::test]
async fn the_largest_amounts_redeem_and_report_exactly() {
    let s = shop(
        Options::default(),
        3,
        json!({"discount": {"type": "percent", "percent": 100}, "min_order": 0,
               "budget": {"max_amount": 1_000_000_000_000i64}}),
    )
    .await;
    let (customer, code) = s.vouchers[0].clone();
    let resp = s.redeem(&customer, &code, "o-max", 1_000_000_000_000).await;
    assert_eq!(resp.status(), 201);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["discount"], 1_000_000_000_000i64);

    // Rows from before the bound (an order of i64::MAX, twice) must not break any report:
    // their sum does not fit in an i64, and the database must not be asked to make it one.
    let id: i32 = s.campaign.parse().unwrap();
    let serials = s.app.state.db.run(move |c| vouchers::page(c, id, None, 10)).await.unwrap();
    for v in serials.iter().skip(1).take(2) {
        // Written as the old version did (no rule checked the amount), not by today's commit.
        let r = redemption_of(v, &format!("legacy-{}", v.serial), i64::MAX, 0);
        s.app.state.db.run(move |c| write_as_before_the_bound(c, &r)).await.unwrap();
    }
    let report: Value =
        s.app.get(&format!("/v1/campaigns/{id}/report"), &s.app.admin_key).await.json().await.unwrap();
    assert_eq!(report["budget"]["spent"], 1_000_000_000_000i64, "{report}");
    assert_eq!(report["budget"]["redemptions"], 3);
    for path in [format!("/v1/campaigns/{id}/report.csv"), format!("/reports/campaigns/{id}")] {
        let resp = s.app.get(&path, &s.app.admin_key).await;
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_redeem_script_checks_its_inputs_before_writing_anything() {
    let Some((url, _own)) = test_redis() else { return };
    let s = shop(Options { redis_url: Some(url.clone()), ..Options::default() }, 2, json!({})).await;
    let prefix = s.app.redis.as_ref().unwrap().prefix.clone();
    let ledger = RedisLedger::new(&url, &prefix, Some(s.app.state.db.clone())).unwrap();
    let id: i32 = s.campaign.parse().unwrap();
    let v = s.app.state.db.run(move |c| vouchers::page(c, id, None, 1)).await.unwrap().remove(0);
    let bad = redemption_of(&v, "o-bad", i64::MAX, i64::MAX);
    assert!(matches!(ledger.redeem(bad).await, Err(LedgerError::Invalid(_))));
    // Nothing was taken: the voucher redeems.
    let (customer, code) = (v.customer_id.unwrap(), v.code.unwrap());
    assert_eq!(s.redeem(&customer, &code, "o-1", 12000).await.status(), 201);
}

#[tokio::test]
async fn redis_state_of_another_database_is_never_used() {
    let Some((url, _own)) = test_redis() else { return };
    let shared = random_name("shared");
    let opts =
        || Options { redis_url: Some(url.clone()), redis_prefix: Some(shared.clone()), ..Options::default() };
    // Two databases, one Redis, one prefix: campaign 1 and its serials exist in both.
    let a = shop(opts(), 2, json!({})).await;
    let b = shop(opts(), 2, json!({})).await;
    assert_eq!(a.campaign, b.campaign);
    for s in [&a, &b] {
        for (i, (customer, code)) in s.vouchers.iter().enumerate() {
            let resp = s.redeem(customer, code, &format!("o-{i}"), 12000).await;
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        }
    }
    // Every key of the prefix is under one of the two deployment ids.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{shared}:*")).query(&mut conn).unwrap();
    let deployments: std::collections::BTreeSet<&str> =
        keys.iter().filter_map(|k| k.split(':').nth(1)).collect();
    assert_eq!(deployments.len(), 2, "{keys:?}");
}

/// A redemption of a stored voucher, as written past the API (a legacy row, a bad input).
fn redemption_of(v: &vouchers::VoucherRow, order: &str, order_amount: i64, discount: i64) -> Redemption {
    Redemption {
        id: vouchsafe::store::redemptions::new_id(),
        campaign_id: v.campaign_id,
        serial: v.serial,
        customer_id: v.customer_id.clone(),
        code: v.code.clone(),
        order_id: order.into(),
        order_amount,
        currency: "EUR".into(),
        discount,
        variant: v.variant,
        api_key_id: "legacy".into(),
        idem_key: None,
        request_hash: "h".into(),
        redeemed_at: chrono::Utc::now().naive_utc(),
        rolled_back_at: None,
        rollback_reason: None,
    }
}

/// Writes a redemption row and the campaign's counters the way a version before the money
/// bound did, past the campaign rules that now refuse such an order.
fn write_as_before_the_bound(
    conn: &mut vouchsafe::store::Conn,
    r: &Redemption,
) -> Result<(), vouchsafe::store::StoreError> {
    use diesel::{ExpressionMethods, QueryDsl};
    use vouchsafe::{
        domain::voucher::VoucherStatus,
        store::schema::{campaigns, redemptions, vouchers},
    };
    diesel::insert_into(redemptions::table).values(r).execute(conn.any())?;
    diesel::update(campaigns::table.find(r.campaign_id))
        .set((
            campaigns::spent.eq(campaigns::spent + r.discount),
            campaigns::redeemed.eq(campaigns::redeemed + 1),
        ))
        .execute(conn.any())?;
    diesel::update(vouchers::table.find((r.campaign_id, r.serial)))
        .set(vouchers::status.eq(VoucherStatus::Redeemed))
        .execute(conn.any())?;
    Ok(())
}

/// The key id of a `vsk_<id>_<secret>` key.
fn key_id(key: &str) -> String {
    key.trim_start_matches("vsk_").split('_').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_reservation_left_by_a_crash_does_not_block_its_key_forever() {
    let app = TestApp::spawn().await;
    let who = key_id(&app.admin_key);
    // What a crash between reserving and answering left behind: a reservation without an
    // answer, older than the lease, and a fresh one.
    let body = json!({"name": "Idem", "currency": "EUR", "segment": {"kind": "all_consented"},
                      "discount": {"type": "percent", "percent": 10}, "expires_at": "2099-01-01T00:00:00Z"});
    // The request's fingerprint as the service takes it: method, path, canonical body.
    let fingerprint = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"POST /v1/campaigns\n");
        h.update(serde_json::to_vec(&body).unwrap());
        hex::encode(h.finalize())
    };
    let (w, stale) = (who.clone(), chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10));
    let fresh = chrono::Utc::now().naive_utc();
    app.state
        .db
        .run(move |c| {
            use diesel::ExpressionMethods;
            use vouchsafe::store::schema::idempotency_keys as k;
            for (key, at) in [("k-stuck", stale), ("k-running", fresh)] {
                let row = (
                    k::api_key_id.eq(w.clone()),
                    k::idem_key.eq(key),
                    k::request_hash.eq(fingerprint.clone()),
                    k::status.eq(0),
                    k::body.eq(""),
                    k::created_at.eq(at),
                );
                diesel::insert_into(k::table).values(row.clone()).execute(c.any())?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let post = |key: &'static str| {
        app.client
            .post(app.url("/v1/campaigns"))
            .bearer_auth(&app.admin_key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = post("k-stuck").await.unwrap();
    assert_eq!(first.status(), 201, "an expired reservation is taken over");
    let first: Value = first.json().await.unwrap();
    let again = post("k-stuck").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_problem(post("k-running").await.unwrap(), 409, "idempotency_in_progress").await;

    // Concurrent requests with one new key: one campaign, the same answer for all.
    let answers = futures_util::future::join_all((0..8).map(|_| post("k-race"))).await;
    let mut ids = std::collections::BTreeSet::new();
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 201);
        ids.insert(a.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list: Value = app.get("/v1/campaigns?limit=100", &app.admin_key).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "k-stuck and k-race each made one");
}

#[tokio::test]
async fn patch_validates_as_create_does() {
    let app = TestApp::spawn().await;
    let past = json!({"name": "Late", "currency": "EUR", "segment": {"kind": "all_consented"},
                      "discount": {"type": "percent", "percent": 10}, "expires_at": "2020-01-01T00:00:00Z"});
    let problem =
        assert_problem(app.post_json("/v1/campaigns", &app.admin_key, &past).await, 422, "invalid_body")
            .await;
    assert_eq!(problem["field"], "expires_at");

    let campaign = app.campaign(json!({})).await;
    let path = format!("/v1/campaigns/{campaign}");
    let cases = [
        ("name", json!({"name": "a\u{0}b"})),
        ("name", json!({"name": "   "})),
        ("expires_at", json!({"expires_at": "2025-06-01T00:00:00Z"})),
        ("expires_at", json!({"expires_at": "2020-01-01T00:00:00Z"})),
        ("budget.max_redemptions", json!({"budget": {"max_redemptions": 0}})),
    ];
    for (field, body) in cases {
        let problem =
            assert_problem(app.patch_json(&path, &app.admin_key, &body).await, 422, "invalid_body").await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let stored: Value = app.get(&path, &app.admin_key).await.json().await.unwrap();
    assert_eq!(stored["name"], "Test campaign", "nothing was stored");
}

#[tokio::test]
async fn an_ended_or_expired_campaign_issues_nothing() {
    let app = TestApp::spawn().await;
    app.consented_customer("c-1", json!({})).await;
    app.consented_customer("c-2", json!({})).await;
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1200);
    let expiring = app.campaign(json!({"expires_at": soon})).await;
    tokio::time::sleep(Duration::from_millis(1400)).await;
    assert_problem(issue(&app, &expiring, "c-1").await, 410, "expired").await;

    let ended = app.campaign(json!({})).await;
    assert_eq!(issue(&app, &ended, "c-1").await.status(), 201);
    let resp =
        app.patch_json(&format!("/v1/campaigns/{ended}"), &app.admin_key, &json!({"status": "ended"})).await;
    assert_eq!(resp.status(), 200);
    assert_problem(issue(&app, &ended, "c-2").await, 410, "expired").await;
    let resp =
        app.post_json(&format!("/v1/campaigns/{ended}/generations"), &app.admin_key, &Value::Null).await;
    assert_problem(resp, 410, "expired").await;
}

#[tokio::test]
async fn single_issuance_honours_idempotency_keys() {
    let app = TestApp::spawn().await;
    app.consented_customer("c-1", json!({})).await;
    let campaign = app.campaign(json!({})).await;
    let send = |customer: &'static str| {
        app.client
            .post(app.url(&format!("/v1/campaigns/{campaign}/vouchers")))
            .bearer_auth(&app.admin_key)
            .header("Idempotency-Key", "issue-1")
            .json(&json!({"customer_id": customer}))
            .send()
    };
    let first = send("c-1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = send("c-1").await.unwrap();
    assert_eq!(retry.status(), 201, "a retry gets the first answer, not 409 already_issued");
    assert_eq!(retry.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(retry.json::<Value>().await.unwrap()["code"], first["code"]);
    assert_problem(send("c-2").await.unwrap(), 422, "idempotency_key_reused").await;
    assert_eq!(app.vouchers(&campaign).await.len(), 1);
}

#[derive(QueryableByName)]
struct Synchronous {
    #[diesel(sql_type = Integer)]
    synchronous: i32,
}

#[tokio::test]
async fn sqlite_commits_wait_for_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(SqliteTarget::File(dir.path().join("durable.db")));
    let db = Db::connect(&url, 2).unwrap();
    let level = db
        .run(|c| Ok(per_backend!(c, |c| sql_query("PRAGMA synchronous").get_result::<Synchronous>(c))?))
        .await
        .unwrap();
    assert_eq!(level.synchronous, 2, "PRAGMA synchronous = FULL");
}
