//! The marketer report of one campaign, built from raw aggregates: budget burn and projection,
//! per-variant redemption rates with confidence intervals, each variant compared to the control,
//! the sample-ratio-mismatch check, the daily series and a plain-language verdict.
//!
//! [`build_report`] is pure and total: any input, however inconsistent, gives a report whose
//! numbers are all finite, so no `NaN` or infinity can reach JSON, HTML or CSV.
//!
//! Money is in minor units (cents) throughout, formatted for people by [`format_money`].

//!
//! One module, every rendering: the JSON is [`Report`] itself, [`report_csv`] writes the CSV,
//! [`page::ReportPage`] is the HTML page's model (every computed figure, sentence and chart
//! coordinate; the template only formats it) and the terminal table formats the same figures
//! through [`outlook`] and [`format`]. Submodules: [`verdict`] (the sentences), [`format`] (how
//! numbers read), [`chart`] (axes, ticks, scales), [`page`] (the page model), [`csv`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    campaign::Analysis,
    stats::{lift, prob_beat_control, srm_p_value, two_proportion_p_value, wilson_interval},
};

pub mod chart;
pub mod csv;
pub mod decision;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod format;
pub mod page;
pub mod verdict;

pub use csv::report_csv;
pub use decision::{Decision, ReportAnalysis, ReportPower, ReportVerdict};
pub use format::{
    format_count, format_money, format_p, format_pct, format_prob, format_signed_pct, p_clause, pct_bare,
    share, signed_points,
};
use verdict::verdict;

/// Length of the trailing window that the burn rate is measured over.
pub const BURN_WINDOW_DAYS: i64 = 7;
/// The shortest window the burn rate is divided by, so a campaign minutes old cannot blow it up.
pub const MIN_BURN_WINDOW_HOURS: i64 = 1;
/// The least data a projection is made from: with less, the burn rate is shown but the report
/// says it is too early to project.
pub const MIN_PROJECTION_DAYS: f64 = 1.0;
/// Significance level of the verdict's frequentist statement.
pub const ALPHA: f64 = 0.05;
/// Below this SRM p-value the verdict warns that variant assignment looks broken.
pub const SRM_ALERT: f64 = 0.001;

/// Raw aggregates of one campaign, as read from the store.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub campaign_id: String,
    pub campaign_name: String,
    pub currency: String,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The moment the aggregates were read; "now" for every rate and projection.
    pub as_of: DateTime<Utc>,
    /// Money budget in minor units (cents); `None` = unlimited.
    pub max_amount: Option<i64>,
    /// Count budget (redemptions); `None` = unlimited.
    pub max_redemptions: Option<i64>,
    /// The variants; the first one is the control.
    pub variants: Vec<VariantInput>,
    /// How to compare them.
    pub analysis: Analysis,
    /// UTC calendar days that had live redemptions, in any order (repeated dates are summed).
    pub daily: Vec<DailyInput>,
}

/// Aggregates of one variant.
#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    pub name: String,
    /// Assignment weight, relative to the other variants' weights.
    pub weight: u32,
    /// Vouchers issued.
    pub issued: u64,
    /// Vouchers redeemed (live redemptions).
    pub redeemed: u64,
    /// Discount granted, minor units.
    pub discount_spent: i64,
    /// Order value of the redeeming orders, minor units.
    pub order_value: i64,
    /// Vouchers still redeemable (issued, neither redeemed nor voided).
    pub open: u64,
    /// The most one voucher of this variant can take, minor units; `None` when there is no
    /// such bound (a percentage without a cap).
    pub max_discount: Option<i64>,
    /// Redemptions rolled back (cancelled orders); not in `redeemed`.
    pub rolled_back: u64,
    /// Σ order value², Σ discount² and Σ order value × discount over the live redemptions, in
    /// minor units squared: with the sums above, the moments of money per issued voucher.
    pub order_value_sq: f64,
    pub discount_sq: f64,
    pub order_discount: f64,
}

/// Live redemptions on one UTC calendar day.
#[derive(Debug, Clone)]
pub struct DailyInput {
    pub date: NaiveDate,
    pub redemptions: u64,
    /// Discount granted that day, minor units.
    pub discount_spent: i64,
}

/// The report of one campaign (`GET` as JSON, rendered as HTML, CSV and a terminal table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub campaign_id: String,
    pub campaign_name: String,
    #[schema(value_type = super::campaign::CampaignStatus)]
    pub status: String,
    /// ISO 4217 code; every money amount is in its minor units.
    pub currency: String,
    /// When the aggregates were read.
    pub as_of: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub budget: ReportBudget,
    /// Every variant; the first one is the control.
    pub variants: Vec<ReportVariant>,
    /// One per non-control variant, each against the control.
    pub comparisons: Vec<ReportComparison>,
    /// Chi-square test of issued counts against the weights; below 0.001 assignment looks broken.
    pub srm_p_value: f64,
    /// Days with live redemptions, ascending by date.
    pub daily: Vec<ReportDay>,
    /// How the comparisons were computed.
    pub analysis: ReportAnalysis,
    /// Whether the campaign can yet detect the lift it was set up for.
    pub power: ReportPower,
    /// What to do, and what the numbers say in plain language.
    pub verdict: ReportVerdict,
}

