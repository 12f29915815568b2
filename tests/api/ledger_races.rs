//! Races of the Redis ledger's reload and sweeper, forced with its hooks (pauses at the exact
//! points where they happen). Each ran the wrong way before its fix: a reload whose lock had
//! expired overwrote a newer one's state; a reload installed a snapshot that a rollback had
//! made stale meanwhile; the sweeper unlisted a campaign whose pending entry was just written.
//! On a run without `TEST_REDIS_URL` they start a redis-server of their own.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use vouchsafe::{
    ledger::redis::{Hooks, RedisLedger},
    store::vouchers,
};

use crate::{
    checkout::{shop, Shop},
    helpers::{self, test_redis, Options, OwnRedis},
};

async fn redis_shop(n: usize) -> Option<(Option<OwnRedis>, String, Shop)> {
    let (url, own) = test_redis()?;
    let s = shop(Options { redis_url: Some(url.clone()), ..Options::default() }, n, json!({})).await;
    Some((own, url, s))
}

/// Another instance's ledger on the shop's database and Redis prefix, with these pauses.
fn instance(url: &str, s: &Shop, hooks: Hooks) -> Arc<RedisLedger> {
    let prefix = &s.app.redis.as_ref().unwrap().prefix;
    Arc::new(RedisLedger::new(url, prefix, Some(s.app.state.db.clone())).unwrap().with_hooks(hooks))
}

async fn conn(url: &str) -> vouchsafe::ledger::redis_target::RedisConn {
    helpers::redis_conn(url).await
}

