//! The ledger contract (DESIGN.md, "Ledger invariants"), checked on the `Ledger` trait itself,
//! not over HTTP: one suite, instantiated for the SQL ledger and for the Redis ledger (the real
//! Lua scripts on a real Redis: `TEST_REDIS_URL` with a prefix of its own, else a redis-server
//! this test starts on a free port). The database is the test backend's (`TEST_DATABASE_URL`,
//! else SQLite), one fresh database per test.
//!
//! `the_rule_table` holds the campaign rules to one table of cases: each row goes to
//! `domain::campaign::Rules` (with `Budget::room`) and to the ledger under test, and both must
//! give the row's answer, so the Rust rules, the SQL path and `redeem.lua` agree.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use vouchsafe::{
    domain::{
        campaign::{Budget, CampaignStatus, Discount, Rules, Variant},
        money::Money,
        segment::Segment,
        voucher::VoucherStatus,
        Refusal,
    },
    ledger::{redis::RedisLedger, sql::SqlLedger, Ledger, LedgerError, Outcome, Redeemed},
    store::{
        campaigns::{self, CampaignPatch, NewCampaign},
        customers,
        redemptions::{self, Redemption},
        vouchers::{self, NewVoucher},
        Db,
    },
    testkit::{test_redis, OwnRedis, RedisPrefix, TestDb},
};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Sql,
    Redis,
}

/// A ledger of the kind under test over a fresh database.
struct Fixture {
    ledger: Arc<dyn Ledger>,
    db: Db,
    _redis: Option<(RedisPrefix, Option<OwnRedis>)>,
    _test_db: TestDb,
}

impl Fixture {
    /// `None` (with one loud line) only for the Redis ledger on a machine with neither
    /// `TEST_REDIS_URL` nor `redis-server`; under `CI=true` that fails instead.
    async fn start(kind: Kind) -> Option<Fixture> {
        let test_db = TestDb::new();
        let db = test_db.connect(8).expect("test database");
        let (ledger, redis): (Arc<dyn Ledger>, _) = match kind {
            Kind::Sql => (Arc::new(SqlLedger::new(db.clone())), None),
            Kind::Redis => {
                let (url, own) = test_redis()?;
                let prefix = RedisPrefix::new(&url, "conf");
                let ledger = RedisLedger::new(&url, &prefix.prefix, Some(db.clone())).expect("redis ledger");
                (Arc::new(ledger), Some((prefix, own)))
            }
        };
        Some(Fixture { ledger, db, _redis: redis, _test_db: test_db })
    }

    /// A campaign (EUR, minimum order 2000, `starts()`..`expires()`) with `n` issued vouchers, serial
    /// `i` to customer `c<i>` in variant 0; returns its id.
    async fn campaign(&self, discount: Discount, budget: Budget, variants: Vec<Variant>, n: i64) -> i32 {
        let new = NewCampaign {
            name: "conformance".into(),
            currency: "EUR".into(),
            segment: Segment::AllConsented,
            discount,
            min_order: MIN_ORDER,
            budget,
            starts_at: starts(),
            expires_at: expires(),
            prefix: "CONF".into(),
            analysis: Default::default(),
            variants,
        };
        self.db
            .run(move |c| {
                let campaign = campaigns::create(c, &new)?;
                let rows: Vec<NewVoucher> = (0..n)
                    .map(|i| NewVoucher {
                        campaign_id: campaign.id,
                        serial: i,
                        customer_id: Some(format!("c{i}")),
                        variant: 0,
                        key_id: 1,
                        code: None,
                        status: VoucherStatus::Issued,
                        issued_at: starts(),
                    })
                    .collect();
                vouchers::insert_batch(c, &rows)?;
                Ok(campaign.id)
            })
            .await
            .expect("campaign")
    }

    /// A campaign of `n` vouchers giving 1000 off orders of 10000, within `budget`.
    async fn fixed(&self, budget: Budget, n: i64) -> i32 {
        self.campaign(Discount::Amount { amount: m(1000) }, budget, one_variant(), n).await
    }

    async fn redeem(&self, r: Redemption) -> Outcome {
        self.ledger.redeem(r).await.expect("the ledger answers")
    }

    async fn set_status(&self, campaign: i32, status: CampaignStatus) {
        let patch = CampaignPatch { status: Some(status), ..CampaignPatch::default() };
        self.db.run(move |c| campaigns::patch(c, campaign, &patch)).await.expect("patch");
        self.ledger.campaign_changed(campaign).await.expect("campaign_changed");
    }

