//! The decision-grade half of the report: money per issued voucher with intervals, every
//! comparison to the control by the campaign's [`Analysis`] method (always-valid by default),
//! Holm's correction across comparisons, power, guardrails and expected loss.
//!
//! Units: every voucher issued is one unit; a voucher not redeemed contributes 0 to each money
//! sum. Money is in minor units (fractions kept) like the rest of the report.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ReportComparison, ReportVariant, VariantInput};
use crate::domain::{
    campaign::{Analysis, AnalysisMethod},
    stats::{
        compare, expected_loss, holm, issued_needed_per_arm, mde_rel, mean_interval, Comparison, Difference,
        Method, Moments, SampleMoments, VariantSums, DEFAULT_POWER,
    },
};

/// No "winner" before the larger arm has this many live redemptions, however small the p-value.
pub const MIN_WINNER_REDEMPTIONS: u64 = 100;
/// A variant whose rollback rate exceeds the control's by more than this (as a fraction, 5
/// points) is flagged: it may win on redemptions only because more of its orders are cancelled.
pub const ROLLBACK_FLAG_POINTS: f64 = 0.05;

/// The analysis the report used (API.md: `analysis`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportAnalysis {
    pub method: AnalysisMethod,
    pub alpha: f64,
    /// The sequential method's N*.
    pub tuning: f64,
    /// How p-values are adjusted across comparisons: always `holm`.
    pub correction: String,
    pub gross_margin: Option<f64>,
}

/// Whether the campaign has issued enough vouchers to detect the lift it was set up for, on
/// its primary metric (net contribution per issued voucher with a margin, else the redemption
/// rate), at 80% power and the campaign's alpha and method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportPower {
    /// `net_per_issued` or `redemption_rate`.
    pub metric: String,
    /// The smallest relative lift detectable with the vouchers issued so far (the smallest arm);
    /// `null` when none is (too few vouchers, or a baseline of 0).
    pub mde_rel: Option<f64>,
    /// The campaign's `min_detectable_lift`.
    pub min_detectable_lift: f64,
    /// Vouchers per arm needed to detect `min_detectable_lift`; `null` without a baseline.
    pub issued_needed_per_arm: Option<u64>,
    /// Every arm has issued at least `issued_needed_per_arm`.
    pub enough_data: bool,
}

/// What to do, in one word and one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// One variant is better on the primary metric, with enough data.
    Winner,
    /// Enough data, and no difference found.
    NoDifferenceYet,
    /// Not enough data to decide.
    KeepRunning,
    /// The vouchers issued per variant do not match the weights: assignment looks broken.
    SrmAlert,
}

/// The verdict: a decision and the sentences behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportVerdict {
    pub decision: Decision,
    pub text: String,
}

/// The stats library's method for an analysis setting.
pub fn method_of(a: &Analysis) -> Method {
    match a.method {
        AnalysisMethod::Fixed => Method::Fixed,
        AnalysisMethod::Sequential => Method::Sequential { tuning: a.tuning },
    }
}

/// The analysis block of the report.
pub fn report_analysis(a: &Analysis) -> ReportAnalysis {
    ReportAnalysis {
        method: a.method,
        alpha: a.alpha,
        tuning: a.tuning,
        correction: "holm".into(),
        gross_margin: a.gross_margin,
    }
}

/// A variant's sums as the stats library takes them (clamped so no count exceeds its base).
pub fn sums(v: &VariantInput) -> VariantSums {
    VariantSums {
        issued: v.issued,
        redeemed: v.redeemed.min(v.issued),
        sum_r: v.order_value as f64,
        sum_d: v.discount_spent as f64,
        sum_rr: v.order_value_sq,
        sum_dd: v.discount_sq,
        sum_rd: v.order_discount,
    }
}

/// A redemption rate as the comparisons take it: the Bernoulli moments, except that an arm with
/// none or all redeemed (variance 0, which the stats library reads as "no information") gets the
/// variance of half a success and half a failure more, `p'(1 − p')` with `p' = (x + ½)/(n + 1)`.
/// 0 of 10,000 against 100 of 10,000 is then the clear difference it is.
#[derive(Clone, Copy, Debug)]
struct Rate {
    n: u64,
    mean: f64,
    variance: f64,
}

