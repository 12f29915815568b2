//! Checkout over real HTTP: every reason code, exactly-once redemption and exact budgets under
//! concurrency, replays, rollbacks, and Redis losing its data or going away. Each scenario runs
//! on the environment's ledger (Redis when TEST_REDIS_URL is set) and on the SQL ledger.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::{stream, StreamExt};
use serde_json::{json, Value};
use vouchsafe::ledger::redis::RedisLedger;

use crate::helpers::{assert_problem, closed_port, Options, OwnRedis, TestApp};

pub(crate) struct Shop {
    pub app: TestApp,
    pub checkout: String,
    pub campaign: String,
    /// (customer id, code)
    pub vouchers: Vec<(String, String)>,
}

/// Imports `n` customers `s-00000`… with the `personalized_offers` consent granted.
pub(crate) async fn import_consented(app: &TestApp, n: usize) {
    let mut ndjson = String::new();
    for i in 0..n {
        ndjson += &format!(
            "{{\"id\": \"s-{i:05}\", \"consent\": {{\"purpose\": \"personalized_offers\", \"granted\": true, \"source\": \"t\", \"policy_version\": \"1\"}}}}\n"
        );
    }
    let resp = app.import(ndjson).await;
    assert_eq!(resp.status(), 200);
}

/// An app with `n` consented customers and a generated campaign (JSON overrides merged in).
pub(crate) async fn shop(opts: Options, n: usize, overrides: Value) -> Shop {
    let app = TestApp::spawn_with(opts).await;
    import_consented(&app, n).await;
    let campaign = app.campaign(overrides).await;
    let job = app.generate(&campaign).await;
    assert_eq!(job["issued"], n as i64, "{job}");
    let vouchers = app
        .vouchers(&campaign)
        .await
        .iter()
        .map(|v| (v["customer_id"].as_str().unwrap().to_owned(), v["code"].as_str().unwrap().to_owned()))
        .collect();
    let checkout = app.key("checkout").await;
    Shop { app, checkout, campaign, vouchers }
}

pub(crate) fn body(customer: &str, code: &str, order: &str, amount: i64) -> Value {
    json!({"code": code, "customer_id": customer, "order": {"id": order, "amount": amount, "currency": "EUR"}})
}

impl Shop {
    pub async fn redeem(&self, customer: &str, code: &str, order: &str, amount: i64) -> reqwest::Response {
        self.app.post_json("/v1/redemptions", &self.checkout, &body(customer, code, order, amount)).await
    }

    pub async fn spent(&self) -> (i64, i64) {
        let id: i32 = self.campaign.parse().unwrap();
        let c =
            self.app.state.db.run(move |c| vouchsafe::store::campaigns::get(c, id)).await.unwrap().unwrap();
        (c.spent, c.redeemed)
    }

    async fn live_rows(&self) -> i64 {
        let id: i32 = self.campaign.parse().unwrap();
        self.app
            .state
            .db
            .run(move |c| Ok(vouchsafe::store::redemptions::live_for_reload(c, id)?.len() as i64))
            .await
            .unwrap()
    }
}

macro_rules! on_both_ledgers {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn env_ledger() {
                ($body)(Options::default()).await
            }
            #[tokio::test]
            async fn sql_ledger() {
                ($body)(Options { sql_ledger: true, ..Options::default() }).await
            }
        }
    };
}

