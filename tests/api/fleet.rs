//! Several service processes (the real release binary) on one database and one Redis, and a
//! Redis Cluster of a test's own (started by `.ci/redis-cluster.sh`, on free ports, so that no
//! other test is disturbed when this one kills its nodes).

#![allow(dead_code)]

use std::{
    collections::HashSet,
    io::BufRead,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::checkout::Shop;

/// One `vouchsafe serve` process; killed (SIGKILL) when dropped.
pub struct Instance {
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// `http://127.0.0.1:PORT` of the running process.
    pub address: String,
}

impl Instance {
    /// Starts `vouchsafe serve` on the shop's database and Redis (same key prefix), on a port of
    /// its own; returns once it listens.
    pub fn serve(s: &Shop) -> Instance {
        let mut env = vec![
            ("DATABASE_URL".to_owned(), s.app.db.url_string()),
            ("VOUCHSAFE_LOG".to_owned(), "warn".to_owned()),
        ];
        if let Some(r) = &s.app.redis {
            env.push(("REDIS_URL".into(), r.url.clone()));
            env.push(("VOUCHSAFE_REDIS_PREFIX".into(), r.prefix.clone()));
        }
        let mut instance = Instance { child: None, env, address: String::new() };
        instance.start();
        instance
    }

    fn start(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("VOUCHSAFE_BIND", "127.0.0.1:0")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = cmd.spawn().expect("the release binary starts");
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let started = Instant::now();
        let addr = loop {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "an instance exited before listening");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(60), "an instance did not start");
        };
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        self.address = format!("http://{addr}");
        self.child = Some(child);
    }

    /// SIGKILL: no draining, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again (on a new port: the old one may still have connections in TIME_WAIT).
    pub fn restart(&mut self) {
        self.kill9();
        self.start();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The `.ci/redis-cluster.sh` of this checkout.
fn cluster_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/redis-cluster.sh")
}

/// Whether the tools to start a Redis of a test's own are installed. Missing: under CI that is
/// a failure; elsewhere the caller skips, saying so in one loud line.
pub fn redis_server_installed(test: &str) -> bool {
    let found = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok()
        && Command::new("redis-cli").arg("--version").stdout(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{test}: redis-server is not installed");
        eprintln!("SKIPPED {test}: redis-server/redis-cli not installed (CI installs them; this run proves nothing)");
    }
    found
}

/// A Redis Cluster of 3 primaries and 3 replicas of the test's own; stopped when dropped.
pub struct OwnCluster {
    dir: tempfile::TempDir,
    pub base: u16,
    /// `redis+cluster://127.0.0.1:BASE,…`
    pub url: String,
    dead: Mutex<HashSet<u16>>,
}