    /// (spent, redeemed) in the database.
    async fn spent(&self, campaign: i32) -> (i64, i64) {
        let c = self.db.run(move |c| campaigns::get(c, campaign)).await.unwrap().unwrap();
        (c.spent, c.redeemed)
    }
}

const MIN_ORDER: i64 = 2000;

fn starts() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
}

fn expires() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2031, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
}

/// A moment inside the campaign's dates.
fn during() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 6, 1).unwrap().and_hms_opt(12, 0, 0).unwrap()
}

fn m(x: i64) -> Money {
    Money::new(x).unwrap()
}

fn one_variant() -> Vec<Variant> {
    vec![Variant { name: "control".into(), weight: 1, discount: None }]
}

/// Voucher `serial` (customer `c<serial>`, variant 0) on an order of 10000 EUR with 1000 off.
fn redemption(campaign: i32, serial: i64, order: &str) -> Redemption {
    Redemption {
        id: redemptions::new_id(),
        campaign_id: campaign,
        serial,
        customer_id: Some(format!("c{serial}")),
        code: None,
        order_id: order.into(),
        order_amount: 10_000,
        currency: "EUR".into(),
        discount: 1000,
        variant: 0,
        api_key_id: "conformance".into(),
        idem_key: None,
        request_hash: format!("h-{order}"),
        redeemed_at: during(),
        rolled_back_at: None,
        rollback_reason: None,
    }
}

fn new_one(outcome: Outcome) -> Redemption {
    match outcome {
        Ok(Redeemed::New(r)) => r,
        other => panic!("expected a new redemption, got {other:?}"),
    }
}

/// Invariant 1: a voucher has at most one live redemption.
async fn single_use(f: &Fixture) {
    let c = f.fixed(Budget::default(), 1).await;
    new_one(f.redeem(redemption(c, 0, "o-1")).await);
    assert_eq!(f.redeem(redemption(c, 0, "o-2")).await, Err(Refusal::AlreadyRedeemed));
    assert_eq!(f.spent(c).await, (1000, 1));
}

/// Invariant 1 under concurrency: many orders race for one voucher; one wins.
async fn one_voucher_raced_by_many_orders_is_redeemed_once(f: &Fixture) {
    let c = f.fixed(Budget::default(), 1).await;
    let answers = race(f, (0..16).map(|i| redemption(c, 0, &format!("o-{i}"))).collect()).await;
    assert_eq!(answers.iter().filter(|a| matches!(a, Ok(Redeemed::New(_)))).count(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|a| matches!(a, Ok(Redeemed::New(_)) | Err(Refusal::AlreadyRedeemed))),
        "{answers:?}"
    );
    assert_eq!(f.spent(c).await, (1000, 1));
}

/// Invariant 4: the same order, or the same Idempotency-Key and request, gets the first answer.
async fn a_replay_returns_the_first_answer(f: &Fixture) {
    let c = f.fixed(Budget::default(), 2).await;
    let keyed = |order: &str, hash: &str| Redemption {
        idem_key: Some("k-1".into()),
        request_hash: hash.into(),
        ..redemption(c, 0, order)
    };
    let first = new_one(f.redeem(keyed("o-1", "h")).await);
    match f.redeem(keyed("o-1", "h")).await {
        Ok(Redeemed::Replay(again)) => assert_eq!(again, first),
        other => panic!("the same key again: {other:?}"),
    }
    match f.redeem(redemption(c, 0, "o-1")).await {
        Ok(Redeemed::Replay(again)) => assert_eq!(again.id, first.id),
        other => panic!("the same order again: {other:?}"),
    }
    let reused = Redemption { serial: 1, customer_id: Some("c1".into()), ..keyed("o-9", "other") };
    assert_eq!(f.redeem(reused).await, Err(Refusal::IdempotencyKeyReused));
    assert_eq!(f.spent(c).await, (1000, 1), "counted once");
}

/// Invariant 2: concurrent redemptions never take more than the money budget.
async fn the_money_budget_holds_under_concurrent_redeems(f: &Fixture) {
    let c = f.fixed(Budget { max_amount: Some(m(10_000)), max_redemptions: None }, 30).await;
    let answers = race(f, (0..30).map(|i| redemption(c, i, &format!("o-{i}"))).collect()).await;
    let new = answers.iter().filter(|a| matches!(a, Ok(Redeemed::New(_)))).count();
    assert_eq!(new, 10, "{answers:?}");
    assert!(answers.iter().all(|a| matches!(a, Ok(Redeemed::New(_)) | Err(Refusal::BudgetExhausted))));
    assert_eq!(f.spent(c).await, (10_000, 10));
}

