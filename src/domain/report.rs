//! The marketer report of one campaign, built from raw aggregates: budget burn and projection,
//! per-variant redemption rates with confidence intervals, each variant compared to the control,
//! the sample-ratio-mismatch check, the daily series and a plain-language verdict.
//!
//! [`build_report`] is pure and total: any input, however inconsistent, gives a report whose
//! numbers are all finite, so no `NaN` or infinity can reach JSON, HTML or CSV.
//!
//! Money is in minor units (cents) throughout, formatted for people by [`format_money`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::csv::{self, Cell};
use crate::domain::stats::{lift, prob_beat_control, srm_p_value, two_proportion_p_value, wilson_interval};

/// Length of the trailing window that the burn rate is measured over.
pub const BURN_WINDOW_DAYS: i64 = 7;
/// The shortest window the burn rate is divided by, so a campaign minutes old cannot blow it up.
pub const MIN_BURN_WINDOW_HOURS: i64 = 1;
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
    /// UTC calendar days that had live redemptions, in any order (repeated dates are summed).
    pub daily: Vec<DailyInput>,
}

/// Aggregates of one variant.
#[derive(Debug, Clone)]
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
    /// What the numbers say, in plain language.
    pub verdict: String,
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
    /// When the budget (the earlier of money and count) runs out at the current burn rate;
    /// `null` when there is no burn, no budget, it is already used up, or it outlasts the campaign.
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
    /// Two-sided pooled two-proportion z-test; 1 when there is nothing to test.
    pub p_value: f64,
    /// P(variant's true rate > control's), uniform priors; 0.5 without data.
    pub prob_beat_control: f64,
    /// `p_value < 0.05`.
    pub significant: bool,
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
///   (`exhausted` is then true) or when the moment falls after `expires_at`.
pub fn build_report(input: &ReportInput) -> Report {
    let variants: Vec<ReportVariant> = input.variants.iter().map(variant_report).collect();
    let comparisons: Vec<ReportComparison> = match input.variants.split_first() {
        Some((control, rest)) => rest.iter().map(|v| compare(control, v)).collect(),
        None => Vec::new(),
    };
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
        verdict: String::new(),
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
        p_value,
        prob_beat_control: prob_beat_control(control.redeemed, control.issued, v.redeemed, v.issued),
        significant: p_value < ALPHA,
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

/// `(discount per day, redemptions per day)` over the burn window; see [`build_report`].
fn burn_rates(input: &ReportInput, daily: &[ReportDay]) -> (f64, f64) {
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
    (finite(money * per_day), finite(count * per_day))
}

fn budget(input: &ReportInput, daily: &[ReportDay]) -> ReportBudget {
    let spent = input.variants.iter().fold(0i64, |a, v| a.saturating_add(v.discount_spent));
    let redemptions = input.variants.iter().fold(0u64, |a, v| a.saturating_add(v.redeemed));
    let remaining = input.max_amount.map(|max| max.saturating_sub(spent).max(0));
    let redemptions_i64 = i64::try_from(redemptions).unwrap_or(i64::MAX);
    let remaining_redemptions = input.max_redemptions.map(|max| max.saturating_sub(redemptions_i64).max(0));
    let exhausted = remaining == Some(0) || remaining_redemptions == Some(0);
    let (money_rate, count_rate) = burn_rates(input, daily);

    let days_left = |left: Option<i64>, rate: f64| match left {
        Some(left) if rate > 0.0 => Some(left as f64 / rate),
        _ => None,
    };
    let days = match (days_left(remaining, money_rate), days_left(remaining_redemptions, count_rate)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let projected_exhaustion_at = days.filter(|_| !exhausted).and_then(|days| {
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
        projected_exhaustion_at,
        exhausted,
    }
}

/// The plain-language verdict; see [`build_report`].
fn verdict(r: &Report) -> String {
    let mut out: Vec<String> = Vec::new();
    let ended = r.as_of >= r.expires_at;
    if ended {
        out.push(format!("The campaign ended on {}.", r.expires_at.format("%Y-%m-%d")));
    }
    if r.variants.len() >= 2 && r.srm_p_value < SRM_ALERT {
        out.push(format!(
            "Warning: the vouchers issued per variant do not match the configured weights \
             (sample ratio mismatch, {}), so variant assignment looks broken; \
             do not trust the comparisons until it is fixed.",
            p_clause(r.srm_p_value)
        ));
    }
    let total_issued: u64 = r.variants.iter().map(|v| v.issued).fold(0, u64::saturating_add);
    match r.variants.as_slice() {
        [] => out.push("No variants to report on.".into()),
        [only] => {
            if only.issued == 0 {
                out.push("No vouchers issued yet.".into());
            } else {
                out.push(format!(
                    "{} of {} vouchers redeemed ({}).",
                    format_count(only.redeemed),
                    format_count(only.issued),
                    format_pct(only.rate)
                ));
            }
        }
        [control, ..] => {
            if total_issued == 0 {
                out.push("No vouchers issued yet.".into());
            } else {
                for (c, v) in r.comparisons.iter().zip(&r.variants[1..]) {
                    out.push(comparison_sentence(c, control, v, ended));
                }
            }
        }
    }
    out.push(budget_sentence(r, ended));
    out.retain(|s| !s.is_empty());
    out.join(" ")
}

fn comparison_sentence(
    c: &ReportComparison,
    control: &ReportVariant,
    v: &ReportVariant,
    ended: bool,
) -> String {
    if control.issued == 0 || v.issued == 0 {
        let empty = if v.issued == 0 { &v.name } else { &control.name };
        return format!("{} vs {}: no data yet (no vouchers issued to {}).", v.name, control.name, empty);
    }
    if control.redeemed == 0 && v.redeemed == 0 {
        return format!("{} vs {}: no redemptions yet, nothing to compare.", v.name, control.name);
    }
    let rates = match c.lift_rel {
        Some(rel) => format!(
            "{} vs {} redeemed, {} relative",
            format_pct(v.rate),
            format_pct(control.rate),
            format_signed_pct(rel)
        ),
        None => format!("{} vs {} redeemed", format_pct(v.rate), format_pct(control.rate)),
    };
    let p = p_clause(c.p_value);
    let significance = if c.significant {
        format!("significant at 5% ({p})")
    } else if ended {
        format!("not significant at 5% ({p})")
    } else {
        format!("not yet significant at 5% ({p})")
    };
    if c.prob_beat_control >= 0.5 {
        format!(
            "{} beats {} with {} probability ({}); {}.",
            v.name,
            control.name,
            format_prob(c.prob_beat_control),
            rates,
            significance
        )
    } else {
        format!(
            "{} trails {}: {} is better with {} probability ({}); {}.",
            v.name,
            control.name,
            control.name,
            format_prob(1.0 - c.prob_beat_control),
            rates,
            significance
        )
    }
}

fn budget_sentence(r: &Report, ended: bool) -> String {
    let b = &r.budget;
    let single = r.variants.len() == 1;
    let mut s = Vec::new();
    if single {
        match b.max_amount {
            Some(max) => s.push(format!(
                "{} of the {} budget spent ({}).",
                format_money(b.spent, &r.currency),
                format_money(max, &r.currency),
                format_pct(share(b.spent, max))
            )),
            None => s.push(format!("{} spent (no money cap).", format_money(b.spent, &r.currency))),
        }
    }
    if b.exhausted {
        s.push("The budget is used up.".into());
    } else if let Some(at) = b.projected_exhaustion_at {
        s.push(format!(
            "At the current burn rate the budget runs out around {}, before the campaign ends.",
            at.format("%Y-%m-%d")
        ));
    } else if single && !ended && (b.max_amount.is_some() || b.max_redemptions.is_some()) {
        if b.burn_per_day > 0 || b.redemptions_per_day > 0.0 {
            s.push("At the current burn rate the budget lasts until the campaign ends.".into());
        } else {
            s.push("Nothing was redeemed in the last 7 days.".into());
        }
    }
    s.join(" ")
}

/// `part / whole` as a fraction, 0 when `whole` is not positive.
pub fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        (part as f64 / whole as f64).max(0.0)
    }
}

/// Money in minor units as `EUR 1,234.56`: the currency code, thousands separators, 2 decimals.
///
/// Assumes a 2-decimal currency (minor units / 100), true of EUR, USD, GBP and most others;
/// JPY-like or 3-decimal currencies would be shown off by a factor.
pub fn format_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{} {}{}.{:02}", currency, sign, format_count(abs / 100), abs % 100)
}