/// Six consecutive free ports whose cluster bus ports (+10000) are free too.
fn free_base() -> u16 {
    use rand::Rng;
    for _ in 0..200 {
        let base: u16 = rand::rng().random_range(20_000..29_000);
        let free = (0..6)
            .flat_map(|i| [base + i, base + i + 10_000])
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no six free ports for a Redis Cluster")
}

impl OwnCluster {
    /// Starts the cluster and waits until every node says `cluster_state:ok`; `None` when
    /// redis-server is missing outside CI (see [`redis_server_installed`]).
    pub fn start(test: &str) -> Option<OwnCluster> {
        if !redis_server_installed(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let base = free_base();
        let out = Command::new("bash")
            .arg(cluster_script())
            .arg("start")
            .arg(dir.path())
            .arg(base.to_string())
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "the cluster did not start");
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(url.starts_with("redis+cluster://"), "{url}");
        Some(OwnCluster { dir, base, url, dead: Mutex::new(HashSet::new()) })
    }

    pub fn ports(&self) -> Vec<u16> {
        (0..6).map(|i| self.base + i).collect()
    }

    /// `redis-cli -p PORT ARGS…`, its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    }

    /// A node that is alive (not killed by the test).
    fn live_node(&self) -> u16 {
        let dead = self.dead.lock().unwrap();
        self.ports().into_iter().find(|p| !dead.contains(p)).expect("a live node")
    }

    /// The hash slot of a key.
    pub fn slot_of(&self, key: &str) -> u16 {
        self.cli(self.live_node(), &["cluster", "keyslot", key]).trim().parse().expect("a slot")
    }

    /// `CLUSTER NODES` as seen by a live node: (port, is primary, primary's node id, own id,
    /// failed, slot ranges).
    fn nodes(&self) -> Vec<Node> {
        self.cli(self.live_node(), &["cluster", "nodes"])
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.len() < 8 {
                    return None;
                }
                let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
                let slots = f[8..]
                    .iter()
                    .filter(|r| !r.starts_with('['))
                    .filter_map(|r| {
                        let (a, b) = r.split_once('-').unwrap_or((r, r));
                        Some((a.parse().ok()?, b.parse().ok()?))
                    })
                    .collect();
                Some(Node {
                    id: f[0].to_owned(),
                    port,
                    primary: f[2].contains("master"),
                    failed: f[2].contains("fail"),
                    primary_id: f[3].to_owned(),
                    slots,
                })
            })
            .collect()
    }

    /// The port of the primary that serves `slot` now (none while it is failing over).
    pub fn primary_of_slot(&self, slot: u16) -> Option<u16> {
        self.nodes()
            .into_iter()
            .find(|n| n.primary && !n.failed && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
            .map(|n| n.port)
    }

    /// The port of a replica of the primary on `port`.
    pub fn replica_of(&self, port: u16) -> u16 {
        let nodes = self.nodes();
        let primary = nodes.iter().find(|n| n.port == port).expect("the primary is known");
        nodes.iter().find(|n| n.primary_id == primary.id).map(|n| n.port).expect("the primary has a replica")
    }

    /// SIGKILL to the node on `port` (by the pid its pid file holds).
    pub fn kill9(&self, port: u16) {
        let pid = std::fs::read_to_string(self.dir.path().join(port.to_string()).join("redis.pid"))
            .expect("the node's pid file");
        let status = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success());
        self.dead.lock().unwrap().insert(port);
    }

    /// Cuts the replication from the primary on `port` to its replicas, while both keep serving
    /// their clients: the replicas' user is switched off and their links killed, so what the
    /// primary acknowledges from now on is on the primary alone.
    pub fn cut_replication(&self, port: u16) {
        assert_eq!(self.cli(port, &["acl", "setuser", "repl", "off"]).trim(), "OK");
        self.cli(port, &["client", "kill", "user", "repl"]);
    }

    /// Waits until the node on `port` is a primary that serves `slot`; returns how long it took.
    pub fn wait_promoted(&self, port: u16, slot: u16, within: Duration) -> Duration {
        let started = Instant::now();
        while self.primary_of_slot(slot) != Some(port) {
            assert!(started.elapsed() < within, "the replica on {port} was not promoted within {within:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        started.elapsed()
    }
}

struct Node {
    id: String,
    port: u16,
    primary: bool,
    failed: bool,
    primary_id: String,
    slots: Vec<(u16, u16)>,
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(cluster_script()).arg("stop").arg(self.dir.path()).status();
    }
}

/// One redemption request of a run.
#[derive(Clone)]
pub struct Job {
    pub campaign: String,
    pub customer: String,
    pub code: String,
    pub order: String,
}

/// The vouchers of these campaigns, each redeemed twice (two orders), interleaved over the
/// campaigns: the second order must find the voucher taken.
pub async fn two_orders_per_voucher(s: &Shop, campaigns: &[String]) -> Vec<Job> {
    let mut per_campaign = Vec::new();
    for c in campaigns {
        let vouchers = s.app.vouchers(c).await;
        per_campaign.push((c.clone(), vouchers));
    }
    let mut jobs = Vec::new();
    for pass in 0..2 {
        let longest = per_campaign.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        for i in 0..longest {
            for (c, vouchers) in &per_campaign {
                if let Some(v) = vouchers.get(i) {
                    jobs.push(Job {
                        campaign: c.clone(),
                        customer: v["customer_id"].as_str().unwrap().to_owned(),
                        code: v["code"].as_str().unwrap().to_owned(),
                        order: format!("o-{c}-{i}-{pass}"),
                    });
                }
            }
        }
    }
    jobs
}