on_both_ledgers!(every_reason_code_is_reached, |opts: Options| async move {
    let s =
        shop(opts, 6, json!({"min_order": 2000, "budget": {"max_amount": 1000000, "max_redemptions": 500}}))
            .await;
    let (c0, k0) = &s.vouchers[0];
    let (c1, k1) = &s.vouchers[1];

    // Validation changes nothing and says what a redemption would.
    let v: Value = s
        .app
        .post_json("/v1/validations", &s.checkout, &body(c0, k0, "o-0", 12000))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["discount"], 3000);
    let v: Value = s
        .app
        .post_json("/v1/validations", &s.checkout, &body(c0, k0, "o-0", 100))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((v["valid"].clone(), v["code"].clone()), (json!(false), json!("order_below_minimum")));

    let created = s.redeem(c0, k0, "o-0", 12000).await;
    assert_eq!(created.status(), 201);
    let first: Value = created.json().await.unwrap();
    assert_eq!(first["discount"], 3000, "25% of 120.00");
    assert_eq!(first["customer_id"], c0.as_str());
    assert_eq!(first["order_id"], "o-0");
    assert_eq!(first["campaign_id"], s.campaign.as_str());
    assert_eq!(first["variant"], "default");
    let again = s.redeem(c0, &k0.to_lowercase().replace('-', " "), "o-0", 12000).await;
    assert_eq!(again.status(), 200, "same code (typed loosely) + order → first answer");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_problem(s.redeem(c0, k0, "o-other", 12000).await, 409, "already_redeemed").await;
    let v: Value = s
        .app
        .post_json("/v1/validations", &s.checkout, &body(c0, k0, "o-9", 12000))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], "already_redeemed");

    let mut forged = k1.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_problem(s.redeem(c1, &forged, "o-1", 12000).await, 422, "invalid_code").await;
    assert_problem(s.redeem(c1, "NOT-A-CODE", "o-1", 12000).await, 422, "invalid_code").await;
    assert_problem(s.redeem(c0, k1, "o-1", 12000).await, 403, "customer_mismatch").await;
    assert_problem(s.redeem(c1, k1, "o-1", 1999).await, 422, "order_below_minimum").await;
    let usd =
        json!({"code": k1, "customer_id": c1, "order": {"id": "o-1", "amount": 12000, "currency": "USD"}});
    assert_problem(s.app.post_json("/v1/redemptions", &s.checkout, &usd).await, 422, "currency_mismatch")
        .await;

    // Idempotency-Key: same key, other body → 422.
    let keyed = |order: &str| {
        s.app
            .client
            .post(s.app.url("/v1/redemptions"))
            .bearer_auth(&s.checkout)
            .header("Idempotency-Key", "idem-1")
            .json(&body(c1, k1, order, 12000))
            .send()
    };
    assert_eq!(keyed("o-1").await.unwrap().status(), 201);
    assert_eq!(keyed("o-1").await.unwrap().status(), 200);
    assert_problem(keyed("o-2").await.unwrap(), 422, "idempotency_key_reused").await;

    // Voided by a withdrawn consent.
    let (c2, k2) = &s.vouchers[2];
    s.app.consent(c2, false).await;
    assert_problem(s.redeem(c2, k2, "o-2", 12000).await, 410, "voided").await;

    // Paused, then budget, then dates: changes apply to the next redemption.
    let (c3, k3) = &s.vouchers[3];
    let path = format!("/v1/campaigns/{}", s.campaign);
    s.app.patch_json(&path, &s.app.admin_key, &json!({"status": "paused"})).await;
    assert_problem(s.redeem(c3, k3, "o-3", 12000).await, 409, "campaign_paused").await;
    s.app
        .patch_json(
            &path,
            &s.app.admin_key,
            &json!({"status": "active", "budget": {"max_amount": 1000000, "max_redemptions": 2}}),
        )
        .await;
    assert_problem(s.redeem(c3, k3, "o-3", 12000).await, 409, "budget_exhausted").await;
    // A campaign cannot be moved into the past (422), but it can end soon.
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let resp = s
        .app
        .patch_json(&path, &s.app.admin_key, &json!({"budget": {"max_amount": 1000000}, "expires_at": soon}))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1700)).await;
    assert_problem(s.redeem(c3, k3, "o-3", 12000).await, 410, "expired").await;

    // A campaign that has not started.
    let later = s.app.campaign(json!({"starts_at": "2098-01-01T00:00:00Z"})).await;
    s.app.generate(&later).await;
    let v = s.app.vouchers(&later).await;
    let (c, k) = (v[0]["customer_id"].as_str().unwrap(), v[0]["code"].as_str().unwrap());
    assert_problem(s.redeem(c, k, "o-4", 12000).await, 410, "not_started").await;

    // Scope: a CRM key may not redeem.
    let crm = s.app.key("crm").await;
    assert_problem(s.app.post_json("/v1/redemptions", &crm, &body(c1, k1, "o", 1)).await, 403, "forbidden")
        .await;
    assert_eq!(s.spent().await, (6000, 2));
    let metrics = s.app.client.get(s.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"vouchsafe_redemptions_total{outcome="already_redeemed"}"#), "{metrics}");
});

