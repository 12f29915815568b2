//! The campaign report as plain text for a terminal: no colours, at most [`WIDTH`] columns.
//!
//! Widths are counted in `char`s (East Asian wide characters would take two cells). Names are user
//! input, so control characters and bidirectional overrides are replaced by `?` before printing:
//! nothing in a campaign or variant name can move the cursor or recolour the terminal.

use crate::domain::report::format::format_redemptions;
use crate::domain::report::page::{bare_p, truncate};
use crate::domain::report::{
    format_count, format_money, format_pct, format_prob, format_signed_pct, outlook, p_clause, pct_bare,
    share, Outlook, Report, SRM_ALERT,
};

/// The widest line the table prints.
pub const WIDTH: usize = 100;

/// The report as a plain-text page: title, budget, variants, comparisons, SRM check and verdict.
pub fn render_report_table(report: &Report) -> String {
    let r = report;
    let b = &r.budget;
    let cur = &r.currency;
    let mut out: Vec<String> = Vec::new();

    out.push(format!("{}  ·  {}  ·  {}", clean(&r.campaign_name), clean(&r.status), clean(cur)));
    out.push(format!(
        "Campaign {}  ·  runs {} → {}  ·  as of {}",
        clean(&r.campaign_id),
        r.starts_at.format("%Y-%m-%d"),
        r.expires_at.format("%Y-%m-%d"),
        r.as_of.format("%Y-%m-%d %H:%M UTC")
    ));
    out.push("=".repeat(WIDTH));

    out.push(String::new());
    out.push("BUDGET".into());
    let mut facts: Vec<(&str, String)> = Vec::new();
    facts.push((
        "Spent",
        match b.max_amount {
            Some(max) => format!(
                "{} of {} ({})",
                format_money(b.spent, cur),
                format_money(max, cur),
                format_pct(share(b.spent, max))
            ),
            None => format!("{} (unlimited budget)", format_money(b.spent, cur)),
        },
    ));
    facts
        .push(("Remaining", b.remaining.map(|x| format_money(x, cur)).unwrap_or_else(|| "unlimited".into())));
    facts.push(("Redemptions", format_redemptions(b)));
    facts.push((
        "Burn per day",
        format!(
            "{} ({:.1} redemptions), last 7 days",
            format_money(b.burn_per_day, cur),
            b.redemptions_per_day
        ),
    ));
    facts.push((
        "Projected exhaustion",
        match outlook(r) {
            Outlook::UsedUp => "budget used up".into(),
            Outlook::RunsOutAt(at) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
            Outlook::NoCap => "— (no cap)".into(),
            Outlook::Ended => "— (campaign ended)".into(),
            Outlook::Outlasts => "not before the campaign ends".into(),
            Outlook::OutlastsVouchers => "not by the open vouchers".into(),
            Outlook::TooEarly => "— (less than a day of data)".into(),
            Outlook::NoRecentBurn => "— (no recent burn)".into(),
        },
    ));
    for (k, v) in facts {
        out.push(format!("  {}{}", pad_right(k, 22), v));
    }

    out.push(String::new());
    out.push("VARIANTS".into());
    if r.variants.is_empty() {
        out.push("  (none)".into());
    } else {
        let rows: Vec<Vec<String>> = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                vec![
                    if i == 0 && !v.name.eq_ignore_ascii_case("control") {
                        format!("{} (control)", clean(&v.name))
                    } else {
                        clean(&v.name)
                    },
                    v.weight.to_string(),
                    format_count(v.issued),
                    format_count(v.redeemed),
                    format!(
                        "{} [{}–{}]",
                        format_pct(v.rate),
                        pct_bare(v.rate_ci_low),
                        pct_bare(v.rate_ci_high)
                    ),
                    format_money(v.discount_spent, cur),
                    v.net_per_issued
                        .map(|n| format_money(n.round() as i64, cur))
                        .unwrap_or_else(|| "—".into()),
                    format_pct(v.rollback_rate),
                ]
            })
            .collect();
        out.extend(table(
            &[
                "Variant",
                "Weight",
                "Issued",
                "Redeemed",
                "Rate [95% CI]",
                "Discount spent",
                "Net/issued",
                "Rolled back",
            ],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
            &rows,
        ));
    }

    if !r.comparisons.is_empty() {
        out.push(String::new());
        let control = r.variants.first().map(|v| clean(&v.name)).unwrap_or_default();
        out.push(format!("COMPARISONS (vs {control})"));
        let net_header = format!("Net/issued diff {cur} [CI]");
        let rows: Vec<Vec<String>> = r
            .comparisons
            .iter()
            .map(|c| {
                vec![
                    clean(&c.variant),
                    format!("{} [{}, {}]", pts(c.lift_abs), pts(c.lift_abs_ci_low), pts(c.lift_abs_ci_high)),
                    c.lift_rel.map(format_signed_pct).unwrap_or_else(|| "n/a".into()),
                    bare_p(c.p_value),
                    bare_p(c.p_value_adjusted),
                    format_prob(c.prob_beat_control),
                    match (c.net_diff, c.net_diff_ci_low, c.net_diff_ci_high) {
                        (Some(d), Some(lo), Some(hi)) => {
                            format!("{} [{}, {}]", major(d), major(lo), major(hi))
                        }
                        _ => "—".into(),
                    },
                    if c.significant || c.net_significant { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        out.extend(table(
            &["Variant", "Lift pts [CI]", "Rel", "p", "p (Holm)", "P(beat)", &net_header, "Sig."],
            &[
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
            &rows,
        ));
        let method_note = format!(
            "{} intervals ({}), alpha {}; p (Holm) is adjusted across the comparisons, the intervals are not.",
            match r.analysis.method {
                crate::domain::campaign::AnalysisMethod::Sequential => "Always-valid",
                crate::domain::campaign::AnalysisMethod::Fixed => "Fixed-horizon",
            },
            match r.analysis.method {
                crate::domain::campaign::AnalysisMethod::Sequential => "valid however often you look",
                crate::domain::campaign::AnalysisMethod::Fixed => "valid for one look",
            },
            r.analysis.alpha
        );
        out.extend(wrap(&method_note, WIDTH - 2).into_iter().map(|l| format!("  {l}")));
        let p = &r.power;
        let power_note = format!(
            "Power (80%, {}): {}; {}.",
            p.metric.replace('_', " "),
            match p.mde_rel {
                Some(m) => format!("a lift of {} is detectable now", format_signed_pct(m)),
                None => "no lift is detectable yet".into(),
            },
            match p.issued_needed_per_arm {
                Some(n) => format!(
                    "{} needs {} vouchers per variant{}",
                    format_signed_pct(p.min_detectable_lift),
                    format_count(n),
                    if p.enough_data { " (reached)" } else { "" }
                ),
                None => "no baseline to plan from yet".into(),
            }
        );
        out.extend(wrap(&power_note, WIDTH - 2).into_iter().map(|l| format!("  {l}")));
        out.push(String::new());
        out.push(format!(
            "  Sample ratio check: {} ({})",
            p_clause(r.srm_p_value),
            if r.srm_p_value < SRM_ALERT { "MISMATCH: assignment looks broken" } else { "ok" }
        ));
    }

    out.push(String::new());
    out.push(format!(
        "VERDICT: {}",
        crate::domain::report::page::decision_label(r.verdict.decision).to_uppercase()
    ));
    out.extend(wrap(&clean(&r.verdict.text), WIDTH - 2).into_iter().map(|l| format!("  {l}")));

    let mut text = String::new();
    for line in out {
        text.push_str(&fit(&line, WIDTH));
        text.push('\n');
    }
    text
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Columns sized to their content, two spaces apart, indented by two; the first column shrinks
/// (names get an ellipsis) when the table would be wider than [`WIDTH`].
fn table(headers: &[&str], align: &[Align], rows: &[Vec<String>]) -> Vec<String> {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let total = 2 + widths.iter().sum::<usize>() + 2 * (cols - 1);
    if total > WIDTH {
        widths[0] = widths[0].saturating_sub(total - WIDTH).max(8);
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(align)
            .map(|((c, &w), a)| {
                let c = truncate(c, w);
                match a {
                    Align::Left => pad_right(&c, w),
                    Align::Right => pad_left(&c, w),
                }
            })
            .collect();
        format!("  {}", parts.join("  ")).trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.push(line(widths.iter().map(|&w| "-".repeat(w)).collect()));
    out.extend(rows.iter().map(|r| line(r.clone())));
    out
}

/// Replaces control characters and bidirectional formatting characters by `?`.
/// Percentage points with a sign, one decimal: `+1.9`.
fn pts(x: f64) -> String {
    format!("{:+.1}", if x.is_finite() { x * 100.0 } else { 0.0 })
}

/// Minor units as signed major units, two decimals: `+1.11`.
fn major(minor: f64) -> String {
    format!("{:+.2}", if minor.is_finite() { minor / 100.0 } else { 0.0 })
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Cuts a line to `max` columns (only absurdly large numbers or names need it).
fn fit(line: &str, max: usize) -> String {
    truncate(line.trim_end(), max)
}

fn pad_right(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{}{}", s, " ".repeat(w.saturating_sub(n)))
}

fn pad_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{}{}", " ".repeat(w.saturating_sub(n)), s)
}

/// Greedy word wrap to `width` columns; words longer than a line are split.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            lines.push(word[..width].iter().collect());
            word.drain(..width);
        }
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.extend(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::fixtures::table_input;
    use crate::domain::report::{build_report, ReportInput};

    fn small() -> ReportInput {
        table_input()
    }

    /// The whole table of fixed reports: the page's example (both budgets) and the small one.
    #[test]
    fn table_snapshots() {
        use crate::domain::report::fixtures::page_input;
        insta::assert_snapshot!("report_table", render_report_table(&build_report(&page_input())));
        insta::assert_snapshot!("report_table_small", render_report_table(&build_report(&small())));
    }

    #[test]
    fn renders_a_small_report() {
        let text = render_report_table(&build_report(&small()));
        let expected_lines = [
            "Birthday  ·  active  ·  EUR",
            "Campaign cmp_7  ·  runs 2024-05-01 → 2024-06-01  ·  as of 2024-05-21 00:00 UTC",
            "  Spent                 EUR 10,000.00 of EUR 15,000.00 (66.7%)",
            "  Remaining             EUR 5,000.00",
            "  Redemptions           1,617 (no cap)",
            "  Burn per day          EUR 1,000.00 (10.0 redemptions), last 7 days",
            "  Projected exhaustion  2024-05-26 00:00 UTC",
            "  Variant  Weight  Issued  Redeemed  Rate [95% CI]   Discount spent  Net/issued  Rolled back",
            "  control      50  10,000       712  7.1% [6.6–7.6]    EUR 7,000.00           —         0.0%",
            "  fixed10      50  10,000       905  9.0% [8.5–9.6]    EUR 3,000.00           —         0.0%",
            "COMPARISONS (vs control)",
            "  Variant      Lift pts [CI]   Rel        p  p (Holm)  P(beat)  Net/issued diff EUR [CI]  Sig.",
            "  fixed10  +1.9 [+0.7, +3.1]  +27%  < 0.001   < 0.001     >99%                         —   yes",
            "  Sample ratio check: p = 1.00 (ok)",
            "VERDICT: KEEP RUNNING",
        ];
        for l in expected_lines {
            assert!(text.lines().any(|x| x == l), "missing line {l:?} in\n{text}");
        }
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("fixed10 beats control with >99% probability"), "{flat}");
        // A control not called "control" is marked.
        let mut i = small();
        i.variants[0].name = "pct10".into();
        let text = render_report_table(&build_report(&i));
        assert!(
            text.contains("  pct10 (control)      50  10,000       712  7.1% [6.6–7.6]    EUR 7,000.00"),
            "{text}"
        );
        assert!(text.contains("COMPARISONS (vs pct10)"));
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH));
    }

    #[test]
    fn stays_narrow_and_inert_with_hostile_input() {
        let mut i = small();
        i.campaign_name = format!("\u{1b}[31mred\u{1b}[0m {}", "x".repeat(300));
        i.variants[1].name = format!("\u{202E}evil{}", "y".repeat(120));
        i.variants[0].issued = u64::MAX;
        i.variants[0].discount_spent = i64::MAX;
        i.max_redemptions = Some(i64::MAX);
        let text = render_report_table(&build_report(&i));
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202E}'));
        assert!(text.contains("?[31mred?[0m"));
        for l in text.lines() {
            assert!(l.chars().count() <= WIDTH, "{} chars: {l}", l.chars().count());
        }
    }

    #[test]
    fn single_variant_and_unlimited() {
        let mut i = small();
        i.variants.truncate(1);
        i.max_amount = None;
        let text = render_report_table(&build_report(&i));
        assert!(text.contains("  Spent                 EUR 7,000.00 (unlimited budget)"));
        assert!(text.contains("  Remaining             unlimited"));
        assert!(text.contains("  Projected exhaustion  — (no cap)"));
        assert!(!text.contains("COMPARISONS"));
    }

    #[test]
    fn wrap_splits_on_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert!(wrap("", 10).is_empty());
    }
}
