//! The model of the report page: every text, figure and chart coordinate the page shows, computed
//! here so the template (`templates/report.html`) only prints it and escapes what it prints.
//!
//! Sections, in page order: header, verdict, key figures, budget gauges with facts, the burn-down
//! with its projection ([`burn`]), the rate per variant with its interval and the daily series
//! ([`series`]), the variants table and the methods note. Money is shown as `EUR 1,234.56`
//! (see [`format_money`]); chart axes use major units.

use chrono::{DateTime, Utc};

use super::chart::Px;
use super::format::{
    format_count, format_date, format_instant, format_money, format_pct, format_prob, format_redemptions,
    format_signed_pct, p_clause, pct_bare, share, signed_points,
};
use super::{outlook, Decision, Outlook, Report, SRM_ALERT};

pub mod burn;
pub mod series;

pub use burn::BurnChart;
pub use series::{DailyCharts, RatesChart};

/// The whole report page.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPage {
    /// The document title.
    pub title: String,
    pub header: Header,
    pub verdict: Verdict,
    pub kpis: Vec<Kpi>,
    pub budget: BudgetPanel,
    pub burn: BurnChart,
    /// `None` without variants.
    pub rates: Option<RatesChart>,
    /// `None` before the first redemption.
    pub daily: Option<DailyCharts>,
    pub table: VariantsTable,
    pub methods: Methods,
}

/// The masthead.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub status: Status,
    /// `1 May 2024 → 1 Jun 2024`.
    pub runs: String,
    /// `21 May 2024, 09:30 UTC`.
    pub as_of: String,
    pub currency: String,
    pub campaign_id: String,
}

/// A campaign status as a coloured pill.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The CSS class suffix: the status's ASCII letters and digits, lower case.
    pub class: String,
    pub text: String,
}

impl Status {
    pub fn new(status: &str) -> Self {
        let class = status.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
        Status { class, text: status.to_owned() }
    }
}

/// The verdict box.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `bad` (SRM alert), `warn` (budget used up), `good` (a significant winner) or `info`.
    pub tone: &'static str,
    /// The decision, as a person reads it ("Keep running").
    pub decision: &'static str,
    /// The report's verdict, with no-break spaces inside `p = …` and `p < …` so a p-value
    /// never breaks across lines.
    pub text: String,
}

/// One key figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    pub label: &'static str,
    pub value: String,
    pub hint: String,
}

/// The budget card: the money gauge (or "unlimited"), the count gauge when capped, and facts.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetPanel {
    /// `None` when the money budget is unlimited.
    pub money: Option<Gauge>,
    /// What was spent, for the "unlimited" picture.
    pub spent: String,
    pub count: Option<Gauge>,
    pub facts: Vec<Fact>,
}

/// A horizontal gauge, `fill_w` of `w` filled, with an optional "time elapsed" marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    pub id: &'static str,
    pub label: &'static str,
    pub title: &'static str,
    pub desc: String,
    /// `14.0%`.
    pub used: String,
    pub w: Px,
    pub bar_y: Px,
    pub bar_h: Px,
    pub fill_w: Px,
    pub color: &'static str,
    pub pace: Option<Pace>,
}

/// The marker of how much of the campaign's time has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    pub x: Px,
    pub y1: Px,
    pub y2: Px,
    pub anchor: &'static str,
    pub text: String,
}

/// A term and its value in the budget facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub term: &'static str,
    pub value: String,
    /// Shown in bold (the projected exhaustion).
    pub strong: bool,
    /// Shown as bad news (the budget is used up).
    pub negative: bool,
}

/// The variants and comparisons table.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantsTable {
    pub rows: Vec<VariantRow>,
    /// The sample-ratio check, with two or more variants.
    pub srm: Option<SrmNote>,
}

