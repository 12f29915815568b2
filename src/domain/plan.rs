//! Power at creation: how many vouchers an A/B campaign must issue before its report can tell
//! the lift it was set up for (`analysis.min_detectable_lift`) from noise.
//!
//! A new campaign has no data, so the plan is for the redemption rate, from the rate the
//! marketer expects (`analysis.expected_rate`) or, without one, for a few typical rates. The
//! report later gives the same figure from the observed rate ([`crate::domain::report`]'s
//! `power`), and on net contribution when a margin is set: that needs the spread of order
//! values, which only data gives.

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    campaign::{Analysis, Budget, Variant},
    report::{decision::method_of, format::format_count},
    stats::{issued_needed_per_arm, DEFAULT_POWER},
};

/// The rates the plan shows when no `expected_rate` is set.
pub const TYPICAL_RATES: [f64; 4] = [0.02, 0.05, 0.1, 0.2];

/// Vouchers needed at one redemption rate.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlanAtRate {
    /// The control's redemption rate this row assumes.
    pub rate: f64,
    /// Issued vouchers the smallest arm needs to detect `min_detectable_lift` at 80% power;
    /// `null` when none would do (more than 10^15).
    pub issued_needed_per_arm: Option<u64>,
    /// Issued vouchers over all arms, by their weights, for the smallest arm to get there.
    pub issued_needed_total: Option<u64>,
    /// Redemptions those vouchers bring at this rate (the control's rate in every arm).
    pub redemptions_expected: Option<u64>,
    /// `false` when the budget's `max_redemptions` ends the campaign before that; `null` without
    /// a count limit.
    pub budget_allows: Option<bool>,
}

/// The power plan of an A/B campaign (`plan` on a campaign; `null` with one variant).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Plan {
    /// Always `redemption_rate` (see the module doc).
    pub metric: &'static str,
    /// At 80% power, by the campaign's method and alpha.
    pub power: f64,
    pub min_detectable_lift: f64,
    /// `analysis.expected_rate`, when set.
    pub expected_rate: Option<f64>,
    /// At `expected_rate` when set, else at each of 2%, 5%, 10% and 20%.
    pub at_rates: Vec<PlanAtRate>,
    /// One sentence for a person.
    pub text: String,
}

/// The plan for a campaign's variants, analysis and budget; `None` for a single variant
/// (nothing to compare).
pub fn plan(variants: &[Variant], analysis: &Analysis, budget: &Budget) -> Option<Plan> {
    if variants.len() < 2 {
        return None;
    }
    let total_weight: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    let min_weight = variants.iter().map(|v| u64::from(v.weight)).filter(|w| *w > 0).min()?;
    let rates: Vec<f64> = match analysis.expected_rate {
        Some(r) => vec![r],
        None => TYPICAL_RATES.to_vec(),
    };
    let at_rates: Vec<PlanAtRate> = rates
        .into_iter()
        .map(|rate| {
            // A lift that would take the rate past 100% cannot happen, however many vouchers.
            let possible = rate * (1.0 + analysis.min_detectable_lift) < 1.0;
            let per_arm = possible
                .then(|| {
                    issued_needed_per_arm(
                        rate,
                        rate * (1.0 - rate),
                        analysis.min_detectable_lift,
                        analysis.alpha,
                        DEFAULT_POWER,
                        method_of(analysis),
                    )
                })
                .flatten();
            // The smallest arm gets min_weight/total_weight of the vouchers (rounded up).
            let total = per_arm.and_then(|n| {
                let t = u128::from(n) * u128::from(total_weight);
                u64::try_from(t.div_ceil(u128::from(min_weight))).ok()
            });
            let redemptions = total.map(|t| (t as f64 * rate).ceil() as u64);
            let budget_allows = budget
                .max_redemptions
                .zip(redemptions)
                .map(|(max, r)| u64::try_from(max).is_ok_and(|m| m >= r));
            PlanAtRate {
                rate,
                issued_needed_per_arm: per_arm,
                issued_needed_total: total,
                redemptions_expected: redemptions,
                budget_allows,
            }
        })
        .collect();
    let text = sentence(analysis, &at_rates, budget);
    Some(Plan {
        metric: "redemption_rate",
        power: DEFAULT_POWER,
        min_detectable_lift: analysis.min_detectable_lift,
        expected_rate: analysis.expected_rate,
        at_rates,
        text,
    })
}

/// A percentage with as few decimals as it needs, up to two: `10%`, `7.8%`, `0.01%`, `99.99%`.
fn percent(x: f64) -> String {
    let p = format!("{:.2}", x * 100.0);
    let p = p.trim_end_matches('0').trim_end_matches('.');
    format!("{p}%")
}

