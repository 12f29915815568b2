//! How long the marketer's report takes on a large campaign.
//!
//! Builds a campaign with `BENCH_VOUCHERS` vouchers (default 1,000,000) over two variants and
//! `BENCH_REDEMPTIONS` live redemptions (default 200,000) spread over 30 days, then times the
//! whole report (`reporting::report`: three grouped queries and the statistics) 20 times.
//! Baseline measured in the same run: one bare `COUNT(*)` of the campaign's vouchers, the least
//! any report must read.
//!
//! ```text
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench report
//! cargo bench --bench report        # SQLite in a temp dir
//! ```

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::{connection::SimpleConnection, prelude::*, sql_query, sql_types::BigInt};
use vouchsafe::{
    app,
    config::Settings,
    domain::{
        campaign::{Budget, Discount, Variant},
        money::Money,
        segment::Segment,
        voucher::VoucherStatus,
    },
    per_backend,
    service::reporting,
    store::{
        campaigns::{self, NewCampaign},
        redemptions::Redemption,
        schema::redemptions,
        vouchers::{self, NewVoucher},
        AnyConnection, Db,
    },
    testkit::TestDb,
};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n_vouchers = env_num("BENCH_VOUCHERS", 1_000_000);
    let n_redemptions = env_num("BENCH_REDEMPTIONS", 200_000).min(n_vouchers);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let scratch = TestDb::from_env("BENCH_DATABASE_URL", "vs_bench_report_").unwrap();
    let db = Db::connect(&scratch.url, 4).unwrap();
    rt.block_on(app::migrate(&db, &Settings::for_database(scratch.url.clone()))).unwrap();
    let now = Utc::now();
    let new = NewCampaign {
        name: "report bench".into(),
        currency: "EUR".into(),
        segment: Segment::AllConsented,
        discount: Discount::Percent { percent: 20, max_amount: Some(Money::new(3000).unwrap()) },
        min_order: 0,
        budget: Budget { max_amount: Some(Money::MAX), max_redemptions: None },
        starts_at: (now - chrono::Duration::days(30)).naive_utc(),
        expires_at: (now + chrono::Duration::days(30)).naive_utc(),
        prefix: "BENCH".into(),
        analysis: Default::default(),
        variants: vec![
            Variant { name: "control".into(), weight: 1, discount: None },
            Variant {
                name: "b".into(),
                weight: 1,
                discount: Some(Discount::Amount { amount: Money::new(1000).unwrap() }),
            },
        ],
    };
    let mut conn = db.get().unwrap();
    let campaign = campaigns::create(&mut conn, &new).unwrap();
    let id = campaign.id;

    let started = Instant::now();
    let issued_at = now.naive_utc();
    for chunk_start in (0..n_vouchers).step_by(20_000) {
        let rows: Vec<NewVoucher> = (chunk_start..(chunk_start + 20_000).min(n_vouchers))
            .map(|i| NewVoucher {
                campaign_id: id,
                serial: i as i64,
                customer_id: Some(format!("c{i:07}")),
                variant: (i % 2) as i32,
                key_id: 1,
                code: Some(format!("BENCH-{i:024}")),
                status: if i < n_redemptions { VoucherStatus::Redeemed } else { VoucherStatus::Issued },
                issued_at,
            })
            .collect();
        conn.transaction(|c| vouchers::insert_batch(c, &rows)).unwrap();
    }
    for chunk_start in (0..n_redemptions).step_by(5_000) {
        let rows: Vec<Redemption> = (chunk_start..(chunk_start + 5_000).min(n_redemptions))
            .map(|i| Redemption {
                id: format!("rdm_bench_{i}"),
                campaign_id: id,
                serial: i as i64,
                customer_id: Some(format!("c{i:07}")),
                code: None,
                order_id: format!("o{i}"),
                order_amount: 5000 + (i as i64 % 10_000),
                currency: "EUR".into(),
                discount: if i % 2 == 0 { 1000 + (i as i64 % 2000) } else { 1000 },
                variant: (i % 2) as i32,
                api_key_id: "bench".into(),
                idem_key: None,
                request_hash: String::new(),
                redeemed_at: (now - chrono::Duration::minutes((i % (30 * 24 * 60)) as i64)).naive_utc(),
                rolled_back_at: None,
                rollback_reason: None,
            })
            .collect();
        conn.transaction(|c| {
            for part in rows.chunks(1000) {
                per_backend!(c, |c| diesel::insert_into(redemptions::table).values(part).execute(c))?;
            }
            Ok(())
        })
        .unwrap();
    }
    if let AnyConnection::Pg(c) = conn.any() {
        // What autovacuum does to freshly loaded tables in production (visibility map,
        // statistics), so counts can use index-only scans.
        c.batch_execute("VACUUM ANALYZE vouchers").unwrap();
        c.batch_execute("VACUUM ANALYZE redemptions").unwrap();
    }
    println!(
        "backend={} vouchers={n_vouchers} redemptions={n_redemptions} setup={:.1}s",
        db.backend(),
        started.elapsed().as_secs_f64()
    );

    // Warm up, then time.
    let _ = rt.block_on(reporting::report(&db, id)).unwrap();
    let mut report_times = Vec::new();
    let mut count_times = Vec::new();
    let count_sql = format!("SELECT COUNT(*) AS n FROM vouchers WHERE campaign_id = {id}");
    for _ in 0..20 {
        let t = Instant::now();
        let report = rt.block_on(reporting::report(&db, id)).unwrap().unwrap();
        report_times.push(t.elapsed());
        assert_eq!(report.budget.redemptions as usize, n_redemptions);
        let t = Instant::now();
        let n = per_backend!(&mut conn, |c| sql_query(&count_sql).get_result::<Count>(c)).unwrap().n;
        count_times.push(t.elapsed());
        assert_eq!(n as usize, n_vouchers);
    }
    report_times.sort();
    count_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (r50, r_max) = (percentile(&report_times, 0.5), *report_times.last().unwrap());
    let (c50, c_max) = (percentile(&count_times, 0.5), *count_times.last().unwrap());
    println!("report:   p50 {:7.1} ms   max {:7.1} ms", ms(r50), ms(r_max));
    println!(
        "baseline: p50 {:7.1} ms   max {:7.1} ms   (bare COUNT(*) of the campaign's vouchers)",
        ms(c50),
        ms(c_max)
    );
    println!(
        "summary backend={} vouchers={n_vouchers} redemptions={n_redemptions} report_p50_ms={:.1} report_max_ms={:.1} count_p50_ms={:.1} ratio={:.2}",
        db.backend(),
        ms(r50),
        ms(r_max),
        ms(c50),
        ms(r50) / ms(c50).max(1e-9)
    );
}
