//! The verdict: a decision, its headline, one sentence per comparison, then one on the budget.

use super::decision::{Decision, ReportVerdict, MIN_WINNER_REDEMPTIONS};
use super::format::{
    format_count, format_money, format_pct, format_prob, format_signed_pct, p_clause, share, signed_points,
};
use super::{Report, ReportComparison, ReportVariant, SRM_ALERT};
use crate::domain::campaign::AnalysisMethod;

/// The plain-language verdict and its decision; see [`build_report`] and [`Decision`].
///
/// Decision, first rule that matches: `srm_alert` when assignment looks broken (it overrides
/// everything); `winner` when a comparison is significant on the primary metric (net per issued
/// voucher with a margin, else the redemption rate) after Holm's correction, the campaign has
/// `power.enough_data` and its larger arm at least [`MIN_WINNER_REDEMPTIONS`] redemptions;
/// `no_difference_yet` with enough data and nothing significant; `keep_running` otherwise.
pub(super) fn verdict(r: &Report) -> ReportVerdict {
    let mut out: Vec<String> = Vec::new();
    let ended = r.as_of >= r.expires_at;
    let srm = r.variants.len() >= 2 && r.srm_p_value < SRM_ALERT;
    if ended {
        out.push(format!("The campaign ended on {}.", r.expires_at.format("%Y-%m-%d")));
    }
    if srm {
        out.push(format!(
            "Warning: the vouchers issued per variant do not match the configured weights \
             (sample ratio mismatch, {}), so variant assignment looks broken; \
             do not trust the comparisons until it is fixed.",
            p_clause(r.srm_p_value)
        ));
    }
    let total_issued: u64 = r.variants.iter().map(|v| v.issued).fold(0, u64::saturating_add);
    let mut decision = Decision::KeepRunning;
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
                let (d, headline) = decide(r, control);
                decision = d;
                out.extend(headline);
                for (c, v) in r.comparisons.iter().zip(&r.variants[1..]) {
                    out.push(comparison_sentence(r, c, control, v, ended));
                }
            }
        }
    }
    if srm {
        decision = Decision::SrmAlert;
    }
    out.push(budget_sentence(r, ended));
    out.retain(|s| !s.is_empty());
    ReportVerdict { decision, text: out.join(" ") }
}

/// How the intervals may be read.
fn validity(r: &Report) -> &'static str {
    match r.analysis.method {
        AnalysisMethod::Sequential => "valid however often you look",
        AnalysisMethod::Fixed => "valid for one look",
    }
}

/// The decision and its headline sentence.
fn decide(r: &Report, control: &ReportVariant) -> (Decision, Option<String>) {
    let net = r.analysis.gross_margin.is_some();
    let sig = |c: &ReportComparison| if net { c.net_significant } else { c.significant };
    let effect = |c: &ReportComparison| if net { c.net_diff.unwrap_or(0.0) } else { c.lift_abs };
    let most_redeemed = r.variants.iter().map(|v| v.redeemed).max().unwrap_or(0);
    let ready = r.power.enough_data && most_redeemed >= MIN_WINNER_REDEMPTIONS;
    let best = r
        .comparisons
        .iter()
        .filter(|c| sig(c) && effect(c) > 0.0)
        .max_by(|a, b| effect(a).total_cmp(&effect(b)));
    let all_worse = !r.comparisons.is_empty() && r.comparisons.iter().all(|c| sig(c) && effect(c) < 0.0);
    let winner: Option<(String, Option<&ReportComparison>)> = match (best, all_worse) {
        (Some(c), _) => Some((c.variant.clone(), Some(c))),
        (None, true) => Some((control.name.clone(), None)),
        _ => None,
    };
    let fewest = r.variants.iter().map(|v| v.issued).min().unwrap_or(0);
    let wait = match r.power.issued_needed_per_arm {
        Some(n) if !r.power.enough_data => format!(
            "Keep running before you decide: the campaign is set up to detect {}, which needs {} vouchers per variant ({} so far).",
            format_signed_pct(r.power.min_detectable_lift),
            format_count(n),
            format_count(fewest)
        ),
        _ => format!(
            "Keep running before you decide: wait until the larger variant has {} redemptions.",
            MIN_WINNER_REDEMPTIONS
        ),
    };
    match winner {
        Some((name, c)) if ready => (Decision::Winner, Some(winner_sentence(r, &name, c, control))),
        Some((name, c)) => (Decision::KeepRunning, Some(format!("{} {wait}", winner_sentence(r, &name, c, control)))),
        None if r.power.enough_data => (
            Decision::NoDifferenceYet,
            Some(format!(
                "No difference yet: with {} vouchers per variant a lift of {} would have shown ({}).",
                format_count(r.variants.iter().map(|v| v.issued).min().unwrap_or(0)),
                format_signed_pct(r.power.min_detectable_lift),
                validity(r)
            )),
        ),
        None => (
            Decision::KeepRunning,
            Some(match (r.power.mde_rel, r.power.issued_needed_per_arm) {
                (Some(mde), Some(n)) => format!(
                    "Keep running: so far a lift of {} or more could be detected; {} needs {} vouchers per variant.",
                    format_signed_pct(mde),
                    format_signed_pct(r.power.min_detectable_lift),
                    format_count(n)
                ),
                (None, Some(n)) => format!(
                    "Keep running: detecting {} needs {} vouchers per variant.",
                    format_signed_pct(r.power.min_detectable_lift),
                    format_count(n)
                ),
                _ => "Keep running: too little data to say what lift could be detected.".into(),
            }),
        ),
    }
}

