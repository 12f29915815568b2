//! Aggregates behind the marketer's report: three grouped queries over the source of truth,
//! counting only live (not rolled back) redemptions. No row loops: a campaign with a million
//! vouchers is summed by the database over its indexes.

use chrono::NaiveDate;
use diesel::{
    sql_query,
    sql_types::{BigInt, Integer, Text},
    QueryableByName, RunQueryDsl,
};

use super::{Conn, StoreError};

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
    discount: i64,
    #[diesel(sql_type = BigInt)]
    order_value: i64,
}

/// Per variant index: vouchers issued.
#[derive(Debug, Clone, Default)]
pub struct VariantTotals {
    pub issued: i64,
    pub redeemed: i64,
    pub discount: i64,
    pub order_value: i64,
}

/// A campaign's totals.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    /// Indexed by variant.
    pub variants: Vec<VariantTotals>,
    /// Days with live redemptions (UTC): (day, redemptions, discount).
    pub daily: Vec<(NaiveDate, i64, i64)>,
}

/// Sums a campaign's vouchers and live redemptions by variant and by day.
pub fn aggregates(conn: &mut Conn, campaign_id: i32, variants: usize) -> Result<Aggregates, StoreError> {
    let issued_sql = format!(
        "SELECT variant, COUNT(*) AS n FROM vouchers WHERE campaign_id = {campaign_id} GROUP BY variant"
    );
    let day_expr = match conn {
        Conn::Pg(_) => "to_char(redeemed_at, 'YYYY-MM-DD')",
        Conn::Sqlite(_) => "substr(redeemed_at, 1, 10)",
    };
    // One pass over the live redemptions, grouped by variant and day; folded below.
    let redeemed_sql = format!(
        "SELECT variant, {day_expr} AS day, COUNT(*) AS n, CAST(COALESCE(SUM(discount), 0) AS BIGINT) AS discount, \
         CAST(COALESCE(SUM(order_amount), 0) AS BIGINT) AS order_value FROM redemptions \
         WHERE campaign_id = {campaign_id} AND rolled_back_at IS NULL GROUP BY 1, 2"
    );
    let (issued, redeemed): (Vec<Issued>, Vec<VariantDay>) = crate::with_conn!(conn, |c| {
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
    let mut days: std::collections::BTreeMap<NaiveDate, (i64, i64)> = Default::default();
    for r in redeemed {
        if let Some(v) = out.variants.get_mut(r.variant as usize) {
            v.redeemed += r.n;
            v.discount += r.discount;
            v.order_value += r.order_value;
        }
        if let Ok(day) = NaiveDate::parse_from_str(&r.day, "%Y-%m-%d") {
            let e = days.entry(day).or_default();
            e.0 += r.n;
            e.1 += r.discount;
        }
    }
    out.daily = days.into_iter().map(|(day, (n, d))| (day, n, d)).collect();
    Ok(out)
}
