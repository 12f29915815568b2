//! The Redis ledger on a Redis Cluster of the test's own (3 primaries, 3 replicas): a primary
//! killed under concurrent redemptions fails over to its replica and redemptions resume; a
//! replica promoted after it lost acknowledged writes is overruled by the database. Each test
//! starts its own cluster on free ports (`.ci/redis-cluster.sh`), so killing its nodes disturbs
//! no other test; without redis-server it says SKIPPED in one line (and fails under CI=true).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{
    checkout::{shop, Shop},
    fleet::{answers, assert_invariants, run_jobs, two_orders_per_voucher, OwnCluster, Try},
    helpers::{assert_problem, Options},
};

/// A shop on the cluster with `campaigns` campaigns of `n` vouchers, each with a budget of
/// `budget` redemptions.
async fn cluster_shop(cluster: &OwnCluster, n: usize, campaigns: usize, budget: i64) -> (Shop, Vec<String>) {
    let overrides = json!({"budget": {"max_redemptions": budget}});
    let opts = Options { redis_url: Some(cluster.url.clone()), ..Options::default() };
    let s = shop(opts, n, overrides.clone()).await;
    let mut all = vec![s.campaign.clone()];
    for _ in 1..campaigns {
        let c = s.app.campaign(overrides.clone()).await;
        assert_eq!(s.app.generate(&c).await["issued"], n as i64);
        all.push(c);
    }
    (s, all)
}

