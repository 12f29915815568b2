//! Several instances: `POST /v1/redemptions` spread round-robin over release-binary processes.
//!
//! ```sh
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench instances
//! ```
//!
//! Two configurations in one run, each on a fresh PostgreSQL database (random name, dropped at
//! the end) with `BENCH_CAMPAIGNS` campaigns whose vouchers are all redeemed once:
//! 1. one instance on one Redis (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379`);
//! 2. three instances on a Redis Cluster (`BENCH_CLUSTER_URL`, or one of 3 primaries and 3
//!    replicas that the benchmark starts with `.ci/redis-cluster.sh` on ports 7101–7106).
//!
//! Each configuration: `BENCH_WARMUP` redemptions (not measured), then `BENCH_N`, with
//! `BENCH_CONCURRENCY` requests in flight over keep-alive connections (reqwest), every request a
//! fresh voucher; checked afterwards: every answer 201 and the database holds exactly that many
//! live redemptions. Processes, PostgreSQL, Redis and the load generator share the machine.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context};
use diesel::{connection::SimpleConnection, Connection, PgConnection};
use futures_util::{stream, StreamExt};
use rand::{distr::Alphanumeric, Rng};
use serde_json::{json, Value};

fn env_num(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().with_context(|| format!("{name} is a number")),
        Err(_) => Ok(default),
    }
}

/// A fresh database, dropped when this is dropped.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create(admin: &str) -> anyhow::Result<Database> {
        let suffix: String = rand::rng().sample_iter(&Alphanumeric).take(10).map(char::from).collect();
        let name = format!("vs_bench_fleet_{}", suffix.to_lowercase());
        PgConnection::establish(admin)?.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&format!("/{name}"));
        Ok(Database { admin: admin.to_owned(), name, url: url.to_string() })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.admin) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// `vouchsafe serve` processes, killed when dropped.
