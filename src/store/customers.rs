//! Customers, their consent history and their abandoned carts.
//!
//! Every write that touches one customer happens in one transaction, so no failure leaves a
//! customer half-written; a revoked `personalized_offers` consent voids the customer's open
//! vouchers in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    schema::{carts, consents, customers, vouchers},
    Conn, StoreError,
};
use crate::{
    domain::{
        customer::{Birthday, OFFERS_PURPOSE},
        voucher::VoucherStatus,
    },
    per_backend,
};

/// A change to a profile: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub birthday: Option<Option<Birthday>>,
    pub loyalty_tier: Option<Option<String>>,
}

/// A consent statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub purpose: String,
    pub granted: bool,
    pub source: String,
    pub policy_version: String,
}

/// One line of an import: a profile change and maybe a consent statement.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: String,
    pub profile: ProfilePatch,
    pub consent: Option<NewConsent>,
}

/// A customer's stored profile.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: String,
    pub birth_md: Option<i32>,
    pub loyalty_tier: Option<String>,
    pub offers_consent: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One entry of the consent history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: i64,
    pub customer_id: String,
    pub purpose: String,
    pub granted: bool,
    pub source: String,
    pub policy_version: String,
    pub recorded_at: NaiveDateTime,
}

/// An abandoned cart.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = carts)]
pub struct CartRow {
    pub customer_id: String,
    pub cart_id: String,
    pub value: i64,
    pub currency: String,
    pub abandoned_at: NaiveDateTime,
}

/// A voucher whose status a consent change or an erasure moved to `voided`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct VoidedVoucher {
    pub campaign_id: i32,
    pub serial: i64,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn find_row(conn: &mut Conn, id: &str) -> Result<Option<CustomerRow>, StoreError> {
    Ok(customers::table.find(id).select(CustomerRow::as_select()).first(conn.any()).optional()?)
}

/// Reads a profile.
pub fn find(conn: &mut Conn, id: &str) -> Result<Option<CustomerRow>, StoreError> {
    find_row(conn, id)
}

/// Applies a profile change, creating the customer when new. Returns the profile and whether
/// it was created. Runs inside the caller's transaction when there is one.
pub fn upsert(conn: &mut Conn, id: &str, patch: &ProfilePatch) -> Result<(CustomerRow, bool), StoreError> {
    conn.transaction(|conn| upsert_in(conn, id, patch))
}

fn upsert_in(conn: &mut Conn, id: &str, patch: &ProfilePatch) -> Result<(CustomerRow, bool), StoreError> {
    let t = now();
    let md = patch.birthday.map(|b| b.map(Birthday::md));
    let created = per_backend!(conn, |c| diesel::insert_into(customers::table)
        .values((
            customers::id.eq(id),
            customers::birth_md.eq(md.flatten()),
            customers::loyalty_tier.eq(patch.loyalty_tier.clone().flatten()),
            customers::offers_consent.eq(false),
            customers::created_at.eq(t),
            customers::updated_at.eq(t),
        ))
        .on_conflict_do_nothing()
        .execute(c))?
        == 1;
    if !created {
        if let Some(md) = md {
            diesel::update(customers::table.find(id))
                .set((customers::birth_md.eq(md), customers::updated_at.eq(t)))
                .execute(conn.any())?;
        }
        if let Some(tier) = &patch.loyalty_tier {
            diesel::update(customers::table.find(id))
                .set((customers::loyalty_tier.eq(tier.clone()), customers::updated_at.eq(t)))
                .execute(conn.any())?;
        }
    }
    let row = find_row(conn, id)?.ok_or(StoreError::NotFound)?;
    Ok((row, created))
}

/// Appends a consent statement, creating a bare customer when unknown. A revoked
/// `personalized_offers` voids the customer's open vouchers; those are returned.
pub fn add_consent(
    conn: &mut Conn,
    customer_id: &str,
    consent: &NewConsent,
) -> Result<Vec<VoidedVoucher>, StoreError> {
    conn.transaction(|conn| {
        upsert_in(conn, customer_id, &ProfilePatch::default())?;
        append_consent(conn, customer_id, consent)
    })
}

