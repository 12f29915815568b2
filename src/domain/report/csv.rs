//! The report as CSV.

use super::Report;
use crate::domain::csv::{self as cells, Cell};

/// The report as one CSV table (RFC 4180: CRLF line ends, fields with `,` `"` CR or LF quoted,
/// quotes doubled).
///
/// Columns: `section,variant,weight,issued,redeemed,rate,rate_ci_low,rate_ci_high,discount_spent,`
/// `order_value,lift_abs,lift_rel,p_value,prob_beat_control,date,redemptions`.
/// - `section=variant` rows (one per variant, control first) fill `variant` … `order_value`, and
///   for non-control variants `lift_abs` … `prob_beat_control`; rates are fractions (0.071).
/// - `section=daily` rows (ascending) fill `date` (`YYYY-MM-DD`), `redemptions`, `discount_spent`.
/// - Then the decision-grade columns (money per issued voucher in minor units with fractions):
///   `order_value_per_issued,discount_per_issued,net_per_issued,net_per_issued_ci_low,`
///   `net_per_issued_ci_high,rollback_rate` on every variant row, and
///   `lift_abs_ci_low,lift_abs_ci_high,lift_rel_ci_low,lift_rel_ci_high,p_value_adjusted,`
///   `significant,net_diff,net_diff_ci_low,net_diff_ci_high,expected_loss` on non-control rows
///   (intervals by the campaign's method, unadjusted; `p_value_adjusted` by Holm).
/// - One last `section=verdict` row fills `decision` and `text`, as the JSON's `verdict`.
///
/// Money columns are integers in minor units. Empty cells are empty strings, including a
/// relative lift that is undefined (control rate 0). Cells are written by [`cells::write_row`]:
/// the variant name is text and neutralised if it would start a formula; the numbers are the
/// service's own and stay numbers, negative lifts included.
pub fn report_csv(report: &Report) -> String {
    const N: usize = 34;
    const HEADER: [&str; N] = [
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
        "order_value_per_issued",
        "discount_per_issued",
        "net_per_issued",
        "net_per_issued_ci_low",
        "net_per_issued_ci_high",
        "rollback_rate",
        "lift_abs_ci_low",
        "lift_abs_ci_high",
        "lift_rel_ci_low",
        "lift_rel_ci_high",
        "p_value_adjusted",
        "significant",
        "net_diff",
        "net_diff_ci_low",
        "net_diff_ci_high",
        "expected_loss",
        "decision",
        "text",
    ];
    let mut out = String::new();
    cells::write_row(&mut out, &HEADER.map(Cell::Text));
    for (i, v) in report.variants.iter().enumerate() {
        let cmp = i.checked_sub(1).and_then(|j| report.comparisons.get(j));
        let mut cells = [Cell::Empty; N];
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
            cells[22] = Cell::Float(c.lift_abs_ci_low);
            cells[23] = Cell::Float(c.lift_abs_ci_high);
            cells[24] = c.lift_rel_ci_low.map_or(Cell::Empty, Cell::Float);
            cells[25] = c.lift_rel_ci_high.map_or(Cell::Empty, Cell::Float);
            cells[26] = Cell::Float(c.p_value_adjusted);
            cells[27] = Cell::Text(if c.significant { "true" } else { "false" });
            cells[28] = c.net_diff.map_or(Cell::Empty, Cell::Float);
            cells[29] = c.net_diff_ci_low.map_or(Cell::Empty, Cell::Float);
            cells[30] = c.net_diff_ci_high.map_or(Cell::Empty, Cell::Float);
            cells[31] = c.expected_loss.map_or(Cell::Empty, Cell::Float);
        }
        cells[16] = Cell::Float(v.order_value_per_issued);
        cells[17] = Cell::Float(v.discount_per_issued);
        cells[18] = v.net_per_issued.map_or(Cell::Empty, Cell::Float);
        cells[19] = v.net_per_issued_ci_low.map_or(Cell::Empty, Cell::Float);
        cells[20] = v.net_per_issued_ci_high.map_or(Cell::Empty, Cell::Float);
        cells[21] = Cell::Float(v.rollback_rate);
        cells::write_row(&mut out, &cells);
    }
    for d in &report.daily {
        let date = d.date.format("%Y-%m-%d").to_string();
        let mut cells = [Cell::Empty; N];
        cells[0] = Cell::Text("daily");
        cells[8] = Cell::Int(d.discount_spent.into());
        cells[14] = Cell::Text(&date);
        cells[15] = Cell::Int(d.redemptions.into());
        cells::write_row(&mut out, &cells);
    }
    let decision = serde_json::to_value(report.verdict.decision)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut cells = [Cell::Empty; N];
    cells[0] = Cell::Text("verdict");
    cells[32] = Cell::Text(&decision);
    cells[33] = Cell::Text(&report.verdict.text);
    cells::write_row(&mut out, &cells);
    out
}

#[cfg(test)]
mod tests {
    use super::super::build_report;
    use super::super::fixtures::*;
    use super::*;

    /// The whole CSV of a fixed report.
    #[test]
    fn csv_snapshot() {
        insta::assert_snapshot!("report_csv", report_csv(&build_report(&page_input())));
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
        assert!(
            lines[0].starts_with(
                "section,variant,weight,issued,redeemed,rate,rate_ci_low,rate_ci_high,discount_spent,\
                 order_value,lift_abs,lift_rel,p_value,prob_beat_control,date,redemptions,"
            ),
            "the first 16 columns keep their places: {}",
            lines[0]
        );
        assert!(lines[0].ends_with(",p_value_adjusted,significant,net_diff,net_diff_ci_low,net_diff_ci_high,expected_loss,decision,text"));
        assert_eq!(lines.len(), 1 + 2 + 2 + 1 + 1, "{csv}");
        assert_eq!(lines[6], "");
        assert!(lines[1].starts_with("variant,control,50,10000,700,0.07,"), "{}", lines[1]);
        assert!(lines[1].contains(",5600000,,,,,,"), "{}", lines[1]);
        assert!(lines[2].starts_with("variant,\"fixed \"\"10\"\", new\",50,10000,900,0.09,"), "{}", lines[2]);
        // 34 columns: the quoted name holds one comma.
        assert_eq!(lines[2].matches(',').count(), 34);
        assert!(lines[3].starts_with("daily,,,,,,,,100000,,,,,,2024-05-11,10,"), "{}", lines[3]);
        assert!(lines[4].starts_with("daily,,,,,,,,100000,,,,,,2024-05-12,10,"));
        assert!(lines[5].starts_with("verdict,") && lines[5].contains(",keep_running,"), "{}", lines[5]);
        assert!(!csv.contains("NaN") && !csv.contains("inf"));
    }
}
