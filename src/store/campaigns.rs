//! Campaigns as stored. Structured fields (segment, discount, variants) are JSON text so both
//! backends store them the same way; they are parsed into domain types on the way out.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{schema::campaigns, AnyConnection, Conn, StoreError};
use crate::{
    domain::{
        campaign::{Analysis, Budget, CampaignStatus, Discount, Variant},
        money::Money,
        segment::Segment,
    },
    per_backend,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaigns)]
struct Row {
    id: i32,
    name: String,
    currency: String,
    segment: String,
    discount: String,
    min_order: i64,
    budget_amount: Option<i64>,
    budget_redemptions: Option<i64>,
    starts_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    status: String,
    prefix: String,
    salt: String,
    variants: String,
    next_serial: i64,
    spent: i64,
    redeemed: i64,
    revision: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    /// `null`: the defaults (campaigns made before the setting existed).
    analysis: Option<String>,
}

pub use crate::domain::campaign::Campaign;

fn corrupt(id: i32, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Conflict(format!("campaign {id} has an unreadable {what}: {e}"))
}

impl TryFrom<Row> for Campaign {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Campaign {
            segment: serde_json::from_str(&r.segment).map_err(|e| corrupt(r.id, "segment", e))?,
            discount: serde_json::from_str(&r.discount).map_err(|e| corrupt(r.id, "discount", e))?,
            variants: serde_json::from_str(&r.variants).map_err(|e| corrupt(r.id, "variants", e))?,
            analysis: match &r.analysis {
                Some(a) => serde_json::from_str(a).map_err(|e| corrupt(r.id, "analysis", e))?,
                None => Analysis::default(),
            },
            status: CampaignStatus::parse(&r.status).ok_or_else(|| corrupt(r.id, "status", &r.status))?,
            salt: hex::decode(&r.salt).map_err(|e| corrupt(r.id, "salt", e))?,
            budget: Budget {
                max_amount: r.budget_amount.map(Money::from_stored),
                max_redemptions: r.budget_redemptions,
            },
            id: r.id,
            name: r.name,
            currency: r.currency,
            min_order: r.min_order,
            starts_at: r.starts_at,
            expires_at: r.expires_at,
            prefix: r.prefix,
            next_serial: r.next_serial,
            spent: r.spent,
            redeemed: r.redeemed,
            revision: r.revision,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a new campaign is made of (already validated).
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub currency: String,
    pub segment: Segment,
    pub discount: Discount,
    pub min_order: i64,
    pub budget: Budget,
    pub starts_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub prefix: String,
    pub variants: Vec<Variant>,
    pub analysis: Analysis,
}

/// A change to a campaign (already validated); `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub budget: Option<Budget>,
    pub expires_at: Option<NaiveDateTime>,
    pub status: Option<CampaignStatus>,
    pub analysis: Option<Analysis>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialize")
}

/// Stores a new campaign with a fresh random salt for variant assignment.
pub fn create(conn: &mut Conn, new: &NewCampaign) -> Result<Campaign, StoreError> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let t = Utc::now().naive_utc();
    let values = (
        campaigns::name.eq(&new.name),
        campaigns::currency.eq(&new.currency),
        campaigns::segment.eq(json(&new.segment)),
        campaigns::discount.eq(json(&new.discount)),
        campaigns::min_order.eq(new.min_order),
        campaigns::budget_amount.eq(new.budget.max_amount.map(Money::minor)),
        campaigns::budget_redemptions.eq(new.budget.max_redemptions),
        campaigns::starts_at.eq(new.starts_at),
        campaigns::expires_at.eq(new.expires_at),
        campaigns::status.eq(CampaignStatus::Active.as_str()),
        campaigns::prefix.eq(&new.prefix),
        campaigns::salt.eq(hex::encode(salt)),
        campaigns::variants.eq(json(&new.variants)),
        campaigns::analysis.eq(Some(json(&new.analysis))),
        campaigns::created_at.eq(t),
        campaigns::updated_at.eq(t),
    );
    // `as_returning` selects for one backend; `MultiBackend` has no `Selectable` of its own.
    let row: Row = per_backend!(conn, |c| diesel::insert_into(campaigns::table)
        .values(values.clone())
        .returning(Row::as_returning())
        .get_result(c))?;
    row.try_into()
}

