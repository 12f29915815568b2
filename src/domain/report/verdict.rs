//! The plain-language verdict: one sentence per comparison, then one on the budget.

use super::format::{
    format_count, format_money, format_pct, format_prob, format_signed_pct, p_clause, share,
};
use super::{Report, ReportComparison, ReportVariant, SRM_ALERT};

/// The plain-language verdict; see [`build_report`].
pub(super) fn verdict(r: &Report) -> String {
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