/// Budget consumption and its projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportBudget {
    /// Money budget, minor units; `null` = unlimited.
    pub max_amount: Option<i64>,
    /// Discount granted so far, minor units (sum over the variants).
    pub spent: i64,
    /// `max_amount − spent`, never negative; `null` when unlimited.
    pub remaining: Option<i64>,
    /// Count budget; `null` = unlimited.
    pub max_redemptions: Option<i64>,
    /// Redemptions so far (sum over the variants).
    pub redemptions: u64,
    /// `max_redemptions − redemptions`, never negative; `null` when unlimited.
    pub remaining_redemptions: Option<i64>,
    /// Discount granted per day over the trailing 7 days, rounded to whole minor units.
    pub burn_per_day: i64,
    /// Redemptions per day over the same window.
    pub redemptions_per_day: f64,
    /// How many days of data the burn rate is measured over (up to 7); below 1 no projection
    /// is made.
    pub burn_window_days: f64,
    /// Vouchers that can still be redeemed (issued, neither redeemed nor voided).
    pub open_vouchers: u64,
    /// The most the open vouchers can still spend, minor units; `null` when a variant's discount
    /// has no per-voucher cap.
    pub open_discount_max: Option<i64>,
    /// The open vouchers cannot use up what is left of the budget (money and count), however
    /// fast they are redeemed: the budget outlasts them.
    pub outlasts_open_vouchers: bool,
    /// When the budget (the earlier of money and count) runs out at the current burn rate;
    /// `null` when there is no burn, no budget, it is already used up, it outlasts the campaign
    /// or the open vouchers, or there is less than a day of data.
    pub projected_exhaustion_at: Option<DateTime<Utc>>,
    /// The money or the count budget is used up.
    pub exhausted: bool,
}

/// One variant's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportVariant {
    pub name: String,
    pub weight: u32,
    pub issued: u64,
    pub redeemed: u64,
    /// `redeemed / issued`; 0 when nothing was issued.
    pub rate: f64,
    /// 95% Wilson interval of the rate; `[0, 1]` when nothing was issued.
    pub rate_ci_low: f64,
    pub rate_ci_high: f64,
    /// Minor units.
    pub discount_spent: i64,
    /// Minor units.
    pub order_value: i64,
    /// Order value per issued voucher (minor units; a voucher not redeemed counts 0), with its
    /// interval by the campaign's method.
    pub order_value_per_issued: f64,
    pub order_value_per_issued_ci_low: f64,
    pub order_value_per_issued_ci_high: f64,
    /// Discount per issued voucher (minor units), with its interval.
    pub discount_per_issued: f64,
    pub discount_per_issued_ci_low: f64,
    pub discount_per_issued_ci_high: f64,
    /// Net contribution per issued voucher, `gross_margin × order value − discount` (minor
    /// units), with its interval; `null` without a margin.
    pub net_per_issued: Option<f64>,
    pub net_per_issued_ci_low: Option<f64>,
    pub net_per_issued_ci_high: Option<f64>,
    /// Order value per redemption (minor units; delta-method interval); `null` before any.
    pub average_order_value: Option<f64>,
    pub average_order_value_ci_low: Option<f64>,
    pub average_order_value_ci_high: Option<f64>,
    /// Redemptions rolled back (cancelled orders).
    pub rolled_back: u64,
    /// `rolled_back / (redeemed + rolled_back)`; 0 before any redemption.
    pub rollback_rate: f64,
}

/// A variant against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportComparison {
    pub variant: String,
    pub control: String,
    /// Difference of the rates (variant − control), as a fraction.
    pub lift_abs: f64,
    /// `lift_abs / control rate`; `null` when the control rate is 0 and the variant's is not.
    pub lift_rel: Option<f64>,
    /// Interval of `lift_abs` by the campaign's method (a confidence sequence when sequential:
    /// valid however often the report is read); not adjusted for several comparisons.
    pub lift_abs_ci_low: f64,
    pub lift_abs_ci_high: f64,
    /// Delta-method interval of `lift_rel`, same method; `null` with `lift_rel`.
    pub lift_rel_ci_low: Option<f64>,
    pub lift_rel_ci_high: Option<f64>,
    /// Two-sided p-value of the rates: always valid when the method is sequential; with `fixed`
    /// the pooled two-proportion z-test (valid for one look). 1 when there is nothing to test.
    pub p_value: f64,
    /// `p_value` after Holm's correction across every comparison (and the net comparisons).
    pub p_value_adjusted: f64,
    /// P(variant's true rate > control's), uniform priors; 0.5 without data.
    pub prob_beat_control: f64,
    /// `p_value_adjusted < alpha`.
    pub significant: bool,
    /// Net contribution per issued voucher, variant − control (minor units), with its interval;
    /// `null` without a margin.
    pub net_diff: Option<f64>,
    pub net_diff_ci_low: Option<f64>,
    pub net_diff_ci_high: Option<f64>,
    /// p-value of `net_diff` (same method), raw and Holm-adjusted.
    pub net_p_value: Option<f64>,
    pub net_p_value_adjusted: Option<f64>,
    /// `net_p_value_adjusted < alpha`.
    pub net_significant: bool,
    /// What choosing this variant costs on average if another is better, per issued voucher in
    /// minor units of net contribution (at a 100% margin without one); `null` without data.
    pub expected_loss: Option<f64>,
    /// Its rollback rate exceeds the control's by more than 5 points.
    pub rolled_back_more: bool,
}

/// One day of the daily series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportDay {
    /// UTC calendar day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub redemptions: u64,
    /// Minor units.
    pub discount_spent: i64,
}