/// A count with thousands separators: `20,000`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    let lead = digits.len() % 3;
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && i % 3 == lead {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A fraction as a percentage with one decimal: `0.0712` → `7.1%`.
pub fn format_pct(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    format!("{:.1}%", x * 100.0)
}

/// A signed fraction as a percentage without decimals: `+30%`, `−23%` (a real minus sign).
pub fn format_signed_pct(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let pct = (x * 100.0).round();
    if pct > 0.0 {
        format!("+{pct:.0}%")
    } else if pct < 0.0 {
        format!("\u{2212}{:.0}%", -pct)
    } else {
        "0%".into()
    }
}

/// A probability as a whole percentage that never rounds to a certainty: `97%`, `>99%`, `<1%`.
pub fn format_prob(p: f64) -> String {
    let p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.5 };
    if p >= 0.995 {
        ">99%".into()
    } else if p < 0.005 {
        "<1%".into()
    } else {
        format!("{:.0}%", p * 100.0)
    }
}

/// A p-value with two significant digits: `0.21`, `0.012`, `0.0034`; below 0.001 as `< 0.001`
/// (so `format!("p = {}", ..)` reads `p = < 0.001`; callers that want `p < 0.001` use [`p_clause`]).
pub fn format_p(p: f64) -> String {
    let p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 1.0 };
    if p < 0.001 {
        "< 0.001".into()
    } else if p >= 0.1 {
        format!("{p:.2}")
    } else if p >= 0.01 {
        format!("{p:.3}")
    } else {
        format!("{p:.4}")
    }
}

