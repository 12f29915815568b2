//! Redemptions, the source of truth behind every ledger.
//!
//! [`commit`] is the one place a redemption becomes real: in one transaction it holds the
//! redemption to the campaign's rules (`domain::campaign::Rules`: state, dates, currency,
//! minimum order, discount, then the voucher and `Budget::room`), takes budget room with a
//! conditional update of the campaign (which repeats the state and budget conditions, so a
//! row changed after it was read fails closed), inserts the row (a partial unique index
//! allows one live redemption per voucher) and marks the voucher redeemed. Whatever a faster
//! gate in front (Redis) decided, the database cannot be made to hold a double redemption or
//! an overspent budget.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;

use super::{
    campaigns::{self as campaign_store, Campaign},
    schema::{campaigns, redemptions, rollbacks, vouchers},
    AnyConnection, Conn, StoreError,
};
use crate::{
    domain::{money::Money, voucher::VoucherStatus, Refusal},
    per_backend,
};

/// A stored redemption.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = redemptions, treat_none_as_default_value = false)]
pub struct Redemption {
    pub id: String,
    pub campaign_id: i32,
    pub serial: i64,
    pub customer_id: Option<String>,
    pub code: Option<String>,
    pub order_id: String,
    pub order_amount: i64,
    pub currency: String,
    pub discount: i64,
    pub variant: i32,
    pub api_key_id: String,
    pub idem_key: Option<String>,
    pub request_hash: String,
    pub redeemed_at: NaiveDateTime,
    pub rolled_back_at: Option<NaiveDateTime>,
    pub rollback_reason: Option<String>,
}

/// A new redemption id.
pub fn new_id() -> String {
    let mut raw = [0u8; 12];
    rand::rng().fill_bytes(&mut raw);
    format!("rdm_{}", hex::encode(raw))
}

/// A redemption that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// Written now (answered 201).
    New(Redemption),
    /// The same Idempotency-Key, or the same voucher and order id, again: the first answer
    /// (answered 200 with the first body).
    Replay(Redemption),
}

impl Redeemed {
    /// The redemption, new or first.
    pub fn redemption(&self) -> &Redemption {
        match self {
            Redeemed::New(r) | Redeemed::Replay(r) => r,
        }
    }
}

/// What a redemption request comes to: it went through, or the reason it may not.
pub type Outcome = Result<Redeemed, Refusal>;

/// The first answer stored for a replay, if any: by Idempotency-Key, else by (voucher, order).
pub fn find_replay(conn: &mut Conn, r: &Redemption) -> Result<Option<Outcome>, StoreError> {
    if let Some(key) = &r.idem_key {
        let (who, key) = (r.api_key_id.clone(), key.clone());
        let by_key: Option<Redemption> = redemptions::table
            .filter(redemptions::api_key_id.eq(who))
            .filter(redemptions::idem_key.eq(Some(key)))
            .select(Redemption::as_select())
            .first(conn.any())
            .optional()?;
        if let Some(first) = by_key {
            return Ok(Some(if first.request_hash == r.request_hash {
                Ok(Redeemed::Replay(first))
            } else {
                Err(Refusal::IdempotencyKeyReused)
            }));
        }
    }
    let by_order: Option<Redemption> = redemptions::table
        .filter(redemptions::campaign_id.eq(r.campaign_id))
        .filter(redemptions::serial.eq(r.serial))
        .filter(redemptions::order_id.eq(&r.order_id))
        .filter(redemptions::rolled_back_at.is_null())
        .select(Redemption::as_select())
        .first(conn.any())
        .optional()?;
    Ok(by_order.map(|first| Ok(Redeemed::Replay(first))))
}

/// Why a voucher may not be redeemed by `customer_id`, if it may not.
fn voucher_refusal(
    conn: &mut Conn,
    campaign_id: i32,
    serial: i64,
    customer_id: Option<&str>,
) -> Result<Option<Refusal>, StoreError> {
    let voucher: Option<(Option<String>, VoucherStatus)> = vouchers::table
        .find((campaign_id, serial))
        .select((vouchers::customer_id, vouchers::status))
        .first(conn.any())
        .optional()?;
    Ok(match voucher {
        None => Some(Refusal::UnknownVoucher),
        Some((_, VoucherStatus::Voided)) => Some(Refusal::Voided),
        Some((_, VoucherStatus::Redeemed)) => Some(Refusal::AlreadyRedeemed),
        Some((owner, _)) if owner.as_deref() != customer_id => Some(Refusal::CustomerMismatch),
        Some(_) => None,
    })
}

