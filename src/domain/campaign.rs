//! Campaigns: what a voucher is worth, to whom, for how long, within which budget.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{
    money::{Money, MAX_MINOR},
    refusal::Refusal,
    segment::Segment,
};

pub use super::bounds::MAX_VARIANTS;

/// What a voucher takes off an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discount {
    /// `percent` of the order amount (1–100), at most `max_amount` when given.
    Percent {
        percent: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_amount: Option<Money>,
    },
    /// A fixed amount in minor units.
    Amount { amount: Money },
}

impl Discount {
    /// The most one voucher can take, minor units: the amount, or a percentage's cap; `None`
    /// for a percentage without a cap.
    pub fn max_per_voucher(self) -> Option<i64> {
        match self {
            Discount::Amount { amount } => Some(amount.minor()),
            Discount::Percent { max_amount, .. } => max_amount.map(Money::minor),
        }
    }

    /// Checks the numbers; the error names the field under `prefix` (e.g. `discount`).
    pub fn validated(self, prefix: &str) -> Result<Discount, (String, String)> {
        match self {
            Discount::Percent { percent, .. } if !super::bounds::PERCENT.contains(&percent) => {
                Err((format!("{prefix}.percent"), "percent must be between 1 and 100".into()))
            }
            Discount::Percent { max_amount: Some(m), .. } if m == Money::ZERO => {
                Err((format!("{prefix}.max_amount"), "max_amount must be greater than 0".into()))
            }
            Discount::Amount { amount } if amount == Money::ZERO => {
                Err((format!("{prefix}.amount"), "amount must be greater than 0".into()))
            }
            ok => Ok(ok),
        }
    }

    /// The discount on an order of `order_amount` minor units.
    ///
    /// Percentages round down to the minor unit (the shop never gives away a fraction of a
    /// cent more than promised), then the cap applies; no discount ever exceeds the order.
    pub fn apply(self, order_amount: Money) -> Money {
        let raw = match self {
            Discount::Percent { percent, max_amount } => {
                let d = order_amount.percent(percent);
                max_amount.map_or(d, |m| d.min(m))
            }
            Discount::Amount { amount } => amount,
        };
        raw.min(order_amount)
    }
}

/// One arm of an A/B test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique within the campaign; the first variant is the control.
    pub name: String,
    /// Relative share of customers (> 0).
    pub weight: u32,
    /// Overrides the campaign's discount for this variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
}

/// Checks a variant list: 1 to 16 variants, unique non-empty names, weights > 0.
pub fn validate_variants(variants: Vec<Variant>) -> Result<Vec<Variant>, (String, String)> {
    if variants.is_empty() || variants.len() > MAX_VARIANTS {
        return Err(("variants".into(), format!("a campaign has 1 to {MAX_VARIANTS} variants")));
    }
    let mut out: Vec<Variant> = Vec::with_capacity(variants.len());
    for (i, mut v) in variants.into_iter().enumerate() {
        v.name = v.name.trim().to_owned();
        if !super::bounds::VARIANT_NAME_CHARS.contains(&v.name.chars().count())
            || v.name.chars().any(char::is_control)
        {
            return Err((
                format!("variants[{i}].name"),
                "a variant name is 1 to 64 printable characters".into(),
            ));
        }
        if out.iter().any(|o| o.name == v.name) {
            return Err((format!("variants[{i}].name"), format!("variant name `{}` is used twice", v.name)));
        }
        if !super::bounds::WEIGHT.contains(&v.weight) {
            return Err((format!("variants[{i}].weight"), "weight must be between 1 and 1000000".into()));
        }
        if let Some(d) = v.discount {
            v.discount = Some(d.validated(&format!("variants[{i}].discount"))?);
        }
        out.push(v);
    }
    Ok(out)
}

/// A campaign's state. `ended` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Active,
    Paused,
    Ended,
}