/// The acknowledged (2xx) redemption ids of a run, per campaign.
fn acknowledged(jobs: &[crate::fleet::Job], tries: &[Try], campaign: &str) -> HashSet<String> {
    tries.iter().filter(|t| jobs[t.job].campaign == campaign).filter_map(|t| t.redemption.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_primary_fails_over_and_redemptions_resume_with_nothing_double_spent() {
    let Some(cluster) = OwnCluster::start("cluster::a_killed_primary_fails_over") else { return };
    let (s, campaigns) = cluster_shop(&cluster, 40, 4, 30).await;
    let hot = campaigns[0].clone();
    let slot = cluster.slot_of(&format!("{{c:{hot}}}"));
    let primary = cluster.primary_of_slot(slot).expect("the hot campaign's primary");
    let replica = cluster.replica_of(primary);

    let jobs = two_orders_per_voucher(&s, &campaigns).await;
    let tries = Arc::new(Mutex::new(Vec::<Try>::new()));
    let load = tokio::spawn(run_jobs(
        Arc::new(RwLock::new(vec![s.app.address.clone()])),
        s.checkout.clone(),
        jobs.clone(),
        8,
        Duration::from_secs(60),
        tries.clone(),
    ));
    while tries.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.kill9(primary);
    let killed = Instant::now();
    let promoted = {
        let c = &cluster;
        tokio::task::block_in_place(|| c.wait_promoted(replica, slot, Duration::from_secs(30)))
    };
    load.await.unwrap();

    let tries = tries.lock().unwrap().clone();
    let after_kill =
        |t: &&Try| jobs[t.job].campaign == hot && t.started >= killed && t.status.is_some_and(|s| s < 300);
    let resumed = tries.iter().filter(after_kill).map(|t| t.ended - killed).min();
    let refused = tries.iter().filter(|t| t.started >= killed && t.status == Some(503)).count();
    println!(
        "failover: primary :{primary} killed; replica :{replica} promoted after {:.1} s; the hot \
         campaign's first redemption after the kill answered after {:.1} s ({refused} tries got 503 meanwhile)",
        promoted.as_secs_f64(),
        resumed.map(|d| d.as_secs_f64()).unwrap_or(f64::NAN)
    );
    let resumed = resumed.expect("the hot campaign redeemed again after the kill");
    assert!(resumed < Duration::from_secs(30), "redemptions resumed only after {resumed:?}");

    let last = answers(jobs.len(), &tries);
    for (n, t) in last.iter().enumerate() {
        let status = t.as_ref().and_then(|t| t.status);
        assert!(matches!(status, Some(200 | 201 | 409)), "job {n} ({}) ended with {status:?}", jobs[n].order);
    }
    for c in &campaigns {
        let told = acknowledged(&jobs, &tries, c);
        let live = assert_invariants(&s, c, &told).await;
        assert_eq!(live, told.len(), "campaign {c}: every live redemption was answered to its client");
        assert_eq!(live, 30, "campaign {c}: the budget of 30 is used exactly");
    }
}

/// `HLEN key` on a node, read from it even when it is a replica (READONLY on the connection).
fn hlen_on(cluster: &OwnCluster, port: u16, key: &str) -> i64 {
    use std::io::Write;
    let mut child = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "READONLY\nHLEN {key}").unwrap();
    let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let _ = cluster;
    out.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("HLEN answered {out:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoted_replica_that_lost_acknowledged_writes_is_overruled_by_the_database() {
    let Some(cluster) = OwnCluster::start("cluster::a_promoted_replica_that_lost_writes") else { return };
    let (s, campaigns) = cluster_shop(&cluster, 20, 1, 10).await;
    let campaign = &campaigns[0];
    let slot = cluster.slot_of(&format!("{{c:{campaign}}}"));
    let primary = cluster.primary_of_slot(slot).unwrap();
    let replica = cluster.replica_of(primary);
    let red = format!("{}:{{c:{campaign}}}:red", s.app.redis_scope().await);

    // The campaign is loaded and its first redemption replicated.
    let (c0, k0) = s.vouchers[0].clone();
    assert_eq!(s.redeem(&c0, &k0, "o-0", 10000).await.status(), 201);
    let started = Instant::now();
    while hlen_on(&cluster, replica, &red) != 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "the replica did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // From here on the primary acknowledges writes the replica never sees: the budget fills up.
    cluster.cut_replication(primary);
    let mut first = Vec::new();
    for (i, (c, k)) in s.vouchers.iter().enumerate().take(10).skip(1) {
        let r = s.redeem(c, k, &format!("o-{i}"), 10000).await;
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        first.push(v["id"].as_str().unwrap().to_owned());
    }
    let (c10, k10) = s.vouchers[10].clone();
    assert_problem(s.redeem(&c10, &k10, "o-10", 10000).await, 409, "budget_exhausted").await;
    assert_eq!(hlen_on(&cluster, primary, &red), 10);
    assert_eq!(hlen_on(&cluster, replica, &red), 1, "the replica missed the last 9 redemptions");

    cluster.kill9(primary);
    let promoted =
        tokio::task::block_in_place(|| cluster.wait_promoted(replica, slot, Duration::from_secs(30)));
    println!(
        "lost writes: replica :{replica} promoted {:.1} s after the kill, 9 redemptions behind",
        promoted.as_secs_f64()
    );
    assert_eq!(hlen_on(&cluster, replica, &red), 1, "the promoted replica lost acknowledged writes");

    // Redis now believes 9 vouchers free and the budget nearly empty: the database says no.
    let until_answered = |customer: String, code: String, order: String| {
        let s = &s;
        async move {
            let started = Instant::now();
            loop {
                let r = s.redeem(&customer, &code, &order, 10000).await;
                if r.status() != 503 {
                    return r;
                }
                assert!(started.elapsed() < Duration::from_secs(30), "the ledger stayed unavailable");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    for (i, (c, k)) in s.vouchers.iter().enumerate().take(10) {
        let r = until_answered(c.clone(), k.clone(), format!("again-{i}")).await;
        assert_problem(r, 409, "already_redeemed").await;
    }
    for (i, (c, k)) in s.vouchers.iter().enumerate().skip(10) {
        let r = until_answered(c.clone(), k.clone(), format!("o-{i}")).await;
        assert_problem(r, 409, "budget_exhausted").await;
    }
    // A client's retry of an acknowledged redemption gets its first answer.
    let (c1, k1) = s.vouchers[1].clone();
    let replay = until_answered(c1, k1, "o-1".into()).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.json::<serde_json::Value>().await.unwrap()["id"], first[0].as_str());

    let told: HashSet<String> = first.into_iter().collect();
    assert_eq!(assert_invariants(&s, campaign, &told).await, 10);
    // And Redis agrees again once the campaign was reloaded from the database.
    assert_eq!(hlen_on(&cluster, replica, &red), 10);
}