fn append_consent(
    conn: &mut Conn,
    customer_id: &str,
    consent: &NewConsent,
) -> Result<Vec<VoidedVoucher>, StoreError> {
    let t = now();
    diesel::insert_into(consents::table)
        .values((
            consents::customer_id.eq(customer_id),
            consents::purpose.eq(&consent.purpose),
            consents::granted.eq(consent.granted),
            consents::source.eq(&consent.source),
            consents::policy_version.eq(&consent.policy_version),
            consents::recorded_at.eq(t),
        ))
        .execute(conn.any())?;
    if consent.purpose != OFFERS_PURPOSE {
        return Ok(Vec::new());
    }
    diesel::update(customers::table.find(customer_id))
        .set((customers::offers_consent.eq(consent.granted), customers::updated_at.eq(t)))
        .execute(conn.any())?;
    if consent.granted {
        Ok(Vec::new())
    } else {
        void_open_vouchers(conn, &[customer_id.to_owned()])
    }
}

/// Voids the open (issued, unredeemed) vouchers of these customers; returns them. Their
/// redeemed vouchers are marked voided too (`voided_at`, status kept): a later rollback of the
/// redemption leaves such a voucher voided instead of redeemable (DESIGN, invariant 6).
pub fn void_open_vouchers(
    conn: &mut Conn,
    customer_ids: &[String],
) -> Result<Vec<VoidedVoucher>, StoreError> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let t = now();
    let redeemed = vouchers::customer_id
        .eq_any(customer_ids.to_vec())
        .and(vouchers::status.eq(VoucherStatus::Redeemed))
        .and(vouchers::voided_at.is_null());
    diesel::update(vouchers::table.filter(redeemed))
        .set(vouchers::voided_at.eq(Some(t)))
        .execute(conn.any())?;
    let open =
        vouchers::customer_id.eq_any(customer_ids.to_vec()).and(vouchers::status.eq(VoucherStatus::Issued));
    let voided: Vec<VoidedVoucher> = vouchers::table
        .filter(open.clone())
        .select((vouchers::campaign_id, vouchers::serial))
        .load(conn.any())?;
    diesel::update(vouchers::table.filter(open))
        .set((vouchers::status.eq(VoucherStatus::Voided), vouchers::voided_at.eq(Some(t))))
        .execute(conn.any())?;
    Ok(voided)
}

/// The consent history, newest first.
pub fn consent_history(conn: &mut Conn, customer_id: &str) -> Result<Vec<ConsentRow>, StoreError> {
    Ok(consents::table
        .filter(consents::customer_id.eq(customer_id))
        .order(consents::id.desc())
        .select(ConsentRow::as_select())
        .load(conn.any())?)
}