impl CampaignStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Ended => "ended",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<CampaignStatus> {
        match s {
            "active" => Some(CampaignStatus::Active),
            "paused" => Some(CampaignStatus::Paused),
            "ended" => Some(CampaignStatus::Ended),
            _ => None,
        }
    }

    /// Whether a campaign may move from `self` to `next`.
    pub fn can_become(self, next: CampaignStatus) -> bool {
        self == next || self != CampaignStatus::Ended
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the A/B results are read: always-valid (sequential) by default, so a report may be
/// looked at every day; `fixed` gives fixed-horizon statistics valid for one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisMethod {
    #[default]
    Sequential,
    Fixed,
}

/// The analysis settings of a campaign (`analysis` on create and PATCH; every field optional).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Default `sequential`.
    #[serde(default)]
    pub method: AnalysisMethod,
    /// Significance level, between 0.001 and 0.2; default 0.05.
    #[serde(default = "Analysis::default_alpha")]
    #[schema(example = 0.05)]
    pub alpha: f64,
    /// Share of an order's value the shop keeps before the discount (0 to 1): with it the report
    /// shows net contribution per issued voucher. Default: none.
    #[serde(default)]
    #[schema(example = 0.4)]
    pub gross_margin: Option<f64>,
    /// The relative lift the campaign should be able to detect (power 80%), between 0.001 and
    /// 10; default 0.1 (+10%).
    #[serde(default = "Analysis::default_mde")]
    #[schema(example = 0.1)]
    pub min_detectable_lift: f64,
    /// The sequential method's tuning N* (the sample size where its interval is tightest),
    /// between 100 and 10,000,000; default 5,000.
    #[serde(default = "Analysis::default_tuning")]
    #[schema(example = 5000.0)]
    pub tuning: f64,
    /// For planning: the redemption rate you expect for the control (between 0.0001 and 0.9999),
    /// e.g. from an earlier campaign. With it the campaign says at creation how many vouchers
    /// each arm needs (`plan`); without it the plan shows a few typical rates. Default: none.
    #[serde(default)]
    #[schema(example = 0.08)]
    pub expected_rate: Option<f64>,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            method: AnalysisMethod::Sequential,
            alpha: Self::default_alpha(),
            gross_margin: None,
            min_detectable_lift: Self::default_mde(),
            tuning: Self::default_tuning(),
            expected_rate: None,
        }
    }
}

impl Analysis {
    fn default_alpha() -> f64 {
        0.05
    }
    fn default_mde() -> f64 {
        0.1
    }
    fn default_tuning() -> f64 {
        5000.0
    }

    /// Checks the ranges; the error names the field under `analysis.`.
    pub fn validated(self) -> Result<Analysis, (String, String)> {
        let bad = |f: &str, d: &str| Err((format!("analysis.{f}"), d.to_owned()));
        if !(0.001..=0.2).contains(&self.alpha) {
            return bad("alpha", "alpha must be between 0.001 and 0.2");
        }
        if let Some(m) = self.gross_margin {
            if !(0.0..=1.0).contains(&m) {
                return bad("gross_margin", "gross_margin must be between 0 and 1");
            }
        }
        if !(0.001..=10.0).contains(&self.min_detectable_lift) {
            return bad("min_detectable_lift", "min_detectable_lift must be between 0.001 and 10");
        }
        if !(100.0..=1e7).contains(&self.tuning) {
            return bad("tuning", "tuning must be between 100 and 10000000");
        }
        if self.expected_rate.is_some_and(|r| !(0.0001..=0.9999).contains(&r)) {
            return bad("expected_rate", "expected_rate must be between 0.0001 and 0.9999");
        }
        Ok(self)
    }
}

/// A campaign's budget: money (minor units) and count; `None` = no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default)]
    pub max_amount: Option<Money>,
    /// 1 to 10^12.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1e12)]
    pub max_redemptions: Option<i64>,
}

impl Budget {
    /// Both limits, when given, are > 0 (and the count at most 10^12, like money).
    pub fn validated(self) -> Result<Budget, (String, String)> {
        if self.max_amount == Some(Money::ZERO) {
            return Err(("budget.max_amount".into(), "max_amount must be greater than 0".into()));
        }
        if self.max_redemptions.is_some_and(|m| !(1..=MAX_MINOR).contains(&m)) {
            return Err((
                "budget.max_redemptions".into(),
                format!("max_redemptions must be between 1 and {MAX_MINOR}"),
            ));
        }
        Ok(self)
    }
}