/// Why the campaign's rules refuse `r` (state, dates, currency, minimum order), if they do;
/// an error when `r` carries another discount than the rules give (a caller's bug: the
/// discount is computed by the same rules before the ledger).
fn rules_refusal(campaign: &Campaign, r: &Redemption) -> Result<Option<Refusal>, StoreError> {
    let amount = Money::new(r.order_amount)
        .map_err(|e| StoreError::Conflict(format!("redemption {}: order amount {e}", r.id)))?;
    let variant = usize::try_from(r.variant).unwrap_or(usize::MAX);
    match campaign.rules(variant).check(amount, &r.currency, r.redeemed_at) {
        Err(why) => Ok(Some(why)),
        Ok(d) if d.minor() != r.discount => Err(StoreError::Conflict(format!(
            "redemption {}: discount {} is not the {} the campaign's rules give",
            r.id,
            r.discount,
            d.minor()
        ))),
        Ok(_) => Ok(None),
    }
}

/// Why the budget has no room for `r`'s discount after what `campaign` has taken, if it has
/// none.
fn budget_refusal(campaign: &Campaign, r: &Redemption) -> Option<Refusal> {
    campaign.budget.room(campaign.spent, campaign.redeemed, Money::from_stored(r.discount)).err()
}

/// Takes `amount` and `count` from a campaign's budget with one conditional update, if the
/// campaign is active over `during` (first, last redemption time) and the budget has room.
fn take_room(
    conn: &mut Conn,
    campaign: i32,
    during: (NaiveDateTime, NaiveDateTime),
    amount: i64,
    count: i64,
) -> Result<bool, StoreError> {
    let took = diesel::update(
        campaigns::table
            .find(campaign)
            .filter(campaigns::status.eq("active"))
            .filter(campaigns::starts_at.le(during.0))
            .filter(campaigns::expires_at.gt(during.1))
            // No sum may overflow, budget or not (amounts are bounded; this is the backstop).
            .filter(campaigns::spent.le(i64::MAX - amount.max(0)))
            .filter(
                campaigns::budget_amount
                    .is_null()
                    .or(campaigns::budget_amount.ge((campaigns::spent + amount).nullable())),
            )
            .filter(
                campaigns::budget_redemptions
                    .is_null()
                    .or(campaigns::budget_redemptions.ge((campaigns::redeemed + count).nullable())),
            ),
    )
    .set((
        campaigns::spent.eq(campaigns::spent + amount),
        campaigns::redeemed.eq(campaigns::redeemed + count),
    ))
    .execute(conn.any())?;
    Ok(took == 1)
}

/// Why a commit's transaction rolled back: the store failed, or `R`, a reason of the commit's
/// own (control flow, told apart by type).
#[derive(Debug)]
enum Abort<R> {
    Store(StoreError),
    Because(R),
}

impl<R> From<StoreError> for Abort<R> {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

impl<R> From<diesel::result::Error> for Abort<R> {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Store(e.into())
    }
}

/// The voucher was no longer `issued` when it was to be marked redeemed.
#[derive(Debug)]
struct VoucherChanged;

/// A member of a batch would be refused (or replays an earlier redemption).
#[derive(Debug)]
struct BatchRefused;

