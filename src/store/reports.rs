//! Aggregates behind the marketer's report: three grouped queries over the source of truth,
//! counting only live (not rolled back) redemptions. No row loops: a campaign with a million
//! vouchers is summed by the database over its indexes.

use chrono::NaiveDate;
use diesel::{
    sql_query,
    sql_types::{BigInt, Integer, Text},
    QueryableByName, RunQueryDsl,
};

use super::{AnyConnection, Conn, StoreError};

#[derive(QueryableByName)]
struct Issued {
    #[diesel(sql_type = Integer)]
    variant: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Live redemptions of one variant on one day.
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
    order_hi: i64,
    #[diesel(sql_type = BigInt)]
    order_lo: i64,
}

/// Sums are taken in two parts, `x / 2^24` and `x % 2^24`, each of which sums within a
/// BIGINT on both backends for any count a campaign can hold (SQLite's `SUM` fails on
/// overflow, PostgreSQL's cast back to BIGINT does); put together exactly in an `i128`.
const SPLIT: i64 = 1 << 24;

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
        "SELECT variant, COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id} GROUP BY variant"
    );
    let day_expr = match conn.any() {
        AnyConnection::Pg(_) => "to_char(redeemed_at, 'YYYY-MM-DD')",
        AnyConnection::Sqlite(_) => "substr(redeemed_at, 1, 10)",
    };
    // One pass over the live redemptions, grouped by variant and day; folded below.
    let redeemed_sql = format!(
        "SELECT variant, {day_expr} AS day, COUNT(*) AS n, \
         CAST(COALESCE(SUM(discount / {SPLIT}), 0) AS BIGINT) AS discount_hi, \
         CAST(COALESCE(SUM(discount % {SPLIT}), 0) AS BIGINT) AS discount_lo, \
         CAST(COALESCE(SUM(order_amount / {SPLIT}), 0) AS BIGINT) AS order_hi, \
         CAST(COALESCE(SUM(order_amount % {SPLIT}), 0) AS BIGINT) AS order_lo FROM redemptions \
         WHERE campaign_id = {campaign_id} AND rolled_back_at IS NULL GROUP BY 1, 2"
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
        }
    }
    let mut days: std::collections::BTreeMap<NaiveDate, (i64, i128)> = Default::default();
    for r in redeemed {
        let (discount, order_value) = (joined(r.discount_hi, r.discount_lo), joined(r.order_hi, r.order_lo));
        if let Some(v) = out.variants.get_mut(r.variant as usize) {
            v.redeemed += r.n;
            v.discount += discount;
            v.order_value += order_value;
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