/// One variant's row; the comparison cells are `None` for the control.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRow {
    pub name: String,
    pub control: bool,
    pub weight: u32,
    pub issued: String,
    pub redeemed: String,
    pub rate: String,
    pub ci_low: String,
    pub ci_high: String,
    pub discount: String,
    pub order_value: String,
    /// Net contribution per issued voucher with its interval (`1.38 [1.22, 1.55]`, major units),
    /// or `—` without a margin.
    pub net_per_issued: String,
    /// `2.1%` of its redemptions rolled back.
    pub rollback_rate: String,
    pub comparison: Option<ComparisonCells>,
}

/// A variant against the control, as table cells.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonCells {
    /// `pos`, `neg` or empty: the colour of the lift.
    pub class: &'static str,
    /// `+1.9 pts (+27%)`.
    pub lift: String,
    /// The lift's interval in points, `+0.7, +3.1` (not adjusted for several comparisons).
    pub lift_ci: String,
    pub significant: bool,
    /// `0.012` or `< 0.001`: the method's p-value, and after Holm's correction.
    pub p_value: String,
    pub p_adjusted: String,
    pub prob_beat_control: String,
    /// Net per issued voucher, variant − control, with its interval; `—` without a margin.
    pub net_diff: String,
    /// Rolled back more than the control (the cell is marked).
    pub rolled_back_more: bool,
}

/// The sample-ratio check under the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SrmNote {
    pub alert: bool,
    pub text: String,
}

/// The "how to read this" footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Methods {
    /// The control's name, or `first` without variants.
    pub control: String,
    pub currency: String,
    pub generated: String,
    /// How the intervals and p-values were computed, and what they allow.
    pub analysis: String,
    /// What the campaign can detect so far.
    pub power: String,
}

/// The gauge colour for a used fraction: blue, amber from 75%, red from 95%.
pub fn gauge_color(frac: f64) -> &'static str {
    if frac >= 0.95 {
        "#dc2626"
    } else if frac >= 0.75 {
        "#d97706"
    } else {
        "#2563eb"
    }
}

/// The share of the campaign's time that has passed, `None` for a zero-length campaign.
pub fn elapsed_share(r: &Report) -> Option<f64> {
    let total = (r.expires_at - r.starts_at).num_seconds();
    if total <= 0 {
        return None;
    }
    Some(((r.as_of - r.starts_at).num_seconds() as f64 / total as f64).clamp(0.0, 1.0))
}

/// Midnight UTC at the start of `t`'s day.
pub(crate) fn day_start(d: chrono::NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

impl ReportPage {
    /// The page of `report`.
    pub fn new(report: &Report) -> Self {
        let r = report;
        ReportPage {
            title: format!("{} · Voucher report", r.campaign_name),
            header: Header {
                name: r.campaign_name.clone(),
                status: Status::new(&r.status),
                runs: format!("{} → {}", format_date(r.starts_at), format_date(r.expires_at)),
                as_of: format_instant(r.as_of),
                currency: r.currency.clone(),
                campaign_id: r.campaign_id.clone(),
            },
            verdict: verdict(r),
            kpis: kpis(r),
            budget: budget_panel(r),
            burn: BurnChart::new(r),
            rates: RatesChart::new(r),
            daily: DailyCharts::new(r),
            table: variants_table(r),
            methods: Methods {
                control: r.variants.first().map_or_else(|| "first".into(), |v| v.name.clone()),
                currency: r.currency.clone(),
                generated: format_instant(r.as_of),
                analysis: analysis_note(r),
                power: power_note(r),
            },
        }
    }
}

fn verdict(r: &Report) -> Verdict {
    let tone = match r.verdict.decision {
        Decision::SrmAlert => "bad",
        _ if r.budget.exhausted => "warn",
        Decision::Winner => "good",
        _ => "info",
    };
    let text = r.verdict.text.replace("p < ", "p\u{a0}<\u{a0}").replace("p = ", "p\u{a0}=\u{a0}");
    Verdict { tone, decision: decision_label(r.verdict.decision), text }
}

/// The decision as a person reads it.
pub fn decision_label(d: Decision) -> &'static str {
    match d {
        Decision::Winner => "Winner",
        Decision::NoDifferenceYet => "No difference yet",
        Decision::KeepRunning => "Keep running",
        Decision::SrmAlert => "Assignment looks broken",
    }
}