/// Imports a batch in one transaction: profiles, then consent statements that differ from
/// the customer's latest one for that purpose (so importing a file twice changes nothing).
/// Returns the vouchers voided by revocations.
pub fn import_batch(conn: &mut Conn, records: &[ImportRecord]) -> Result<Vec<VoidedVoucher>, StoreError> {
    conn.transaction(|conn| {
        let mut seen = HashSet::new();
        if records.iter().all(|r| seen.insert(r.id.as_str())) {
            upsert_profiles(conn, records)?;
        } else {
            // A batch that names a customer twice is applied line by line, in order.
            for r in records {
                upsert_in(conn, &r.id, &r.profile)?;
            }
        }
        let with_consent: Vec<&ImportRecord> = records.iter().filter(|r| r.consent.is_some()).collect();
        if with_consent.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = with_consent.iter().map(|r| r.id.clone()).collect();
        let history: Vec<ConsentRow> = consents::table
            .filter(consents::customer_id.eq_any(ids.clone()))
            .order(consents::id.asc())
            .select(ConsentRow::as_select())
            .load(conn.any())?;
        let mut latest: HashMap<(String, String), (bool, String, String)> = HashMap::new();
        for row in history {
            latest.insert((row.customer_id, row.purpose), (row.granted, row.source, row.policy_version));
        }
        // The statements that change something, in file order (a later line sees an earlier one).
        let t = now();
        let mut rows = Vec::new();
        let mut offers: HashMap<&str, bool> = HashMap::new();
        let mut revoked: Vec<String> = Vec::new();
        for r in with_consent {
            let c = r.consent.as_ref().expect("filtered");
            let state = (c.granted, c.source.clone(), c.policy_version.clone());
            if latest.get(&(r.id.clone(), c.purpose.clone())) == Some(&state) {
                continue;
            }
            latest.insert((r.id.clone(), c.purpose.clone()), state);
            rows.push((
                consents::customer_id.eq(r.id.clone()),
                consents::purpose.eq(c.purpose.clone()),
                consents::granted.eq(c.granted),
                consents::source.eq(c.source.clone()),
                consents::policy_version.eq(c.policy_version.clone()),
                consents::recorded_at.eq(t),
            ));
            if c.purpose == OFFERS_PURPOSE {
                offers.insert(&r.id, c.granted);
                if !c.granted {
                    revoked.push(r.id.clone());
                }
            }
        }
        for chunk in rows.chunks(1000) {
            // A multi-row VALUES: `MultiBackend` has no batch insert (SQLite's lacks DEFAULT).
            per_backend!(conn, |c| diesel::insert_into(consents::table).values(chunk).execute(c))?;
        }
        for granted in [true, false] {
            let who: Vec<String> =
                offers.iter().filter(|(_, g)| **g == granted).map(|(id, _)| id.to_string()).collect();
            if !who.is_empty() {
                diesel::update(customers::table.filter(customers::id.eq_any(who)))
                    .set((customers::offers_consent.eq(granted), customers::updated_at.eq(t)))
                    .execute(conn.any())?;
            }
        }
        // Any revocation in the batch voids what was open at that moment, even if re-granted later.
        void_open_vouchers(conn, &revoked)
    })
}

#[derive(Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
struct NewCustomerRow {
    id: String,
    birth_md: Option<i32>,
    loyalty_tier: Option<String>,
    offers_consent: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Profiles of distinct customers in multi-row upserts: one statement per shape (which of
/// the fields the lines carry), so absent fields are left alone.
fn upsert_profiles(conn: &mut Conn, records: &[ImportRecord]) -> Result<(), StoreError> {
    use diesel::upsert::excluded;
    let t = now();
    let mut shapes: HashMap<(bool, bool), Vec<NewCustomerRow>> = HashMap::new();
    for r in records {
        let shape = (r.profile.birthday.is_some(), r.profile.loyalty_tier.is_some());
        shapes.entry(shape).or_default().push(NewCustomerRow {
            id: r.id.clone(),
            birth_md: r.profile.birthday.flatten().map(Birthday::md),
            loyalty_tier: r.profile.loyalty_tier.clone().flatten(),
            offers_consent: false,
            created_at: t,
            updated_at: t,
        });
    }
    for ((birthday, tier), rows) in shapes {
        for chunk in rows.chunks(1000) {
            let insert = || diesel::insert_into(customers::table).values(chunk);
            let on_id = || insert().on_conflict(customers::id);
            match (birthday, tier) {
                (true, true) => per_backend!(conn, |c| on_id()
                    .do_update()
                    .set((
                        customers::birth_md.eq(excluded(customers::birth_md)),
                        customers::loyalty_tier.eq(excluded(customers::loyalty_tier)),
                        customers::updated_at.eq(excluded(customers::updated_at)),
                    ))
                    .execute(c))?,
                (true, false) => per_backend!(conn, |c| on_id()
                    .do_update()
                    .set((
                        customers::birth_md.eq(excluded(customers::birth_md)),
                        customers::updated_at.eq(excluded(customers::updated_at)),
                    ))
                    .execute(c))?,
                (false, true) => per_backend!(conn, |c| on_id()
                    .do_update()
                    .set((
                        customers::loyalty_tier.eq(excluded(customers::loyalty_tier)),
                        customers::updated_at.eq(excluded(customers::updated_at)),
                    ))
                    .execute(c))?,
                (false, false) => per_backend!(conn, |c| insert().on_conflict_do_nothing().execute(c))?,
            };
        }
    }
    Ok(())
}

/// Records (or replaces) an abandoned cart, creating a bare customer when unknown.
pub fn put_cart(conn: &mut Conn, cart: &CartRow) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        upsert_in(conn, &cart.customer_id, &ProfilePatch::default())?;
        per_backend!(conn, |c| diesel::insert_into(carts::table)
            .values(cart)
            .on_conflict((carts::customer_id, carts::cart_id))
            .do_update()
            .set((
                carts::value.eq(cart.value),
                carts::currency.eq(&cart.currency),
                carts::abandoned_at.eq(cart.abandoned_at),
            ))
            .execute(c))?;
        Ok(())
    })
}