/// Reads a campaign.
pub fn get(conn: &mut Conn, id: i32) -> Result<Option<Campaign>, StoreError> {
    let row: Option<Row> = campaigns::table.find(id).select(Row::as_select()).first(conn.any()).optional()?;
    row.map(Campaign::try_from).transpose()
}

/// Reads a campaign inside a write transaction, holding its row lock on PostgreSQL until the
/// transaction ends (SQLite's write transactions exclude each other already).
pub fn get_for_update(conn: &mut Conn, id: i32) -> Result<Option<Campaign>, StoreError> {
    let query = campaigns::table.find(id);
    let row: Option<Row> = match conn.any() {
        AnyConnection::Pg(c) => query.select(Row::as_select()).for_update().first(c).optional()?,
        AnyConnection::Sqlite(c) => query.select(Row::as_select()).first(c).optional()?,
    };
    row.map(Campaign::try_from).transpose()
}

/// Campaigns by id, after `after`, at most `limit`.
pub fn list(conn: &mut Conn, after: Option<i32>, limit: i64) -> Result<Vec<Campaign>, StoreError> {
    let rows: Vec<Row> = campaigns::table
        .filter(campaigns::id.gt(after.unwrap_or(0)))
        .order(campaigns::id)
        .limit(limit)
        .select(Row::as_select())
        .load(conn.any())?;
    rows.into_iter().map(Campaign::try_from).collect()
}

/// Applies a change and bumps the revision (ledgers reload a campaign whose revision moved).
/// `Conflict` for a status change an ended campaign cannot make.
pub fn patch(conn: &mut Conn, id: i32, patch: &CampaignPatch) -> Result<Campaign, StoreError> {
    conn.transaction(|conn| {
        let current = get(conn, id)?.ok_or(StoreError::NotFound)?;
        if let Some(next) = patch.status {
            if !current.status.can_become(next) {
                return Err(StoreError::Conflict(format!("an ended campaign cannot become {next}")));
            }
        }
        if let Some(expires_at) = patch.expires_at {
            if expires_at <= current.starts_at {
                return Err(StoreError::Conflict("expires_at must be after starts_at".into()));
            }
        }
        let budget = patch.budget.unwrap_or(current.budget);
        let t = Utc::now().naive_utc();
        diesel::update(campaigns::table.find(id))
            .set((
                campaigns::name.eq(patch.name.clone().unwrap_or(current.name.clone())),
                campaigns::budget_amount.eq(budget.max_amount.map(Money::minor)),
                campaigns::budget_redemptions.eq(budget.max_redemptions),
                campaigns::expires_at.eq(patch.expires_at.unwrap_or(current.expires_at)),
                campaigns::status.eq(patch.status.unwrap_or(current.status).as_str()),
                campaigns::analysis.eq(Some(json(&patch.analysis.unwrap_or(current.analysis)))),
                campaigns::revision.eq(campaigns::revision + 1),
                campaigns::updated_at.eq(t),
            ))
            .execute(conn.any())?;
        get(conn, id)?.ok_or(StoreError::NotFound)
    })
}

/// Reserves `n` consecutive serials; returns the first. Serials are never reused, so codes
/// are unique by construction; a crash leaves a harmless gap.
pub fn allocate_serials(conn: &mut Conn, id: i32, n: i64) -> Result<i64, StoreError> {
    let next: i64 = diesel::update(campaigns::table.find(id))
        .set(campaigns::next_serial.eq(campaigns::next_serial + n))
        .returning(campaigns::next_serial)
        .get_result(conn.any())?;
    if next > i64::from(u32::MAX) + 1 {
        return Err(StoreError::Conflict(format!("campaign {id} has used all 2^32 voucher serials")));
    }
    Ok(next - n)
}
