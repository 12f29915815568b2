//! `vouchsafe demo`: a realistic campaign to look at, made through the same code paths a shop
//! uses (import, campaign, generation, redemptions committed by the store's one commit path).
//!
//! Customers all have a birthday in the coming week and consent; a two-variant birthday
//! campaign (20% off vs. a fixed EUR 10) started 20 days ago; simulated checkouts over those
//! 20 days convert at 7% (control) and 9.5% (fixed10), with a few orders cancelled (rolled
//! back). A fixed seed makes every run alike.
//!
//! The demo fills a database of its own, `./vouchsafe-demo.db`, made afresh on every run, so a
//! second run never adds a second campaign over the first one's customers. Given a database
//! (`DATABASE_URL` or `--database-url`), it refuses one that already holds customers or
//! campaigns: their customers would get the demo's vouchers.

use anyhow::Context;
use chrono::{Datelike, Duration, SubsecRound, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{
    app,
    cli::report_table,
    config::{DatabaseUrl, Settings, SqliteTarget},
    domain::{
        access::Scopes,
        campaign::{Analysis, Budget, Discount, Variant},
        customer::{Birthday, OFFERS_PURPOSE},
        money::Money,
        segment::Segment,
    },
    service::{generation::Generator, reporting},
    signing::Signing,
    store::{
        api_keys, campaigns,
        customers::{self, ImportRecord, NewConsent, ProfilePatch},
        redemptions::{self, Redemption},
        segments::{self, SegmentAt},
        vouchers,
    },
};

/// The demo's own database, in the current directory.
pub const DEMO_DATABASE: &str = "vouchsafe-demo.db";

/// `vouchsafe demo`: builds the demo on its own database (or the given one, if empty), prints
/// its report and, unless `no_serve`, serves it.
pub async fn run(
    mut settings: Settings,
    database_given: bool,
    size: usize,
    no_serve: bool,
) -> anyhow::Result<()> {
    // The port first: a demo already serving there must not lose its database to this one.
    let listener = if no_serve { None } else { Some(app::listen(&settings)?) };
    if database_given {
        eprintln!("demo: database: {} (as given; it must be empty)", settings.database_url.describe());
        refuse_unless_empty(&settings).await?;
    } else {
        let file = std::path::PathBuf::from(DEMO_DATABASE);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = format!("{DEMO_DATABASE}{suffix}");
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove the previous demo's {path}"));
                }
                _ => {}
            }
        }
        settings.database_url = DatabaseUrl::Sqlite(SqliteTarget::File(file));
        eprintln!(
            "demo: database: {} (the demo's own, made afresh on every run; --database-url picks another)",
            settings.database_url.describe()
        );
    }
    let made = build(&settings, size).await?;
    let db = app::open_store(&settings)?;
    let report = reporting::report(&db, made.campaign_id).await?.context("demo campaign vanished")?;
    print!("{}", report_table::render_report_table(&report));
    println!();
    let Some(listener) = listener else {
        println!("A reports API key for this database: {}", made.reports_key);
        eprintln!(
            "demo: not serving (--no-serve); to look at the report page, serve this database: \
             DATABASE_URL={} vouchsafe serve",
            settings.database_url
        );
        return Ok(());
    };
    let mut addr = listener.local_addr()?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let base = format!("http://{addr}");
    println!("Open the report:  {base}/reports/campaigns/{}", made.campaign_id);
    println!("User name: anything; password (a reports API key): {}", made.reports_key);
    println!(
        "JSON:  curl -s -H 'Authorization: Bearer {}' {base}/v1/campaigns/{}/report",
        made.reports_key, made.campaign_id
    );
    println!(
        "Other commands, in another shell, use this database with:  export DATABASE_URL={}",
        settings.database_url
    );
    app::serve_on(&settings, listener).await
}

/// Refuses a database that holds customers or campaigns.
async fn refuse_unless_empty(settings: &Settings) -> anyhow::Result<()> {
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    let (customers, campaigns) = db
        .run(|c| {
            let all =
                SegmentAt { segment: &Segment::AllConsented, currency: "EUR", now: Utc::now().naive_utc() };
            Ok((segments::count(c, &all)?, campaigns::list(c, None, 1)?.len()))
        })
        .await?;
    if customers > 0 || campaigns > 0 {
        anyhow::bail!(
            "the demo fills an empty database, and this one has {customers} customer(s){}: its customers \
             would get the demo's vouchers. Unset DATABASE_URL to use the demo's own {DEMO_DATABASE}, \
             or point it at an empty database",
            if campaigns > 0 { " and campaigns" } else { "" }
        );
    }
    Ok(())
}

/// What the demo made: the campaign to look at and a key that opens its report.
pub struct Demo {
    pub campaign_id: i32,
    pub reports_key: String,
}