impl Rate {
    fn of(s: &VariantSums) -> Rate {
        let m = s.redemption();
        let mut variance = m.variance();
        if variance <= 0.0 && s.issued >= 2 {
            let p = (s.redeemed as f64 + 0.5) / (s.issued as f64 + 1.0);
            variance = p * (1.0 - p);
        }
        Rate { n: m.n(), mean: m.mean(), variance }
    }
}

impl Moments for Rate {
    fn n(&self) -> u64 {
        self.n
    }
    fn mean(&self) -> f64 {
        self.mean
    }
    fn variance(&self) -> f64 {
        self.variance
    }
}

/// Replaces a non-finite number by 0 (no NaN or infinity reaches JSON).
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn mean_or_zero<M: Moments>(m: &M) -> f64 {
    if m.n() == 0 {
        0.0
    } else {
        finite(m.mean())
    }
}

/// Fills a variant's money fields: per issued voucher order value, discount and (with a margin)
/// net contribution, each with its interval; average order value; rollback rate.
pub fn fill_money(row: &mut ReportVariant, v: &VariantInput, a: &Analysis) {
    let s = sums(v);
    let (alpha, method) = (a.alpha, method_of(a));
    let ci = |m: &SampleMoments| {
        let mean = mean_or_zero(m);
        mean_interval(m, alpha, method).unwrap_or((mean, mean))
    };
    let order = s.order_value();
    row.order_value_per_issued = mean_or_zero(&order);
    (row.order_value_per_issued_ci_low, row.order_value_per_issued_ci_high) = ci(&order);
    let discount = s.discount();
    row.discount_per_issued = mean_or_zero(&discount);
    (row.discount_per_issued_ci_low, row.discount_per_issued_ci_high) = ci(&discount);
    match a.gross_margin {
        Some(m) => {
            let net = s.net(m);
            let (lo, hi) = ci(&net);
            row.net_per_issued = Some(mean_or_zero(&net));
            row.net_per_issued_ci_low = Some(lo);
            row.net_per_issued_ci_high = Some(hi);
        }
        None => {
            (row.net_per_issued, row.net_per_issued_ci_low, row.net_per_issued_ci_high) = (None, None, None)
        }
    }
    let aov = s.aov();
    row.average_order_value = (s.redeemed > 0).then(|| finite(v.order_value as f64 / s.redeemed as f64));
    let aov_ci = mean_interval(&aov, alpha, method);
    row.average_order_value_ci_low = aov_ci.map(|c| c.0).or(row.average_order_value);
    row.average_order_value_ci_high = aov_ci.map(|c| c.1).or(row.average_order_value);
    row.rolled_back = v.rolled_back;
    let taken = v.redeemed.saturating_add(v.rolled_back);
    row.rollback_rate = if taken == 0 { 0.0 } else { v.rolled_back as f64 / taken as f64 };
}