/// Removes a cart (it was bought); `false` when there was none.
pub fn delete_cart(conn: &mut Conn, customer_id: &str, cart_id: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(carts::table.find((customer_id, cart_id))).execute(conn.any())?;
    Ok(n == 1)
}

/// A customer's carts.
pub fn carts_of(conn: &mut Conn, customer_id: &str) -> Result<Vec<CartRow>, StoreError> {
    Ok(carts::table
        .filter(carts::customer_id.eq(customer_id))
        .order(carts::cart_id)
        .select(CartRow::as_select())
        .load(conn.any())?)
}

/// Erasure: voids open vouchers, unlinks every voucher (and its code) from the customer and
/// deletes the profile, consents and carts. Counts stay exact because voucher rows remain.
/// A generation job whose cursor is the customer gets the greatest id below it instead: the
/// keyset walk resumes at the same place (no customer lies between the two any more), so the
/// job neither starts over nor skips anyone. Returns the voided vouchers, or `None` when the
/// customer did not exist.
pub fn erase(conn: &mut Conn, customer_id: &str) -> Result<Option<Vec<VoidedVoucher>>, StoreError> {
    conn.transaction(|conn| {
        if find_row(conn, customer_id)?.is_none() {
            return Ok(None);
        }
        // First wait for the generation batches being written: what they wrote (a voucher, a
        // cursor naming this customer) is then visible below and erased with the rest, and a
        // batch written after this commits finds the customer gone (`generation::write_batch`).
        super::jobs::lock_all(conn)?;
        let voided = void_open_vouchers(conn, &[customer_id.to_owned()])?;
        diesel::update(vouchers::table.filter(vouchers::customer_id.eq(customer_id)))
            .set((vouchers::customer_id.eq(None::<String>), vouchers::code.eq(None::<String>)))
            .execute(conn.any())?;
        super::redemptions::unlink_customer(conn, customer_id)?;
        diesel::delete(customers::table.find(customer_id)).execute(conn.any())?;
        let before = greatest_id(conn, customer_id, false)?.unwrap_or_default();
        super::jobs::replace_cursor(conn, customer_id, &before)?;
        Ok(Some(voided))
    })
}

/// The greatest customer id below `bound` (or equal to it, when `inclusive`), in the database's
/// own order, the one keyset pagination walks. `None` when there is none.
pub fn greatest_id(conn: &mut Conn, bound: &str, inclusive: bool) -> Result<Option<String>, StoreError> {
    use diesel::dsl::max;
    let bound = bound.to_owned();
    Ok(if inclusive {
        customers::table.filter(customers::id.le(bound)).select(max(customers::id)).first(conn.any())
    } else {
        customers::table.filter(customers::id.lt(bound)).select(max(customers::id)).first(conn.any())
    }?)
}

/// Which of these customers exist.
pub fn existing(conn: &mut Conn, ids: &[&str]) -> Result<HashSet<String>, StoreError> {
    let mut found = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let chunk: Vec<String> = chunk.iter().map(|s| (*s).to_owned()).collect();
        let rows: Vec<String> = customers::table
            .filter(customers::id.eq_any(chunk.clone()))
            .select(customers::id)
            .load(conn.any())?;
        found.extend(rows);
    }
    Ok(found)
}