fn kpis(r: &Report) -> Vec<Kpi> {
    let issued: u64 = r.variants.iter().map(|v| v.issued).fold(0, u64::saturating_add);
    let redeemed = r.budget.redemptions;
    let order_value = r.variants.iter().fold(0i64, |a, v| a.saturating_add(v.order_value));
    let rate = if issued == 0 { 0.0 } else { redeemed.min(issued) as f64 / issued as f64 };
    let spent_hint = match r.budget.max_amount {
        Some(max) => format!("of {} budget", format_money(max, &r.currency)),
        None => "no budget cap".into(),
    };
    let order_value_hint = if order_value > 0 && r.budget.spent > 0 {
        format!("{:.1}× the discount granted", order_value as f64 / r.budget.spent as f64)
    } else {
        "of redeeming orders".into()
    };
    vec![
        Kpi {
            label: "Vouchers issued",
            value: format_count(issued),
            hint: match r.variants.len() {
                1 => "1 variant".to_string(),
                k => format!("{k} variants"),
            },
        },
        Kpi {
            label: "Redeemed",
            value: format_count(redeemed),
            hint: format!("{} redemption rate", format_pct(rate)),
        },
        Kpi { label: "Discount granted", value: format_money(r.budget.spent, &r.currency), hint: spent_hint },
        Kpi { label: "Order value", value: format_money(order_value, &r.currency), hint: order_value_hint },
    ]
}

