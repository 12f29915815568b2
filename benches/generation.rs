//! Import and voucher-generation throughput on a real database, end to end through the library.
//!
//! What one run measures, on a fresh database of its own:
//!
//! 1. **import**: `BENCH_N` customers (each with a birthday, a loyalty tier and a granted
//!    `personalized_offers` consent) through [`customers::import_batch`] in batches of 1,000,
//!    one batch after the other, exactly as `vouchsafe import` and `POST /v1/customers:import`
//!    do. Reported as customers/s.
//! 2. **baseline**: the storage ceiling. `BENCH_N` voucher rows of a second campaign with
//!    precomputed dummy codes of the real length, one per customer in customer-id order with
//!    ascending serials (the rows and the order generation writes), stored with
//!    [`vouchers::insert_batch`] in the generator's chunking (5,000 rows per transaction through
//!    [`Conn::transaction`]), with no segment query, no serial allocation, no signing and no
//!    job bookkeeping. Only the transactions are timed. The rows are then removed (`TRUNCATE` /
//!    `DELETE`) so that generation starts from the same empty `vouchers` table.
//! 3. **generation**: a campaign over `AllConsented` (two variants 50/50, prefix `BENCH`), a
//!    job queued with [`Generator::enqueue`] and run in the foreground with [`Generator::run`],
//!    as `vouchsafe generate` does. Timed from enqueue to the job's end and reported as
//!    vouchers persisted per second; then the campaign must hold exactly `BENCH_N` vouchers and
//!    the job must report `BENCH_N` issued, or the run fails. The ratio generation/baseline
//!    says how much of the storage ceiling generation reaches.
//! 4. **peak RSS** of the generation phase: the high-water mark (`VmHWM`) is reset through
//!    `/proc/self/clear_refs` just before generation and read right after it, so it is not
//!    inflated by the import or the baseline; it is printed with the RSS generation started
//!    from and the growth over it. Customer ids are derived from their index on the fly, and
//!    during generation the benchmark holds nothing per customer: a peak that grows with
//!    `BENCH_N` is the library's. (On SQLite, each pooled connection also keeps a page cache of
//!    up to 2 MiB, SQLite's default, so the peak there depends a little on how many of the
//!    pool's 8 connections were opened.)
//!
//! It ends with one machine-readable line:
//! `backend=postgres n=… import_per_s=… generate_per_s=… baseline_insert_per_s=… ratio=… peak_rss_mib=… gen_rss_growth_mib=…`
//!
//! # Running it
//!
//! `cargo bench` builds it in release. Environment:
//! * `BENCH_DATABASE_URL`: a PostgreSQL admin URL (`postgres://…/postgres`); the benchmark
//!   creates a database with a random name there and drops it at the end, error or not.
//!   Unset: a SQLite file in a temporary directory.
//! * `BENCH_N`: how many customers (and so vouchers); default 100,000.
//!
//! ```text
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_N=100000 cargo bench --bench generation
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres BENCH_N=1000000 cargo bench --bench generation
//! BENCH_N=100000 cargo bench --bench generation
//! BENCH_N=1000000 cargo bench --bench generation
//! ```
//!
//! Run each size in its own process (as above) so the peak RSS of each is its own.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::Utc;
use diesel::{connection::SimpleConnection, sql_types::Text, QueryableByName, RunQueryDsl};
use vouchsafe::{
    app,
    config::{DatabaseUrl, Settings},
    domain::{
        campaign::{Budget, Discount, Variant},
        customer::{Birthday, OFFERS_PURPOSE},
        money::Money,
        segment::Segment,
    },
    service::generation::{Generator, BATCH},
    signing::Signing,
    store::{
        campaigns::{self, Campaign, NewCampaign},
        customers::{self, ImportRecord, NewConsent, ProfilePatch},
        jobs, vouchers, AnyConnection, Db,
    },
    testkit::TestDb,
};

/// Customers per import transaction, as the CLI and HTTP import use.
const IMPORT_BATCH: usize = 1_000;
const DEFAULT_N: usize = 100_000;
const TIERS: [&str; 4] = ["bronze", "silver", "gold", "platinum"];
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// splitmix64: a bijection on u64, so distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Customer `i`'s id: a UUID-shaped string (36 characters, as CRMs hand out), in random order
/// with respect to `i` and unique because its last group is `i` itself.
fn customer_id(i: usize) -> String {
    let (a, b, c, d) = id_fields(i);
    format!("{a:08x}-{b:04x}-4{c:03x}-{d:04x}-{:012x}", i as u64 & 0xffff_ffff_ffff)
}