/// Builds the demo data with `size` customers.
pub async fn build(settings: &Settings, size: usize) -> anyhow::Result<Demo> {
    let db = app::open_store(settings)?;
    app::migrate(&db, settings).await?;
    let now = Utc::now();
    let today = now.date_naive();
    let run = now.timestamp();

    eprintln!("demo: importing {size} consented customers with a birthday in the coming week…");
    let mut batch = Vec::with_capacity(1000);
    for i in 0..size {
        let day = today + Duration::days((i % 7) as i64);
        batch.push(ImportRecord {
            id: format!("demo-{run}-{i:06}"),
            profile: ProfilePatch {
                birthday: Some(Some(Birthday::new(day.month(), day.day()).map_err(anyhow::Error::msg)?)),
                loyalty_tier: Some(Some(["bronze", "silver", "gold"][i % 3].to_owned())),
            },
            consent: Some(NewConsent {
                purpose: OFFERS_PURPOSE.into(),
                granted: true,
                source: "demo".into(),
                policy_version: "2026-01".into(),
            }),
        });
        if batch.len() == 1000 || i + 1 == size {
            let records = std::mem::take(&mut batch);
            db.run(move |c| customers::import_batch(c, &records)).await?;
        }
    }

    let new = campaigns::NewCampaign {
        name: "Birthday week (demo)".into(),
        currency: "EUR".into(),
        segment: Segment::Birthday { window_days: 7 },
        discount: Discount::Percent { percent: 20, max_amount: Some(Money::new(3000)?) },
        min_order: 2000,
        budget: Budget {
            max_amount: Some(Money::new((size as i64).saturating_mul(200))?),
            max_redemptions: None,
        },
        starts_at: (now - Duration::days(20)).naive_utc(),
        expires_at: (now + Duration::days(10)).naive_utc(),
        prefix: "BDAY".into(),
        variants: vec![
            Variant { name: "control".into(), weight: 50, discount: None },
            Variant {
                name: "fixed10".into(),
                weight: 50,
                discount: Some(Discount::Amount { amount: Money::new(1000)? }),
            },
        ],
        // A 40% margin, so the report shows net contribution per issued voucher.
        analysis: Analysis { gross_margin: Some(0.4), ..Analysis::default() },
    };
    let campaign = db.run(move |c| campaigns::create(c, &new)).await?;
    let campaign_id = campaign.id;

    eprintln!("demo: generating signed vouchers for campaign {campaign_id}…");
    let signing = Signing::load(db.clone(), settings.master_key.clone()).await?;
    let generator = Generator::new(db.clone(), signing);
    let job = generator.enqueue(campaign_id).await?;
    generator.run(&job.id).await.context("generation failed")?;

    eprintln!("demo: simulating 20 days of checkouts…");
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = db.run(move |c| vouchers::page(c, campaign_id, after, 5000)).await?;
        if page.is_empty() {
            break;
        }
        after = page.last().map(|v| v.serial);
        all.extend(page);
    }
    let mut rng = StdRng::seed_from_u64(2026);
    let (mut redeemed, mut cancelled) = (0usize, 0usize);
    for v in all {
        let rate = if v.variant == 0 { 0.07 } else { 0.095 };
        if !rng.random_bool(rate) {
            continue;
        }
        let amount: i64 = rng.random_range(2500..16000);
        let at = now - Duration::seconds(rng.random_range(60..20 * 86_400));
        let r = Redemption {
            id: redemptions::new_id(),
            campaign_id,
            serial: v.serial,
            customer_id: v.customer_id.clone(),
            code: v.code.clone(),
            order_id: format!("demo-order-{}", v.serial),
            order_amount: amount,
            currency: "EUR".into(),
            discount: campaign.discount_of(v.variant as usize).apply(Money::new(amount)?).minor(),
            variant: v.variant,
            api_key_id: "demo".into(),
            idem_key: None,
            request_hash: String::new(),
            redeemed_at: at.naive_utc().trunc_subsecs(6),
            rolled_back_at: None,
            rollback_reason: None,
        };
        let cancel = rng.random_bool(0.03);
        let committed = db.run(move |c| redemptions::commit(c, &r, false)).await?;
        if let Ok(done) = committed {
            redeemed += 1;
            if cancel {
                let id = done.redemption().id.clone();
                if db.run(move |c| redemptions::rollback(c, &id, "order_cancelled")).await?.is_some() {
                    cancelled += 1;
                }
            }
        }
    }
    eprintln!(
        "demo: {} simulated redemptions count in the report ({redeemed} checkouts redeemed a voucher, \
         {cancelled} of them were cancelled and rolled back)",
        redeemed - cancelled
    );

    let scopes = Scopes::new([crate::domain::access::Scope::Reports]).expect("non-empty");
    let (_, reports_key) = db.run(move |c| api_keys::create(c, "demo-marketer", scopes)).await?;
    Ok(Demo { campaign_id, reports_key })
}
