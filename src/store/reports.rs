//! Aggregates behind the marketer's report: grouped queries over the source of truth,
//! counting only live (not rolled back) redemptions. No row loops: a campaign with a million
//! vouchers is summed by the database over its indexes.

use chrono::NaiveDate;
use diesel::{
    sql_query,
    sql_types::{BigInt, Double, Integer, Text},
    QueryableByName, RunQueryDsl,
};

use super::{AnyConnection, Conn, StoreError};

#[derive(QueryableByName)]
struct Issued {
    #[diesel(sql_type = Integer)]
    variant: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
    /// Of those, still redeemable (status `issued`).
    #[diesel(sql_type = BigInt)]
    open: i64,
}

/// Redemptions of one variant on one day, live or rolled back.
#[derive(QueryableByName)]
struct VariantDay {
    #[diesel(sql_type = Integer)]
    variant: i32,
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    discount_hi: i64,
    #[diesel(sql_type = BigInt)]
    discount_lo: i64,
    #[diesel(sql_type = BigInt)]
    order_amount_hi: i64,
    #[diesel(sql_type = BigInt)]
    order_amount_lo: i64,
    /// 1: live redemptions; 0: rolled back (only their count is used).
    #[diesel(sql_type = Integer)]
    live: i32,
    #[diesel(sql_type = Double)]
    order_sq: f64,
    #[diesel(sql_type = Double)]
    discount_sq: f64,
    #[diesel(sql_type = Double)]
    order_discount: f64,
}

/// Sums are taken in two parts, `x / 2^24` and `x % 2^24`, each of which sums within a
/// BIGINT on both backends for any count a campaign can hold (SQLite's `SUM` fails on
/// overflow, PostgreSQL's cast back to BIGINT does); put together exactly in an `i128`.
const SPLIT: i64 = 1 << 24;

/// `{column}_hi` and `{column}_lo` of a group on PostgreSQL: one NUMERIC sum, split.
fn pg_split_sum(column: &str) -> String {
    format!(
        "CAST(div(COALESCE(SUM({column}), 0), {SPLIT}) AS BIGINT) AS {column}_hi, \
         CAST(mod(COALESCE(SUM({column}), 0), {SPLIT}) AS BIGINT) AS {column}_lo"
    )
}

/// `{column}_hi` and `{column}_lo` of a group on SQLite: each row split, then summed.
fn sqlite_split_sum(column: &str) -> String {
    format!(
        "CAST(COALESCE(SUM({column} / {SPLIT}), 0) AS BIGINT) AS {column}_hi, \
         CAST(COALESCE(SUM({column} % {SPLIT}), 0) AS BIGINT) AS {column}_lo"
    )
}

fn joined(hi: i64, lo: i64) -> i128 {
    i128::from(hi) * i128::from(SPLIT) + i128::from(lo)
}

/// Per variant index: vouchers issued.
#[derive(Debug, Clone, Default)]
pub struct VariantTotals {
    pub issued: i64,
    pub redeemed: i64,
    pub discount: i128,
    pub order_value: i128,
    /// Vouchers still redeemable.
    pub open: i64,
    /// Redemptions rolled back.
    pub rolled_back: i64,
    /// Σ order², Σ discount², Σ order × discount over live redemptions (minor units squared;
    /// floating point: a variance needs no more than its 15 digits).
    pub order_sq: f64,
    pub discount_sq: f64,
    pub order_discount: f64,
}

/// A campaign's totals.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    /// Indexed by variant.
    pub variants: Vec<VariantTotals>,
    /// Days with live redemptions (UTC): (day, redemptions, discount).
    pub daily: Vec<(NaiveDate, i64, i128)>,
}