fn sentence(analysis: &Analysis, at: &[PlanAtRate], budget: &Budget) -> String {
    let lift = percent(analysis.min_detectable_lift);
    match (analysis.expected_rate, at.first()) {
        (Some(rate), Some(row)) => match (row.issued_needed_per_arm, row.issued_needed_total) {
            (Some(n), Some(total)) => {
                let mut s = format!(
                    "To detect a +{lift} lift at a {} redemption rate, issue {} vouchers per arm ({} in all).",
                    percent(rate),
                    format_count(n),
                    format_count(total)
                );
                if row.budget_allows == Some(false) {
                    s.push_str(&format!(
                        " The budget's {} redemptions end the campaign before that (about {} needed).",
                        format_count(budget.max_redemptions.unwrap_or(0) as u64),
                        format_count(row.redemptions_expected.unwrap_or(0))
                    ));
                }
                s
            }
            _ if rate * (1.0 + analysis.min_detectable_lift) >= 1.0 => format!(
                "A {} redemption rate cannot rise by +{lift}: lower min_detectable_lift.",
                percent(rate)
            ),
            _ => {
                format!("No practical number of vouchers detects a +{lift} lift at a {} rate.", percent(rate))
            }
        },
        _ => {
            let rows: Vec<String> = at
                .iter()
                .filter_map(|r| {
                    r.issued_needed_per_arm.map(|n| format!("{} at {}", format_count(n), percent(r.rate)))
                })
                .collect();
            if rows.is_empty() {
                return format!("No typical redemption rate can rise by +{lift}: lower min_detectable_lift.");
            }
            format!(
                "To detect a +{lift} lift, each arm needs {} redemption rate; set analysis.expected_rate for your own.",
                rows.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::AnalysisMethod;

    fn arms(weights: &[u32]) -> Vec<Variant> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Variant { name: format!("v{i}"), weight: *w, discount: None })
            .collect()
    }

    #[test]
    fn one_variant_has_no_plan() {
        assert_eq!(plan(&arms(&[1]), &Analysis::default(), &Budget::default()), None);
    }

    #[test]
    fn the_fixed_plan_matches_the_textbook_sample_size() {
        // Two-sided, alpha 0.05, power 0.8, p = 0.078, +10%. The textbook two-proportion figure
        // is (1.960 + 0.842)² (p₁q₁ + p₂q₂) / (p₂ − p₁)² = 19,396 per arm; this plan tests the
        // relative lift by the delta method as GrowthBook's power.ts does (20,504), 6% more.
        let a = Analysis { method: AnalysisMethod::Fixed, expected_rate: Some(0.078), ..Analysis::default() };
        let p = plan(&arms(&[50, 50]), &a, &Budget::default()).unwrap();
        let n = p.at_rates[0].issued_needed_per_arm.unwrap();
        assert_eq!(n, 20_504);
        assert_eq!(p.at_rates[0].issued_needed_total, Some(2 * n));
        assert!(p.text.contains("per arm"), "{}", p.text);
    }

    #[test]
    fn sequential_needs_more_than_fixed_and_unequal_weights_need_more_in_all() {
        let seq = Analysis { expected_rate: Some(0.05), ..Analysis::default() };
        let fixed = Analysis { method: AnalysisMethod::Fixed, ..seq };
        let b = Budget::default();
        let n_seq = plan(&arms(&[1, 1]), &seq, &b).unwrap().at_rates[0].issued_needed_per_arm.unwrap();
        let n_fixed = plan(&arms(&[1, 1]), &fixed, &b).unwrap().at_rates[0].issued_needed_per_arm.unwrap();
        assert!(n_seq > n_fixed, "{n_seq} vs {n_fixed}");
        let skewed = plan(&arms(&[9, 1]), &seq, &b).unwrap();
        assert_eq!(skewed.at_rates[0].issued_needed_total, Some(10 * n_seq));
    }

    #[test]
    fn a_count_budget_too_small_is_called_out() {
        let a = Analysis { expected_rate: Some(0.05), ..Analysis::default() };
        let small = Budget { max_amount: None, max_redemptions: Some(500) };
        let p = plan(&arms(&[1, 1]), &a, &small).unwrap();
        assert_eq!(p.at_rates[0].budget_allows, Some(false));
        assert!(p.text.contains("The budget's 500 redemptions end the campaign"), "{}", p.text);
        let big = Budget { max_amount: None, max_redemptions: Some(10_000_000) };
        assert_eq!(plan(&arms(&[1, 1]), &a, &big).unwrap().at_rates[0].budget_allows, Some(true));
    }

    #[test]
    fn a_lift_past_a_rate_of_one_is_impossible_and_small_rates_keep_their_digits() {
        let a = Analysis { expected_rate: Some(0.9999), min_detectable_lift: 10.0, ..Analysis::default() };
        let p = plan(&arms(&[1, 1]), &a, &Budget::default()).unwrap();
        assert_eq!(p.at_rates[0].issued_needed_per_arm, None);
        assert_eq!(p.at_rates[0].issued_needed_total, None);
        assert!(p.text.contains("99.99% redemption rate cannot rise by +1000%"), "{}", p.text);
        let a = Analysis { expected_rate: Some(0.0001), ..Analysis::default() };
        let p = plan(&arms(&[1, 1]), &a, &Budget::default()).unwrap();
        assert!(p.text.contains("at a 0.01% redemption rate"), "{}", p.text);
        assert_eq!((percent(0.1), percent(0.078), percent(0.2)), ("10%".into(), "7.8%".into(), "20%".into()));
    }

    #[test]
    fn without_an_expected_rate_the_plan_shows_typical_rates_falling_with_the_rate() {
        let p = plan(&arms(&[1, 1, 1]), &Analysis::default(), &Budget::default()).unwrap();
        assert_eq!(p.at_rates.len(), TYPICAL_RATES.len());
        let needed: Vec<u64> = p.at_rates.iter().map(|r| r.issued_needed_per_arm.unwrap()).collect();
        assert!(needed.windows(2).all(|w| w[0] > w[1]), "{needed:?}");
        assert!(p.text.contains("set analysis.expected_rate"), "{}", p.text);
        assert_eq!(p.at_rates[0].budget_allows, None);
    }
}