/// Makes a redemption real, or says why not (see the module doc). `lock_campaign` takes the
/// campaign's row lock first (the SQL ledger's serialization point on PostgreSQL).
pub fn commit(conn: &mut Conn, r: &Redemption, lock_campaign: bool) -> Result<Outcome, StoreError> {
    conn.transaction_with(|conn| {
        let campaign = if lock_campaign {
            campaign_store::get_for_update(conn, r.campaign_id)?
        } else {
            campaign_store::get(conn, r.campaign_id)?
        };
        let campaign = campaign.ok_or(StoreError::NotFound)?;
        if let Some(replay) = find_replay(conn, r)? {
            return Ok(replay);
        }
        if let Some(why) = rules_refusal(&campaign, r)? {
            return Ok(Err(why));
        }
        if let Some(why) = voucher_refusal(conn, r.campaign_id, r.serial, r.customer_id.as_deref())? {
            return Ok(Err(why));
        }
        if let Some(why) = budget_refusal(&campaign, r) {
            return Ok(Err(why));
        }
        let now = r.redeemed_at;
        if !take_room(conn, r.campaign_id, (now, now), r.discount, 1)? {
            // The row changed since it was read (possible only without its lock): the rules
            // on the fresh row say why.
            let fresh = campaign_store::get(conn, r.campaign_id)?.ok_or(StoreError::NotFound)?;
            let why = rules_refusal(&fresh, r)?.or_else(|| budget_refusal(&fresh, r));
            return Ok(Err(why.unwrap_or(Refusal::BudgetExhausted)));
        }
        diesel::insert_into(redemptions::table).values(r).execute(conn.any())?;
        let marked = diesel::update(
            vouchers::table
                .find((r.campaign_id, r.serial))
                .filter(vouchers::status.eq(VoucherStatus::Issued)),
        )
        .set(vouchers::status.eq(VoucherStatus::Redeemed))
        .execute(conn.any())?;
        if marked != 1 {
            return Err(Abort::Because(VoucherChanged));
        }
        Ok(Ok(Redeemed::New(r.clone())))
    })
    .or_else(|e| match e {
        // Two transactions raced for one voucher: the loser's insert hit the unique index. The
        // winner may have been this very request (a replay that arrived twice at once).
        Abort::Store(StoreError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ))) => lost_race(conn, r),
        Abort::Because(VoucherChanged) => lost_race(conn, r),
        Abort::Store(other) => Err(other),
    })
}

/// The answer for a redemption whose voucher another transaction took first: the first
/// answer when that was the same request, `already_redeemed` otherwise.
fn lost_race(conn: &mut Conn, r: &Redemption) -> Result<Outcome, StoreError> {
    Ok(find_replay(conn, r)?.unwrap_or(Err(Refusal::AlreadyRedeemed)))
}