/// Sums a campaign's vouchers and live redemptions by variant and by day.
pub fn aggregates(conn: &mut Conn, campaign_id: i32, variants: usize) -> Result<Aggregates, StoreError> {
    let issued_sql = format!(
        "SELECT variant, COUNT(*) AS n, \
         COALESCE(SUM(CASE WHEN status = 'issued' THEN 1 ELSE 0 END), 0) AS open \
         FROM vouchers WHERE campaign_id = {campaign_id} GROUP BY variant"
    );
    let real = match conn.any() {
        AnyConnection::Pg(_) => "DOUBLE PRECISION",
        AnyConnection::Sqlite(_) => "REAL",
    };
    // PostgreSQL: group by the date (a cast, several times cheaper per row than `to_char`),
    // and sum money as NUMERIC once per group, split afterwards; the planner knows how few
    // (variant, day, live) groups there are from the extended statistics of migration
    // `report_statistics`, so it hashes instead of sorting 200,000 rows to disk. SQLite sums
    // in BIGINT and fails on overflow, so there each row is split before summing.
    let (day, group_day, live, sum) = match conn.any() {
        AnyConnection::Pg(_) => (
            "CAST(CAST(redeemed_at AS DATE) AS TEXT)",
            "CAST(redeemed_at AS DATE)",
            "rolled_back_at IS NULL",
            pg_split_sum as fn(&str) -> String,
        ),
        AnyConnection::Sqlite(_) => (
            "substr(redeemed_at, 1, 10)",
            "substr(redeemed_at, 1, 10)",
            "CASE WHEN rolled_back_at IS NULL THEN 1 ELSE 0 END",
            sqlite_split_sum as fn(&str) -> String,
        ),
    };
    // One pass over the campaign's redemptions, grouped by variant, day and live or rolled back;
    // folded below. The squares are floating point: a variance needs no more than its 15 digits.
    let redeemed_sql = format!(
        "SELECT variant, {day} AS day, COUNT(*) AS n, {discount}, {order}, \
         CASE WHEN rolled_back_at IS NULL THEN 1 ELSE 0 END AS live, \
         CAST(COALESCE(SUM(CAST(order_amount AS {real}) * order_amount), 0) AS {real}) AS order_sq, \
         CAST(COALESCE(SUM(CAST(discount AS {real}) * discount), 0) AS {real}) AS discount_sq, \
         CAST(COALESCE(SUM(CAST(order_amount AS {real}) * discount), 0) AS {real}) AS order_discount \
         FROM redemptions WHERE campaign_id = {campaign_id} GROUP BY variant, {group_day}, {live}",
        discount = sum("discount"),
        order = sum("order_amount"),
    );
    let (issued, redeemed): (Vec<Issued>, Vec<VariantDay>) = crate::per_backend!(conn, |c| {
        let issued = sql_query(&issued_sql).load(c)?;
        let redeemed = sql_query(&redeemed_sql).load(c)?;
        Ok::<_, diesel::result::Error>((issued, redeemed))
    })?;
    let mut out = Aggregates { variants: vec![VariantTotals::default(); variants], daily: Vec::new() };
    for i in issued {
        if let Some(v) = out.variants.get_mut(i.variant as usize) {
            v.issued = i.n;
            v.open = i.open;
        }
    }
    let mut days: std::collections::BTreeMap<NaiveDate, (i64, i128)> = Default::default();
    for r in redeemed {
        if r.live == 0 {
            if let Some(v) = out.variants.get_mut(r.variant as usize) {
                v.rolled_back += r.n;
            }
            continue;
        }
        let (discount, order_value) =
            (joined(r.discount_hi, r.discount_lo), joined(r.order_amount_hi, r.order_amount_lo));
        if let Some(v) = out.variants.get_mut(r.variant as usize) {
            v.redeemed += r.n;
            v.discount += discount;
            v.order_value += order_value;
            v.order_sq += r.order_sq;
            v.discount_sq += r.discount_sq;
            v.order_discount += r.order_discount;
        }
        if let Ok(day) = NaiveDate::parse_from_str(&r.day, "%Y-%m-%d") {
            let e = days.entry(day).or_default();
            e.0 += r.n;
            e.1 += discount;
        }
    }
    out.daily = days.into_iter().map(|(day, (n, d))| (day, n, d)).collect();
    Ok(out)
}