/// `p = 0.21` or `p < 0.001`.
pub fn p_clause(p: f64) -> String {
    let f = format_p(p);
    if f.starts_with('<') {
        format!("p {f}")
    } else {
        format!("p = {f}")
    }
}

/// The report as one CSV table (RFC 4180: CRLF line ends, fields with `,` `"` CR or LF quoted,
/// quotes doubled).
///
/// Columns: `section,variant,weight,issued,redeemed,rate,rate_ci_low,rate_ci_high,discount_spent,`
/// `order_value,lift_abs,lift_rel,p_value,prob_beat_control,date,redemptions`.
/// - `section=variant` rows (one per variant, control first) fill `variant` … `order_value`, and
///   for non-control variants `lift_abs` … `prob_beat_control`; rates are fractions (0.071).
/// - `section=daily` rows (ascending) fill `date` (`YYYY-MM-DD`), `redemptions`, `discount_spent`.
///
/// Money columns are integers in minor units. Empty cells are empty strings, including a
/// relative lift that is undefined (control rate 0). Cells are written by [`csv::write_row`]:
/// the variant name is text and neutralised if it would start a formula; the numbers are the
/// service's own and stay numbers, negative lifts included.
pub fn report_csv(report: &Report) -> String {
    const HEADER: [&str; 16] = [
        "section",
        "variant",
        "weight",
        "issued",
        "redeemed",
        "rate",
        "rate_ci_low",
        "rate_ci_high",
        "discount_spent",
        "order_value",
        "lift_abs",
        "lift_rel",
        "p_value",
        "prob_beat_control",
        "date",
        "redemptions",
    ];
    let mut out = String::new();
    csv::write_row(&mut out, &HEADER.map(Cell::Text));
    for (i, v) in report.variants.iter().enumerate() {
        let cmp = i.checked_sub(1).and_then(|j| report.comparisons.get(j));
        let mut cells = [Cell::Empty; 16];
        cells[0] = Cell::Text("variant");
        cells[1] = Cell::Text(&v.name);
        cells[2] = Cell::Int(v.weight.into());
        cells[3] = Cell::Int(v.issued.into());
        cells[4] = Cell::Int(v.redeemed.into());
        cells[5] = Cell::Float(v.rate);
        cells[6] = Cell::Float(v.rate_ci_low);
        cells[7] = Cell::Float(v.rate_ci_high);
        cells[8] = Cell::Int(v.discount_spent.into());
        cells[9] = Cell::Int(v.order_value.into());
        if let Some(c) = cmp {
            cells[10] = Cell::Float(c.lift_abs);
            cells[11] = c.lift_rel.map_or(Cell::Empty, Cell::Float);
            cells[12] = Cell::Float(c.p_value);
            cells[13] = Cell::Float(c.prob_beat_control);
        }
        csv::write_row(&mut out, &cells);
    }
    for d in &report.daily {
        let date = d.date.format("%Y-%m-%d").to_string();
        let mut cells = [Cell::Empty; 16];
        cells[0] = Cell::Text("daily");
        cells[8] = Cell::Int(d.discount_spent.into());
        cells[14] = Cell::Text(&date);
        cells[15] = Cell::Int(d.redemptions.into());
        csv::write_row(&mut out, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn variant(name: &str, weight: u32, issued: u64, redeemed: u64, spent: i64) -> VariantInput {
        VariantInput {
            name: name.into(),
            weight,
            issued,
            redeemed,
            discount_spent: spent,
            order_value: spent.saturating_mul(8),
        }
    }

    /// Campaign May 1 – May 31, as of May 21 00:00; 10 days × 1,000.00 spend from May 11 to May 20.
    fn base() -> ReportInput {
        let daily = (11..=20)
            .rev()
            .map(|d| DailyInput { date: date(2024, 5, d), redemptions: 10, discount_spent: 100_000 })
            .collect();
        ReportInput {
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
        assert!(v["verdict"].as_str().is_some_and(|s| !s.is_empty()));
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
        assert!(r.verdict.contains("No vouchers issued yet."), "{}", r.verdict);

        // Only the variant is empty.
        let mut input = base();
        input.variants[1].issued = 0;
        input.variants[1].redeemed = 0;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.verdict.contains("no vouchers issued to fixed10"), "{}", r.verdict);
        // All issued to the control although weighted 50/50: a textbook SRM.
        assert!(r.srm_p_value < SRM_ALERT && r.verdict.contains("sample ratio mismatch"));
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
        assert!(r.verdict.contains("fixed10 beats control with >99% probability (9.0% vs 0.0% redeemed)"));

        input.variants[1].redeemed = 0;
        let r = build_report(&input);
        assert_clean_json(&r);
        assert!(r.verdict.contains("no redemptions yet"), "{}", r.verdict);
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
        assert!(r.verdict.contains("The budget is used up."), "{}", r.verdict);

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
        assert!(r.verdict.starts_with("The campaign ended on 2024-06-01."), "{}", r.verdict);
        assert!(r.verdict.contains("not significant") || r.verdict.contains("; significant"));
        assert!(!r.verdict.contains("not yet"));
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
        let r = build_report(&base());
        // 700/10,000 vs 900/10,000: p ≈ 2e-7.
        assert!(
            r.verdict.contains(
                "fixed10 beats control with >99% probability (9.0% vs 7.0% redeemed, +29% relative); \
                 significant at 5% (p < 0.001)."
            ),
            "{}",
            r.verdict
        );
        assert!(r.comparisons[0].significant);

        let mut input = base();
        input.variants[1].redeemed = 720;
        let r = build_report(&input);
        assert!(r.verdict.contains("fixed10 beats control with"), "{}", r.verdict);
        assert!(r.verdict.contains("not yet significant at 5% (p = 0.58)"), "{}", r.verdict);

        input.variants[1].redeemed = 650;
        let r = build_report(&input);
        assert!(r.verdict.contains("fixed10 trails control: control is better with"), "{}", r.verdict);
        assert!(r.verdict.contains("\u{2212}7% relative"), "{}", r.verdict);
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
            r.verdict,
            "700 of 10,000 vouchers redeemed (7.0%). EUR 7,000.00 of the EUR 50,000.00 budget spent (14.0%). \
             At the current burn rate the budget lasts until the campaign ends."
        );
        input.max_amount = Some(700_000);
        let r = build_report(&input);
        assert!(r.verdict.ends_with("The budget is used up."), "{}", r.verdict);
    }

    #[test]
    fn srm_warning() {
        let mut input = base();
        input.variants[0].issued = 10_500;
        input.variants[1].issued = 9_500;
        let r = build_report(&input);
        assert!(r.srm_p_value < SRM_ALERT);
        assert!(r.verdict.starts_with("Warning: "), "{}", r.verdict);
        assert!(r.verdict.contains("variant assignment looks broken"));
        // Weights 70/30 with a 70/30 split is fine.
        input.variants[0].weight = 70;
        input.variants[1].weight = 30;
        input.variants[0].issued = 7_000;
        input.variants[1].issued = 3_000;
        assert!(!build_report(&input).verdict.contains("Warning"));
    }

    #[test]
    fn no_variants_and_garbage_input_stay_finite() {
        let mut input = base();
        input.variants.clear();
        let r = build_report(&input);
        assert_clean_json(&r);
        assert_eq!(r.verdict.split(". ").next().unwrap(), "No variants to report on.");

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

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_money(123_456, "EUR"), "EUR 1,234.56");
        assert_eq!(format_money(5, "USD"), "USD 0.05");
        assert_eq!(format_money(-100_000_000, "EUR"), "EUR -1,000,000.00");
        assert_eq!(format_money(i64::MIN, "X"), "X -92,233,720,368,547,758.08");
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(20_000), "20,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_pct(0.0712), "7.1%");
        assert_eq!(format_signed_pct(0.3), "+30%");
        assert_eq!(format_signed_pct(-0.071), "\u{2212}7%");
        assert_eq!(format_signed_pct(0.001), "0%");
        assert_eq!(format_prob(0.97), "97%");
        assert_eq!(format_prob(0.9999), ">99%");
        assert_eq!(format_prob(0.001), "<1%");
        assert_eq!(format_p(0.21), "0.21");
        assert_eq!(format_p(0.0123), "0.012");
        assert_eq!(format_p(0.00345), "0.0034");
        assert_eq!(format_p(0.0001), "< 0.001");
        assert_eq!(p_clause(0.0001), "p < 0.001");
        assert_eq!(p_clause(0.5), "p = 0.50");
    }

    #[test]
    fn csv_marks_a_formula_like_variant_name_and_keeps_a_negative_lift_a_number() {
        let mut input = base();
        input.variants[1] = variant("=cmd", 50, 10_000, 500, 300_000);
        let report = build_report(&input);
        assert!(report.comparisons[0].lift_abs < 0.0);
        let csv = report_csv(&report);
        let row = csv.split("\r\n").nth(2).unwrap();
        assert!(row.starts_with("variant,'=cmd,50,10000,500,0.05,"), "{row}");
        let lift = row.split(',').nth(10).unwrap();
        assert!(
            lift.starts_with('-') && lift.parse::<f64>().is_ok(),
            "a lift below control stays a number: {row}"
        );
    }

    #[test]
    fn csv_has_one_header_and_typed_rows() {
        let mut input = base();
        input.variants[1].name = "fixed \"10\", new".into();
        input.daily.retain(|d| d.date <= date(2024, 5, 12));
        let csv = report_csv(&build_report(&input));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "section,variant,weight,issued,redeemed,rate,rate_ci_low,rate_ci_high,discount_spent,\
             order_value,lift_abs,lift_rel,p_value,prob_beat_control,date,redemptions"
        );
        assert_eq!(lines.len(), 1 + 2 + 2 + 1, "{csv}");
        assert_eq!(lines[5], "");
        assert!(lines[1].starts_with("variant,control,50,10000,700,0.07,"), "{}", lines[1]);
        assert!(lines[1].ends_with(",5600000,,,,,,"), "{}", lines[1]);
        assert!(lines[2].starts_with("variant,\"fixed \"\"10\"\", new\",50,10000,900,0.09,"), "{}", lines[2]);
        // 16 columns: the quoted name holds one comma.
        assert_eq!(lines[2].matches(',').count(), 16);
        assert_eq!(lines[3], "daily,,,,,,,,100000,,,,,,2024-05-11,10");
        assert_eq!(lines[4], "daily,,,,,,,,100000,,,,,,2024-05-12,10");
        assert!(!csv.contains("NaN") && !csv.contains("inf"));
    }
}