/// Builds the whole report. Pure and total; see the field docs of [`Report`] for each number.
///
/// Rules for the budget:
/// - `spent` and `redemptions` are sums over the variants; `remaining` is clamped at 0.
/// - The burn rate is measured over the window `[max(as_of − 7 days, starts_at), as_of]`, divided
///   by its length in days (at least one hour's worth, 1/24 day). A daily entry counts in
///   proportion to the part of its active span (the day clipped to `[starts_at, as_of]`) that lies
///   in the window, so a day straddling the window's start counts partly and today counts fully.
///   `burn_per_day` is that rate rounded to whole minor units; projections use the exact rate.
/// - `projected_exhaustion_at` is `as_of` plus the remaining money over the money burn rate, or the
///   remaining count over the redemption rate, whichever comes first (only limited budgets with a
///   positive rate count); `null` when neither applies, when a budget is already used up
///   (`exhausted` is then true), when the moment falls after `expires_at`, or when the window
///   holds less than [`MIN_PROJECTION_DAYS`] of data (too early to extrapolate).
/// - A limit the open vouchers cannot reach (fewer open vouchers than redemptions left; or
///   every open voucher taking its variant's most, still less money than is left) is never the
///   one that runs out; when neither limit can be reached, `outlasts_open_vouchers` is true.
pub fn build_report(input: &ReportInput) -> Report {
    let mut variants: Vec<ReportVariant> = input.variants.iter().map(variant_report).collect();
    for (row, v) in variants.iter_mut().zip(&input.variants) {
        decision::fill_money(row, v, &input.analysis);
    }
    let mut comparisons: Vec<ReportComparison> = match input.variants.split_first() {
        Some((control, rest)) => rest.iter().map(|v| compare(control, v)).collect(),
        None => Vec::new(),
    };
    decision::fill_comparisons(&mut comparisons, &variants, &input.variants, &input.analysis);
    let srm = if input.variants.len() < 2 {
        1.0
    } else {
        let issued: Vec<u64> = input.variants.iter().map(|v| v.issued).collect();
        let weights: Vec<u32> = input.variants.iter().map(|v| v.weight).collect();
        srm_p_value(&issued, &weights)
    };
    let daily = merge_daily(&input.daily);
    let budget = budget(input, &daily);
    let mut report = Report {
        campaign_id: input.campaign_id.clone(),
        campaign_name: input.campaign_name.clone(),
        status: input.status.clone(),
        currency: input.currency.clone(),
        as_of: input.as_of,
        starts_at: input.starts_at,
        expires_at: input.expires_at,
        budget,
        variants,
        comparisons,
        srm_p_value: srm,
        daily,
        analysis: decision::report_analysis(&input.analysis),
        power: decision::power(&input.variants, &input.analysis),
        verdict: ReportVerdict { decision: Decision::KeepRunning, text: String::new() },
    };
    report.verdict = verdict(&report);
    report
}

fn variant_report(v: &VariantInput) -> ReportVariant {
    let redeemed = v.redeemed.min(v.issued);
    let rate = if v.issued == 0 { 0.0 } else { redeemed as f64 / v.issued as f64 };
    let (low, high) = wilson_interval(redeemed, v.issued);
    ReportVariant {
        name: v.name.clone(),
        weight: v.weight,
        issued: v.issued,
        redeemed: v.redeemed,
        rate,
        rate_ci_low: low,
        rate_ci_high: high,
        discount_spent: v.discount_spent,
        order_value: v.order_value,
        order_value_per_issued: 0.0,
        order_value_per_issued_ci_low: 0.0,
        order_value_per_issued_ci_high: 0.0,
        discount_per_issued: 0.0,
        discount_per_issued_ci_low: 0.0,
        discount_per_issued_ci_high: 0.0,
        net_per_issued: None,
        net_per_issued_ci_low: None,
        net_per_issued_ci_high: None,
        average_order_value: None,
        average_order_value_ci_low: None,
        average_order_value_ci_high: None,
        rolled_back: 0,
        rollback_rate: 0.0,
    }
}

fn rate_of(v: &VariantInput) -> f64 {
    if v.issued == 0 {
        0.0
    } else {
        v.redeemed.min(v.issued) as f64 / v.issued as f64
    }
}

fn compare(control: &VariantInput, v: &VariantInput) -> ReportComparison {
    let (lift_abs, lift_rel) = lift(rate_of(v), rate_of(control));
    let p_value = two_proportion_p_value(control.redeemed, control.issued, v.redeemed, v.issued);
    ReportComparison {
        variant: v.name.clone(),
        control: control.name.clone(),
        lift_abs,
        lift_rel,
        lift_abs_ci_low: lift_abs,
        lift_abs_ci_high: lift_abs,
        lift_rel_ci_low: None,
        lift_rel_ci_high: None,
        p_value,
        p_value_adjusted: p_value,
        prob_beat_control: prob_beat_control(control.redeemed, control.issued, v.redeemed, v.issued),
        significant: p_value < ALPHA,
        net_diff: None,
        net_diff_ci_low: None,
        net_diff_ci_high: None,
        net_p_value: None,
        net_p_value_adjusted: None,
        net_significant: false,
        expected_loss: None,
        rolled_back_more: false,
    }
}

fn merge_daily(daily: &[DailyInput]) -> Vec<ReportDay> {
    let mut by_date: BTreeMap<NaiveDate, (u64, i64)> = BTreeMap::new();
    for d in daily {
        let e = by_date.entry(d.date).or_default();
        e.0 = e.0.saturating_add(d.redemptions);
        e.1 = e.1.saturating_add(d.discount_spent);
    }
    by_date
        .into_iter()
        .map(|(date, (redemptions, discount_spent))| ReportDay { date, redemptions, discount_spent })
        .collect()
}