fn winner_sentence(r: &Report, name: &str, c: Option<&ReportComparison>, control: &ReportVariant) -> String {
    let Some(c) = c else {
        return format!("{name} is better than every variant ({}).", validity(r));
    };
    let cur = &r.currency;
    let money = |x: f64| format_money(x.round() as i64, cur);
    let rates = if c.significant {
        format!("redemption rates differ ({})", signed_points(c.lift_abs))
    } else {
        "redemption rates do not differ yet".into()
    };
    match (r.analysis.gross_margin, c.net_diff, c.net_diff_ci_low, c.net_diff_ci_high) {
        (Some(_), Some(d), Some(lo), Some(hi)) => format!(
            "{name} earns {} more per voucher issued than {} (between {} and {}), {}; {}.",
            money(d),
            control.name,
            money(lo),
            money(hi),
            validity(r),
            rates
        ),
        _ => format!(
            "{name} is redeemed more often than {} ({}, between {} and {}), {}.",
            control.name,
            signed_points(c.lift_abs),
            signed_points(c.lift_abs_ci_low),
            signed_points(c.lift_abs_ci_high),
            validity(r)
        ),
    }
}

fn comparison_sentence(
    r: &Report,
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
    let level = format_alpha(r.analysis.alpha);
    let adjusted = if r.comparisons.len() > 1 || c.net_p_value.is_some() { ", Holm-adjusted" } else { "" };
    let p = format!("{}{adjusted}", p_clause(c.p_value_adjusted));
    let significance = if c.significant {
        format!("significant at {level} ({p})")
    } else if ended {
        format!("not significant at {level} ({p})")
    } else {
        format!("not yet significant at {level} ({p})")
    };
    let mut sentence = if c.prob_beat_control >= 0.5 {
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
    };
    if c.rolled_back_more {
        sentence.push_str(&format!(
            " Careful: {} is rolled back more often ({} vs {} of its redemptions).",
            v.name,
            format_pct(v.rollback_rate),
            format_pct(control.rollback_rate)
        ));
    }
    sentence
}

/// `5%`, `1%`, `0.5%`.
fn format_alpha(alpha: f64) -> String {
    let pct = alpha * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round())
    } else {
        format!("{pct}%")
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
    } else if b.outlasts_open_vouchers && !ended && b.open_vouchers == 0 {
        s.push("No voucher is open to redeem, so the budget cannot be used up until more are issued.".into());
    } else if b.outlasts_open_vouchers && !ended {
        s.push(format!(
            "The {} open vouchers cannot use up the budget, however fast they are redeemed.",
            format_count(b.open_vouchers)
        ));
    } else if single && !ended && (b.max_amount.is_some() || b.max_redemptions.is_some()) {
        if (b.burn_per_day > 0 || b.redemptions_per_day > 0.0)
            && b.burn_window_days < super::MIN_PROJECTION_DAYS
        {
            s.push("Less than a day of redemptions: too early to project the budget.".into());
        } else if b.burn_per_day > 0 || b.redemptions_per_day > 0.0 {
            s.push("At the current burn rate the budget lasts until the campaign ends.".into());
        } else {
            s.push("Nothing was redeemed in the last 7 days.".into());
        }
    }
    s.join(" ")
}
