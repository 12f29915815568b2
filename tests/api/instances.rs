//! Several instances: three `vouchsafe serve` processes (the release binary) on one database and
//! one Redis (the environment's, a Redis Cluster included, or a redis-server of the test's own),
//! requests spread over them, one killed with SIGKILL mid-run and started again; and a PATCH
//! made through one instance reaching all of them within the documented cache lifetimes
//! (README, "Running several instances").

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use serde_json::json;

use crate::{
    checkout::{body, shop, Shop},
    fleet::{answers, assert_invariants, run_jobs, two_orders_per_voucher, Instance, Try},
    helpers::{test_redis, Options, OwnRedis},
};

/// How long an instance may act on a campaign it cached (`api::checkout::campaign_cache`).
const CAMPAIGN_STALENESS: Duration = Duration::from_secs(1);
/// How long an instance trusts an API key it looked up (`VOUCHSAFE_KEY_CACHE_SECS`, default 2).
const KEY_STALENESS: Duration = Duration::from_secs(2);
/// Slack for a loaded machine on top of a staleness bound.
const SLACK: Duration = Duration::from_millis(500);

async fn fleet_shop(
    n: usize,
    campaigns: usize,
    budget: i64,
) -> (Option<OwnRedis>, Shop, Vec<String>, Vec<Instance>) {
    let (url, own) = test_redis().expect("these tests need redis-server or TEST_REDIS_URL");
    let overrides = json!({"budget": {"max_redemptions": budget}});
    let s = shop(Options { redis_url: Some(url), ..Options::default() }, n, overrides.clone()).await;
    let mut all = vec![s.campaign.clone()];
    for _ in 1..campaigns {
        let c = s.app.campaign(overrides.clone()).await;
        assert_eq!(s.app.generate(&c).await["issued"], n as i64);
        all.push(c);
    }
    let instances = (0..3).map(|_| Instance::serve(&s)).collect();
    (own, s, all, instances)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_lose_nothing_when_one_is_killed_and_restarted() {
    let (_own, s, campaigns, mut instances) = fleet_shop(60, 3, 45).await;
    let addresses = Arc::new(RwLock::new(instances.iter().map(|i| i.address.clone()).collect::<Vec<_>>()));
    let jobs = two_orders_per_voucher(&s, &campaigns).await;
    let tries = Arc::new(Mutex::new(Vec::<Try>::new()));
    let load = tokio::spawn(run_jobs(
        addresses.clone(),
        s.checkout.clone(),
        jobs.clone(),
        12,
        Duration::from_secs(60),
        tries.clone(),
    ));
    while tries.lock().unwrap().len() < 80 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    instances[1].kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| instances[1].restart());
    addresses.write().unwrap()[1] = instances[1].address.clone();
    load.await.unwrap();

    let tries = tries.lock().unwrap().clone();
    let unanswered = tries.iter().filter(|t| t.status.is_none()).count();
    println!("three instances: {} tries, {unanswered} without an answer (the kill)", tries.len());
    assert!(unanswered > 0, "the kill happened mid-run");
    for (n, t) in answers(jobs.len(), &tries).iter().enumerate() {
        let status = t.as_ref().and_then(|t| t.status);
        assert!(matches!(status, Some(200 | 201 | 409)), "job {n} ended with {status:?}");
    }
    for c in &campaigns {
        let told: HashSet<String> = tries
            .iter()
            .filter(|t| jobs[t.job].campaign == *c)
            .filter_map(|t| t.redemption.clone())
            .collect();
        let live = assert_invariants(&s, c, &told).await;
        assert_eq!(live, told.len(), "campaign {c}: every live redemption was answered to its client");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_patch_through_one_instance_holds_on_every_instance_within_the_documented_staleness() {
    let (_own, s, _, instances) = fleet_shop(12, 1, 100).await;
    let client = reqwest::Client::new();
    let redeem = |at: usize, v: usize, order: &str| {
        let (c, k) = &s.vouchers[v];
        client
            .post(format!("{}/v1/redemptions", instances[at].address))
            .bearer_auth(&s.checkout)
            .json(&body(c, k, order, 10000))
            .send()
    };
    // Every instance has the campaign and the checkout key cached.
    for i in 0..3 {
        assert_eq!(redeem(i, i, "warm").await.unwrap().status(), 201);
    }
    let code_of = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        (status, v["code"].as_str().unwrap_or_default().to_owned())
    };
    let patch = |body: serde_json::Value| {
        client
            .patch(format!("{}/v1/campaigns/{}", instances[0].address, s.campaign))
            .bearer_auth(&s.app.admin_key)
            .json(&body)
            .send()
    };

    // Paused through instance 0: every instance refuses within the campaign cache's lifetime.
    assert_eq!(patch(json!({"status": "paused"})).await.unwrap().status(), 200);
    tokio::time::sleep(CAMPAIGN_STALENESS + SLACK).await;
    for i in 0..3 {
        let answer = code_of(redeem(i, 3 + i, "paused").await.unwrap()).await;
        assert_eq!(answer, (409, "campaign_paused".to_owned()), "instance {i}");
    }

    // Active again with the budget cut to the 3 redemptions it has: no instance redeems more.
    let cut = json!({"status": "active", "budget": {"max_redemptions": 3}});
    assert_eq!(patch(cut).await.unwrap().status(), 200);
    tokio::time::sleep(CAMPAIGN_STALENESS + SLACK).await;
    for i in 0..3 {
        let answer = code_of(redeem(i, 6 + i, "cut").await.unwrap()).await;
        assert_eq!(answer, (409, "budget_exhausted".to_owned()), "instance {i}");
    }
    assert_eq!(s.spent().await.1, 3, "the database holds the 3 redemptions from before, no more");

    // A revoked API key: refused by every instance within the key cache's lifetime.
    let scopes: vouchsafe::domain::access::Scopes = "checkout".parse().unwrap();
    let (key, secret) =
        s.app.state.db.run(move |c| vouchsafe::store::api_keys::create(c, "fleet", scopes)).await.unwrap();
    let list = |at: usize| {
        client.post(format!("{}/v1/validations", instances[at].address)).bearer_auth(&secret).json(&body(
            &s.vouchers[0].0,
            &s.vouchers[0].1,
            "v",
            10000,
        ))
    };
    for i in 0..3 {
        assert_eq!(list(i).send().await.unwrap().status(), 200, "instance {i} knows the new key");
    }
    let revoked = client
        .delete(format!("{}/v1/keys/{}", instances[0].address, key.id))
        .bearer_auth(&s.app.admin_key)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    tokio::time::sleep(KEY_STALENESS + SLACK).await;
    for i in 0..3 {
        assert_eq!(list(i).send().await.unwrap().status(), 401, "instance {i} still trusts a revoked key");
    }
}