/// Seconds between two instants, as f64.
fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// Midnight UTC starting `date`.
fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// `(discount per day, redemptions per day, days of data in the window)` over the burn window;
/// see [`build_report`].
fn burn_rates(input: &ReportInput, daily: &[ReportDay]) -> (f64, f64, f64) {
    let window_end = input.as_of;
    let window_start = input
        .as_of
        .checked_sub_signed(Duration::days(BURN_WINDOW_DAYS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .max(input.starts_at);
    let window_secs = secs(window_start, window_end).max((MIN_BURN_WINDOW_HOURS * 3600) as f64);
    let (mut money, mut count) = (0.0, 0.0);
    for d in daily {
        let start = day_start(d.date);
        let end = d.date.succ_opt().map(day_start).unwrap_or(DateTime::<Utc>::MAX_UTC);
        // The span of the day in which its redemptions can have happened.
        let active_start = start.max(input.starts_at);
        let active_end = end.min(input.as_of);
        let active = secs(active_start, active_end);
        if active <= 0.0 {
            continue;
        }
        let overlap = secs(active_start.max(window_start), active_end).max(0.0);
        let share = (overlap / active).clamp(0.0, 1.0);
        money += share * d.discount_spent as f64;
        count += share * d.redemptions as f64;
    }
    let per_day = 86_400.0 / window_secs;
    let finite = |x: f64| if x.is_finite() { x } else { 0.0 };
    let data_days = finite(secs(window_start, window_end).max(0.0) / 86_400.0);
    (finite(money * per_day), finite(count * per_day), data_days)
}

fn budget(input: &ReportInput, daily: &[ReportDay]) -> ReportBudget {
    let spent = input.variants.iter().fold(0i64, |a, v| a.saturating_add(v.discount_spent));
    let redemptions = input.variants.iter().fold(0u64, |a, v| a.saturating_add(v.redeemed));
    let remaining = input.max_amount.map(|max| max.saturating_sub(spent).max(0));
    let redemptions_i64 = i64::try_from(redemptions).unwrap_or(i64::MAX);
    let remaining_redemptions = input.max_redemptions.map(|max| max.saturating_sub(redemptions_i64).max(0));
    let exhausted = remaining == Some(0) || remaining_redemptions == Some(0);
    let (money_rate, count_rate, burn_window_days) = burn_rates(input, daily);
    let open_vouchers = input.variants.iter().fold(0u64, |a, v| a.saturating_add(v.open));
    // What the open vouchers could still take: each at most its variant's per-voucher bound.
    let open_discount_max = input.variants.iter().try_fold(0i64, |a, v| match (v.open, v.max_discount) {
        (0, _) => Some(a),
        (n, Some(max)) => {
            Some(a.saturating_add(i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(max.max(0))))
        }
        (_, None) => None,
    });
    let open_i64 = i64::try_from(open_vouchers).unwrap_or(i64::MAX);
    // A limit the open vouchers cannot reach: its budget is never used up by them.
    let money_unreachable = match (remaining, open_discount_max) {
        (Some(left), Some(most)) => most < left,
        _ => false,
    };
    let count_unreachable = remaining_redemptions.is_some_and(|left| open_i64 < left);
    let outlasts_open_vouchers = !exhausted
        && (remaining.is_some() || remaining_redemptions.is_some())
        && (remaining.is_none() || money_unreachable)
        && (remaining_redemptions.is_none() || count_unreachable);

    let days_left = |left: Option<i64>, rate: f64| match left {
        Some(left) if rate > 0.0 => Some(left as f64 / rate),
        _ => None,
    };
    let money_left = remaining.filter(|_| !money_unreachable);
    let count_left = remaining_redemptions.filter(|_| !count_unreachable);
    let days = match (days_left(money_left, money_rate), days_left(count_left, count_rate)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let enough_data = burn_window_days >= MIN_PROJECTION_DAYS;
    let projected_exhaustion_at = days.filter(|_| !exhausted && enough_data).and_then(|days| {
        let left = days * 86_400.0;
        let until_expiry = secs(input.as_of, input.expires_at);
        if !left.is_finite() || left > until_expiry {
            return None;
        }
        let left = Duration::try_seconds(left.round() as i64)?;
        input.as_of.checked_add_signed(left).filter(|at| *at <= input.expires_at)
    });

    ReportBudget {
        max_amount: input.max_amount,
        spent,
        remaining,
        max_redemptions: input.max_redemptions,
        redemptions,
        remaining_redemptions,
        burn_per_day: money_rate.round() as i64,
        redemptions_per_day: count_rate,
        burn_window_days,
        open_vouchers,
        open_discount_max,
        outlasts_open_vouchers,
        projected_exhaustion_at,
        exhausted,
    }
}

/// What the budget projection says; the page and the terminal table word it each their way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlook {
    /// The money or the count budget is used up.
    UsedUp,
    /// At the current burn rate the budget runs out then, before the campaign ends.
    RunsOutAt(DateTime<Utc>),
    /// Neither money nor count is capped.
    NoCap,
    /// The campaign is over.
    Ended,
    /// At the current burn rate the budget lasts beyond the campaign's end.
    Outlasts,
    /// The vouchers still open cannot use up the budget, however fast they are redeemed.
    OutlastsVouchers,
    /// Redemptions so far, but less than a day of them: too early to project.
    TooEarly,
    /// Nothing was redeemed in the burn window.
    NoRecentBurn,
}

/// The budget's [`Outlook`], first matching rule wins in the order of its variants.
pub fn outlook(r: &Report) -> Outlook {
    let b = &r.budget;
    if b.exhausted {
        Outlook::UsedUp
    } else if let Some(at) = b.projected_exhaustion_at {
        Outlook::RunsOutAt(at)
    } else if b.max_amount.is_none() && b.max_redemptions.is_none() {
        Outlook::NoCap
    } else if r.as_of >= r.expires_at {
        Outlook::Ended
    } else if b.outlasts_open_vouchers {
        Outlook::OutlastsVouchers
    } else if (b.burn_per_day > 0 || b.redemptions_per_day > 0.0) && b.burn_window_days < MIN_PROJECTION_DAYS
    {
        Outlook::TooEarly
    } else if b.burn_per_day > 0 || b.redemptions_per_day > 0.0 {
        Outlook::Outlasts
    } else {
        Outlook::NoRecentBurn
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    /// Every number the contract promises is a JSON number; nullable ones are numbers or null.
    fn assert_clean_json(r: &Report) -> serde_json::Value {
        let json = serde_json::to_string(r).unwrap();
        assert!(!json.contains("NaN") && !json.to_lowercase().contains("inf"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v["srm_p_value"].is_number());
        for k in ["spent", "redemptions", "burn_per_day", "redemptions_per_day"] {
            assert!(v["budget"][k].is_number(), "budget.{k}: {json}");
        }
        for k in ["max_amount", "remaining", "max_redemptions", "remaining_redemptions"] {
            assert!(v["budget"][k].is_number() || v["budget"][k].is_null(), "budget.{k}");
        }
        assert!(
            v["budget"]["projected_exhaustion_at"].is_string()
                || v["budget"]["projected_exhaustion_at"].is_null()
        );
        for x in v["variants"].as_array().unwrap() {
            for k in [
                "weight",
                "issued",
                "redeemed",
                "rate",
                "rate_ci_low",
                "rate_ci_high",
                "discount_spent",
                "order_value",
            ] {
                assert!(x[k].is_number(), "variants.{k}: {json}");
            }
            let (lo, hi) = (x["rate_ci_low"].as_f64().unwrap(), x["rate_ci_high"].as_f64().unwrap());
            assert!(0.0 <= lo && lo <= hi && hi <= 1.0);
        }
        for x in v["comparisons"].as_array().unwrap() {
            for k in ["lift_abs", "p_value", "prob_beat_control"] {
                assert!(x[k].is_number(), "comparisons.{k}: {json}");
            }
            assert!(x["lift_rel"].is_number() || x["lift_rel"].is_null());
            assert!(x["variant"].is_string() && x["control"].is_string());
        }
        for x in v["daily"].as_array().unwrap() {
            assert!(x["date"].is_string() && x["redemptions"].is_number() && x["discount_spent"].is_number());
        }
        assert!(v["verdict"]["text"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            ["winner", "no_difference_yet", "keep_running", "srm_alert"]
                .contains(&v["verdict"]["decision"].as_str().unwrap()),
            "{json}"
        );
        for x in v["variants"].as_array().unwrap() {
            for k in ["order_value_per_issued", "discount_per_issued", "rollback_rate", "rolled_back"] {
                assert!(x[k].is_number(), "variants.{k}: {json}");
            }
            for k in ["net_per_issued", "average_order_value"] {
                assert!(x[k].is_number() || x[k].is_null(), "variants.{k}");
            }
        }
        for x in v["comparisons"].as_array().unwrap() {
            for k in ["lift_abs_ci_low", "lift_abs_ci_high", "p_value_adjusted"] {
                assert!(x[k].is_number(), "comparisons.{k}: {json}");
            }
            let (lo, hi) = (x["lift_abs_ci_low"].as_f64().unwrap(), x["lift_abs_ci_high"].as_f64().unwrap());
            assert!(lo <= hi, "{json}");
        }
        assert!(v["power"]["enough_data"].is_boolean());
        assert_eq!(v["analysis"]["correction"], "holm");
        // It reads back (floats may differ in the last bit).
        let back: Report = serde_json::from_value(v.clone()).unwrap();
        assert_eq!((&back.variants.len(), &back.verdict), (&r.variants.len(), &r.verdict));
        v
    }

    #[test]
    fn json_shape_is_the_public_contract() {
        let v = assert_clean_json(&build_report(&base()));
        let keys = |x: &serde_json::Value| {
            let mut k: Vec<String> = x.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        for k in [
            "campaign_id",
            "campaign_name",
            "status",
            "currency",
            "as_of",
            "starts_at",
            "expires_at",
            "budget",
            "variants",
            "comparisons",
            "srm_p_value",
            "daily",
            "verdict",
        ] {
            assert!(keys(&v).contains(&k.to_string()), "{k}");
        }
        for k in [
            "max_amount",
            "spent",
            "remaining",
            "max_redemptions",
            "redemptions",
            "burn_per_day",
            "projected_exhaustion_at",
        ] {
            assert!(keys(&v["budget"]).contains(&k.to_string()), "budget.{k}");
        }
        assert_eq!(v["as_of"], "2024-05-21T00:00:00Z");
        assert_eq!(v["daily"][0]["date"], "2024-05-11");
        assert_eq!(v["comparisons"][0]["variant"], "fixed10");
        assert_eq!(v["comparisons"][0]["control"], "control");
    }

    /// The whole JSON of a fixed report; a change to any field or figure shows in review.
    #[test]
    fn json_snapshot() {
        let json = serde_json::to_string_pretty(&build_report(&page_input())).unwrap();
        insta::assert_snapshot!("report_json", json);
    }

    #[test]
    fn openapi_schema_names_every_field() {
        use utoipa::{PartialSchema, ToSchema};
        let schema = serde_json::to_value(Report::schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for k in ["budget", "variants", "comparisons", "srm_p_value", "daily", "verdict", "as_of"] {
            assert!(props.contains_key(k), "{k}");
        }
        let mut deps = Vec::new();
        Report::schemas(&mut deps);
        let names: Vec<String> = deps.iter().map(|(n, _)| n.clone()).collect();
        for n in ["ReportBudget", "ReportVariant", "ReportComparison", "ReportDay"] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
    }

    #[test]
    fn budget_burn_and_projection() {
        let r = build_report(&base());
        let b = &r.budget;
        assert_eq!(b.spent, 1_000_000);
        assert_eq!(b.redemptions, 1_600);
        assert_eq!(b.remaining, Some(4_000_000));
        // May 14..=20 are the last 7 full days: 7 × 100,000 / 7.
        assert_eq!(b.burn_per_day, 100_000);
        assert!((b.redemptions_per_day - 10.0).abs() < 1e-9);
        // 4,000,000 / 100,000 = 40 days > 11 days left.
        assert_eq!(b.projected_exhaustion_at, None);
        assert!(!b.exhausted);

        let mut input = base();
        input.max_amount = Some(1_500_000);
        let b = build_report(&input).budget;
        assert_eq!(b.projected_exhaustion_at, Some(at(2024, 5, 26, 0)));

        // Both budgets: the count budget (100 left at 10/day = 10 days) would bind later than
        // the money (5 days); with fewer redemptions left it binds first.
        input.max_redemptions = Some(1_700);
        assert_eq!(build_report(&input).budget.projected_exhaustion_at, Some(at(2024, 5, 26, 0)));
        input.max_redemptions = Some(1_620);
        let b = build_report(&input).budget;
        assert_eq!(b.remaining_redemptions, Some(20));
        assert_eq!(b.projected_exhaustion_at, Some(at(2024, 5, 23, 0)));

        // Count budget only.
        input.max_amount = None;
        let b = build_report(&input).budget;
        assert_eq!((b.remaining, b.projected_exhaustion_at), (None, Some(at(2024, 5, 23, 0))));
    }

    #[test]
    fn burn_window_prorates_partial_days_and_counts_today_fully() {
        let mut input = base();
        // Noon: the window starts May 14 12:00, so May 14 counts half; May 21 so far counts fully.
        input.as_of = at(2024, 5, 21, 12);
        input.daily.push(DailyInput { date: date(2024, 5, 21), redemptions: 7, discount_spent: 70_000 });
        let b = build_report(&input).budget;
        // (0.5 + 6) × 100,000 + 70,000 over 7 days.
        assert_eq!(b.burn_per_day, (720_000.0f64 / 7.0).round() as i64);
        assert!((b.redemptions_per_day - 72.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn burn_window_starts_at_campaign_start_with_a_one_hour_floor() {
        let mut input = base();
        input.starts_at = at(2024, 5, 20, 0);
        input.as_of = at(2024, 5, 20, 12);
        input.daily = vec![DailyInput { date: date(2024, 5, 20), redemptions: 5, discount_spent: 50_000 }];
        // Half a day old: 50,000 over 0.5 days.
        assert_eq!(build_report(&input).budget.burn_per_day, 100_000);
        // Ten minutes old: divided by one hour, not by ten minutes.
        input.as_of = input.starts_at + Duration::minutes(10);
        assert_eq!(build_report(&input).budget.burn_per_day, 50_000 * 24);
        // Not started yet: nothing in the window, no blow-up.
        input.as_of = input.starts_at - Duration::days(1);
        let r = build_report(&input);
        assert_eq!(r.budget.burn_per_day, 0);
        assert_clean_json(&r);
    }

    /// The README's campaign, an hour after one EUR 18 redemption: a burn rate, but no date
    /// the budget "runs out" extrapolated from one hour.
    #[test]
    fn less_than_a_day_of_data_projects_nothing() {
        let mut input = base();
        input.starts_at = at(2024, 5, 20, 0);
        input.as_of = at(2024, 5, 20, 1);
        input.max_amount = Some(100_000);
        input.variants = vec![variant("control", 100, 2, 1, 1_800)];
        input.daily = vec![DailyInput { date: date(2024, 5, 20), redemptions: 1, discount_spent: 1_800 }];
        let r = build_report(&input);
        assert_eq!(r.budget.burn_per_day, 1_800 * 24);
        assert!(r.budget.burn_window_days < MIN_PROJECTION_DAYS);
        assert_eq!(r.budget.projected_exhaustion_at, None);
        assert_eq!(outlook(&r), Outlook::TooEarly);
        assert!(r.verdict.text.contains("too early to project"), "{}", r.verdict.text);
        // A day later the same pace is projected.
        input.as_of = at(2024, 5, 21, 1);
        input.max_amount = Some(10_000);
        input.variants[0].issued = 200;
        input.variants[0].open = 199;
        assert!(build_report(&input).budget.projected_exhaustion_at.is_some());
    }

    #[test]
    fn the_open_vouchers_bound_the_projection() {
        let mut input = base();
        // 10 open vouchers of at most EUR 5 each cannot spend the EUR 40,000 left.
        for v in &mut input.variants {
            v.open = 5;
            v.max_discount = Some(500);
        }
        let r = build_report(&input);
        assert_eq!(r.budget.open_vouchers, 10);
        assert_eq!(r.budget.open_discount_max, Some(5_000));
        assert!(r.budget.outlasts_open_vouchers);
        assert_eq!(r.budget.projected_exhaustion_at, None);
        assert_eq!(outlook(&r), Outlook::OutlastsVouchers);
        assert!(r.verdict.text.contains("10 open vouchers cannot use up the budget"), "{}", r.verdict.text);
        // Uncapped percentages bound nothing in money; a count limit they cannot reach is
        // skipped and the money limit projected.
        input.variants[1].max_discount = None;
        input.max_amount = Some(1_500_000);
        input.max_redemptions = Some(1_000_000);
        let r = build_report(&input);
        assert_eq!(r.budget.open_discount_max, None);
        assert!(!r.budget.outlasts_open_vouchers);
        assert!(r.budget.projected_exhaustion_at.is_some());
        // No open voucher at all.
        for v in &mut input.variants {
            v.open = 0;
        }
        let r = build_report(&input);
        assert!(
            r.budget.outlasts_open_vouchers && r.verdict.text.contains("No voucher is open"),
            "{}",
            r.verdict.text
        );
    }

    #[test]
    fn zero_issued() {
        let mut input = base();
        for v in &mut input.variants {
            (v.issued, v.redeemed, v.discount_spent, v.order_value) = (0, 0, 0, 0);
        }
        input.daily.clear();
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!(
            (r.variants[0].rate, r.variants[0].rate_ci_low, r.variants[0].rate_ci_high),
            (0.0, 0.0, 1.0)
        );
        let c = &r.comparisons[0];
        assert_eq!((c.lift_abs, c.lift_rel, c.p_value, c.prob_beat_control), (0.0, Some(0.0), 1.0, 0.5));
        assert_eq!(r.srm_p_value, 1.0);
        assert_eq!((r.budget.burn_per_day, r.budget.projected_exhaustion_at), (0, None));
        assert!(r.verdict.text.contains("No vouchers issued yet."), "{}", r.verdict.text);

        // Only the variant is empty.
        let mut input = base();
        input.variants[1].issued = 0;
        input.variants[1].redeemed = 0;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.verdict.text.contains("no vouchers issued to fixed10"), "{}", r.verdict.text);
        // All issued to the control although weighted 50/50: a textbook SRM.
        assert!(r.srm_p_value < SRM_ALERT && r.verdict.text.contains("sample ratio mismatch"));
    }

    #[test]
    fn zero_redeemed() {
        let mut input = base();
        input.variants[0].redeemed = 0;
        let r = build_report(&input);
        assert_clean_json(&r);
        let c = &r.comparisons[0];
        assert_eq!(c.lift_rel, None, "relative lift over a zero control rate is undefined");
        assert!(c.lift_abs > 0.0 && c.prob_beat_control > 0.999 && c.significant);
        assert!(r
            .verdict
            .text
            .contains("fixed10 beats control with >99% probability (9.0% vs 0.0% redeemed)"));

        input.variants[1].redeemed = 0;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.verdict.text.contains("no redemptions yet"), "{}", r.verdict.text);
    }

    #[test]
    fn all_redeemed() {
        let mut input = base();
        input.variants[0].redeemed = 10_000;
        input.variants[1].redeemed = 10_000;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!((r.variants[0].rate, r.variants[0].rate_ci_high), (1.0, 1.0));
        let c = &r.comparisons[0];
        assert_eq!((c.lift_abs, c.lift_rel, c.p_value), (0.0, Some(0.0), 1.0));
        assert!((c.prob_beat_control - 0.5).abs() < 1e-9);
        // More redeemed than issued is clamped for the statistics.
        input.variants[1].redeemed = 12_000;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!(r.variants[1].rate, 1.0);
    }

    #[test]
    fn outlook_names_each_case() {
        let mut input = base();
        assert_eq!(outlook(&build_report(&input)), Outlook::Outlasts);
        input.max_amount = Some(1_500_000);
        assert_eq!(outlook(&build_report(&input)), Outlook::RunsOutAt(at(2024, 5, 26, 0)));
        input.max_amount = Some(900_000);
        assert_eq!(outlook(&build_report(&input)), Outlook::UsedUp);
        input.max_amount = None;
        assert_eq!(outlook(&build_report(&input)), Outlook::NoCap);
        input.max_amount = Some(5_000_000);
        input.as_of = at(2024, 6, 3, 0);
        assert_eq!(outlook(&build_report(&input)), Outlook::Ended);
        input.as_of = at(2024, 5, 30, 0);
        assert_eq!(outlook(&build_report(&input)), Outlook::NoRecentBurn);
    }

    #[test]
    fn unlimited_budgets() {
        let mut input = base();
        input.max_amount = None;
        input.max_redemptions = None;
        let r = build_report(&input);
        let v = assert_clean_json(&r);
        assert!(v["budget"]["max_amount"].is_null() && v["budget"]["remaining"].is_null());
        assert!(v["budget"]["projected_exhaustion_at"].is_null());
        assert_eq!(r.budget.burn_per_day, 100_000);
        assert!(!r.budget.exhausted);
    }

    #[test]
    fn budget_already_exhausted() {
        let mut input = base();
        input.max_amount = Some(900_000);
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!(r.budget.remaining, Some(0), "never negative");
        assert!(r.budget.exhausted);
        assert_eq!(r.budget.projected_exhaustion_at, None);
        assert!(r.verdict.text.contains("The budget is used up."), "{}", r.verdict.text);

        input.max_amount = None;
        input.max_redemptions = Some(1_600);
        let r = build_report(&input);
        assert!(r.budget.exhausted && r.budget.remaining_redemptions == Some(0));
    }

    #[test]
    fn campaign_expired() {
        let mut input = base();
        input.max_amount = Some(1_050_000);
        input.as_of = at(2024, 6, 3, 0);
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!(r.budget.projected_exhaustion_at, None);
        assert!(r.verdict.text.starts_with("The campaign ended on 2024-06-01."), "{}", r.verdict.text);
        assert!(r.verdict.text.contains("not significant") || r.verdict.text.contains("; significant"));
        assert!(!r.verdict.text.contains("not yet"));
    }

    #[test]
    fn projection_exactly_at_expiry_is_kept_and_after_it_dropped() {
        let mut input = base();
        // 11 days left at 100,000/day.
        input.max_amount = Some(1_000_000 + 1_100_000);
        assert_eq!(build_report(&input).budget.projected_exhaustion_at, Some(at(2024, 6, 1, 0)));
        input.max_amount = Some(1_000_000 + 1_100_001);
        assert_eq!(build_report(&input).budget.projected_exhaustion_at, None);
    }

    #[test]
    fn verdict_sentences() {
        // The fixed method: the pooled z-test's p-values, valid for one look.
        let fixed = || {
            let mut i = base();
            i.analysis.method = crate::domain::campaign::AnalysisMethod::Fixed;
            i
        };
        let r = build_report(&fixed());
        // 700/10,000 vs 900/10,000: p ≈ 2e-7.
        assert!(
            r.verdict.text.contains(
                "fixed10 beats control with >99% probability (9.0% vs 7.0% redeemed, +29% relative); \
                 significant at 5% (p < 0.001)."
            ),
            "{}",
            r.verdict.text
        );
        assert!(r.comparisons[0].significant);

        let mut input = fixed();
        input.variants[1].redeemed = 720;
        let r = build_report(&input);
        assert!(r.verdict.text.contains("fixed10 beats control with"), "{}", r.verdict.text);
        assert!(r.verdict.text.contains("not yet significant at 5% (p = 0.58)"), "{}", r.verdict.text);

        input.variants[1].redeemed = 650;
        let r = build_report(&input);
        assert!(
            r.verdict.text.contains("fixed10 trails control: control is better with"),
            "{}",
            r.verdict.text
        );
        assert!(r.verdict.text.contains("\u{2212}7% relative"), "{}", r.verdict.text);
    }

    #[test]
    fn single_variant_verdict_is_about_the_budget() {
        let mut input = base();
        input.variants.truncate(1);
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.comparisons.is_empty());
        assert_eq!(r.srm_p_value, 1.0);
        assert_eq!(
            r.verdict.text,
            "700 of 10,000 vouchers redeemed (7.0%). EUR 7,000.00 of the EUR 50,000.00 budget spent (14.0%). \
             At the current burn rate the budget lasts until the campaign ends."
        );
        input.max_amount = Some(700_000);
        let r = build_report(&input);
        assert!(r.verdict.text.ends_with("The budget is used up."), "{}", r.verdict.text);
    }

    #[test]
    fn srm_warning() {
        let mut input = base();
        input.variants[0].issued = 10_500;
        input.variants[1].issued = 9_500;
        let r = build_report(&input);
        assert!(r.srm_p_value < SRM_ALERT);
        assert!(r.verdict.text.starts_with("Warning: "), "{}", r.verdict.text);
        assert!(r.verdict.text.contains("variant assignment looks broken"));
        // Weights 70/30 with a 70/30 split is fine.
        input.variants[0].weight = 70;
        input.variants[1].weight = 30;
        input.variants[0].issued = 7_000;
        input.variants[1].issued = 3_000;
        assert!(!build_report(&input).verdict.text.contains("Warning"));
    }

    #[test]
    fn no_variants_and_garbage_input_stay_finite() {
        let mut input = base();
        input.variants.clear();
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.verdict.text.starts_with("No variants to report on."), "{}", r.verdict.text);

        let mut input = base();
        input.variants[0] = variant("a", 0, u64::MAX, u64::MAX, i64::MAX);
        input.variants[1] = variant("b", 0, 1, 0, i64::MAX);
        input.max_amount = Some(i64::MIN);
        input.max_redemptions = Some(i64::MAX);
        input.daily.push(DailyInput {
            date: NaiveDate::MAX,
            redemptions: u64::MAX,
            discount_spent: i64::MIN,
        });
        input.daily.push(DailyInput {
            date: NaiveDate::MIN,
            redemptions: u64::MAX,
            discount_spent: i64::MAX,
        });
        input.expires_at = DateTime::<Utc>::MAX_UTC;
        let r = build_report(&input);
        assert_clean_json(&r);
    }

    #[test]
    fn daily_is_sorted_and_merged() {
        let mut input = base();
        input.daily.push(DailyInput { date: date(2024, 5, 11), redemptions: 1, discount_spent: 5 });
        let r = build_report(&input);
        let dates: Vec<NaiveDate> = r.daily.iter().map(|d| d.date).collect();
        let mut sorted = dates.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(dates, sorted);
        assert_eq!((r.daily[0].redemptions, r.daily[0].discount_spent), (11, 100_005));
    }
}
