//! How the report's numbers read for people: money, counts, percentages, p-values, dates.

use chrono::{DateTime, Utc};

use super::ReportBudget;

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

/// An interval bound as a bare percentage with one decimal (`7.1`, no sign), shown next to a rate.
pub fn pct_bare(x: f64) -> String {
    format!("{:.1}", if x.is_finite() { x * 100.0 } else { 0.0 })
}

/// A rate difference in percentage points: `+2.0 pts`, `−0.5 pts` (a real minus sign).
pub fn signed_points(x: f64) -> String {
    let p = if x.is_finite() { x * 100.0 } else { 0.0 };
    if p >= 0.05 {
        format!("+{p:.1} pts")
    } else if p <= -0.05 {
        format!("\u{2212}{:.1} pts", -p)
    } else {
        "0.0 pts".into()
    }
}

/// A day for people: `1 May 2024`.
pub fn format_date(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

/// An instant for people: `21 May 2024, 09:30 UTC`.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// Redemptions against the count cap: `1,617 of 2,500 (883 left)`, or `1,617 (no cap)`.
pub fn format_redemptions(b: &ReportBudget) -> String {
    match (b.max_redemptions, b.remaining_redemptions) {
        (Some(max), Some(left)) => format!(
            "{} of {} ({} left)",
            format_count(b.redemptions),
            format_count(max.max(0) as u64),
            format_count(left.max(0) as u64)
        ),
        _ => format!("{} (no cap)", format_count(b.redemptions)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(signed_points(0.0193), "+1.9 pts");
        assert_eq!(signed_points(-0.004), "\u{2212}0.4 pts");
        assert_eq!(signed_points(f64::NAN), "0.0 pts");
        assert_eq!(pct_bare(0.0712), "7.1");
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 5, 21, 9, 30, 0).unwrap();
        assert_eq!(
            (format_date(t), format_instant(t)),
            ("21 May 2024".into(), "21 May 2024, 09:30 UTC".into())
        );
    }
}
