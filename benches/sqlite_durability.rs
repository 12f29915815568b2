//! What `PRAGMA synchronous = FULL` (the embedded default since issue #10) costs the SQL ledger
//! on SQLite, against `NORMAL` (the former default, which under WAL may lose the last
//! acknowledged redemptions on power loss), measured in the same run.
//!
//! ```sh
//! cargo bench --bench sqlite_durability            # BENCH_N=4000 BENCH_THREADS=1,8
//! ```
//!
//! For each thread count and mode: a fresh SQLite file (temp dir), migrated, one campaign
//! without budget limits and `BENCH_N` issued vouchers; then `BENCH_THREADS` threads, each on
//! its own pooled connection (the pool sets FULL; `NORMAL` runs override it on that
//! connection), commit their share of redemptions through `store::redemptions::commit` (the
//! SQL ledger's transaction: campaign row, voucher, redemption), one transaction each; and
//! the same number of concurrent callers of `SqlLedger::redeem` as it runs (FULL, its one
//! committer writing whatever is waiting in one transaction). Checked afterwards: exactly
//! `BENCH_N` live redemptions and the campaign's counter says the same.

use std::time::Instant;

use anyhow::{ensure, Context};
use chrono::Utc;
use diesel::connection::SimpleConnection;
use vouchsafe::{
    domain::{
        campaign::{Budget, Discount, Variant},
        money::Money,
        segment::Segment,
    },
    ledger::{sql::SqlLedger, Ledger},
    store::{
        campaigns::{self, NewCampaign},
        redemptions::{self, Redemption},
        vouchers::{self, NewVoucher},
        AnyConnection,
    },
    testkit::TestDb,
};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// How one run commits.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// One transaction per redemption, with this `synchronous` setting.
    Each(&'static str),
    /// The SQL ledger as it runs (FULL, its committer batching what is waiting).
    Ledger,
}

fn redemption(campaign: i32, serial: i64) -> Redemption {
    Redemption {
        id: redemptions::new_id(),
        campaign_id: campaign,
        serial,
        customer_id: Some(format!("c-{serial}")),
        code: None,
        order_id: format!("o-{serial}"),
        order_amount: 10_000,
        currency: "EUR".into(),
        discount: 100,
        variant: 0,
        api_key_id: "bench".into(),
        idem_key: None,
        request_hash: String::new(),
        redeemed_at: Utc::now().naive_utc(),
        rolled_back_at: None,
        rollback_reason: None,
    }
}

/// Redemptions per second of one (threads, mode) run.
fn run(n: i64, threads: i64, mode: Mode) -> anyhow::Result<f64> {
    let bench_db = TestDb::create(None, "")?;
    let db = bench_db.connect(8)?;
    let mut conn = db.get()?;
    let now = Utc::now().naive_utc();
    let campaign = campaigns::create(
        &mut conn,
        &NewCampaign {
            name: "durability".into(),
            currency: "EUR".into(),
            segment: Segment::AllConsented,
            discount: Discount::Amount { amount: Money::new(100)? },
            min_order: 0,
            budget: Budget::default(),
            starts_at: now - chrono::Duration::days(1),
            expires_at: now + chrono::Duration::days(30),
            prefix: "DUR".into(),
            analysis: Default::default(),
            variants: vec![Variant { name: "default".into(), weight: 1, discount: None }],
        },
    )?;
    let rows: Vec<NewVoucher> = (0..n)
        .map(|serial| NewVoucher {
            campaign_id: campaign.id,
            serial,
            customer_id: Some(format!("c-{serial}")),
            variant: 0,
            key_id: 1,
            code: None,
            status: vouchsafe::domain::voucher::VoucherStatus::Issued,
            issued_at: now,
        })
        .collect();
    vouchers::insert_batch(&mut conn, &rows)?;
    drop(conn);

    let started = Instant::now();
    match mode {
        Mode::Each(sync) => std::thread::scope(|scope| -> anyhow::Result<()> {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let db = db.clone();
                    scope.spawn(move || -> anyhow::Result<()> {
                        let mut conn = db.get()?;
                        if let AnyConnection::Sqlite(c) = conn.any() {
                            c.batch_execute(&format!("PRAGMA synchronous = {sync}"))?;
                        }
                        for serial in (t..n).step_by(threads as usize) {
                            let done =
                                redemptions::commit(&mut conn, &redemption(campaign.id, serial), true)?;
                            ensure!(done.is_ok(), "refused: {done:?}");
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
            }
            Ok(())
        })?,
        Mode::Ledger => {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            let ledger = std::sync::Arc::new(SqlLedger::new(db.clone()));
            rt.block_on(async {
                let tasks: Vec<_> = (0..threads)
                    .map(|t| {
                        let ledger = ledger.clone();
                        tokio::spawn(async move {
                            for serial in (t..n).step_by(threads as usize) {
                                let done = ledger.redeem(redemption(campaign.id, serial)).await?;
                                ensure!(done.is_ok(), "refused: {done:?}");
                            }
                            Ok::<_, anyhow::Error>(())
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await??;
                }
                Ok::<_, anyhow::Error>(())
            })?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut conn = db.get()?;
    let live = redemptions::live_for_reload(&mut conn, campaign.id)?.len() as i64;
    let counted = campaigns::get(&mut conn, campaign.id)?.context("campaign")?.redeemed;
    ensure!(live == n && counted == n, "exactly-once accounting: {live} live, {counted} counted, {n} made");
    Ok(n as f64 / secs)
}

fn main() -> anyhow::Result<()> {
    let n: i64 = env_or("BENCH_N", "4000").parse()?;
    let threads: Vec<i64> =
        env_or("BENCH_THREADS", "1,8").split(',').map(|t| t.trim().parse()).collect::<Result<_, _>>()?;
    println!("SQLite, SQL ledger transaction per redemption, {n} redemptions per run");
    println!("| threads | NORMAL, one tx each (/s) | FULL, one tx each (/s) | FULL, SQL ledger's committer (/s) | FULL each / NORMAL | ledger / NORMAL |");
    println!("|---|---|---|---|---|---|");
    for t in threads {
        let normal = run(n, t, Mode::Each("NORMAL"))?;
        let full = run(n, t, Mode::Each("FULL"))?;
        let ledger = run(n, t, Mode::Ledger)?;
        println!(
            "| {t} | {normal:.0} | {full:.0} | {ledger:.0} | {:.2} | {:.2} |",
            full / normal,
            ledger / normal
        );
    }
    Ok(())
}