/// The numeric fields of [`customer_id`] before its last group (fixed-width lower-case hex, so
/// ids compare as these numbers do, then as `i`).
fn id_fields(i: usize) -> (u64, u64, u64, u64) {
    let h = mix(i as u64);
    (h >> 32, (h >> 16) & 0xffff, h & 0xfff, 0x8000 | (mix(h) & 0x3fff))
}

/// Customer indices `0..n` in the order of their ids: the order generation walks them in.
fn in_id_order(n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by_key(|&i| (id_fields(i as usize), i));
    order
}

fn import_record(i: usize) -> ImportRecord {
    let h = mix(!(i as u64));
    let birthday = Birthday::new(1 + (h % 12) as u32, 1 + ((h >> 8) % 28) as u32).expect("days 1-28 exist");
    ImportRecord {
        id: customer_id(i),
        profile: ProfilePatch {
            birthday: Some(Some(birthday)),
            loyalty_tier: Some(Some(TIERS[((h >> 16) % 4) as usize].to_owned())),
        },
        consent: Some(NewConsent {
            purpose: OFFERS_PURPOSE.to_owned(),
            granted: true,
            source: "bench".to_owned(),
            policy_version: "2026-01".to_owned(),
        }),
    }
}

/// A code-shaped string as long as a real one (`BENCH-XXXX-…`, 24 body characters), unsigned.
fn dummy_code(prefix: &str, i: usize) -> String {
    let bits = (u128::from(mix(i as u64)) << 64) | i as u128;
    let mut out = String::with_capacity(prefix.len() + 30);
    out.push_str(prefix);
    for k in 0..24 {
        if k % 4 == 0 {
            out.push('-');
        }
        out.push(CROCKFORD[((bits >> (5 * (23 - k))) & 31) as usize] as char);
    }
    out
}

fn new_campaign(name: &str) -> NewCampaign {
    let now = Utc::now().naive_utc();
    NewCampaign {
        name: name.to_owned(),
        currency: "EUR".to_owned(),
        segment: Segment::AllConsented,
        discount: Discount::Percent { percent: 10, max_amount: None },
        min_order: 0,
        budget: Budget::default(),
        starts_at: now - chrono::Duration::hours(1),
        expires_at: now + chrono::Duration::days(3650),
        prefix: "BENCH".to_owned(),
        analysis: Default::default(),
        variants: vec![
            Variant { name: "control".to_owned(), weight: 50, discount: None },
            Variant {
                name: "five_off".to_owned(),
                weight: 50,
                discount: Some(Discount::Amount { amount: Money::new(500).unwrap() }),
            },
        ],
    }
}