/// Commits redemptions that a faster gate (Redis) already allowed, all in one transaction:
/// per campaign one conditional budget update for their sum and one voucher update, then one
/// multi-row insert. The same guards as [`commit`] hold for the batch as a whole. `false` when
/// any member would be refused (or replays an earlier one): nothing was written, and the
/// caller commits them one by one for each answer. Cheap enough to try first, because the
/// gate makes refusals rare (they need Redis to have lost data).
pub fn commit_batch(conn: &mut Conn, batch: &[Redemption]) -> Result<bool, StoreError> {
    let mut by_campaign: std::collections::BTreeMap<i32, Vec<&Redemption>> = Default::default();
    for r in batch {
        by_campaign.entry(r.campaign_id).or_default().push(r);
    }
    let refused = || Abort::Because(BatchRefused);
    let outcome = conn.transaction_with(|conn| {
        for (&campaign, members) in &by_campaign {
            // The rules and the budget for the batch as a whole (read unlocked: the budget
            // update below is conditional and takes the row lock last).
            let rules = campaign_store::get(conn, campaign)?.ok_or_else(refused)?;
            for r in members {
                if !matches!(rules_refusal(&rules, r), Ok(None)) {
                    return Err(refused());
                }
            }
            let sum = members.iter().map(|r| r.discount).sum::<i64>();
            if !rules.budget.has_room(rules.spent, rules.redeemed, sum, members.len() as i64) {
                return Err(refused());
            }
            // Locked by primary key, checked here: a `status` condition would let a planner
            // without fresh statistics walk the (campaign, variant, status) index instead.
            let serials: Vec<i64> = members.iter().map(|r| r.serial).collect();
            let query = vouchers::table
                .filter(vouchers::campaign_id.eq(campaign))
                .filter(vouchers::serial.eq_any(&serials))
                .select((vouchers::serial, vouchers::customer_id, vouchers::status));
            let rows: Vec<(i64, Option<String>, VoucherStatus)> = match conn.any() {
                AnyConnection::Pg(c) => query.for_update().load(c)?,
                // SQLite: the transaction began IMMEDIATE, so it already excludes other writers.
                AnyConnection::Sqlite(c) => query.load(c)?,
            };
            let issued: std::collections::HashMap<i64, Option<String>> = rows
                .into_iter()
                .filter(|(_, _, status)| *status == VoucherStatus::Issued)
                .map(|(s, o, _)| (s, o))
                .collect();
            if issued.len() != members.len()
                || members.iter().any(|r| issued.get(&r.serial) != Some(&r.customer_id))
            {
                return Err(refused());
            }
            diesel::update(
                vouchers::table
                    .filter(vouchers::campaign_id.eq(campaign))
                    .filter(vouchers::serial.eq_any(&serials)),
            )
            .set(vouchers::status.eq(VoucherStatus::Redeemed))
            .execute(conn.any())?;
        }
        // A multi-row VALUES: `MultiBackend` has no batch insert (SQLite's lacks DEFAULT).
        per_backend!(conn, |c| diesel::insert_into(redemptions::table).values(batch).execute(c))?;
        // The hot campaign rows last, so they stay locked only for their update and the commit
        // (batches on other committers do their voucher and insert work meanwhile).
        for (&campaign, members) in &by_campaign {
            let (sum, n) = (members.iter().map(|r| r.discount).sum::<i64>(), members.len() as i64);
            let earliest = members.iter().map(|r| r.redeemed_at).min().ok_or_else(refused)?;
            let latest = members.iter().map(|r| r.redeemed_at).max().ok_or_else(refused)?;
            if !take_room(conn, campaign, (earliest, latest), sum, n)? {
                return Err(refused());
            }
        }
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(true),
        Err(Abort::Because(BatchRefused)) => Ok(false),
        // A unique index (a voucher or key taken meanwhile), a deadlock with another writer:
        // one by one, each gets its own answer. A lost connection fails the whole batch.
        Err(Abort::Store(StoreError::Query(diesel::result::Error::DatabaseError(kind, _))))
            if !matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection) =>
        {
            Ok(false)
        }
        Err(Abort::Store(e)) => Err(e),
    }
}

