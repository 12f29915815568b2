//! Segments: who a campaign is for. The rules here are the reference; generation evaluates the
//! same rules as SQL (`store::segments`), and the tests check that both agree.
//!
//! Consent is not part of a segment: it is checked beside it, so that a job can report the
//! customers it skipped for lack of consent.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::customer::{birthday_in, CustomerFacts, LoyaltyTier};

pub use super::bounds::MAX_TIERS;

/// A campaign's audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    /// Customers whose birthday falls within the next `window_days` days (UTC), today included.
    Birthday { window_days: u32 },
    /// Customers with a cart of at least `min_value` (campaign currency, minor units) abandoned
    /// within the last `within_hours` hours and not bought since.
    AbandonedCart { min_value: crate::domain::money::Money, within_hours: u32 },
    /// Customers in one of these tiers (case-insensitive).
    LoyaltyTier { tiers: Vec<String> },
    /// Every consented customer.
    AllConsented,
}

impl Segment {
    /// Checks the rule's parameters and normalises tier names; the error names the field.
    pub fn validated(self) -> Result<Segment, (&'static str, String)> {
        match self {
            Segment::Birthday { window_days } if !super::bounds::WINDOW_DAYS.contains(&window_days) => {
                Err(("segment.window_days", "window_days must be between 1 and 366".into()))
            }
            Segment::AbandonedCart { within_hours, .. }
                if !super::bounds::WITHIN_HOURS.contains(&within_hours) =>
            {
                Err(("segment.within_hours", "within_hours must be between 1 and 8760".into()))
            }
            Segment::LoyaltyTier { tiers } => {
                if tiers.is_empty() || tiers.len() > MAX_TIERS {
                    return Err(("segment.tiers", format!("tiers must list 1 to {MAX_TIERS} tiers")));
                }
                let mut parsed = tiers
                    .iter()
                    .map(|t| LoyaltyTier::parse(t).map(|t| t.as_str().to_owned()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ("segment.tiers", e))?;
                parsed.sort();
                parsed.dedup();
                Ok(Segment::LoyaltyTier { tiers: parsed })
            }
            ok => Ok(ok),
        }
    }

    /// Whether a customer's facts put them in the segment at `now` (consent aside).
    pub fn matches(&self, facts: &CustomerFacts, currency: &str, now: DateTime<Utc>) -> bool {
        // Databases keep microseconds: compare at that precision so SQL and this agree.
        let now = now.trunc_subsecs(6);
        match self {
            Segment::Birthday { window_days } => facts
                .birthday
                .is_some_and(|b| birthday_window(now.date_naive(), *window_days).contains(&b.md())),
            Segment::AbandonedCart { min_value, within_hours } => {
                let since = now - Duration::hours(i64::from(*within_hours));
                facts.carts.iter().any(|c| {
                    c.currency == currency
                        && c.value >= min_value.minor()
                        && c.abandoned_at >= since
                        && c.abandoned_at <= now
                })
            }
            Segment::LoyaltyTier { tiers } => facts.tier.as_ref().is_some_and(|t| tiers.contains(t)),
            Segment::AllConsented => true,
        }
    }
}

/// The stored birthdays (`month * 100 + day`) that fall in the `days` days starting `today`.
/// A 29 February birthday counts on 28 February in years without a 29th.
pub fn birthday_window(today: NaiveDate, days: u32) -> Vec<i32> {
    let mut out = Vec::with_capacity(days as usize + 1);
    for offset in 0..days.min(366) {
        let date = today + Duration::days(i64::from(offset));
        out.push((date.month() * 100 + date.day()) as i32);
        let leap = NaiveDate::from_ymd_opt(date.year(), 2, 29).is_some();
        if !leap && date.month() == 2 && date.day() == 28 {
            out.push(229);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the birthday `md` is within the window, by the same rule (for single checks).
pub fn in_birthday_window(today: NaiveDate, days: u32, birthday: super::customer::Birthday) -> bool {
    (0..days.min(366)).any(|offset| {
        let date = today + Duration::days(i64::from(offset));
        birthday_in(date.year(), birthday) == date
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{Birthday, Cart};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dec_28_with_a_7_day_window_includes_jan_2() {
        let w = birthday_window(d(2026, 12, 28), 7);
        assert!(w.contains(&102), "{w:?}");
        assert!(w.contains(&1228) && w.contains(&1231) && w.contains(&103));
        assert!(!w.contains(&104) && !w.contains(&1227));
    }

    #[test]
    fn feb_29_birthdays_in_leap_and_common_years() {
        // 2027 is a common year: the leapling celebrates on 28 February.
        assert!(birthday_window(d(2027, 2, 28), 1).contains(&229));
        assert!(birthday_window(d(2027, 2, 27), 2).contains(&229));
        assert!(!birthday_window(d(2027, 3, 1), 5).contains(&229));
        // 2028 is a leap year: 29 February is its own day, not 28 February's.
        assert!(!birthday_window(d(2028, 2, 28), 1).contains(&229));
        assert!(birthday_window(d(2028, 2, 28), 2).contains(&229));
    }

    #[test]
    fn carts_match_at_exactly_min_value_in_the_campaign_currency_and_window() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z").unwrap().with_timezone(&Utc);
        let seg = Segment::AbandonedCart {
            min_value: crate::domain::money::Money::new(5000).unwrap(),
            within_hours: 24,
        };
        let facts = |value, currency: &str, hours_ago| CustomerFacts {
            carts: vec![Cart {
                value,
                currency: currency.into(),
                abandoned_at: now - Duration::hours(hours_ago),
            }],
            ..Default::default()
        };
        assert!(seg.matches(&facts(5000, "EUR", 1), "EUR", now));
        assert!(!seg.matches(&facts(4999, "EUR", 1), "EUR", now));
        assert!(!seg.matches(&facts(9000, "USD", 1), "EUR", now));
        assert!(seg.matches(&facts(9000, "EUR", 24), "EUR", now));
        assert!(!seg.matches(&facts(9000, "EUR", 25), "EUR", now));
    }

    #[test]
    fn tiers_are_normalised_and_validated() {
        let seg = Segment::LoyaltyTier { tiers: vec![" Gold".into(), "gold".into(), "SILVER".into()] };
        assert_eq!(
            seg.validated().unwrap(),
            Segment::LoyaltyTier { tiers: vec!["gold".into(), "silver".into()] }
        );
        assert!(Segment::LoyaltyTier { tiers: vec![] }.validated().is_err());
        assert!(Segment::Birthday { window_days: 0 }.validated().is_err());
        assert!(serde_json::from_str::<Segment>(
            r#"{"kind":"abandoned_cart","min_value":-1,"within_hours":1}"#
        )
        .is_err());
    }

    proptest! {
        #[test]
        fn the_window_set_and_the_single_check_agree(
            start in 0i64..3000, days in 1u32..=40, m in 1u32..=12, day in 1u32..=31
        ) {
            let today = d(2024, 1, 1) + Duration::days(start);
            if let Ok(b) = Birthday::new(m, day) {
                prop_assert_eq!(birthday_window(today, days).contains(&b.md()), in_birthday_window(today, days, b));
            }
        }
    }
}