async fn serial_of(s: &Shop, i: usize) -> i64 {
    let id: i32 = s.campaign.parse().unwrap();
    s.app.state.db.run(move |c| vouchers::page(c, id, None, 100)).await.unwrap()[i].serial
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_whose_lock_expired_never_overwrites_a_newer_one() {
    let Some((_own, url, s)) = redis_shop(2).await else { return };
    let slow = instance(
        &url,
        &s,
        Hooks {
            lock_ttl: Some(Duration::from_millis(300)),
            before_install: Some(Duration::from_millis(1500)),
            ..Hooks::default()
        },
    );
    let campaign: i32 = s.campaign.parse().unwrap();
    let reload = tokio::spawn({
        let slow = slow.clone();
        async move { slow.load(campaign).await }
    });
    // The slow reload has its snapshot and has lost its lock; the service loads the campaign
    // itself and redeems.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (customer, code) = s.vouchers[0].clone();
    assert_eq!(s.redeem(&customer, &code, "o-1", 12000).await.status(), 201);
    reload.await.unwrap().unwrap();

    let scope = s.app.redis_scope().await;
    let mut c = conn(&url).await;
    let key = |name: &str| format!("{scope}:{{c:{campaign}}}:{name}");
    let count: String = redis::cmd("HGET").arg(key("meta")).arg("count").query_async(&mut c).await.unwrap();
    assert_eq!(count, "1", "the stale snapshot (no redemption) was not installed");
    let live: i64 = redis::cmd("HLEN").arg(key("red")).query_async(&mut c).await.unwrap();
    assert_eq!(live, 1);
    let staged: Vec<String> =
        redis::cmd("KEYS").arg(format!("{scope}:*stage*")).query_async(&mut c).await.unwrap();
    assert!(staged.is_empty(), "{staged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_does_not_install_a_snapshot_that_a_rollback_made_stale() {
    let Some((_own, url, s)) = redis_shop(2).await else { return };
    let campaign: i32 = s.campaign.parse().unwrap();
    let (customer, code) = s.vouchers[0].clone();
    let first: serde_json::Value = s.redeem(&customer, &code, "o-1", 12000).await.json().await.unwrap();
    // Consent withdrawn while redeemed: a rollback now leaves the voucher voided.
    s.app.consent(&customer, false).await;
    let scope = s.app.redis_scope().await;
    let key = |name: &str| format!("{scope}:{{c:{campaign}}}:{name}");
    let mut c = conn(&url).await;
    let _: () = redis::cmd("DEL").arg(key("meta")).query_async(&mut c).await.unwrap();

    // A reload reads the campaign and its live redemptions, pauses, then reads the voided
    // vouchers; the rollback lands in the pause.
    let slow = instance(
        &url,
        &s,
        Hooks { between_snapshot_reads: Some(Duration::from_millis(800)), ..Hooks::default() },
    );
    let reload = tokio::spawn({
        let slow = slow.clone();
        async move { slow.load(campaign).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rb = format!("/v1/redemptions/{}/rollback", first["id"].as_str().unwrap());
    assert_eq!(s.app.post_json(&rb, &s.checkout, &json!({"reason": "cancelled"})).await.status(), 200);
    reload.await.unwrap().unwrap();

    let serial = serial_of(&s, 0).await;
    let meta: Vec<Option<String>> =
        redis::cmd("HMGET").arg(key("meta")).arg("count").arg("spent").query_async(&mut c).await.unwrap();
    assert_eq!(
        meta,
        vec![Some("0".to_owned()), Some("0".to_owned())],
        "the rolled back redemption is not counted"
    );
    let redeemed: bool = redis::cmd("HEXISTS").arg(key("red")).arg(serial).query_async(&mut c).await.unwrap();
    let voided: bool =
        redis::cmd("SISMEMBER").arg(key("void")).arg(serial).query_async(&mut c).await.unwrap();
    assert_eq!((redeemed, voided), (false, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_never_unlists_a_campaign_whose_pending_entry_was_just_written() {
    let Some((_own, url, s)) = redis_shop(2).await else { return };
    let campaign: i32 = s.campaign.parse().unwrap();
    let (customer, code) = s.vouchers[0].clone();
    assert_eq!(s.redeem(&customer, &code, "o-1", 12000).await.status(), 201);
    let scope = s.app.redis_scope().await;
    let key = |name: &str| format!("{scope}:{{c:{campaign}}}:{name}");
    let mut c = conn(&url).await;
    let started = std::time::Instant::now();
    while redis::cmd("HLEN").arg(key("pend")).query_async::<i64>(&mut c).await.unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let sweeper = Arc::new(
        RedisLedger::new(&url, &s.app.redis.as_ref().unwrap().prefix, Some(s.app.state.db.clone()))
            .unwrap()
            .with_grace(Duration::ZERO)
            .with_hooks(Hooks { before_unindex: Some(Duration::from_millis(600)), ..Hooks::default() }),
    );
    let sweep = tokio::spawn({
        let sweeper = sweeper.clone();
        async move { sweeper.sweep().await }
    });
    // Meanwhile an instance redeems voucher 1 and dies before its commit: its script wrote a
    // pending entry (the campaign was listed already).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let serial = serial_of(&s, 1).await;
    let entry = json!({"at_ms": chrono::Utc::now().timestamp_millis(), "redemption": {
        "id": "rdm_crashed", "campaign_id": campaign, "serial": serial, "discount": 2500,
        "api_key_id": "k", "idem_key": null, "order_id": "o-crashed", "request_hash": "h"}});
    let _: () = redis::cmd("HSET")
        .arg(key("pend"))
        .arg("rdm_crashed")
        .arg(entry.to_string())
        .query_async(&mut c)
        .await
        .unwrap();
    sweep.await.unwrap().unwrap();

    let listed: bool = redis::cmd("SISMEMBER")
        .arg(format!("{scope}:pending_campaigns"))
        .arg(campaign)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(listed, "still listed: the entry is the sweeper's to settle");
    assert_eq!(sweeper.sweep().await.unwrap(), 1, "released: the database never had it");
    let left: i64 = redis::cmd("HLEN").arg(key("pend")).query_async(&mut c).await.unwrap();
    assert_eq!(left, 0);
}