/// Invariant 2: ... nor more than the count budget.
async fn the_count_budget_holds_under_concurrent_redeems(f: &Fixture) {
    let c = f.fixed(Budget { max_amount: None, max_redemptions: Some(7) }, 20).await;
    let answers = race(f, (0..20).map(|i| redemption(c, i, &format!("o-{i}"))).collect()).await;
    assert_eq!(answers.iter().filter(|a| matches!(a, Ok(Redeemed::New(_)))).count(), 7, "{answers:?}");
    assert_eq!(f.spent(c).await, (7000, 7));
}

/// Invariant 5: a rollback restores the voucher and the budget exactly once, also when two
/// race.
async fn a_rollback_restores_the_budget_exactly_once(f: &Fixture) {
    let c = f.fixed(Budget { max_amount: None, max_redemptions: Some(1) }, 2).await;
    let first = new_one(f.redeem(redemption(c, 0, "o-1")).await);
    assert_eq!(f.redeem(redemption(c, 1, "o-2")).await, Err(Refusal::BudgetExhausted));
    let (a, b) =
        tokio::join!(f.ledger.rollback(&first.id, "cancelled"), f.ledger.rollback(&first.id, "cancelled"));
    let (a, b) = (a.unwrap().expect("known id"), b.unwrap().expect("known id"));
    assert!(a.now ^ b.now, "exactly one of two rollbacks did it");
    assert!(!a.voided && !b.voided);
    assert_eq!(f.spent(c).await, (0, 0));
    let again = f.ledger.rollback(&first.id, "cancelled").await.unwrap().unwrap();
    assert!(!again.now, "a third rollback changes nothing");
    assert_eq!(f.spent(c).await, (0, 0));
    new_one(f.redeem(redemption(c, 1, "o-2")).await);
    assert_eq!(f.redeem(redemption(c, 0, "o-3")).await, Err(Refusal::BudgetExhausted), "room for one only");
    assert_eq!(f.spent(c).await, (1000, 1));
    assert!(f.ledger.rollback("rdm_unknown", "x").await.unwrap().is_none());
}

/// Invariant 6: a voided voucher is never redeemable again, not even through a rollback.
async fn a_voided_voucher_is_never_redeemable_again(f: &Fixture) {
    let c = f.fixed(Budget::default(), 2).await;
    let redeemed = new_one(f.redeem(redemption(c, 1, "o-1")).await);
    let voided = f.db.run(|c| customers::void_open_vouchers(c, &["c0".into(), "c1".into()])).await.unwrap();
    f.ledger.void(&voided).await.unwrap();
    assert_eq!(f.redeem(redemption(c, 0, "o-2")).await, Err(Refusal::Voided));
    let back = f.ledger.rollback(&redeemed.id, "cancelled").await.unwrap().unwrap();
    assert!(back.now && back.voided, "{back:?}");
    assert_eq!(f.redeem(redemption(c, 1, "o-3")).await, Err(Refusal::Voided));
    assert_eq!(f.spent(c).await, (0, 0), "the budget came back all the same");
}

/// A paused campaign refuses until it is active again; an ended one refuses for good.
async fn paused_and_ended_campaigns_refuse(f: &Fixture) {
    let c = f.fixed(Budget::default(), 3).await;
    new_one(f.redeem(redemption(c, 0, "o-0")).await);
    f.set_status(c, CampaignStatus::Paused).await;
    assert_eq!(f.redeem(redemption(c, 1, "o-1")).await, Err(Refusal::Paused));
    f.set_status(c, CampaignStatus::Active).await;
    new_one(f.redeem(redemption(c, 1, "o-1")).await);
    f.set_status(c, CampaignStatus::Ended).await;
    assert_eq!(f.redeem(redemption(c, 2, "o-2")).await, Err(Refusal::Ended));
    assert_eq!(f.spent(c).await, (2000, 2));
}