#[tokio::test]
async fn a_ledger_that_does_not_answer_is_503_and_nothing_is_redeemed() {
    let s = shop(Options::default(), 2, json!({})).await;
    let state_ledger =
        RedisLedger::new(&format!("redis://127.0.0.1:{}", closed_port()), "t", Some(s.app.state.db.clone()))
            .unwrap();
    let r = vouchsafe::store::redemptions::Redemption {
        id: vouchsafe::store::redemptions::new_id(),
        campaign_id: s.campaign.parse().unwrap(),
        serial: 0,
        customer_id: Some(s.vouchers[0].0.clone()),
        code: None,
        order_id: "o".into(),
        order_amount: 1,
        currency: "EUR".into(),
        discount: 0,
        variant: 0,
        api_key_id: "k".into(),
        idem_key: None,
        request_hash: String::new(),
        redeemed_at: chrono::Utc::now().naive_utc(),
        rolled_back_at: None,
        rollback_reason: None,
    };
    use vouchsafe::ledger::Ledger;
    use vouchsafe::ledger::LedgerError;
    assert!(matches!(state_ledger.redeem(r).await, Err(LedgerError::Unavailable(_) | LedgerError::Redis(_))));
    assert_eq!(s.live_rows().await, 0);
}

on_both_ledgers!(each_voucher_redeems_once_under_concurrent_attempts, |opts: Options| async move {
    let s = Arc::new(shop(opts, 1000, json!({"budget": {}})).await);
    let attempts: Vec<(usize, usize)> = (0..10).flat_map(|a| (0..1000).map(move |v| (v, a))).collect();
    let statuses: Vec<(u16, String)> = stream::iter(attempts)
        .map(|(v, a)| {
            let s = s.clone();
            async move {
                let (c, k) = &s.vouchers[v];
                let resp = s.redeem(c, k, &format!("o-{v}-{a}"), 10000).await;
                let status = resp.status().as_u16();
                let code = resp
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|b| b["code"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                (status, code)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut counts: HashMap<(u16, String), usize> = HashMap::new();
    for s in statuses {
        *counts.entry(s).or_default() += 1;
    }
    let created = counts.iter().filter(|((st, _), _)| *st == 201).map(|(_, n)| n).sum::<usize>();
    assert_eq!(created, 1000, "{counts:?}");
    assert_eq!(counts.get(&(409, "already_redeemed".into())).copied().unwrap_or(0), 9000, "{counts:?}");
    assert_eq!(s.live_rows().await, 1000);
    assert_eq!(s.spent().await, (2_500_000, 1000));
});

on_both_ledgers!(count_and_money_budgets_hold_exactly_under_a_race, |opts: Options| async move {
    let s = Arc::new(shop(opts, 500, json!({"budget": {"max_redemptions": 100}})).await);
    let results: Vec<u16> = stream::iter(0..500)
        .map(|v| {
            let s = s.clone();
            async move {
                let (c, k) = &s.vouchers[v];
                s.redeem(c, k, &format!("o-{v}"), 10000).await.status().as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert_eq!(results.iter().filter(|s| **s == 201).count(), 100);
    assert_eq!(results.iter().filter(|s| **s == 409).count(), 400);
    assert_eq!(s.spent().await.1, 100);
    assert_eq!(s.live_rows().await, 100);

    // Money: cap 10,000 with 3,000 off each → exactly 3 fit, 9,000 spent, across 200 tries.
    let m = Arc::new(
        shop(
            Options { sql_ledger: s.app.state.ledger.kind() == "sql", ..Options::default() },
            200,
            json!({"discount": {"type": "amount", "amount": 3000}, "budget": {"max_amount": 10000}}),
        )
        .await,
    );
    let results: Vec<u16> = stream::iter(0..200)
        .map(|v| {
            let m = m.clone();
            async move {
                let (c, k) = &m.vouchers[v];
                m.redeem(c, k, &format!("o-{v}"), 10000).await.status().as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert_eq!(results.iter().filter(|s| **s == 201).count(), 3);
    assert_eq!(m.spent().await, (9000, 3));
});

on_both_ledgers!(concurrent_replays_make_one_redemption_with_identical_answers, |opts: Options| async move {
    let s = Arc::new(shop(opts, 1, json!({})).await);
    let answers: Vec<(u16, Value)> = stream::iter(0..50)
        .map(|_| {
            let s = s.clone();
            async move {
                let (c, k) = &s.vouchers[0];
                let resp = s.redeem(c, k, "o-replay", 10000).await;
                (resp.status().as_u16(), resp.json().await.unwrap())
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert_eq!(answers.iter().filter(|(st, _)| *st == 201).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(st, _)| *st == 201 || *st == 200), "{answers:?}");
    assert!(answers.iter().all(|(_, b)| *b == answers[0].1), "identical bodies");
    assert_eq!(s.live_rows().await, 1);
});

on_both_ledgers!(
    concurrent_rollbacks_restore_once_and_the_voucher_redeems_again,
    |opts: Options| async move {
        let s = Arc::new(shop(opts, 2, json!({"budget": {"max_redemptions": 1}})).await);
        let (c, k) = s.vouchers[0].clone();
        let first: Value = s.redeem(&c, &k, "o-1", 10000).await.json().await.unwrap();
        let id = first["id"].as_str().unwrap().to_owned();
        assert_problem(
            s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-x", 10000).await,
            409,
            "budget_exhausted",
        )
        .await;
        let answers: Vec<(u16, Value)> = stream::iter(0..20)
            .map(|_| {
                let (s, id) = (s.clone(), id.clone());
                async move {
                    let resp = s
                        .app
                        .post_json(
                            &format!("/v1/redemptions/{id}/rollback"),
                            &s.checkout,
                            &json!({"reason": "order_cancelled"}),
                        )
                        .await;
                    (resp.status().as_u16(), resp.json().await.unwrap())
                }
            })
            .buffer_unordered(20)
            .collect()
            .await;
        assert!(answers.iter().all(|(st, b)| *st == 200 && *b == answers[0].1), "{answers:?}");
        assert_eq!(answers[0].1["rollback_reason"], "order_cancelled");
        assert_eq!(s.spent().await, (0, 0), "restored exactly once");
        assert_eq!(s.redeem(&c, &k, "o-2", 10000).await.status(), 201, "the voucher redeems again");
        assert_problem(
            s.app.post_json("/v1/redemptions/rdm_nope/rollback", &s.checkout, &json!({"reason": "x"})).await,
            404,
            "not_found",
        )
        .await;
    }
);

#[tokio::test]
async fn redis_losing_its_data_mid_run_neither_double_redeems_nor_overspends() {
    let Some(redis) = OwnRedis::start() else { return };
    let s = Arc::new(
        shop(
            Options { redis_url: Some(redis.url()), ..Options::default() },
            400,
            json!({"discount": {"type": "amount", "amount": 1000}, "budget": {"max_amount": 150000}}),
        )
        .await,
    );
    let attempts: Vec<(usize, usize)> = (0..3).flat_map(|a| (0..400).map(move |v| (v, a))).collect();
    let flusher = {
        let url = redis.url();
        tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
            }
        })
    };
    let statuses: Vec<u16> = stream::iter(attempts)
        .map(|(v, a)| {
            let s = s.clone();
            async move {
                let (c, k) = &s.vouchers[v];
                s.redeem(c, k, &format!("o-{v}-{a}"), 5000).await.status().as_u16()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    flusher.await.unwrap();
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "no 5xx: {statuses:?}");
    assert_eq!(created, 150, "the budget allows exactly 150 × 10.00");
    assert_eq!(s.live_rows().await, 150, "every 201 is in the database, no voucher twice");
    assert_eq!(s.spent().await, (150_000, 150));
}

#[tokio::test]
async fn redis_down_is_503_and_the_service_recovers_when_it_returns() {
    let Some(mut redis) = OwnRedis::start() else { return };
    let s = shop(Options { redis_url: Some(redis.url()), ..Options::default() }, 3, json!({})).await;
    assert_eq!(s.redeem(&s.vouchers[0].0, &s.vouchers[0].1, "o-0", 5000).await.status(), 201);
    redis.stop();
    assert_problem(
        s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-1", 5000).await,
        503,
        "ledger_unavailable",
    )
    .await;
    assert_eq!(s.app.client.get(s.app.url("/readyz")).send().await.unwrap().status(), 503);
    redis.restart();
    let started = std::time::Instant::now();
    loop {
        let resp = s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-1", 5000).await;
        if resp.status() == 201 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not recover: {}",
            resp.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The reloaded ledger still knows the first redemption (from the database).
    assert_problem(s.redeem(&s.vouchers[0].0, &s.vouchers[0].1, "o-9", 5000).await, 409, "already_redeemed")
        .await;
    assert_eq!(s.live_rows().await, 2);
}

fn redemption_for(s: &Shop, v: usize, order: &str) -> vouchsafe::store::redemptions::Redemption {
    let (customer, code) = &s.vouchers[v];
    let fields = vouchsafe::domain::code::verify(&s.app.state.signing.keyring(), code, customer).unwrap();
    vouchsafe::store::redemptions::Redemption {
        id: vouchsafe::store::redemptions::new_id(),
        campaign_id: s.campaign.parse().unwrap(),
        serial: i64::from(fields.serial),
        customer_id: Some(customer.clone()),
        code: Some(code.clone()),
        order_id: order.into(),
        order_amount: 10000,
        currency: "EUR".into(),
        discount: 2500,
        variant: i32::from(fields.variant),
        api_key_id: "crashed-instance".into(),
        idem_key: None,
        request_hash: "h".into(),
        redeemed_at: chrono::Utc::now().naive_utc(),
        rolled_back_at: None,
        rollback_reason: None,
    }
}

/// A shop on its own Redis whose budget allows one redemption (the campaign loaded in Redis),
/// where an instance took voucher 1 (order `o-1`) in Redis and lost its database before the
/// commit: the pending entry holds the budget. Returns the Redis, the shop and its key prefix.
async fn crashed_mid_redemption() -> Option<(OwnRedis, Shop, String)> {
    use vouchsafe::ledger::Ledger;
    let redis = OwnRedis::start()?;
    let s = shop(
        Options { redis_url: Some(redis.url()), ..Options::default() },
        3,
        json!({"budget": {"max_redemptions": 1}}),
    )
    .await;
    let prefix = s.app.redis.as_ref().unwrap().prefix.clone();
    // Load the campaign into Redis, then free the budget again.
    let first: Value = s.redeem(&s.vouchers[0].0, &s.vouchers[0].1, "o-0", 10000).await.json().await.unwrap();
    let rb = format!("/v1/redemptions/{}/rollback", first["id"].as_str().unwrap());
    assert_eq!(s.app.post_json(&rb, &s.checkout, &json!({"reason": "test"})).await.status(), 200);
    let dead_url: vouchsafe::config::DatabaseUrl =
        format!("postgres://postgres@127.0.0.1:{}/gone", closed_port()).parse().unwrap();
    let dead_db = vouchsafe::store::Db::connect(&dead_url, 1).unwrap();
    let deployment = s.app.state.db.run(vouchsafe::store::deployment::id).await.unwrap();
    let crashed =
        RedisLedger::new(&redis.url(), &prefix, Some(dead_db)).unwrap().with_deployment(&deployment);
    assert!(crashed.redeem(redemption_for(&s, 1, "o-1")).await.is_err(), "not acknowledged");
    Some((redis, s, prefix))
}

#[tokio::test]
async fn the_sweeper_releases_what_a_crashed_instance_never_committed() {
    let Some((redis, s, prefix)) = crashed_mid_redemption().await else { return };
    // Its pending entry holds the budget: another customer is refused for now.
    assert_problem(s.redeem(&s.vouchers[2].0, &s.vouchers[2].1, "o-2", 10000).await, 409, "budget_exhausted")
        .await;

    let survivor = RedisLedger::new(&redis.url(), &prefix, Some(s.app.state.db.clone()))
        .unwrap()
        .with_grace(Duration::ZERO);
    assert_eq!(survivor.sweep().await.unwrap(), 1, "released: the database never had it");
    assert_eq!(s.redeem(&s.vouchers[2].0, &s.vouchers[2].1, "o-2", 10000).await.status(), 201);
    assert_eq!(s.live_rows().await, 1);
    assert_eq!(survivor.sweep().await.unwrap(), 0, "nothing left to settle");
}

#[tokio::test]
async fn a_reload_keeps_what_is_in_flight_and_a_replay_of_an_undone_request_starts_over() {
    let Some((redis, s, prefix)) = crashed_mid_redemption().await else { return };

    // The campaign is evicted and reloaded from the database, which does not have it yet:
    // the reload must still count it, or a second customer would get the last redemption.
    let client = redis::Client::open(redis.url().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (campaign, scope) = (&s.campaign, s.app.redis_scope().await);
    let _: () =
        redis::cmd("DEL").arg(format!("{scope}:{{c:{campaign}}}:meta")).query_async(&mut conn).await.unwrap();
    assert_problem(s.redeem(&s.vouchers[2].0, &s.vouchers[2].1, "o-2", 10000).await, 409, "budget_exhausted")
        .await;

    // The same order retried waits for the first request; once the sweeper undoes that, the
    // retry is served as a new request instead of waiting for an answer that never comes.
    let survivor = RedisLedger::new(&redis.url(), &prefix, Some(s.app.state.db.clone()))
        .unwrap()
        .with_grace(Duration::ZERO);
    let sweep = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        survivor.sweep().await.unwrap()
    });
    let started = std::time::Instant::now();
    let retried = s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-1", 10000).await;
    assert_eq!(retried.status(), 201, "{}", retried.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(10), "served once undone, not after a timeout");
    assert_eq!(sweep.await.unwrap(), 1);
    assert_eq!(s.live_rows().await, 1);
    assert_eq!(s.spent().await, (2500, 1));
}

#[tokio::test]
async fn a_group_commit_writes_all_or_nothing_and_keeps_the_budget() {
    use vouchsafe::store::redemptions::{commit, commit_batch};
    // 2,500 per redemption (25% of 100.00); the budget holds three.
    let s =
        shop(Options { sql_ledger: true, ..Options::default() }, 6, json!({"budget": {"max_amount": 7500}}))
            .await;
    let batch = |vs: &[(usize, &str)]| vs.iter().map(|(v, o)| redemption_for(&s, *v, o)).collect::<Vec<_>>();
    let db = s.app.state.db.clone();

    let two = batch(&[(0, "o-0"), (1, "o-1")]);
    let rows = two.clone();
    assert!(db.run(move |c| commit_batch(c, &rows)).await.unwrap(), "two free vouchers go in together");
    assert_eq!(s.live_rows().await, 2);
    assert_eq!(s.spent().await, (5000, 2));

    // One member already redeemed: nothing of the batch is written.
    let rows = batch(&[(2, "o-2"), (0, "o-other")]);
    assert!(!db.run(move |c| commit_batch(c, &rows)).await.unwrap());
    // The same voucher twice in one batch: nothing either.
    let rows = batch(&[(2, "o-2"), (2, "o-2b")]);
    assert!(!db.run(move |c| commit_batch(c, &rows)).await.unwrap());
    // Room for one more, not two: nothing.
    let rows = batch(&[(2, "o-2"), (3, "o-3")]);
    assert!(!db.run(move |c| commit_batch(c, &rows)).await.unwrap());
    assert_eq!((s.live_rows().await, s.spent().await), (2, (5000, 2)), "refused batches left no trace");

    // One by one, each gets its own answer and the budget stops at the cap.
    let rows = batch(&[(2, "o-2"), (3, "o-3")]);
    let answers = db
        .run(move |c| rows.iter().map(|r| commit(c, r, false)).collect::<Result<Vec<_>, _>>())
        .await
        .unwrap();
    assert!(answers[0].is_ok());
    assert_eq!(answers[1], Err(vouchsafe::domain::Refusal::BudgetExhausted));
    assert_eq!(s.spent().await, (7500, 3));
}

#[tokio::test]
async fn pending_entries_are_not_cleared_during_a_reload_and_the_sweeper_settles_them() {
    let Some(redis) = OwnRedis::start() else { return };
    let s = shop(Options { redis_url: Some(redis.url()), ..Options::default() }, 2, json!({})).await;
    let prefix = s.app.redis.as_ref().unwrap().prefix.clone();
    let scope = s.app.redis_scope().await;
    let key = |name: &str| format!("{scope}:{{c:{}}}:{name}", s.campaign);
    let client = redis::Client::open(redis.url().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pending = |mut conn: redis::aio::MultiplexedConnection, k: String| async move {
        redis::cmd("HLEN").arg(k).query_async::<i64>(&mut conn).await.unwrap()
    };
    assert_eq!(s.redeem(&s.vouchers[0].0, &s.vouchers[0].1, "o-0", 10000).await.status(), 201);
    let started = std::time::Instant::now();
    while pending(conn.clone(), key("pend")).await > 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "a committed entry is cleared soon after");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // While another instance holds the reload lock, a committed redemption's pending entry
    // stays: the reload keeps it, instead of losing it between its snapshot and its write.
    let _: () = redis::cmd("SET").arg(key("lock")).arg("other").query_async(&mut conn).await.unwrap();
    assert_eq!(s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-1", 10000).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pending(conn.clone(), key("pend")).await, 1);

    let _: () = redis::cmd("DEL").arg(key("lock")).query_async(&mut conn).await.unwrap();
    let survivor = RedisLedger::new(&redis.url(), &prefix, Some(s.app.state.db.clone()))
        .unwrap()
        .with_grace(Duration::ZERO);
    assert_eq!(survivor.sweep().await.unwrap(), 1, "settled: the database has it");
    assert_eq!(pending(conn.clone(), key("pend")).await, 0);
    assert_problem(s.redeem(&s.vouchers[1].0, &s.vouchers[1].1, "o-9", 10000).await, 409, "already_redeemed")
        .await;
    assert_eq!(s.live_rows().await, 2);
}

/// Starts `vouchsafe serve` on the shop's database (and Redis prefix); returns it and its address.
fn serve_child(s: &Shop) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
    cmd.env_clear()
        .env("DATABASE_URL", s.app.db.url_string())
        .env("VOUCHSAFE_BIND", "127.0.0.1:0")
        .env("VOUCHSAFE_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    if let Some(r) = &s.app.redis {
        cmd.env("REDIS_URL", &r.url).env("VOUCHSAFE_REDIS_PREFIX", &r.prefix);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "server exited before listening");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (child, addr)
}

#[tokio::test]
async fn a_killed_instance_loses_no_acknowledged_redemption() {
    let s = Arc::new(shop(Options::default(), 300, json!({"budget": {"max_redemptions": 200}})).await);
    let (mut child, addr) = serve_child(&s);
    let client = reqwest::Client::new();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attempt = {
        let (s, acknowledged, done) = (s.clone(), acknowledged.clone(), done.clone());
        move |v: usize, addr: String| {
            let (s, client, acknowledged, done) =
                (s.clone(), client.clone(), acknowledged.clone(), done.clone());
            async move {
                let (c, k) = &s.vouchers[v];
                let resp = client
                    .post(format!("http://{addr}/v1/redemptions"))
                    .bearer_auth(&s.checkout)
                    .json(&body(c, k, &format!("o-{v}"), 10000))
                    .send()
                    .await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match resp {
                    Ok(r) if r.status().is_success() => {
                        let b: Value = r.json().await.unwrap();
                        acknowledged.lock().unwrap().push(b["id"].as_str().unwrap().to_owned());
                        Some(true)
                    }
                    Ok(_) => Some(false),
                    Err(_) => None,
                }
            }
        }
    };
    let load = {
        let (addr, attempt) = (addr.clone(), attempt.clone());
        tokio::spawn(
            stream::iter(0..300)
                .map(move |v| attempt(v, addr.clone()))
                .buffer_unordered(16)
                .collect::<Vec<_>>(),
        )
    };
    while done.load(std::sync::atomic::Ordering::SeqCst) < 120 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL: no draining, no cleanup
    child.wait().unwrap();
    let first_run = load.await.unwrap();
    let unanswered: Vec<usize> =
        first_run.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(v, _)| v).collect();
    assert!(!unanswered.is_empty(), "the kill happened mid-run");

    // Every 2xx a client saw is in the database, and the database has at most the in-flight
    // requests' redemptions beyond those.
    let live = |s: Arc<Shop>| async move {
        let id: i32 = s.campaign.parse().unwrap();
        s.app.state.db.run(move |c| vouchsafe::store::redemptions::live_for_reload(c, id)).await.unwrap()
    };
    let in_db: std::collections::HashSet<String> = live(s.clone()).await.into_iter().map(|r| r.id).collect();
    let told = acknowledged.lock().unwrap().clone();
    assert!(told.iter().all(|id| in_db.contains(id)), "an acknowledged redemption is missing");
    assert!(in_db.len() - told.len() <= 16, "{} untold redemptions", in_db.len() - told.len());

    // Restart and finish: retries of the unanswered requests replay or redeem; the budget ends
    // exactly full once pending entries of the dead instance are settled.
    let (mut child, addr) = serve_child(&s);
    let started = std::time::Instant::now();
    loop {
        let results: Vec<Option<bool>> =
            stream::iter(0..300).map(|v| attempt(v, addr.clone())).buffer_unordered(16).collect().await;
        assert!(results.iter().all(Option::is_some), "the restarted service answers");
        let (spent_amount, count) = s.spent().await;
        assert!(
            count <= 200 && spent_amount == count * 2500,
            "budget invariant: {count} redemptions, {spent_amount} spent"
        );
        if count == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "stuck at {count} redemptions");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(live(s.clone()).await.len(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}
