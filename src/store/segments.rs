//! Segments evaluated in SQL, for generation over millions of customers. The rules mirror
//! `domain::segment::Segment::matches`; the tests check that both agree customer by customer.

use chrono::{Duration, NaiveDateTime, SubsecRound};
use diesel::prelude::*;

use super::{
    schema::{carts, customers},
    Conn, StoreError,
};
use crate::domain::segment::{birthday_window, Segment};

/// A segment as of a moment, for a campaign's currency.
#[derive(Debug, Clone)]
pub struct SegmentAt<'a> {
    pub segment: &'a Segment,
    pub currency: &'a str,
    pub now: NaiveDateTime,
}

macro_rules! in_segment {
    ($query:expr, $at:expr) => {{
        let at: &SegmentAt = $at;
        // Microseconds, as the databases keep them and as the domain rule compares.
        let now = at.now.trunc_subsecs(6);
        let mut q = $query;
        match at.segment {
            Segment::Birthday { window_days } => {
                q = q.filter(customers::birth_md.eq_any(birthday_window(now.date(), *window_days)));
            }
            Segment::AbandonedCart { min_value, within_hours } => {
                let since = now - Duration::hours(i64::from(*within_hours));
                q = q.filter(
                    customers::id.eq_any(
                        carts::table
                            .filter(carts::currency.eq(at.currency.to_owned()))
                            .filter(carts::value.ge(min_value.minor()))
                            .filter(carts::abandoned_at.ge(since))
                            .filter(carts::abandoned_at.le(now))
                            .select(carts::customer_id),
                    ),
                );
            }
            Segment::LoyaltyTier { tiers } => {
                q = q.filter(customers::loyalty_tier.eq_any(tiers.clone()));
            }
            Segment::AllConsented => {}
        }
        q
    }};
}

/// The next `limit` customers of the segment after `after` (by id), with their consent.
pub fn page(
    conn: &mut Conn,
    at: &SegmentAt,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(String, bool)>, StoreError> {
    let after = after.unwrap_or("").to_owned();
    Ok({
        let q = customers::table
            .select((customers::id, customers::offers_consent))
            .filter(customers::id.gt(after))
            .order(customers::id)
            .limit(limit)
            .into_boxed();
        in_segment!(q, at).load(conn.any())
    }?)
}

/// How many customers are in the segment (consented or not).
pub fn count(conn: &mut Conn, at: &SegmentAt) -> Result<i64, StoreError> {
    Ok({
        let q = customers::table.select(diesel::dsl::count_star()).into_boxed();
        in_segment!(q, at).first(conn.any())
    }?)
}

/// Whether one customer is in the segment (consent aside).
pub fn contains(conn: &mut Conn, at: &SegmentAt, customer_id: &str) -> Result<bool, StoreError> {
    let n: i64 = {
        let q = customers::table
            .select(diesel::dsl::count_star())
            .filter(customers::id.eq(customer_id.to_owned()))
            .into_boxed();
        in_segment!(q, at).first(conn.any())
    }?;
    Ok(n > 0)
}
