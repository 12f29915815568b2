//! Fixed report inputs shared by the unit and snapshot tests of the report and its renderers.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::{DailyInput, ReportInput, VariantInput};
use crate::domain::campaign::Analysis;

pub fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn variant(name: &str, weight: u32, issued: u64, redeemed: u64, spent: i64) -> VariantInput {
    with_moments(VariantInput {
        name: name.into(),
        weight,
        issued,
        redeemed,
        discount_spent: spent,
        order_value: spent.saturating_mul(8),
        ..VariantInput::default()
    })
}

/// Fills in what a fixture leaves out as if every redemption took the same discount for the
/// same order value: the open vouchers (issued − redeemed), no per-voucher cap, and the sums of
/// squares.
pub fn with_moments(mut v: VariantInput) -> VariantInput {
    v.open = v.issued.saturating_sub(v.redeemed);
    let n = v.redeemed.max(1) as f64;
    let (o, d) = (v.order_value as f64, v.discount_spent as f64);
    v.order_value_sq = o * o / n;
    v.discount_sq = d * d / n;
    v.order_discount = o * d / n;
    v
}

/// Campaign May 1 – May 31, as of May 21 00:00; 10 days × 1,000.00 spend from May 11 to May 20.
pub fn base() -> ReportInput {
    let daily = (11..=20)
        .rev()
        .map(|d| DailyInput { date: date(2024, 5, d), redemptions: 10, discount_spent: 100_000 })
        .collect();
    ReportInput {
        analysis: Analysis::default(),
        campaign_id: "cmp_1".into(),
        campaign_name: "Birthday".into(),
        currency: "EUR".into(),
        status: "active".into(),
        starts_at: at(2024, 5, 1, 0),
        expires_at: at(2024, 6, 1, 0),
        as_of: at(2024, 5, 21, 0),
        max_amount: Some(5_000_000),
        max_redemptions: None,
        variants: vec![
            variant("control", 50, 10_000, 700, 700_000),
            variant("fixed10", 50, 10_000, 900, 300_000),
        ],
        daily,
    }
}

/// The page's example: May 2024, both budgets, 20 days of data, as of May 21 09:30.
pub fn page_input() -> ReportInput {
    let daily = (1..=20)
        .map(|d| DailyInput {
            date: date(2024, 5, d),
            redemptions: 80 + u64::from(d % 5) * 4,
            discount_spent: 80_000 + i64::from(d) * 1_000,
        })
        .collect();
    ReportInput {
        // Detecting +30% needs fewer vouchers than issued, so a clear difference is a winner.
        analysis: Analysis { min_detectable_lift: 0.3, ..Analysis::default() },
        campaign_id: "cmp_42".into(),
        campaign_name: "Birthday 2024".into(),
        currency: "EUR".into(),
        status: "active".into(),
        starts_at: at(2024, 5, 1, 0),
        expires_at: at(2024, 6, 1, 0),
        as_of: Utc.with_ymd_and_hms(2024, 5, 21, 9, 30, 0).unwrap(),
        max_amount: Some(2_500_000),
        max_redemptions: Some(2_500),
        variants: vec![
            with_moments(VariantInput {
                name: "control".into(),
                weight: 50,
                issued: 10_000,
                redeemed: 712,
                discount_spent: 712_000,
                order_value: 5_696_000,
                ..VariantInput::default()
            }),
            with_moments(VariantInput {
                name: "fixed10".into(),
                weight: 50,
                issued: 10_000,
                redeemed: 910,
                discount_spent: 1_234_567,
                order_value: 7_240_000,
                ..VariantInput::default()
            }),
        ],
        daily,
    }
}

/// The terminal table's example: a money budget only, 7 days of data, as of May 21 00:00.
pub fn table_input() -> ReportInput {
    ReportInput {
        analysis: Analysis::default(),
        campaign_id: "cmp_7".into(),
        campaign_name: "Birthday".into(),
        currency: "EUR".into(),
        status: "active".into(),
        starts_at: at(2024, 5, 1, 0),
        expires_at: at(2024, 6, 1, 0),
        as_of: at(2024, 5, 21, 0),
        max_amount: Some(1_500_000),
        max_redemptions: None,
        variants: vec![
            with_moments(VariantInput {
                name: "control".into(),
                weight: 50,
                issued: 10_000,
                redeemed: 712,
                discount_spent: 700_000,
                order_value: 0,
                ..VariantInput::default()
            }),
            with_moments(VariantInput {
                name: "fixed10".into(),
                weight: 50,
                issued: 10_000,
                redeemed: 905,
                discount_spent: 300_000,
                order_value: 0,
                ..VariantInput::default()
            }),
        ],
        daily: (14..=20)
            .map(|d| DailyInput { date: date(2024, 5, d), redemptions: 10, discount_spent: 100_000 })
            .collect(),
    }
}