/// A redemption by id.
pub fn get(conn: &mut Conn, id: &str) -> Result<Option<Redemption>, StoreError> {
    Ok(redemptions::table.find(id).select(Redemption::as_select()).first(conn.any()).optional()?)
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RolledBack {
    pub redemption: Redemption,
    /// `false`: it had been rolled back before (this call changed nothing).
    pub now: bool,
    /// The voucher stays voided instead of becoming redeemable again: it was voided while
    /// redeemed (consent withdrawn, erasure) or its campaign has ended.
    pub voided: bool,
}

/// Rolls a redemption back once: the budget is restored, and the voucher becomes redeemable
/// again unless it was voided meanwhile or its campaign ended (then it is voided, for good);
/// the row keeps its history.
pub fn rollback(conn: &mut Conn, id: &str, reason: &str) -> Result<Option<RolledBack>, StoreError> {
    conn.transaction(|conn| {
        let Some(r) = get(conn, id)? else { return Ok(None) };
        if r.rolled_back_at.is_some() {
            return Ok(Some(RolledBack { redemption: r, now: false, voided: false }));
        }
        let now = Utc::now().naive_utc();
        let n = diesel::update(redemptions::table.find(id).filter(redemptions::rolled_back_at.is_null()))
            .set((redemptions::rolled_back_at.eq(Some(now)), redemptions::rollback_reason.eq(Some(reason))))
            .execute(conn.any())?;
        if n != 1 {
            let r = get(conn, id)?.ok_or(StoreError::NotFound)?;
            return Ok(Some(RolledBack { redemption: r, now: false, voided: false }));
        }
        diesel::update(campaigns::table.find(r.campaign_id))
            .set((
                campaigns::spent.eq(campaigns::spent - r.discount),
                campaigns::redeemed.eq(campaigns::redeemed - 1),
            ))
            .execute(conn.any())?;
        let (owner, voided_at): (Option<String>, Option<NaiveDateTime>) = vouchers::table
            .find((r.campaign_id, r.serial))
            .select((vouchers::customer_id, vouchers::voided_at))
            .first(conn.any())?;
        let status: String =
            campaigns::table.find(r.campaign_id).select(campaigns::status).first(conn.any())?;
        let voided = voided_at.is_some() || owner.is_none() || status == "ended";
        let redeemed = vouchers::table
            .find((r.campaign_id, r.serial))
            .filter(vouchers::status.eq(VoucherStatus::Redeemed));
        if voided {
            diesel::update(redeemed)
                .set((
                    vouchers::status.eq(VoucherStatus::Voided),
                    vouchers::voided_at.eq(Some(voided_at.unwrap_or(now))),
                ))
                .execute(conn.any())?;
        } else {
            diesel::update(redeemed).set(vouchers::status.eq(VoucherStatus::Issued)).execute(conn.any())?;
        }
        diesel::insert_into(rollbacks::table)
            .values((
                rollbacks::redemption_id.eq(id),
                rollbacks::reason.eq(reason),
                rollbacks::rolled_back_at.eq(now),
            ))
            .execute(conn.any())?;
        let r = get(conn, id)?.ok_or(StoreError::NotFound)?;
        Ok(Some(RolledBack { redemption: r, now: true, voided }))
    })
}

/// Read-only: would a redemption of this voucher be refused right now, and why (the campaign's
/// state, the voucher, the budget, in the rules' order; currency, minimum order and discount
/// are the caller's, from the same rules).
pub fn check(
    conn: &mut Conn,
    campaign_id: i32,
    serial: i64,
    customer_id: &str,
    discount: i64,
) -> Result<Option<Refusal>, StoreError> {
    let campaign = campaign_store::get(conn, campaign_id)?.ok_or(StoreError::NotFound)?;
    if let Err(why) = campaign.rules(0).check_state(Utc::now().naive_utc()) {
        return Ok(Some(why));
    }
    if let Some(why) = voucher_refusal(conn, campaign_id, serial, Some(customer_id))? {
        return Ok(Some(why));
    }
    Ok(campaign.budget.room(campaign.spent, campaign.redeemed, Money::from_stored(discount)).err())
}

/// Unlinks a customer from their redemptions (erasure); amounts stay for the totals.
pub fn unlink_customer(conn: &mut Conn, customer_id: &str) -> Result<(), StoreError> {
    diesel::update(redemptions::table.filter(redemptions::customer_id.eq(customer_id)))
        .set((redemptions::customer_id.eq(None::<String>), redemptions::code.eq(None::<String>)))
        .execute(conn.any())?;
    Ok(())
}

/// A customer's redemptions (for the export).
pub fn of_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<Redemption>, StoreError> {
    Ok(redemptions::table
        .filter(redemptions::customer_id.eq(customer_id))
        .order(redemptions::redeemed_at)
        .select(Redemption::as_select())
        .load(conn.any())?)
}

/// What a ledger reload needs of one live redemption.
#[derive(Debug, Clone, Queryable)]
pub struct LiveRedemption {
    pub serial: i64,
    pub id: String,
    pub discount: i64,
    pub api_key_id: String,
    pub idem_key: Option<String>,
    pub order_id: String,
    pub request_hash: String,
}

/// Every live redemption of a campaign, for a ledger reload.
pub fn live_for_reload(conn: &mut Conn, campaign_id: i32) -> Result<Vec<LiveRedemption>, StoreError> {
    Ok(redemptions::table
        .filter(redemptions::campaign_id.eq(campaign_id))
        .filter(redemptions::rolled_back_at.is_null())
        .select((
            redemptions::serial,
            redemptions::id,
            redemptions::discount,
            redemptions::api_key_id,
            redemptions::idem_key,
            redemptions::order_id,
            redemptions::request_hash,
        ))
        .load(conn.any())?)
}

/// Whether a redemption id is in the database.
pub fn exists(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    Ok(get(conn, id)?.is_some())
}