fn gauge(
    (id, label, title): (&'static str, &'static str, &'static str),
    desc: String,
    frac: f64,
    pace: Option<f64>,
) -> Gauge {
    let (w, bar_y, bar_h) = (320.0, 22.0, 18.0);
    let pace = pace.map(|p| {
        let anchor = if p > 0.75 {
            "end"
        } else if p < 0.25 {
            "start"
        } else {
            "middle"
        };
        Pace {
            x: Px(w * p.clamp(0.0, 1.0)),
            y1: Px(bar_y - 4.0),
            y2: Px(bar_y + bar_h + 4.0),
            anchor,
            text: format!("{} of the campaign time elapsed", format_pct(p)),
        }
    });
    Gauge {
        id,
        label,
        title,
        desc,
        used: format_pct(frac),
        w: Px(w),
        bar_y: Px(bar_y),
        bar_h: Px(bar_h),
        fill_w: Px(w * frac.clamp(0.0, 1.0)),
        color: gauge_color(frac),
        pace,
    }
}

fn budget_panel(r: &Report) -> BudgetPanel {
    let b = &r.budget;
    let cur = &r.currency;
    let money = b.max_amount.map(|max| {
        let frac = share(b.spent, max);
        let desc = format!(
            "{} of {} spent ({})",
            format_money(b.spent, cur),
            format_money(max, cur),
            format_pct(frac)
        );
        gauge(("gauge-money", "Discount budget", "Money budget used"), desc, frac, elapsed_share(r))
    });
    let count = b.max_redemptions.map(|maxr| {
        let frac = share(i64::try_from(b.redemptions).unwrap_or(i64::MAX), maxr);
        let desc = format!(
            "{} of {} redemptions ({})",
            format_count(b.redemptions),
            format_count(maxr.max(0) as u64),
            format_pct(frac)
        );
        gauge(("gauge-count", "Redemption cap", "Redemption budget used"), desc, frac, None)
    });
    let fact = |term, value| Fact { term, value, strong: false, negative: false };
    let mut facts = vec![fact("Spent", format_money(b.spent, cur))];
    match (b.max_amount, b.remaining) {
        (Some(max), Some(rem)) => {
            facts.push(fact("Budget", format_money(max, cur)));
            facts.push(fact("Remaining", format_money(rem, cur)));
        }
        _ => facts.push(fact("Budget", "unlimited".into())),
    }
    facts.push(fact("Redemptions", format_redemptions(b)));
    facts.push(fact("Burn rate (7 days)", format!("{} / day", format_money(b.burn_per_day, cur))));
    facts.push(fact("Redemptions / day", format!("{:.1}", b.redemptions_per_day)));
    let (value, strong, negative) = match outlook(r) {
        Outlook::UsedUp => ("budget used up".into(), true, true),
        Outlook::RunsOutAt(at) => (format_instant(at), true, false),
        Outlook::NoCap => ("— (no cap)".into(), false, false),
        Outlook::Ended => ("— (campaign ended)".into(), false, false),
        Outlook::Outlasts => ("after the campaign ends".into(), false, false),
        Outlook::OutlastsVouchers => ("never: the open vouchers cannot use it up".into(), false, false),
        Outlook::TooEarly => ("— (less than a day of data)".into(), false, false),
        Outlook::NoRecentBurn => ("— (no recent burn)".into(), false, false),
    };
    facts.push(Fact { term: "Projected exhaustion", value, strong, negative });
    BudgetPanel { money, spent: format_money(b.spent, cur), count, facts }
}

fn variants_table(r: &Report) -> VariantsTable {
    let rows = r
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let comparison = i.checked_sub(1).and_then(|j| r.comparisons.get(j)).map(|c| {
                let class = if c.lift_abs > 0.0 {
                    "pos"
                } else if c.lift_abs < 0.0 {
                    "neg"
                } else {
                    ""
                };
                let rel = c.lift_rel.map(|x| format!(" ({})", format_signed_pct(x))).unwrap_or_default();
                let pts = |x: f64| format!("{:+.1}", if x.is_finite() { x * 100.0 } else { 0.0 });
                ComparisonCells {
                    class,
                    lift: format!("{}{}", signed_points(c.lift_abs), rel),
                    lift_ci: format!("{}, {}", pts(c.lift_abs_ci_low), pts(c.lift_abs_ci_high)),
                    significant: c.significant,
                    p_value: bare_p(c.p_value),
                    p_adjusted: bare_p(c.p_value_adjusted),
                    prob_beat_control: format_prob(c.prob_beat_control),
                    net_diff: match (c.net_diff, c.net_diff_ci_low, c.net_diff_ci_high) {
                        (Some(d), Some(lo), Some(hi)) => {
                            format!("{} [{}, {}]", signed(d), signed(lo), signed(hi))
                        }
                        _ => "—".into(),
                    },
                    rolled_back_more: c.rolled_back_more,
                }
            });
            VariantRow {
                name: v.name.clone(),
                control: i == 0,
                weight: v.weight,
                issued: format_count(v.issued),
                redeemed: format_count(v.redeemed),
                rate: format_pct(v.rate),
                ci_low: pct_bare(v.rate_ci_low),
                ci_high: pct_bare(v.rate_ci_high),
                discount: format_money(v.discount_spent, &r.currency),
                order_value: format_money(v.order_value, &r.currency),
                net_per_issued: match (v.net_per_issued, v.net_per_issued_ci_low, v.net_per_issued_ci_high) {
                    (Some(n), Some(lo), Some(hi)) => format!("{} [{}, {}]", major(n), major(lo), major(hi)),
                    _ => "—".into(),
                },
                rollback_rate: format_pct(v.rollback_rate),
                comparison,
            }
        })
        .collect();
    let srm = (r.variants.len() >= 2).then(|| {
        let alert = r.srm_p_value < SRM_ALERT;
        let meaning = if alert {
            "the split does not match the weights; assignment looks broken."
        } else {
            "the split matches the weights."
        };
        SrmNote {
            alert,
            text: format!(
                "Sample ratio check (issued vs weights): {} — {}",
                p_clause(r.srm_p_value),
                meaning
            ),
        }
    });
    VariantsTable { rows, srm }
}