/// Fills every comparison's decision-grade fields (the rate comparison by the campaign's
/// method, the relative lift's interval, net difference, Holm-adjusted p-values, expected loss
/// and the rollback flag). `rows` are the variants' rows, `inputs` their inputs, control first.
pub fn fill_comparisons(
    comparisons: &mut [ReportComparison],
    rows: &[ReportVariant],
    inputs: &[VariantInput],
    a: &Analysis,
) {
    let (alpha, method) = (a.alpha, method_of(a));
    let Some((control, rest)) = inputs.split_first() else { return };
    let cs = sums(control);
    for (c, v) in comparisons.iter_mut().zip(rest) {
        let vs = sums(v);
        let (rc, rv) = (Rate::of(&cs), Rate::of(&vs));
        let abs = compare(&rc, &rv, Difference::Absolute, alpha, method);
        let rel = compare(&rc, &rv, Difference::Relative, alpha, method);
        match abs {
            // Fixed keeps the pooled two-proportion z-test the report always gave.
            // A difference of two rates lies in [−1, 1] (few vouchers give wider intervals).
            Some(Comparison { ci, p_value, .. }) => {
                (c.lift_abs_ci_low, c.lift_abs_ci_high) = (ci.0.max(-1.0), ci.1.min(1.0));
                if method != Method::Fixed {
                    c.p_value = p_value;
                }
            }
            None => {
                (c.lift_abs_ci_low, c.lift_abs_ci_high) = (c.lift_abs, c.lift_abs);
                if method != Method::Fixed {
                    c.p_value = 1.0;
                }
            }
        }
        (c.lift_rel_ci_low, c.lift_rel_ci_high) = match rel {
            // A relative lift is at least −100%.
            Some(r) if c.lift_rel.is_some() => (Some(r.ci.0.max(-1.0)), Some(r.ci.1.max(-1.0))),
            _ => (None, None),
        };
        if let Some(m) = a.gross_margin {
            let net = compare(&cs.net(m), &vs.net(m), Difference::Absolute, alpha, method);
            let diff = finite(mean_or_zero(&vs.net(m)) - mean_or_zero(&cs.net(m)));
            c.net_diff = Some(diff);
            c.net_diff_ci_low = Some(net.map_or(diff, |n| n.ci.0));
            c.net_diff_ci_high = Some(net.map_or(diff, |n| n.ci.1));
            c.net_p_value = Some(net.map_or(1.0, |n| n.p_value));
        } else {
            (c.net_diff, c.net_diff_ci_low, c.net_diff_ci_high, c.net_p_value) = (None, None, None, None);
        }
        let control_row = &rows[0];
        let row = rows.iter().find(|r| r.name == c.variant).unwrap_or(control_row);
        c.rolled_back_more = row.rollback_rate > control_row.rollback_rate + ROLLBACK_FLAG_POINTS;
    }
    // Holm across every test a verdict may rest on: the rate comparisons, and with a margin the
    // net comparisons too.
    let mut family: Vec<f64> = comparisons.iter().map(|c| c.p_value).collect();
    family.extend(comparisons.iter().filter_map(|c| c.net_p_value));
    let adjusted = holm(&family);
    let k = comparisons.len();
    let mut nets = adjusted.iter().skip(k);
    for (i, c) in comparisons.iter_mut().enumerate() {
        c.p_value_adjusted = adjusted.get(i).copied().unwrap_or(1.0);
        c.significant = c.p_value_adjusted < alpha;
        if c.net_p_value.is_some() {
            c.net_p_value_adjusted = nets.next().copied();
        }
        c.net_significant = c.net_p_value_adjusted.is_some_and(|p| p < alpha);
    }
    // Expected loss in money: net contribution per issued voucher with a margin, else order
    // value net of discount per issued voucher (a margin of 100%).
    let margin = a.gross_margin.unwrap_or(1.0);
    let arms: Vec<SampleMoments> = inputs.iter().map(|v| sums(v).net(margin)).collect();
    if let Some(losses) = expected_loss(&arms) {
        for (c, loss) in comparisons.iter_mut().zip(losses.iter().skip(1)) {
            c.expected_loss = Some(finite(*loss));
        }
    }
}