/// A `/proc/self/status` field in kB (Linux only).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The resident set split as the kernel accounts it: anonymous (heap), file-backed (code,
/// mapped files), shared memory (e.g. SQLite's WAL index).
fn rss_parts() -> String {
    let part = |f| proc_status_kb(f).map_or("?".to_owned(), |kb| format!("{:.1}", mib(kb)));
    format!("anon {} + file {} + shmem {} MiB", part("RssAnon"), part("RssFile"), part("RssShmem"))
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn per_s(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[derive(QueryableByName)]
struct ServerVersion {
    #[diesel(sql_type = Text)]
    server_version: String,
}

async fn server_version(db: &Db) -> anyhow::Result<String> {
    Ok(db
        .run(|c| match c.any() {
            AnyConnection::Pg(pg) => {
                Ok(diesel::sql_query("SHOW server_version").get_result::<ServerVersion>(pg)?.server_version)
            }
            AnyConnection::Sqlite(_) => Ok(format!("SQLite {}", sqlite_version())),
        })
        .await?)
}

fn sqlite_version() -> String {
    // SAFETY: sqlite3_libversion returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libsqlite3_sys::sqlite3_libversion()) }.to_string_lossy().into_owned()
}

/// Imports customers `0..n` in batches of [`IMPORT_BATCH`], one transaction each.
async fn import(db: &Db, n: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let every = (n / 10).max(IMPORT_BATCH);
    let mut next_report = every;
    for start in (0..n).step_by(IMPORT_BATCH) {
        let end = (start + IMPORT_BATCH).min(n);
        let batch: Vec<ImportRecord> = (start..end).map(import_record).collect();
        let voided = db.run(move |c| customers::import_batch(c, &batch)).await?;
        ensure!(voided.is_empty(), "a consent-granting import voided {} vouchers", voided.len());
        if end >= next_report && end < n {
            eprintln!("  imported {end} / {n} ({:.0}/s)", per_s(end, started.elapsed()));
            next_report += every;
        }
    }
    Ok(started.elapsed())
}

/// Writes `n` voucher rows of `campaign`, one per customer in id order with ascending serials
/// (the rows and the order generation produces), in transactions of [`BATCH`] rows through
/// `insert_batch`; returns the time spent in those transactions only.
async fn baseline(db: &Db, campaign: &Campaign, key_id: i32, n: usize) -> anyhow::Result<Duration> {
    let (campaign_id, prefix) = (campaign.id, campaign.prefix.clone());
    let order = in_id_order(n);
    Ok(db
        .run(move |conn| {
            let mut spent = Duration::ZERO;
            for (b, chunk) in order.chunks(BATCH as usize).enumerate() {
                let issued_at = Utc::now().naive_utc();
                let rows: Vec<vouchers::NewVoucher> = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| vouchers::NewVoucher {
                        campaign_id,
                        serial: (b * BATCH as usize + k) as i64,
                        customer_id: Some(customer_id(i as usize)),
                        variant: (i % 2) as i32,
                        key_id,
                        code: Some(dummy_code(&prefix, i as usize)),
                        status: vouchsafe::domain::voucher::VoucherStatus::Issued,
                        issued_at,
                    })
                    .collect();
                assert!(rows.windows(2).all(|w| w[0].customer_id < w[1].customer_id), "ids out of order");
                let t = Instant::now();
                let inserted = conn.transaction(|c| vouchers::insert_batch(c, &rows))?;
                spent += t.elapsed();
                if inserted != rows.len() {
                    return Err(vouchsafe::store::StoreError::Conflict(format!(
                        "baseline inserted {inserted} of {} rows",
                        rows.len()
                    )));
                }
            }
            Ok(spent)
        })
        .await?)
}

/// Empties the vouchers table so generation starts from the state the baseline had. SQLite:
/// 5,000 rows per transaction, as one `DELETE` of a million rows would leave its page cache
/// tens of MiB larger and inflate the RSS measured next.
async fn clear_vouchers(db: &Db) -> anyhow::Result<()> {
    db.run(|c| {
        match c.any() {
            AnyConnection::Pg(pg) => pg.batch_execute("TRUNCATE vouchers")?,
            AnyConnection::Sqlite(sq) => {
                let chunk = "DELETE FROM vouchers WHERE rowid IN (SELECT rowid FROM vouchers LIMIT 5000)";
                while diesel::sql_query(chunk).execute(sq)? > 0 {}
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

struct Report {
    backend: &'static str,
    n: usize,
    import: Duration,
    generate: Duration,
    baseline: Duration,
    peak_rss_kb: Option<u64>,
    start_rss_kb: Option<u64>,
}

async fn bench(url: DatabaseUrl, n: usize) -> anyhow::Result<Report> {
    let settings = Settings::for_database(url);
    let db = app::open_store(&settings)?;
    app::migrate(&db, &settings).await?;
    println!("database: {} ({})", settings.database_url, server_version(&db).await?);

    eprintln!("importing {n} customers in batches of {IMPORT_BATCH}…");
    let import_time = import(&db, n).await?;
    println!(
        "import: {n} customers in {:.2} s = {:.0} customers/s",
        import_time.as_secs_f64(),
        per_s(n, import_time)
    );

    println!("RSS after import: {}", rss_parts());
    let campaign = db.run(|c| campaigns::create(c, &new_campaign("bench generation"))).await?;
    let ceiling = db.run(|c| campaigns::create(c, &new_campaign("bench baseline"))).await?;
    let signing = Signing::load(db.clone(), settings.master_key.clone()).await?;
    let key_id = i32::from(signing.keyring().current().context("no signing key after migrate")?.id());

    eprintln!("baseline: inserting {n} precomputed vouchers, {BATCH} per transaction…");
    let baseline_time = baseline(&db, &ceiling, key_id, n).await?;
    println!(
        "baseline insert: {n} rows in {:.2} s = {:.0} rows/s",
        baseline_time.as_secs_f64(),
        per_s(n, baseline_time)
    );
    clear_vouchers(&db).await?;

    // Resets VmHWM to the current RSS, so the peak read below is the generation phase's.
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = proc_status_kb("VmRSS");
    let parts_before = rss_parts();
    eprintln!("generating vouchers for campaign {} ({BATCH} customers per batch)…", campaign.id);
    let generator = Generator::new(db.clone(), signing);
    let started = Instant::now();
    let job = generator.enqueue(campaign.id).await?;
    let claimed = generator.run(&job.id).await.context("generation job failed")?;
    let generate_time = started.elapsed();
    let peak_rss_kb = proc_status_kb("VmHWM");
    let parts_after = rss_parts();
    ensure!(claimed, "the generation job was claimed by another worker");

    let (campaign_id, job_id) = (campaign.id, job.id.clone());
    let (count, job) =
        db.run(move |c| Ok((vouchers::count_issued(c, campaign_id)?, jobs::get(c, &job_id)?))).await?;
    let job = job.context("the generation job disappeared")?;
    if count != n as i64 || job.issued != n as i64 || job.status != "done" {
        bail!(
            "generation is wrong: campaign {campaign_id} has {count} vouchers, job {} says {} issued \
             with status {}, expected {n} and done",
            job.id,
            job.issued,
            job.status
        );
    }
    println!(
        "generation: {n} vouchers in {:.2} s = {:.0} vouchers/s (verified: {count} rows, job done)",
        generate_time.as_secs_f64(),
        per_s(n, generate_time)
    );
    match (peak_rss_kb, rss_before) {
        (Some(peak), Some(before)) => {
            println!(
                "peak RSS during generation: {:.1} MiB, {:+.1} MiB over the RSS it started from ({:.1} MiB){}",
                mib(peak),
                mib(peak.saturating_sub(before)),
                mib(before),
                if hwm_reset { "" } else { "; VmHWM could not be reset, so the peak covers the whole run" }
            );
            println!("RSS before generation: {parts_before}; after: {parts_after}");
        }
        _ => println!("peak RSS: unavailable (no /proc/self/status)"),
    }
    Ok(Report {
        backend: db.backend(),
        n,
        import: import_time,
        generate: generate_time,
        baseline: baseline_time,
        peak_rss_kb,
        start_rss_kb: rss_before,
    })
}

fn main() -> anyhow::Result<()> {
    let n = match std::env::var("BENCH_N") {
        Ok(v) => v.trim().replace('_', "").parse::<usize>().context("BENCH_N must be a whole number")?,
        Err(_) => DEFAULT_N,
    };
    ensure!(n > 0, "BENCH_N must be at least 1");
    let admin = std::env::var("BENCH_DATABASE_URL").ok().filter(|v| !v.trim().is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let bench_db = TestDb::create(admin.as_deref(), "vs_bench_")?;
    // The pool lives inside `bench`, so it is closed before `bench_db` drops the database.
    let result = rt.block_on(bench(bench_db.url.clone(), n));
    drop(rt);
    drop(bench_db);
    let r = result?;
    let (import, generate, ceiling) = (per_s(r.n, r.import), per_s(r.n, r.generate), per_s(r.n, r.baseline));
    let peak = r.peak_rss_kb.map_or("na".to_owned(), |kb| format!("{:.1}", mib(kb)));
    let growth = match (r.peak_rss_kb, r.start_rss_kb) {
        (Some(peak), Some(start)) => format!("{:.1}", mib(peak.saturating_sub(start))),
        _ => "na".to_owned(),
    };
    println!(
        "backend={} n={} import_per_s={import:.0} generate_per_s={generate:.0} baseline_insert_per_s={ceiling:.0} \
         ratio={:.3} peak_rss_mib={peak} gen_rss_growth_mib={growth}",
        r.backend,
        r.n,
        generate / ceiling,
    );
    Ok(())
}