/// Minor units with fractions as major units, two decimals (`1.38`; the column names the currency).
fn major(minor: f64) -> String {
    format!("{:.2}", if minor.is_finite() { minor / 100.0 } else { 0.0 })
}

/// The same with a sign (`+1.00`), for differences.
fn signed(minor: f64) -> String {
    format!("{:+.2}", if minor.is_finite() { minor / 100.0 } else { 0.0 })
}

/// The method note under the table.
fn analysis_note(r: &Report) -> String {
    let a = &r.analysis;
    let how = match a.method {
        crate::domain::campaign::AnalysisMethod::Sequential => format!(
            "Always-valid intervals and p-values (confidence sequences, tuning N* = {}): valid however often you look",
            format_count(a.tuning.round() as u64)
        ),
        crate::domain::campaign::AnalysisMethod::Fixed => {
            "Fixed-horizon intervals and p-values: valid for one look at a sample size fixed in advance".to_string()
        }
    };
    let margin = match a.gross_margin {
        Some(m) => format!("; net = {} of the order value − the discount", format_pct(m)),
        None => "; set a gross_margin on the campaign to see net contribution".into(),
    };
    format!(
        "{how}. Significance at {} uses Holm-adjusted p-values across the comparisons; the intervals are per comparison, not adjusted{margin}.",
        format_pct(a.alpha)
    )
}

/// The power note under the table.
fn power_note(r: &Report) -> String {
    let p = &r.power;
    let now = match p.mde_rel {
        Some(m) => format!(
            "with the vouchers issued so far a lift of {} or more is detectable",
            format_signed_pct(m)
        ),
        None => "no lift is detectable yet".into(),
    };
    let need = match p.issued_needed_per_arm {
        Some(n) => format!(
            "; detecting {} needs {} vouchers per variant{}",
            format_signed_pct(p.min_detectable_lift),
            format_count(n),
            if p.enough_data { " (reached)" } else { "" }
        ),
        None => String::new(),
    };
    format!("Power (80%, on the {}): {now}{need}.", p.metric.replace('_', " "))
}

/// A p-value for a table cell: `0.21` or `< 0.001`.
pub fn bare_p(p: f64) -> String {
    p_clause(p).trim_start_matches("p = ").trim_start_matches("p ").to_string()
}

/// Shortens `s` to `max` characters, the last one an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// One campaign on the index page, as the store knows it.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub id: String,
    pub name: String,
    pub status: String,
    pub currency: String,
    /// Discount granted so far, minor units.
    pub spent: i64,
    /// Money budget, minor units; `None` = unlimited.
    pub max_amount: Option<i64>,
}

/// One row of the index page.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    /// The campaign id as one percent-encoded URL path segment.
    pub path_id: String,
    pub id: String,
    pub name: String,
    pub status: Status,
    pub spent: String,
    /// `None` when the money budget is unlimited.
    pub budget: Option<IndexBudget>,
}

/// A capped budget on the index page, with its mini gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexBudget {
    pub max: String,
    pub used: String,
    pub fill_w: Px,
    pub color: &'static str,
}