impl Budget {
    /// Whether the budget has room for `amount` more money over `count` more redemptions, with
    /// `spent` and `redeemed` taken already (sums that would overflow have no room).
    pub fn has_room(&self, spent: i64, redeemed: i64, amount: i64, count: i64) -> bool {
        let fits = |limit: Option<i64>, taken: i64, more: i64| {
            limit.is_none_or(|l| taken.checked_add(more).is_some_and(|sum| sum <= l))
        };
        fits(self.max_amount.map(Money::minor), spent, amount) && fits(self.max_redemptions, redeemed, count)
    }

    /// The budget rule for one redemption of `discount`: `spent + discount ≤ max_amount` and
    /// `redeemed + 1 ≤ max_redemptions`, each when given.
    pub fn room(&self, spent: i64, redeemed: i64, discount: Money) -> Result<(), Refusal> {
        if self.has_room(spent, redeemed, discount.minor(), 1) {
            Ok(())
        } else {
            Err(Refusal::BudgetExhausted)
        }
    }
}

/// The rules a campaign sets for one redemption of one of its variants: the one authoritative
/// statement of them. The validation path, the SQL ledger and the store's commit call
/// [`Rules::check`]; `ledger/redis/lua/redeem.lua` restates them in Lua (it runs inside Redis), and
/// `tests/ledger_conformance.rs` feeds one table of cases to this, to the SQL ledger and to
/// the Redis ledger and asserts all three agree.
///
/// The order of the checks is part of the rules (the first that fails is the answer):
/// status, dates, currency, minimum order; then the caller checks the voucher itself (unknown,
/// voided, already redeemed, another customer's) and last the budget ([`Budget::room`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules<'a> {
    pub status: CampaignStatus,
    pub starts_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    /// The currency the campaign pays in (ISO 4217).
    pub currency: &'a str,
    /// The smallest order, in minor units of `currency`.
    pub min_order: i64,
    /// The variant's discount (its own, or the campaign's).
    pub discount: Discount,
}

impl Rules<'_> {
    /// Whether the campaign takes redemptions at `now`: active, started, not expired.
    pub fn check_state(&self, now: chrono::NaiveDateTime) -> Result<(), Refusal> {
        match self.status {
            CampaignStatus::Paused => Err(Refusal::Paused),
            CampaignStatus::Ended => Err(Refusal::Ended),
            CampaignStatus::Active if now < self.starts_at => Err(Refusal::NotStarted),
            CampaignStatus::Active if now >= self.expires_at => Err(Refusal::Expired),
            CampaignStatus::Active => Ok(()),
        }
    }

    /// The discount an order of `amount` in `currency` gets at `now`, or why it gets none.
    pub fn check(&self, amount: Money, currency: &str, now: chrono::NaiveDateTime) -> Result<Money, Refusal> {
        self.check_state(now)?;
        if currency != self.currency {
            return Err(Refusal::CurrencyMismatch {
                campaign: self.currency.to_owned(),
                order: currency.to_owned(),
            });
        }
        if amount.minor() < self.min_order {
            return Err(Refusal::OrderBelowMinimum {
                min_order: self.min_order,
                currency: self.currency.to_owned(),
            });
        }
        Ok(self.discount.apply(amount))
    }
}

/// A campaign name: trimmed, 1 to 200 characters, none of them a control character.
pub fn parse_name(s: &str) -> Result<String, (String, String)> {
    let name = s.trim();
    if !super::bounds::CAMPAIGN_NAME_CHARS.contains(&name.chars().count())
        || name.chars().any(char::is_control)
    {
        return Err(("name".into(), "name must be 1 to 200 printable characters".into()));
    }
    Ok(name.to_owned())
}

/// The rule for a campaign's dates, on create and on every change: it ends after it starts,
/// and not in the past (a campaign cannot be made already expired; to stop one early, set
/// its status to `ended`).
pub fn check_dates(
    starts_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
) -> Result<(), (String, String)> {
    if expires_at <= starts_at {
        return Err(("expires_at".into(), "expires_at must be after starts_at".into()));
    }
    if expires_at <= now {
        return Err(("expires_at".into(), "expires_at must be in the future".into()));
    }
    Ok(())
}