/// A redemption whose discount is not the one the rules give is an error, and takes nothing.
async fn a_discount_the_rules_do_not_give_is_not_written(f: &Fixture) {
    let c = f.fixed(Budget::default(), 1).await;
    let wrong = Redemption { discount: 1001, ..redemption(c, 0, "o-1") };
    match f.ledger.redeem(wrong).await {
        Err(LedgerError::Invalid(_) | LedgerError::Store(_)) => {}
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(f.spent(c).await, (0, 0));
    new_one(f.redeem(redemption(c, 0, "o-1")).await);
}

/// All at once, on as many threads as the runtime has.
async fn race(f: &Fixture, rs: Vec<Redemption>) -> Vec<Outcome> {
    let barrier = Arc::new(tokio::sync::Barrier::new(rs.len()));
    let tasks: Vec<_> = rs
        .into_iter()
        .map(|r| {
            let (ledger, barrier) = (f.ledger.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                ledger.redeem(r).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().expect("the ledger answers"));
    }
    answers
}

/// One row of the rule table: a campaign state, a moment, an order, a discount rule and the
/// budget's room; what the rules give and the answer.
#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    status: CampaignStatus,
    at: NaiveDateTime,
    amount: i64,
    currency: &'static str,
    discount: Discount,
    budget: Budget,
    /// The discount of one redemption made before (another voucher), if any.
    before: Option<i64>,
    /// What the discount rule gives this order (checked against `Discount::apply` too).
    gives: i64,
    /// `None`: redeemed with `gives` off.
    refused: Option<Refusal>,
}

fn cases() -> Vec<Case> {
    let pct = |percent: u32, cap: Option<i64>| Discount::Percent { percent, max_amount: cap.map(m) };
    let base = Case {
        name: "25% of 12000, capped at 5000",
        status: CampaignStatus::Active,
        at: during(),
        amount: 12_000,
        currency: "EUR",
        discount: pct(25, Some(5000)),
        budget: Budget::default(),
        before: None,
        gives: 3000,
        refused: None,
    };
    let money = |max: i64| Budget { max_amount: Some(m(max)), max_redemptions: None };
    let count = |max: i64| Budget { max_amount: None, max_redemptions: Some(max) };
    let currency = |order: &str| Refusal::CurrencyMismatch { campaign: "EUR".into(), order: order.into() };
    let minimum = Refusal::OrderBelowMinimum { min_order: MIN_ORDER, currency: "EUR".into() };
    vec![
        base.clone(),
        Case { name: "the cap applies", amount: 100_000, gives: 5000, ..base.clone() },
        Case {
            name: "percent rounds down",
            discount: pct(15, None),
            amount: 2999,
            gives: 449,
            ..base.clone()
        },
        Case {
            name: "rounds down exactly near 10^12",
            discount: pct(33, None),
            amount: 999_999_999_999,
            gives: 329_999_999_999,
            ..base.clone()
        },
        Case {
            name: "100% of the largest order",
            discount: pct(100, None),
            amount: 1_000_000_000_000,
            gives: 1_000_000_000_000,
            ..base.clone()
        },
        Case {
            name: "a fixed amount",
            discount: Discount::Amount { amount: m(1000) },
            gives: 1000,
            ..base.clone()
        },
        Case {
            name: "a fixed amount never exceeds the order",
            discount: Discount::Amount { amount: m(3000) },
            amount: 2500,
            gives: 2500,
            ..base.clone()
        },
        Case { name: "the minimum order is inclusive", amount: MIN_ORDER, gives: 500, ..base.clone() },
        Case {
            name: "below the minimum",
            amount: MIN_ORDER - 1,
            gives: 499,
            refused: Some(minimum.clone()),
            ..base.clone()
        },
        Case { name: "another currency", currency: "USD", refused: Some(currency("USD")), ..base.clone() },
        Case {
            name: "currency before minimum",
            currency: "GBP",
            amount: 10,
            gives: 2,
            refused: Some(currency("GBP")),
            ..base.clone()
        },
        Case {
            name: "paused",
            status: CampaignStatus::Paused,
            refused: Some(Refusal::Paused),
            ..base.clone()
        },
        Case { name: "ended", status: CampaignStatus::Ended, refused: Some(Refusal::Ended), ..base.clone() },
        Case {
            name: "paused before anything else",
            status: CampaignStatus::Paused,
            at: expires(),
            currency: "USD",
            refused: Some(Refusal::Paused),
            ..base.clone()
        },
        Case { name: "the start is inclusive", at: starts(), ..base.clone() },
        Case {
            name: "before the start",
            at: starts() - chrono::Duration::seconds(1),
            refused: Some(Refusal::NotStarted),
            ..base.clone()
        },
        Case { name: "at expiry", at: expires(), refused: Some(Refusal::Expired), ..base.clone() },
        Case {
            name: "expired before the minimum",
            at: expires() + chrono::Duration::days(1),
            amount: 10,
            gives: 2,
            refused: Some(Refusal::Expired),
            ..base.clone()
        },
        Case {
            name: "the money budget fits exactly",
            budget: money(10_000),
            before: Some(7000),
            ..base.clone()
        },
        Case {
            name: "the money budget is one short",
            budget: money(10_000),
            before: Some(7001),
            refused: Some(Refusal::BudgetExhausted),
            ..base.clone()
        },
        Case { name: "the count budget has one left", budget: count(2), before: Some(100), ..base.clone() },
        Case {
            name: "the count budget is used up",
            budget: count(1),
            before: Some(100),
            refused: Some(Refusal::BudgetExhausted),
            ..base.clone()
        },
        Case {
            name: "the rules before the budget",
            budget: money(1000),
            before: Some(1000),
            amount: MIN_ORDER - 1,
            gives: 499,
            refused: Some(minimum),
            ..base.clone()
        },
    ]
}

/// What the domain's rules answer for a case.
fn by_the_rules(case: &Case) -> Result<i64, Refusal> {
    let rules = Rules {
        status: case.status,
        starts_at: starts(),
        expires_at: expires(),
        currency: "EUR",
        min_order: MIN_ORDER,
        discount: case.discount,
    };
    let discount = rules.check(m(case.amount), case.currency, case.at)?;
    let (spent, redeemed) = case.before.map_or((0, 0), |b| (b, 1));
    case.budget.room(spent, redeemed, discount)?;
    Ok(discount.minor())
}

/// What the ledger under test answers for a case, on a campaign of its own.
async fn by_the_ledger(f: &Fixture, case: &Case) -> Result<i64, Refusal> {
    // Variant 1 takes the case's earlier redemption (a fixed amount), variant 0 is the case's.
    let filler = Discount::Amount { amount: m(case.before.unwrap_or(1)) };
    let variants = vec![
        Variant { name: "case".into(), weight: 1, discount: None },
        Variant { name: "before".into(), weight: 1, discount: Some(filler) },
    ];
    let c = f.campaign(case.discount, case.budget, variants, 2).await;
    if let Some(before) = case.before {
        let earlier = Redemption {
            variant: 1,
            order_amount: before.max(MIN_ORDER),
            discount: before,
            ..redemption(c, 1, "o-before")
        };
        new_one(f.redeem(earlier).await);
    }
    if case.status != CampaignStatus::Active {
        f.set_status(c, case.status).await;
    }
    let r = Redemption {
        order_amount: case.amount,
        currency: case.currency.into(),
        discount: case.gives,
        redeemed_at: case.at,
        ..redemption(c, 0, "o-case")
    };
    match f.redeem(r).await {
        Ok(Redeemed::New(r)) => Ok(r.discount),
        Ok(Redeemed::Replay(r)) => panic!("{}: a replay of {r:?}", case.name),
        Err(refusal) => Err(refusal),
    }
}

/// The campaign rules: the domain, and this ledger, give every row of the table its answer.
async fn the_rule_table(f: &Fixture) {
    let mut wrong = Vec::new();
    for case in cases() {
        assert_eq!(
            case.discount.apply(m(case.amount)).minor(),
            case.gives,
            "{}: the table's discount",
            case.name
        );
        let want = case.refused.clone().map_or(Ok(case.gives), Err);
        let domain = by_the_rules(&case);
        let ledger = by_the_ledger(f, &case).await;
        if domain != want || ledger != want {
            wrong.push(format!("{}: want {want:?}, domain {domain:?}, ledger {ledger:?}", case.name));
        }
    }
    assert!(wrong.is_empty(), "{} of {} cases disagree:\n{}", wrong.len(), cases().len(), wrong.join("\n"));
}

/// One suite, once per ledger.
macro_rules! suite {
    ($module:ident, $kind:expr; $($test:ident),* $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    if let Some(f) = super::Fixture::start($kind).await {
                        super::$test(&f).await;
                    }
                }
            )*
        }
    };
}

macro_rules! both {
    ($($test:ident),* $(,)?) => {
        suite!(sql_ledger, super::Kind::Sql; $($test),*);
        suite!(redis_ledger, super::Kind::Redis; $($test),*);
    };
}

both!(
    single_use,
    one_voucher_raced_by_many_orders_is_redeemed_once,
    a_replay_returns_the_first_answer,
    the_money_budget_holds_under_concurrent_redeems,
    the_count_budget_holds_under_concurrent_redeems,
    a_rollback_restores_the_budget_exactly_once,
    a_voided_voucher_is_never_redeemable_again,
    paused_and_ended_campaigns_refuse,
    a_discount_the_rules_do_not_give_is_not_written,
    the_rule_table,
);