impl IndexRow {
    pub fn new(c: &IndexEntry) -> Self {
        let budget = c.max_amount.map(|max| {
            let frac = share(c.spent, max);
            IndexBudget {
                max: format_money(max, &c.currency),
                used: format_pct(frac),
                fill_w: Px(110.0 * frac.clamp(0.0, 1.0)),
                color: gauge_color(frac),
            }
        });
        IndexRow {
            path_id: path_segment(&c.id),
            id: c.id.clone(),
            name: c.name.clone(),
            status: Status::new(&c.status),
            spent: format_money(c.spent, &c.currency),
            budget,
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for one URL path segment.
pub fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::build_report;
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn header_kpis_and_budget_facts() {
        let p = ReportPage::new(&build_report(&page_input()));
        assert_eq!(p.title, "Birthday 2024 · Voucher report");
        assert_eq!(p.header.runs, "1 May 2024 → 1 Jun 2024");
        assert_eq!(p.header.as_of, "21 May 2024, 09:30 UTC");
        let values: Vec<&str> = p.kpis.iter().map(|k| k.value.as_str()).collect();
        assert_eq!(values, ["20,000", "1,622", "EUR 19,465.67", "EUR 129,360.00"]);
        assert_eq!(p.kpis[3].hint, "6.6× the discount granted");
        let facts: Vec<(&str, &str)> = p.budget.facts.iter().map(|f| (f.term, f.value.as_str())).collect();
        assert_eq!(facts[2], ("Remaining", "EUR 5,534.33"));
        assert_eq!(facts[3], ("Redemptions", "1,622 of 2,500 (878 left)"));
        let money = p.budget.money.as_ref().unwrap();
        assert_eq!((money.used.as_str(), money.color), ("77.9%", "#d97706"));
        assert_eq!(money.fill_w, Px(320.0 * 1_946_567.0 / 2_500_000.0));
        let pace = money.pace.as_ref().unwrap();
        assert_eq!((pace.text.as_str(), pace.anchor), ("65.8% of the campaign time elapsed", "middle"));
        assert_eq!(p.verdict.tone, "good");
        assert!(p.verdict.text.contains("p\u{a0}<\u{a0}0.001"), "{}", p.verdict.text);
    }

    #[test]
    fn projection_fact_follows_the_outlook() {
        let mut i = page_input();
        i.max_amount = Some(1_000_000);
        let p = ReportPage::new(&build_report(&i));
        let last = p.budget.facts.last().unwrap();
        assert_eq!((last.value.as_str(), last.strong, last.negative), ("budget used up", true, true));
        assert_eq!(p.verdict.tone, "warn");
        i.max_amount = None;
        i.max_redemptions = None;
        let p = ReportPage::new(&build_report(&i));
        assert!(p.budget.money.is_none() && p.budget.count.is_none());
        assert_eq!(p.budget.facts.last().unwrap().value, "— (no cap)");
        assert_eq!(p.budget.facts[1].value, "unlimited");
    }

    #[test]
    fn table_rows_and_srm_note() {
        let p = ReportPage::new(&build_report(&page_input()));
        let t = &p.table;
        assert!(t.rows[0].control && t.rows[0].comparison.is_none());
        assert_eq!((t.rows[0].rate.as_str(), t.rows[0].ci_low.as_str()), ("7.1%", "6.6"));
        let c = t.rows[1].comparison.as_ref().unwrap();
        assert_eq!((c.class, c.lift.as_str(), c.p_value.as_str()), ("pos", "+2.0 pts (+28%)", "< 0.001"));
        assert!(c.significant);
        let srm = t.srm.as_ref().unwrap();
        assert!(!srm.alert && srm.text.ends_with("the split matches the weights."), "{}", srm.text);
        let mut i = page_input();
        i.variants.truncate(1);
        assert!(ReportPage::new(&build_report(&i)).table.srm.is_none());
    }

    #[test]
    fn index_rows() {
        let row = IndexRow::new(&IndexEntry {
            id: "a b/c".into(),
            name: "Spring".into(),
            status: "Ended!".into(),
            currency: "EUR".into(),
            spent: 123_456,
            max_amount: Some(500_000),
        });
        assert_eq!(row.path_id, "a%20b%2Fc");
        assert_eq!(row.status.class, "ended");
        let b = row.budget.unwrap();
        assert_eq!(
            (b.max.as_str(), b.used.as_str(), b.fill_w),
            ("EUR 5,000.00", "24.7%", Px(110.0 * 0.246912))
        );
        assert_eq!(path_segment("ok-_.~9"), "ok-_.~9");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