/// A code prefix: 1 to 8 of `A-Z0-9`.
pub fn parse_prefix(s: &str) -> Result<String, String> {
    let ok = (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(s.to_owned())
    } else {
        Err("prefix must be 1 to 8 characters of A-Z and 0-9".into())
    }
}

/// A campaign with its rules parsed: what the store reads and every use case works on.
/// Times are UTC.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: i32,
    pub name: String,
    pub currency: String,
    pub segment: Segment,
    pub discount: Discount,
    pub min_order: i64,
    pub budget: Budget,
    pub starts_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub status: CampaignStatus,
    pub prefix: String,
    pub salt: Vec<u8>,
    pub variants: Vec<Variant>,
    pub analysis: Analysis,
    pub next_serial: i64,
    pub spent: i64,
    pub redeemed: i64,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Campaign {
    /// The discount a variant gives (its own, or the campaign's).
    pub fn discount_of(&self, variant: usize) -> Discount {
        self.variants.get(variant).and_then(|v| v.discount).unwrap_or(self.discount)
    }

    /// The rules a redemption of `variant` is held to.
    pub fn rules(&self, variant: usize) -> Rules<'_> {
        Rules {
            status: self.status,
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            currency: &self.currency,
            min_order: self.min_order,
            discount: self.discount_of(variant),
        }
    }

    /// The variants' weights, in order.
    pub fn weights(&self) -> Vec<u32> {
        self.variants.iter().map(|v| v.weight).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percent_rounds_down_then_caps() {
        let m = |x: i64| Money::new(x).unwrap();
        let d = Discount::Percent { percent: 25, max_amount: Some(m(5000)) };
        assert_eq!(d.apply(m(12000)), m(3000));
        assert_eq!(d.apply(m(12001)), m(3000));
        assert_eq!(d.apply(m(3)), m(0), "25% of 3 cents is 0.75: rounds down");
        assert_eq!(d.apply(m(100_000)), m(5000), "capped");
        assert_eq!(Discount::Percent { percent: 15, max_amount: None }.apply(m(999)), m(149));
        assert_eq!(Discount::Percent { percent: 100, max_amount: None }.apply(Money::MAX), Money::MAX);
    }

    #[test]
    fn a_fixed_amount_never_exceeds_the_order() {
        let m = |x: i64| Money::new(x).unwrap();
        let d = Discount::Amount { amount: m(1000) };
        assert_eq!(d.apply(m(12000)), m(1000));
        assert_eq!(d.apply(m(700)), m(700));
        assert_eq!(d.apply(m(0)), m(0));
    }

    #[test]
    fn amounts_out_of_range_do_not_parse() {
        let e = serde_json::from_str::<Discount>(r#"{"type":"amount","amount":9223372036854775807}"#);
        assert!(e.is_err());
        let e = serde_json::from_str::<Budget>(r#"{"max_amount":1000000000001}"#);
        assert!(e.is_err());
        let b = Budget { max_amount: None, max_redemptions: Some(i64::MAX) };
        assert_eq!(b.validated().unwrap_err().0, "budget.max_redemptions");
    }

    #[test]
    fn validation_names_the_field() {
        let e = Discount::Percent { percent: 0, max_amount: None }.validated("discount").unwrap_err();
        assert_eq!(e.0, "discount.percent");
        let e = validate_variants(vec![
            Variant { name: "a".into(), weight: 1, discount: None },
            Variant { name: "a".into(), weight: 1, discount: None },
        ])
        .unwrap_err();
        assert_eq!(e.0, "variants[1].name");
        let e = validate_variants(vec![Variant { name: "a".into(), weight: 0, discount: None }]).unwrap_err();
        assert_eq!(e.0, "variants[0].weight");
        assert!(parse_prefix("BDAY").is_ok());
        assert!(parse_prefix("bday").is_err());
        assert!(parse_prefix("TOOLONGXX").is_err());
        assert!(!CampaignStatus::Ended.can_become(CampaignStatus::Active));
        assert_eq!(parse_name("  Gold  ").unwrap(), "Gold");
        assert!(
            parse_name("a\0b").is_err() && parse_name(" ").is_err() && parse_name(&"x".repeat(201)).is_err()
        );
        let t = |h: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(h, 0, 0).unwrap();
        assert!(check_dates(t(1), t(3), t(2)).is_ok());
        assert_eq!(check_dates(t(1), t(1), t(0)).unwrap_err().1, "expires_at must be after starts_at");
        assert_eq!(check_dates(t(1), t(3), t(3)).unwrap_err().1, "expires_at must be in the future");
        assert!(CampaignStatus::Paused.can_become(CampaignStatus::Active));
    }

    #[test]
    fn the_rules_refuse_in_their_order_and_give_the_discount() {
        let m = |x: i64| Money::new(x).unwrap();
        let t = |h: u32| chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap().and_hms_opt(h, 0, 0).unwrap();
        let rules = Rules {
            status: CampaignStatus::Active,
            starts_at: t(1),
            expires_at: t(3),
            currency: "EUR",
            min_order: 2000,
            discount: Discount::Percent { percent: 25, max_amount: Some(m(5000)) },
        };
        assert_eq!(rules.check(m(12000), "EUR", t(2)), Ok(m(3000)));
        assert_eq!(rules.check(m(100_000), "EUR", t(2)), Ok(m(5000)), "capped");
        assert_eq!(rules.check(m(2000), "EUR", t(1)), Ok(m(500)), "the minimum and the start are inclusive");
        assert_eq!(rules.check(m(12000), "EUR", t(0)), Err(Refusal::NotStarted));
        assert_eq!(rules.check(m(12000), "EUR", t(3)), Err(Refusal::Expired), "expires_at is exclusive");
        assert_eq!(
            rules.check(m(1999), "USD", t(2)),
            Err(Refusal::CurrencyMismatch { campaign: "EUR".into(), order: "USD".into() }),
            "currency before minimum"
        );
        assert_eq!(
            rules.check(m(1999), "EUR", t(2)),
            Err(Refusal::OrderBelowMinimum { min_order: 2000, currency: "EUR".into() })
        );
        let paused = Rules { status: CampaignStatus::Paused, ..rules };
        assert_eq!(paused.check(m(1), "USD", t(0)), Err(Refusal::Paused), "state before everything");
        let ended = Rules { status: CampaignStatus::Ended, ..rules };
        assert_eq!(ended.check(m(12000), "EUR", t(2)), Err(Refusal::Ended));
    }

    #[test]
    fn the_budget_has_room_up_to_its_limits_exactly() {
        let m = |x: i64| Money::new(x).unwrap();
        let b = Budget { max_amount: Some(m(1000)), max_redemptions: Some(3) };
        assert_eq!(b.room(900, 0, m(100)), Ok(()));
        assert_eq!(b.room(901, 0, m(100)), Err(Refusal::BudgetExhausted));
        assert_eq!(b.room(0, 2, m(0)), Ok(()));
        assert_eq!(b.room(0, 3, m(0)), Err(Refusal::BudgetExhausted));
        assert!(Budget::default().has_room(i64::MAX - 1, i64::MAX - 1, 1, 1));
        assert!(!b.has_room(i64::MAX, 0, 1, 1), "an overflowing sum has no room");
        assert!(b.has_room(0, 0, 1000, 3) && !b.has_room(0, 0, 1000, 4));
    }

    proptest! {
        #[test]
        fn a_discount_is_never_negative_nor_above_the_order(
            percent in 1u32..=100, cap in proptest::option::of(1i64..=MAX_MINOR),
            amount in 1i64..=MAX_MINOR, order in 0i64..=MAX_MINOR
        ) {
            let m = |x: i64| Money::new(x).unwrap();
            let (cap, amount, order) = (cap.map(m), m(amount), m(order));
            for d in [Discount::Percent { percent, max_amount: cap }, Discount::Amount { amount }] {
                let x = d.apply(order);
                prop_assert!(x <= order);
            }
        }
    }
}