/// One try of a job: when it started and ended, and its status (`None`: no answer).
#[derive(Clone, Debug)]
pub struct Try {
    pub job: usize,
    pub started: Instant,
    pub ended: Instant,
    pub status: Option<u16>,
    pub redemption: Option<String>,
}

/// Runs the jobs `concurrency` at a time, each on the next of `addresses` (read again for every
/// try, so a test may swap an address while it runs), with the same body again after no answer
/// or a 503 (a client's retry) until a definitive answer; gives up on a job after `patience`.
pub async fn run_jobs(
    addresses: std::sync::Arc<std::sync::RwLock<Vec<String>>>,
    key: String,
    jobs: Vec<Job>,
    concurrency: usize,
    patience: Duration,
    tries: std::sync::Arc<Mutex<Vec<Try>>>,
) {
    use futures_util::{stream, StreamExt};
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    stream::iter(jobs.into_iter().enumerate())
        .for_each_concurrent(concurrency, |(n, job)| {
            let (client, addresses, key, next, tries) =
                (client.clone(), addresses.clone(), key.clone(), next.clone(), tries.clone());
            async move {
                let body = crate::checkout::body(&job.customer, &job.code, &job.order, 10000);
                let first = Instant::now();
                loop {
                    let address = {
                        let all = addresses.read().unwrap();
                        all[next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % all.len()].clone()
                    };
                    let started = Instant::now();
                    let resp = client
                        .post(format!("{address}/v1/redemptions"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await;
                    let (status, redemption) = match resp {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            (Some(status), v["id"].as_str().filter(|_| status < 300).map(str::to_owned))
                        }
                        Err(_) => (None, None),
                    };
                    tries.lock().unwrap().push(Try {
                        job: n,
                        started,
                        ended: Instant::now(),
                        status,
                        redemption,
                    });
                    if !matches!(status, None | Some(503)) || first.elapsed() > patience {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .await;
}

/// The last try of every job.
pub fn answers(jobs: usize, tries: &[Try]) -> Vec<Option<Try>> {
    let mut last = vec![None; jobs];
    for t in tries {
        last[t.job] = Some(t.clone());
    }
    last
}

/// Asserts the ledger invariants from the database for a campaign: no voucher with two live
/// redemptions, within the money and count budget, and every acknowledged (2xx) redemption is
/// live. Returns the live redemptions' count.
pub async fn assert_invariants(s: &Shop, campaign: &str, acknowledged: &HashSet<String>) -> usize {
    use vouchsafe::store::{campaigns, redemptions};
    let id: i32 = campaign.parse().unwrap();
    let db = s.app.state.db.clone();
    let (camp, live) = db
        .run(move |c| Ok((campaigns::get(c, id)?.unwrap(), redemptions::live_for_reload(c, id)?)))
        .await
        .unwrap();
    let serials: HashSet<i64> = live.iter().map(|r| r.serial).collect();
    assert_eq!(serials.len(), live.len(), "campaign {campaign}: a voucher has two live redemptions");
    let spent: i64 = live.iter().map(|r| r.discount).sum();
    if let Some(max) = camp.budget.max_amount {
        assert!(spent <= max.minor(), "campaign {campaign}: {spent} spent over a budget of {}", max.minor());
    }
    if let Some(max) = camp.budget.max_redemptions {
        assert!(live.len() as i64 <= max, "campaign {campaign}: {} redemptions over {max}", live.len());
    }
    let ids: HashSet<&str> = live.iter().map(|r| r.id.as_str()).collect();
    for a in acknowledged {
        assert!(
            ids.contains(a.as_str()),
            "campaign {campaign}: acknowledged redemption {a} is not in the database"
        );
    }
    live.len()
}