struct Fleet(Vec<(Child, String)>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn vouchsafe(db: &str, redis: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vouchsafe"));
    cmd.env_clear().env("DATABASE_URL", db).env("REDIS_URL", redis).env("VOUCHSAFE_LOG", "warn");
    cmd
}

fn start_fleet(db: &str, redis: &str, n: usize) -> anyhow::Result<Fleet> {
    use std::io::BufRead;
    let mut fleet = Fleet(Vec::new());
    for _ in 0..n {
        let mut child = vouchsafe(db, redis)
            .env("VOUCHSAFE_BIND", "127.0.0.1:0")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let mut err = std::io::BufReader::new(child.stderr.take().context("stderr")?);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            ensure!(err.read_line(&mut line)? > 0, "an instance exited before listening");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().context("address")?.to_owned();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        fleet.0.push((child, format!("http://{addr}")));
    }
    Ok(fleet)
}

struct Outcome {
    rate: f64,
    p50: f64,
    p99: f64,
}

async fn run_config(admin: &str, redis: &str, instances: usize, cfg: &Cfg) -> anyhow::Result<Outcome> {
    let db = Database::create(admin)?;
    let out = vouchsafe(&db.url, redis).arg("migrate").output()?;
    ensure!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    let out = vouchsafe(&db.url, redis)
        .args(["keys", "create", "--name", "bench", "--scopes", "admin"])
        .output()?;
    ensure!(out.status.success(), "keys create failed");
    let key = String::from_utf8(out.stdout)?.trim().to_owned();
    let fleet = start_fleet(&db.url, redis, instances)?;
    let http = reqwest::Client::new();
    let first = fleet.0[0].1.clone();
    let per_campaign = (cfg.n + cfg.warmup).div_ceil(cfg.campaigns);

    // Customers, campaigns and their vouchers, through the first instance.
    let mut ndjson = String::new();
    for i in 0..per_campaign {
        ndjson += &json!({"id": format!("b-{i:06}"), "consent": {"purpose": "personalized_offers",
            "granted": true, "source": "bench", "policy_version": "1"}})
        .to_string();
        ndjson.push('\n');
    }
    let r = http
        .post(format!("{first}/v1/customers/import"))
        .bearer_auth(&key)
        .header("Content-Type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await?;
    ensure!(r.status() == 200, "import: {}", r.status());
    let mut vouchers = Vec::new();
    for c in 0..cfg.campaigns {
        let campaign: Value = http
            .post(format!("{first}/v1/campaigns"))
            .bearer_auth(&key)
            .json(
                &json!({"name": format!("bench {c}"), "currency": "EUR", "segment": {"kind": "all_consented"},
                "discount": {"type": "amount", "amount": 100}, "expires_at": "2099-01-01T00:00:00Z",
                "code": {"prefix": "BF"}}),
            )
            .send()
            .await?
            .json()
            .await?;
        let id = campaign["id"].as_str().context("campaign id")?.to_owned();
        let job: Value = http
            .post(format!("{first}/v1/campaigns/{id}/generations"))
            .bearer_auth(&key)
            .send()
            .await?
            .json()
            .await?;
        let job = job["id"].as_str().context("job id")?.to_owned();
        loop {
            let j: Value = http
                .get(format!("{first}/v1/generations/{job}"))
                .bearer_auth(&key)
                .send()
                .await?
                .json()
                .await?;
            if j["status"] == "done" {
                break;
            }
            ensure!(j["status"] != "failed", "generation failed: {j}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = http
            .get(format!("{first}/v1/campaigns/{id}/vouchers?format=ndjson"))
            .bearer_auth(&key)
            .send()
            .await?
            .text()
            .await?;
        for line in text.lines() {
            let v: Value = serde_json::from_str(line)?;
            vouchers.push((
                v["customer_id"].as_str().unwrap_or_default().to_owned(),
                v["code"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    // Interleave the campaigns, so every moment spreads over all of them.
    let mut order: Vec<usize> = (0..vouchers.len()).collect();
    order.sort_by_key(|i| (i % per_campaign, i / per_campaign));
    let vouchers: Vec<(String, String)> =
        order.into_iter().map(|i| vouchers[i].clone()).take(cfg.n + cfg.warmup).collect();
    ensure!(
        vouchers.len() == cfg.n + cfg.warmup,
        "{} vouchers, expected {}",
        vouchers.len(),
        cfg.n + cfg.warmup
    );
    let checkout: Value = http
        .post(format!("{first}/v1/keys"))
        .bearer_auth(&key)
        .json(&json!({"name": "checkout", "scopes": ["checkout"]}))
        .send()
        .await?
        .json()
        .await?;
    let checkout = checkout["secret"].as_str().context("checkout key")?.to_owned();
    let addresses: Vec<String> = fleet.0.iter().map(|(_, a)| a.clone()).collect();

    let redeem = |i: usize| {
        let (http, checkout) = (http.clone(), checkout.clone());
        let (customer, code) = vouchers[i].clone();
        let address = addresses[i % addresses.len()].clone();
        async move {
            let started = Instant::now();
            let body = json!({"code": code, "customer_id": customer, "order": {"id": format!("o-{i}"), "amount": 12000, "currency": "EUR"}});
            let status = match http
                .post(format!("{address}/v1/redemptions"))
                .bearer_auth(&checkout)
                .json(&body)
                .send()
                .await
            {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    s
                }
                Err(_) => 0,
            };
            (status, started.elapsed())
        }
    };
    let warm: Vec<(u16, Duration)> =
        stream::iter(0..cfg.warmup).map(redeem).buffer_unordered(cfg.concurrency).collect().await;
    let started = Instant::now();
    let measured: Vec<(u16, Duration)> = stream::iter(cfg.warmup..cfg.warmup + cfg.n)
        .map(redeem)
        .buffer_unordered(cfg.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let bad = warm.iter().chain(&measured).filter(|(s, _)| *s != 201).count();
    ensure!(bad == 0, "{bad} answers were not 201");

    let mut conn = PgConnection::establish(&db.url)?;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let live: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT count(*) AS n FROM redemptions WHERE rolled_back_at IS NULL"),
        &mut conn,
    )?;
    ensure!(live.n as usize == cfg.n + cfg.warmup, "the database holds {} redemptions", live.n);
    drop(fleet);

    let mut lat: Vec<Duration> = measured.into_iter().map(|(_, d)| d).collect();
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    Ok(Outcome { rate: cfg.n as f64 / elapsed.as_secs_f64(), p50: pct(0.5), p99: pct(0.99) })
}

struct Cfg {
    n: usize,
    warmup: usize,
    concurrency: usize,
    campaigns: usize,
}

/// A cluster this benchmark started (stopped when dropped).
struct OwnCluster(std::path::PathBuf);

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(".ci/redis-cluster.sh").arg("stop").arg(&self.0).status();
    }
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let admin =
        std::env::var("BENCH_DATABASE_URL").context("set BENCH_DATABASE_URL to a PostgreSQL admin URL")?;
    let redis = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cfg = Cfg {
        n: env_num("BENCH_N", 3000)?,
        warmup: env_num("BENCH_WARMUP", 300)?,
        concurrency: env_num("BENCH_CONCURRENCY", 32)?,
        campaigns: env_num("BENCH_CAMPAIGNS", 6)?,
    };
    let (cluster, _own) = match std::env::var("BENCH_CLUSTER_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("vs-bench-cluster-{}", std::process::id()));
            let out = Command::new("bash")
                .arg(".ci/redis-cluster.sh")
                .arg("start")
                .arg(&dir)
                .arg("7101")
                .output()?;
            let own = OwnCluster(dir);
            ensure!(out.status.success(), "cluster start failed: {}", String::from_utf8_lossy(&out.stderr));
            (String::from_utf8(out.stdout)?.trim().to_owned(), Some(own))
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "{} redemptions after {} warm-up, {} in flight, {} campaigns, {cores} cores shared by everything",
        cfg.n, cfg.warmup, cfg.concurrency, cfg.campaigns
    );
    println!("| configuration | req/s | p50 | p99 |\n|---|---|---|---|");
    for (label, url, instances) in
        [("1 instance, one Redis", &redis, 1), ("3 instances, Redis Cluster (3+3)", &cluster, 3)]
    {
        let o = rt.block_on(run_config(&admin, url, instances, &cfg))?;
        println!("| {label} | {:.0} | {:.2} ms | {:.2} ms |", o.rate, o.p50, o.p99);
    }
    Ok(())
}