/// Power on the primary metric, from the control's (or, for rates, the pooled) baseline.
pub fn power(inputs: &[VariantInput], a: &Analysis) -> ReportPower {
    let (alpha, method) = (a.alpha, method_of(a));
    let n_min = inputs.iter().map(|v| v.issued).min().unwrap_or(0);
    let (metric, mean, variance) = match (a.gross_margin, inputs.first()) {
        (Some(m), Some(control)) => {
            let net = sums(control).net(m);
            ("net_per_issued", mean_or_zero(&net), net.variance())
        }
        _ => {
            let issued: u64 = inputs.iter().map(|v| v.issued).fold(0, u64::saturating_add);
            let redeemed: u64 = inputs.iter().map(|v| v.redeemed.min(v.issued)).fold(0, u64::saturating_add);
            let p = if issued == 0 { 0.0 } else { redeemed as f64 / issued as f64 };
            ("redemption_rate", p, p * (1.0 - p))
        }
    };
    let single = inputs.len() < 2;
    let mde = if single || n_min == 0 {
        None
    } else {
        mde_rel(mean, variance, n_min, alpha, DEFAULT_POWER, method)
    };
    let needed = if single {
        None
    } else {
        issued_needed_per_arm(mean, variance, a.min_detectable_lift, alpha, DEFAULT_POWER, method)
    };
    ReportPower {
        metric: metric.into(),
        mde_rel: mde.map(finite),
        min_detectable_lift: a.min_detectable_lift,
        issued_needed_per_arm: needed,
        enough_data: needed.is_some_and(|n| n_min >= n),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{build_report, VariantInput};
    use super::*;

    #[test]
    fn rate_intervals_stay_within_what_rates_can_be() {
        let mut input = base();
        input.variants = vec![variant("a", 1, 3, 0, 0), variant("b", 1, 2, 0, 0)];
        let c = &build_report(&input).comparisons[0];
        assert!(-1.0 <= c.lift_abs_ci_low && c.lift_abs_ci_high <= 1.0, "{c:?}");
    }

    #[test]
    fn a_control_with_no_redemption_still_compares() {
        let mut input = base();
        input.variants = vec![variant("control", 1, 10_000, 0, 0), variant("b", 1, 10_000, 100, 100_000)];
        let c = &build_report(&input).comparisons[0];
        assert!(c.significant && c.p_value < 1e-6 && c.lift_abs_ci_low > 0.0, "{c:?}");
    }

    #[test]
    fn net_money_needs_a_margin_and_holm_covers_both_families() {
        let mut input = page_input();
        let r = build_report(&input);
        assert!(r.variants[0].net_per_issued.is_none() && r.comparisons[0].net_diff.is_none());
        input.analysis.gross_margin = Some(0.4);
        let r = build_report(&input);
        let (v, c) = (&r.variants[1], &r.comparisons[0]);
        // 0.4 × 7,240,000 − 1,234,567 over 10,000 issued.
        assert!((v.net_per_issued.unwrap() - (0.4 * 7_240_000.0 - 1_234_567.0) / 10_000.0).abs() < 1e-9);
        let (lo, hi) = (c.net_diff_ci_low.unwrap(), c.net_diff_ci_high.unwrap());
        assert!(lo <= c.net_diff.unwrap() && c.net_diff.unwrap() <= hi);
        // Two tests in the family (rate and net): Holm doubles the smaller p at most.
        let smaller = c.p_value.min(c.net_p_value.unwrap());
        assert!(c.p_value_adjusted.min(c.net_p_value_adjusted.unwrap()) <= (2.0 * smaller).min(1.0) + 1e-15);
        assert!(c.expected_loss.is_some_and(|l| l >= 0.0));
        assert_eq!(r.power.metric, "net_per_issued");
    }

    #[test]
    fn rollbacks_give_a_rate_and_a_flag() {
        let mut input = base();
        input.variants[0].rolled_back = 7; // 7 of 707
        input.variants[1].rolled_back = 300; // 300 of 1,200
        let r = build_report(&input);
        assert!((r.variants[1].rollback_rate - 0.25).abs() < 1e-12);
        assert!(r.comparisons[0].rolled_back_more);
        assert!(r.verdict.text.contains("is rolled back more often"), "{}", r.verdict.text);
    }

    #[test]
    fn no_winner_without_enough_data_however_small_the_p_value() {
        let mut input = base();
        input.analysis.min_detectable_lift = 0.01; // needs far more than 10,000 per arm
        let r = build_report(&input);
        assert!(r.comparisons[0].significant && !r.power.enough_data);
        assert_eq!(r.verdict.decision, Decision::KeepRunning);
        input.analysis.min_detectable_lift = 0.5;
        let r = build_report(&input);
        assert!(r.power.enough_data);
        assert_eq!(r.verdict.decision, Decision::Winner, "{}", r.verdict.text);
        // An SRM alert overrides it.
        input.variants[1] = VariantInput { issued: 5_000, ..input.variants[1].clone() };
        assert_eq!(build_report(&input).verdict.decision, Decision::SrmAlert);
    }
}
