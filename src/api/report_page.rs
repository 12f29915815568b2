//! Server-rendered HTML for the marketer reports: one page per campaign and an index.
//!
//! Each page is a single self-contained HTML5 document: inline CSS, charts drawn here as inline
//! SVG (each with a `<title>` and `<desc>` for screen readers), no script, font, image or any other
//! resource from anywhere; the only links are relative `/reports/...` ones. Every piece of dynamic
//! text is HTML-escaped, campaign and variant names being user input.
//!
//! Money is shown as `EUR 1,234.56` (minor units / 100, see [`format_money`]); chart axes use
//! major units. Stable ids for tests and styling: `verdict`, `budget-gauge`, `burn-down`,
//! `variant-rates`, `daily-series`, `variants-table`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use crate::domain::report::{
    format_count, format_money, format_pct, format_prob, format_signed_pct, p_clause, share, Report,
    ReportDay, ReportVariant, ALPHA, SRM_ALERT,
};

/// One campaign on the index page.
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

/// The report page of one campaign.
pub fn render_report_page(report: &Report) -> String {
    let r = report;
    let mut body = String::new();
    body.push_str(&header(r));
    body.push_str(&verdict_block(r));
    body.push_str(&kpis(r));
    body.push_str("<div class=\"grid budget-row\">");
    body.push_str(&budget_gauge(r));
    body.push_str(&burn_down(r));
    body.push_str("</div>");
    body.push_str(&variant_rates(r));
    body.push_str(&daily_series(r));
    body.push_str(&variants_table(r));
    body.push_str(&methods(r));
    page(&format!("{} · Voucher report", r.campaign_name), &body)
}

/// The list of campaigns, each linking to `/reports/campaigns/{id}`.
pub fn render_index_page(campaigns: &[IndexEntry]) -> String {
    let mut body = String::from(
        "<header class=\"masthead\"><div class=\"eyebrow\">vouchsafe</div><h1>Campaign reports</h1></header>",
    );
    if campaigns.is_empty() {
        body.push_str("<section class=\"card\"><p class=\"muted\">No campaigns yet.</p></section>");
        return page("Campaign reports", &body);
    }
    body.push_str(
        "<section class=\"card\"><div class=\"table-wrap\"><table id=\"campaigns-table\" class=\"data\">\
         <thead><tr><th>Campaign</th><th>Status</th><th class=\"num\">Spent</th><th class=\"num\">Budget</th>\
         <th class=\"gauge-col\">Used</th></tr></thead><tbody>",
    );
    for c in campaigns {
        let (budget, used) = match c.max_amount {
            Some(max) => {
                let frac = share(c.spent, max);
                (
                    esc(&format_money(max, &c.currency)),
                    format!("{}<span>{}</span>", mini_gauge(frac), format_pct(frac)),
                )
            }
            None => ("unlimited".to_string(), "<span class=\"muted\">—</span>".to_string()),
        };
        body.push_str(&format!(
            "<tr><td><a href=\"/reports/campaigns/{}\">{}</a><div class=\"muted small\">{}</div></td>\
             <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"gauge-col\">{}</td></tr>",
            esc(&path_segment(&c.id)),
            esc(&c.name),
            esc(&c.id),
            status_pill(&c.status),
            esc(&format_money(c.spent, &c.currency)),
            budget,
            used
        ));
    }
    body.push_str("</tbody></table></div></section>");
    page("Campaign reports", &body)
}

// ---------------------------------------------------------------------------------------------
// Page frame

const CSS: &str = r#"
:root{--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f4f5f7;--card:#fff;--accent:#2563eb;
--good:#15803d;--good-bg:#ecfdf3;--warn:#b45309;--warn-bg:#fffbeb;--bad:#b91c1c;--bad-bg:#fef2f2;--info-bg:#eff6ff;
color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1120px;margin:0 auto;padding:28px 20px 48px}
h1{font-size:28px;line-height:1.2;margin:4px 0 8px;letter-spacing:-.01em;overflow-wrap:anywhere}
h2{font-size:15px;margin:0 0 12px;font-weight:600}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--muted);font-weight:600}
.masthead{margin-bottom:18px}
.meta{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;color:var(--muted);font-size:14px}
.meta code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#e9ebef;padding:1px 6px;border-radius:4px}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12px;font-weight:600;
background:#e5e7eb;color:#374151;text-transform:capitalize}
.pill.s-active{background:#dcfce7;color:#166534}.pill.s-paused{background:#fef3c7;color:#92400e}
.pill.s-draft,.pill.s-scheduled{background:#e0e7ff;color:#3730a3}
.pill.s-ended,.pill.s-expired,.pill.s-archived,.pill.s-cancelled{background:#e5e7eb;color:#4b5563}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin-bottom:18px;
box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card .sub{color:var(--muted);font-size:13px;margin:-8px 0 12px}
.verdict{border-left:5px solid var(--accent);background:var(--info-bg)}
.verdict p{font-size:18px;line-height:1.55;margin:0;max-width:90ch}
.verdict.good{border-left-color:var(--good);background:var(--good-bg)}
.verdict.warn{border-left-color:var(--warn);background:var(--warn-bg)}
.verdict.bad{border-left-color:var(--bad);background:var(--bad-bg)}
.verdict h2{text-transform:uppercase;letter-spacing:.08em;font-size:12px;color:var(--muted);margin-bottom:6px}
.grid{display:grid;gap:18px}.grid>.card{margin-bottom:0}
.kpis{grid-template-columns:repeat(auto-fit,minmax(190px,1fr));margin-bottom:18px}
.kpi .label{color:var(--muted);font-size:13px}.kpi .value{font-size:24px;font-weight:650;letter-spacing:-.01em;
font-variant-numeric:tabular-nums;white-space:nowrap}.kpi .hint{color:var(--muted);font-size:13px}
.budget-row{grid-template-columns:minmax(300px,1fr) minmax(0,1.9fr);margin-bottom:18px}
@media (max-width:820px){.budget-row{grid-template-columns:1fr}}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:6px 14px;margin:14px 0 0;font-size:14px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
svg{display:block;width:100%;height:auto;font-family:inherit;overflow:visible}
svg text{fill:#374151;font-size:12px}
svg .axis text,svg text.axis{fill:#6b7280;font-size:11px}
svg .grid line{stroke:#eef0f3}
svg text.strong{font-weight:600;fill:#111827}
svg text.halo{paint-order:stroke;stroke:#fff;stroke-width:5px;stroke-linejoin:round}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:13px;color:var(--muted);margin-top:6px}
.legend i{display:inline-block;width:18px;height:0;border-top:3px solid;vertical-align:middle;margin-right:6px}
.legend i.dash{border-top-style:dashed}
.table-wrap{overflow-x:auto}
table.data{border-collapse:collapse;width:100%;font-size:13.5px}
table.data th,table.data td{padding:9px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.data th{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;
vertical-align:bottom}
table.data tbody tr:last-child td{border-bottom:0}
table.data td.num,table.data th.num{text-align:right;font-variant-numeric:tabular-nums}
table.data td.num{white-space:nowrap}
table.data td.name{font-weight:600;overflow-wrap:anywhere;min-width:130px}
.chart-label{font-size:13px;font-weight:600;color:#374151;margin:4px 0 2px}
.tag{display:inline-block;font-size:11px;font-weight:600;color:#475569;background:#f1f5f9;border-radius:4px;
padding:0 6px;margin-left:6px;vertical-align:1px}
.pos{color:var(--good)}.neg{color:var(--bad)}.muted{color:var(--muted)}.small{font-size:12px}
.sig{font-weight:600}
.gauge-col{min-width:160px;white-space:nowrap}.gauge-col svg{display:inline-block;width:110px;margin-right:8px;vertical-align:middle}
.note{font-size:13px;color:var(--muted);margin:10px 0 0}
.note.alert{color:var(--bad);font-weight:600}
footer.methods{color:var(--muted);font-size:13px;line-height:1.6;margin-top:8px}
footer.methods p{margin:0 0 4px}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{}</style>\n</head>\n\
         <body>\n<main>\n{}\n</main>\n</body>\n</html>\n",
        esc(title),
        CSS,
        body
    )
}

/// Escapes text for HTML element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for one URL path segment.
fn path_segment(s: &str) -> String {
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

fn status_pill(status: &str) -> String {
    let class: String =
        status.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    format!("<span class=\"pill s-{}\">{}</span>", class, esc(status))
}

fn fmt_date(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

fn fmt_instant(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// A number that is never NaN or infinite in SVG coordinates.
fn n(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    format!("{:.1}", x)
}

// ---------------------------------------------------------------------------------------------
// Sections

fn header(r: &Report) -> String {
    format!(
        "<header class=\"masthead\"><div class=\"eyebrow\">Voucher campaign report</div><h1>{}</h1>\
         <div class=\"meta\">{}<span>Runs {} → {}</span><span>Data as of {}</span><span>{}</span>\
         <code>{}</code></div></header>",
        esc(&r.campaign_name),
        status_pill(&r.status),
        fmt_date(r.starts_at),
        fmt_date(r.expires_at),
        fmt_instant(r.as_of),
        esc(&r.currency),
        esc(&r.campaign_id)
    )
}

fn verdict_block(r: &Report) -> String {
    let srm_alert = r.variants.len() >= 2 && r.srm_p_value < SRM_ALERT;
    let winner = r.comparisons.iter().any(|c| c.significant && c.prob_beat_control >= 0.5);
    let tone = if srm_alert {
        "bad"
    } else if r.budget.exhausted {
        "warn"
    } else if winner {
        "good"
    } else {
        "info"
    };
    format!(
        "<section id=\"verdict\" class=\"card verdict {}\" aria-label=\"Verdict\"><h2>Verdict</h2><p>{}</p></section>",
        tone,
        esc(&r.verdict).replace("p &lt; ", "p&nbsp;&lt;&nbsp;").replace("p = ", "p&nbsp;=&nbsp;")
    )
}

fn kpis(r: &Report) -> String {
    let issued: u64 = r.variants.iter().map(|v| v.issued).fold(0, u64::saturating_add);
    let redeemed = r.budget.redemptions;
    let order_value = r.variants.iter().fold(0i64, |a, v| a.saturating_add(v.order_value));
    let rate = if issued == 0 { 0.0 } else { redeemed.min(issued) as f64 / issued as f64 };
    let card = |label: &str, value: String, hint: String| {
        format!(
            "<div class=\"card kpi\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"hint\">{}</div></div>",
            label, value, hint
        )
    };
    let spent_hint = match r.budget.max_amount {
        Some(max) => format!("of {} budget", esc(&format_money(max, &r.currency))),
        None => "no budget cap".into(),
    };
    let ov_hint = if order_value > 0 && r.budget.spent > 0 {
        format!("{:.1}× the discount granted", order_value as f64 / r.budget.spent as f64)
    } else {
        "of redeeming orders".into()
    };
    format!(
        "<section class=\"grid kpis\" aria-label=\"Key figures\">{}{}{}{}</section>",
        card(
            "Vouchers issued",
            format_count(issued),
            match r.variants.len() {
                1 => "1 variant".to_string(),
                k => format!("{k} variants"),
            }
        ),
        card("Redeemed", format_count(redeemed), format!("{} redemption rate", format_pct(rate))),
        card("Discount granted", esc(&format_money(r.budget.spent, &r.currency)), spent_hint),
        card("Order value", esc(&format_money(order_value, &r.currency)), ov_hint),
    )
}

fn gauge_color(frac: f64) -> &'static str {
    if frac >= 0.95 {
        "#dc2626"
    } else if frac >= 0.75 {
        "#d97706"
    } else {
        "#2563eb"
    }
}

/// A horizontal gauge, `frac` of it filled, with an optional "time elapsed" marker.
fn gauge_svg(id: &str, label: &str, title: &str, desc: &str, frac: f64, pace: Option<f64>) -> String {
    let (w, bar_y, bar_h) = (320.0, 22.0, 18.0);
    let f = frac.clamp(0.0, 1.0);
    let mut s = format!(
        "<svg viewBox=\"0 0 {w} 64\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\"><title id=\"{id}-t\">{}</title>\
         <desc id=\"{id}-d\">{}</desc>\
         <text x=\"0\" y=\"14\" class=\"strong\">{}: {} used</text>\
         <rect x=\"0\" y=\"{bar_y}\" width=\"{w}\" height=\"{bar_h}\" rx=\"9\" fill=\"#eef0f3\"/>\
         <rect x=\"0\" y=\"{bar_y}\" width=\"{}\" height=\"{bar_h}\" rx=\"9\" fill=\"{}\"/>",
        esc(title),
        esc(desc),
        esc(label),
        format_pct(frac),
        n(w * f),
        gauge_color(frac)
    );
    if let Some(p) = pace {
        let x = w * p.clamp(0.0, 1.0);
        let anchor = if p > 0.75 {
            "end"
        } else if p < 0.25 {
            "start"
        } else {
            "middle"
        };
        s.push_str(&format!(
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\" stroke=\"#111827\" stroke-width=\"2\"/>\
             <text x=\"{x}\" y=\"58\" class=\"axis\" text-anchor=\"{anchor}\">{} of the campaign time elapsed</text>",
            bar_y - 4.0,
            bar_y + bar_h + 4.0,
            format_pct(p),
            x = n(x),
        ));
    }
    s.push_str("</svg>");
    s
}

fn elapsed_share(r: &Report) -> Option<f64> {
    let total = (r.expires_at - r.starts_at).num_seconds();
    if total <= 0 {
        return None;
    }
    Some(((r.as_of - r.starts_at).num_seconds() as f64 / total as f64).clamp(0.0, 1.0))
}

fn budget_gauge(r: &Report) -> String {
    let b = &r.budget;
    let cur = &r.currency;
    let mut s = String::from("<section id=\"budget-gauge\" class=\"card\"><h2>Budget</h2>");
    let pace = elapsed_share(r);
    match b.max_amount {
        Some(max) => {
            let frac = share(b.spent, max);
            s.push_str(&gauge_svg(
                "gauge-money",
                "Discount budget",
                "Money budget used",
                &format!("{} of {} spent ({})", format_money(b.spent, cur), format_money(max, cur), format_pct(frac)),
                frac,
                pace,
            ));
        }
        None => s.push_str(&format!(
            "<svg viewBox=\"0 0 320 44\" role=\"img\" aria-labelledby=\"gauge-money-t\">\
             <title id=\"gauge-money-t\">Unlimited money budget: {} spent</title>\
             <text x=\"0\" y=\"14\" class=\"strong\">Unlimited budget</text>\
             <rect x=\"0\" y=\"22\" width=\"320\" height=\"18\" rx=\"9\" fill=\"#eef0f3\" stroke=\"#d1d5db\" \
             stroke-dasharray=\"4 4\"/><text x=\"160\" y=\"35\" text-anchor=\"middle\" class=\"axis\">no cap on discount</text></svg>",
            esc(&format_money(b.spent, cur))
        )),
    }
    if let Some(maxr) = b.max_redemptions {
        let used = i64::try_from(b.redemptions).unwrap_or(i64::MAX);
        let frac = share(used, maxr);
        s.push_str("<div style=\"height:10px\"></div>");
        s.push_str(&gauge_svg(
            "gauge-count",
            "Redemption cap",
            "Redemption budget used",
            &format!(
                "{} of {} redemptions ({})",
                format_count(b.redemptions),
                format_count(maxr.max(0) as u64),
                format_pct(frac)
            ),
            frac,
            None,
        ));
    }
    s.push_str("<dl class=\"facts\">");
    let fact = |s: &mut String, k: &str, v: String| s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", k, v));
    fact(&mut s, "Spent", esc(&format_money(b.spent, cur)));
    match (b.max_amount, b.remaining) {
        (Some(max), Some(rem)) => {
            fact(&mut s, "Budget", esc(&format_money(max, cur)));
            fact(&mut s, "Remaining", esc(&format_money(rem, cur)));
        }
        _ => fact(&mut s, "Budget", "unlimited".into()),
    }
    if let (Some(maxr), Some(left)) = (b.max_redemptions, b.remaining_redemptions) {
        fact(
            &mut s,
            "Redemptions",
            format!(
                "{} of {} ({} left)",
                format_count(b.redemptions),
                format_count(maxr.max(0) as u64),
                format_count(left.max(0) as u64)
            ),
        );
    } else {
        fact(&mut s, "Redemptions", format!("{} (no cap)", format_count(b.redemptions)));
    }
    fact(&mut s, "Burn rate (7 days)", format!("{} / day", esc(&format_money(b.burn_per_day, cur))));
    fact(&mut s, "Redemptions / day", format!("{:.1}", b.redemptions_per_day));
    let projection = if b.exhausted {
        "<strong class=\"neg\">budget used up</strong>".to_string()
    } else if let Some(at) = b.projected_exhaustion_at {
        format!("<strong>{}</strong>", fmt_instant(at))
    } else if b.max_amount.is_none() && b.max_redemptions.is_none() {
        "— (no cap)".into()
    } else if r.as_of >= r.expires_at {
        "— (campaign ended)".into()
    } else if b.burn_per_day > 0 || b.redemptions_per_day > 0.0 {
        "after the campaign ends".into()
    } else {
        "— (no recent burn)".into()
    };
    fact(&mut s, "Projected exhaustion", projection);
    s.push_str("</dl></section>");
    s
}

// ---------------------------------------------------------------------------------------------
// Chart helpers

/// A "nice" step (1, 2 or 5 × 10^k) that cuts `range` into about `ticks` parts.
fn nice_step(range: f64, ticks: f64) -> f64 {
    if !(range.is_finite() && range > 0.0) {
        return 1.0;
    }
    let raw = range / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `(top of the axis, step)` for data whose maximum is `max`, with at least `min_top`.
fn nice_axis(max: f64, min_top: f64) -> (f64, f64) {
    let max = if max.is_finite() { max.max(min_top) } else { min_top };
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil().max(1.0) * step;
    (top, step)
}

/// Like [`nice_axis`] for counts: whole-number steps only.
fn nice_axis_count(max: f64) -> (f64, f64) {
    let (top, step) = nice_axis(max, 1.0);
    if step < 1.0 {
        (top.ceil().max(1.0), 1.0)
    } else if step.fract() != 0.0 {
        let step = step * 2.0;
        ((max / step).ceil().max(1.0) * step, step)
    } else {
        (top, step)
    }
}

/// A compact axis label: `950`, `2,500`, `12.5k`, `1.2M`.
fn compact(x: f64) -> String {
    let a = x.abs();
    let trim = |v: f64, suffix: &str| {
        let s = format!("{:.1}", v);
        format!("{}{}", s.strip_suffix(".0").unwrap_or(&s), suffix)
    };
    if a >= 1e6 {
        trim(x / 1e6, "M")
    } else if a >= 1e4 {
        trim(x / 1e3, "k")
    } else if a.fract() == 0.0 || a >= 100.0 {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{}{}", sign, format_count(a.round() as u64))
    } else {
        let s = format!("{:.2}", x);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Plot area of a chart in viewBox units.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn plot_w(&self) -> f64 {
        self.w - self.left - self.right
    }
    fn plot_h(&self) -> f64 {
        self.h - self.top - self.bottom
    }
    /// y for `v` on an axis from 0 to `top`.
    fn y(&self, v: f64, top: f64) -> f64 {
        let f = if top > 0.0 { (v / top).clamp(0.0, 1.0) } else { 0.0 };
        self.top + self.plot_h() * (1.0 - f)
    }
    /// Horizontal grid lines with labels on the left.
    fn y_grid(&self, top: f64, step: f64, label: impl Fn(f64) -> String) -> String {
        let mut s = String::from("<g class=\"grid axis\">");
        let mut v = 0.0;
        let mut guard = 0;
        while v <= top + step * 1e-9 && guard < 50 {
            let y = self.y(v, top);
            s.push_str(&format!(
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                n(self.left),
                n(self.w - self.right),
                n(self.left - 8.0),
                n(self.y(v, top) + 4.0),
                esc(&label(v)),
                y = n(y)
            ));
            v += step;
            guard += 1;
        }
        s.push_str("</g>");
        s
    }
}

fn svg_open(id: &str, w: f64, h: f64, title: &str, desc: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\"><title id=\"{id}-t\">{}</title>\
         <desc id=\"{id}-d\">{}</desc>",
        w,
        h,
        esc(title),
        esc(desc)
    )
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

// ---------------------------------------------------------------------------------------------
// Burn-down

#[derive(Clone, Copy, PartialEq)]
enum BurnMode {
    Money,
    Count,
    Cumulative,
}

fn burn_down(r: &Report) -> String {
    let b = &r.budget;
    let f = Frame { w: 680.0, h: 280.0, left: 58.0, right: 18.0, top: 14.0, bottom: 30.0 };
    let (mode, full, current) = match (b.max_amount, b.max_redemptions) {
        (Some(max), _) => (BurnMode::Money, max.max(0) as f64, b.remaining.unwrap_or(0) as f64),
        (None, Some(max)) => {
            (BurnMode::Count, max.max(0) as f64, b.remaining_redemptions.unwrap_or(0) as f64)
        }
        (None, None) => (BurnMode::Cumulative, 0.0, b.spent.max(0) as f64),
    };
    let t0 = r.starts_at;
    let mut t1 = r.expires_at.max(r.as_of);
    if let Some(p) = b.projected_exhaustion_at {
        t1 = t1.max(p);
    }
    if t1 <= t0 {
        t1 = t0 + Duration::days(1);
    }
    let span = (t1 - t0).num_seconds().max(1) as f64;
    let x = |t: DateTime<Utc>| {
        let t = t.clamp(t0, t1);
        f.left + f.plot_w() * ((t - t0).num_seconds() as f64 / span)
    };

    // The line: full budget at the start, then the level at the end of each day, then now.
    let mut pts: Vec<(DateTime<Utc>, f64)> = vec![(t0, full)];
    let (mut cum_money, mut cum_count) = (0f64, 0f64);
    for d in &r.daily {
        cum_money += d.discount_spent as f64;
        cum_count += d.redemptions as f64;
        let end = d.date.succ_opt().map(day_start).unwrap_or(DateTime::<Utc>::MAX_UTC).min(r.as_of);
        let v = match mode {
            BurnMode::Money => (full - cum_money).max(0.0),
            BurnMode::Count => (full - cum_count).max(0.0),
            BurnMode::Cumulative => cum_money.max(0.0),
        };
        if end > t0 {
            pts.push((end, v));
        }
    }
    if r.as_of > t0 {
        pts.push((r.as_of, current));
    }
    pts.sort_by_key(|p| p.0);

    // Where the dashed projection goes: to exhaustion, or to the campaign end at the burn rate.
    let rate = match mode {
        BurnMode::Count => b.redemptions_per_day,
        _ => b.burn_per_day as f64,
    };
    let days_to_end = (r.expires_at - r.as_of).num_seconds() as f64 / 86_400.0;
    let projection: Option<(DateTime<Utc>, f64, String)> = if r.as_of < t0 {
        None
    } else if let (Some(p), false) = (b.projected_exhaustion_at, mode == BurnMode::Cumulative) {
        Some((p, 0.0, format!("runs out ~{}", p.format("%-d %b"))))
    } else if !b.exhausted && rate > 0.0 && days_to_end > 0.0 {
        let v = match mode {
            BurnMode::Cumulative => current + rate * days_to_end,
            _ => (current - rate * days_to_end).max(0.0),
        };
        let label = match mode {
            BurnMode::Money => format!("≈ {} left at end", format_money(v.round() as i64, &r.currency)),
            BurnMode::Count => format!("≈ {} left at end", format_count(v.round() as u64)),
            BurnMode::Cumulative => format!("≈ {} by the end", format_money(v.round() as i64, &r.currency)),
        };
        Some((r.expires_at, v, label))
    } else {
        None
    };

    let data_max = pts.iter().map(|p| p.1).fold(0.0, f64::max).max(projection.as_ref().map_or(0.0, |p| p.1));
    let minor_to_major = |v: f64| if mode == BurnMode::Count { v } else { v / 100.0 };
    let (top, step) = match mode {
        BurnMode::Count => nice_axis_count(full.max(data_max)),
        _ => nice_axis(minor_to_major(full.max(data_max)), 1.0),
    };
    let to_axis = |v: f64| minor_to_major(v);

    let (title, what) = match mode {
        BurnMode::Money => ("Remaining budget over time", format!("{} remaining", r.currency)),
        BurnMode::Count => ("Remaining redemptions over time", "redemptions remaining".to_string()),
        BurnMode::Cumulative => {
            ("Discount granted over time (no budget cap)", format!("{} granted", r.currency))
        }
    };
    let desc = format!(
        "{} from {} to {}; now {}.",
        what,
        fmt_date(t0),
        fmt_date(r.expires_at),
        match mode {
            BurnMode::Count => format_count(current as u64),
            _ => format_money(current as i64, &r.currency),
        }
    );
    let mut s = String::from("<section id=\"burn-down\" class=\"card\">");
    s.push_str(&format!(
        "<h2>{}</h2><p class=\"sub\">{}</p>",
        esc(title),
        esc(&axis_caption(mode, &r.currency))
    ));
    s.push_str(&svg_open("burn", f.w, f.h, title, &desc));
    s.push_str(&f.y_grid(top, step, compact));
    s.push_str(&time_axis(&f, t0, t1, &x));

    // Campaign end and "now" markers.
    let xe = x(r.expires_at);
    s.push_str(&format!(
        "<line x1=\"{xe}\" x2=\"{xe}\" y1=\"{}\" y2=\"{}\" stroke=\"#9ca3af\" stroke-dasharray=\"2 3\"/>\
         <text x=\"{xe}\" y=\"{}\" text-anchor=\"end\" class=\"axis\" dx=\"-4\">ends</text>",
        n(f.top),
        n(f.h - f.bottom),
        n(f.top + 10.0),
        xe = n(xe)
    ));
    if r.as_of > t0 && r.as_of < t1 {
        let xn = x(r.as_of);
        s.push_str(&format!(
            "<line x1=\"{xn}\" x2=\"{xn}\" y1=\"{}\" y2=\"{}\" stroke=\"#111827\" stroke-opacity=\".35\"/>\
             <text x=\"{xn}\" y=\"{}\" text-anchor=\"start\" class=\"axis\" dx=\"4\">now</text>",
            n(f.top),
            n(f.h - f.bottom),
            n(f.top + 10.0),
            xn = n(xn)
        ));
    }

    let line: Vec<String> =
        pts.iter().map(|(t, v)| format!("{},{}", n(x(*t)), n(f.y(to_axis(*v), top)))).collect();
    if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
        let base = n(f.y(0.0, top));
        s.push_str(&format!(
            "<polygon points=\"{},{} {} {},{}\" fill=\"#2563eb\" fill-opacity=\".08\"/>",
            n(x(first.0)),
            base,
            line.join(" "),
            n(x(last.0)),
            base
        ));
    }
    s.push_str(&format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>",
        line.join(" ")
    ));
    if let (Some((pt, pv, label)), Some(last)) = (&projection, pts.last()) {
        let (x0, y0) = (x(last.0), f.y(to_axis(last.1), top));
        let (x1, y1) = (x(*pt), f.y(to_axis(*pv), top));
        // Up and to the right of the end point, clear of the line coming from the upper left;
        // above it when there is no room on the right.
        let room_right = x1 + 120.0 <= f.w - f.right;
        let (anchor, dx, ly) = if room_right { ("start", 8.0, y1 - 8.0) } else { ("end", -8.0, y1 - 30.0) };
        s.push_str(&format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#d97706\" stroke-width=\"2\" stroke-dasharray=\"6 5\"/>\
             <circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#d97706\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"{}\" class=\"strong halo\" dx=\"{}\">{}</text>",
            n(x0),
            n(y0),
            n(x1),
            n(y1),
            n(x1),
            n(y1),
            n(x1),
            n(ly.max(f.top + 24.0)),
            anchor,
            dx,
            esc(label)
        ));
    }
    if let Some(last) = pts.last() {
        s.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"#2563eb\"/>",
            n(x(last.0)),
            n(f.y(to_axis(last.1), top))
        ));
    }
    s.push_str("</svg>");
    s.push_str("<div class=\"legend\"><span><i style=\"border-color:#2563eb\"></i>actual</span>");
    if projection.is_some() {
        s.push_str("<span><i class=\"dash\" style=\"border-color:#d97706\"></i>projection at the 7-day burn rate</span>");
    }
    s.push_str("</div></section>");
    s
}

fn axis_caption(mode: BurnMode, currency: &str) -> String {
    match mode {
        BurnMode::Money => {
            format!("{currency}, from the daily redemptions; the last point is the current balance.")
        }
        BurnMode::Count => "Redemptions left under the count cap.".to_string(),
        BurnMode::Cumulative => format!("{currency} granted so far, cumulative."),
    }
}

/// Date ticks along the bottom of a time chart.
fn time_axis(f: &Frame, t0: DateTime<Utc>, t1: DateTime<Utc>, x: &dyn Fn(DateTime<Utc>) -> f64) -> String {
    let days = ((t1 - t0).num_seconds() as f64 / 86_400.0).max(1.0);
    let step = [1i64, 2, 7, 14, 28, 56, 91, 182, 364, 728]
        .into_iter()
        .find(|s| days / *s as f64 <= 7.0)
        .unwrap_or(1456);
    let fmt = if days > 300.0 { "%b %Y" } else { "%-d %b" };
    let mut s = String::from("<g class=\"axis\">");
    let mut d = t0.date_naive();
    if day_start(d) < t0 {
        d = d.succ_opt().unwrap_or(d);
    }
    let mut guard = 0;
    while day_start(d) <= t1 && guard < 20 {
        let xv = x(day_start(d));
        s.push_str(&format!(
            "<line x1=\"{xv}\" x2=\"{xv}\" y1=\"{}\" y2=\"{}\" stroke=\"#d1d5db\"/>\
             <text x=\"{xv}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n(f.h - f.bottom),
            n(f.h - f.bottom + 4.0),
            n(f.h - f.bottom + 18.0),
            d.format(fmt),
            xv = n(xv)
        ));
        match d.checked_add_signed(Duration::days(step)) {
            Some(next) => d = next,
            None => break,
        }
        guard += 1;
    }
    s.push_str(&format!(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#9ca3af\"/></g>",
        n(f.left),
        n(f.w - f.right),
        y = n(f.h - f.bottom)
    ));
    s
}

// ---------------------------------------------------------------------------------------------
// Variant rates

const VARIANT_COLORS: [&str; 6] = ["#64748b", "#2563eb", "#7c3aed", "#0891b2", "#db2777", "#ea580c"];

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn variant_rates(r: &Report) -> String {
    let mut s = String::from(
        "<section id=\"variant-rates\" class=\"card\"><h2>Redemption rate by variant</h2>\
         <p class=\"sub\">Bars are redeemed ÷ issued; whiskers are the 95% Wilson interval.</p>",
    );
    if r.variants.is_empty() {
        s.push_str("<p class=\"muted\">No variants.</p></section>");
        return s;
    }
    let row = 46.0;
    let f = Frame {
        w: 1060.0,
        h: 30.0 + row * r.variants.len() as f64 + 26.0,
        left: 170.0,
        right: 30.0,
        top: 18.0,
        bottom: 26.0,
    };
    // Leave room right of the largest whisker for its label.
    let max = r.variants.iter().map(|v| v.rate_ci_high.max(v.rate)).fold(0.0, f64::max) * 1.3;
    let step = nice_step((max * 1.05).max(0.01), 5.0);
    let top = ((max * 1.05).max(0.01) / step).ceil() * step;
    let top = top.min(1.0).max(step.min(1.0));
    let x = |v: f64| f.left + f.plot_w() * (v / top).clamp(0.0, 1.0);
    let desc = r
        .variants
        .iter()
        .map(|v| {
            format!(
                "{}: {} [{}–{}]",
                v.name,
                format_pct(v.rate),
                format_pct(v.rate_ci_low),
                format_pct(v.rate_ci_high)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    s.push_str(&svg_open("rates", f.w, f.h, "Redemption rate per variant with 95% intervals", &desc));
    // Vertical grid with percentage labels.
    s.push_str("<g class=\"grid axis\">");
    let mut v = 0.0;
    let mut guard = 0;
    while v <= top + step * 1e-9 && guard < 30 {
        let xv = x(v);
        s.push_str(&format!(
            "<line x1=\"{xv}\" x2=\"{xv}\" y1=\"{}\" y2=\"{}\"/><text x=\"{xv}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n(f.top - 6.0),
            n(f.h - f.bottom),
            n(f.h - 6.0),
            pct_tick(v, step),
            xv = n(xv)
        ));
        v += step;
        guard += 1;
    }
    s.push_str("</g>");
    for (i, v) in r.variants.iter().enumerate() {
        let color = VARIANT_COLORS[i % VARIANT_COLORS.len()];
        let cy = f.top + row * i as f64 + row / 2.0;
        let (bh, wh) = (22.0, 14.0);
        let (x0, xr, xl, xh) = (x(0.0), x(v.rate), x(v.rate_ci_low), x(v.rate_ci_high));
        s.push_str(&format!(
            "<g><title>{}: {} of {} redeemed, {} (95% CI {}–{})</title>",
            esc(&v.name),
            format_count(v.redeemed),
            format_count(v.issued),
            format_pct(v.rate),
            format_pct(v.rate_ci_low),
            format_pct(v.rate_ci_high)
        ));
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"strong\" style=\"font-size:13px\">{}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">{} issued{}</text>",
            n(f.left - 12.0),
            n(cy - 2.0),
            esc(&truncate(&v.name, 22)),
            n(f.left - 12.0),
            n(cy + 12.0),
            format_count(v.issued),
            if i == 0 { " · control" } else { "" }
        ));
        s.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bh}\" rx=\"3\" fill=\"{color}\" fill-opacity=\".85\"/>",
            n(x0),
            n(cy - bh / 2.0),
            n((xr - x0).max(0.0)),
        ));
        s.push_str(&format!(
            "<g stroke=\"#111827\" stroke-width=\"1.6\"><line x1=\"{xl}\" x2=\"{xh}\" y1=\"{cy}\" y2=\"{cy}\"/>\
             <line x1=\"{xl}\" x2=\"{xl}\" y1=\"{}\" y2=\"{}\"/><line x1=\"{xh}\" x2=\"{xh}\" y1=\"{}\" y2=\"{}\"/></g>",
            n(cy - wh / 2.0),
            n(cy + wh / 2.0),
            n(cy - wh / 2.0),
            n(cy + wh / 2.0),
            xl = n(xl),
            xh = n(xh),
            cy = n(cy)
        ));
        let lx = (xh + 12.0).min(f.w - f.right - 120.0);
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" class=\"strong halo\" style=\"font-size:13px\">{} \
             <tspan class=\"axis\" style=\"font-weight:400\">[{}–{}]</tspan></text></g>",
            n(lx),
            n(cy + 4.5),
            format_pct(v.rate),
            pct_bare(v.rate_ci_low),
            pct_bare(v.rate_ci_high)
        ));
    }
    s.push_str("</svg></section>");
    s
}

fn pct_tick(v: f64, step: f64) -> String {
    let decimals = if (step * 100.0).fract().abs() < 1e-9 {
        0
    } else if (step * 1000.0).fract().abs() < 1e-9 {
        1
    } else {
        2
    };
    format!("{:.*}%", decimals, v * 100.0)
}

/// `7.1` (no percent sign), for interval bounds next to a rate.
fn pct_bare(x: f64) -> String {
    format!("{:.1}", if x.is_finite() { x * 100.0 } else { 0.0 })
}

// ---------------------------------------------------------------------------------------------
// Daily series

/// Every day from the campaign start (or the first data) to now (or the last data), gaps as zero;
/// at most the last 366 days.
fn daily_range(r: &Report) -> Vec<ReportDay> {
    let mut start = r.starts_at.date_naive();
    let mut end = r.as_of.min(r.expires_at).date_naive();
    if let (Some(first), Some(last)) = (r.daily.first(), r.daily.last()) {
        start = start.min(first.date);
        end = end.max(last.date);
    }
    if end < start {
        return Vec::new();
    }
    if (end - start).num_days() > 365 {
        start = end - Duration::days(365);
    }
    let mut out = Vec::new();
    let mut data = r.daily.iter().filter(|d| d.date >= start).peekable();
    let mut d = start;
    loop {
        let mut day = ReportDay { date: d, redemptions: 0, discount_spent: 0 };
        while let Some(x) = data.next_if(|x| x.date == d) {
            day.redemptions = day.redemptions.saturating_add(x.redemptions);
            day.discount_spent = day.discount_spent.saturating_add(x.discount_spent);
        }
        out.push(day);
        match d.succ_opt() {
            Some(next) if next <= end => d = next,
            _ => break,
        }
    }
    out
}

fn daily_series(r: &Report) -> String {
    let mut s =
        String::from("<section id=\"daily-series\" class=\"card\"><h2>Daily redemptions and discount</h2>");
    let days = daily_range(r);
    if days.is_empty() || r.daily.is_empty() {
        s.push_str("<p class=\"muted\">No redemptions yet.</p></section>");
        return s;
    }
    let total_red: u64 = days.iter().map(|d| d.redemptions).fold(0, u64::saturating_add);
    let peak = days.iter().max_by_key(|d| d.redemptions).map(|d| d.date);
    s.push_str(&format!(
        "<p class=\"sub\">{} days, {} redemptions{}. Days are UTC.</p>",
        days.len(),
        format_count(total_red),
        peak.map(|p| format!("; busiest day {}", p.format("%-d %b"))).unwrap_or_default()
    ));
    let count = days.len() as f64;
    let tick_every =
        [1usize, 2, 7, 14, 28, 56, 91].into_iter().find(|k| count / *k as f64 <= 10.0).unwrap_or(182);

    // Redemptions: bars.
    let f = Frame { w: 1060.0, h: 210.0, left: 58.0, right: 18.0, top: 12.0, bottom: 26.0 };
    let slot = f.plot_w() / count;
    let max_red = days.iter().map(|d| d.redemptions).max().unwrap_or(0) as f64;
    let (top, step) = nice_axis_count(max_red);
    s.push_str("<div class=\"chart-label\">Redemptions per day</div>");
    s.push_str(&svg_open(
        "daily-red",
        f.w,
        f.h,
        "Redemptions per day",
        &format!(
            "Redemptions per day from {} to {}; {} in total.",
            days[0].date,
            days[days.len() - 1].date,
            total_red
        ),
    ));
    s.push_str(&f.y_grid(top, step, compact));
    let gap = if slot > 6.0 { slot * 0.18 } else { 0.0 };
    for (i, d) in days.iter().enumerate() {
        let x0 = f.left + slot * i as f64;
        let y = f.y(d.redemptions as f64, top);
        s.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"1.5\" fill=\"#2563eb\"><title>{}: {} redemptions, {}</title></rect>",
            n(x0 + gap / 2.0),
            n(y),
            n((slot - gap).max(0.5)),
            n(f.h - f.bottom - y),
            d.date,
            format_count(d.redemptions),
            esc(&format_money(d.discount_spent, &r.currency))
        ));
    }
    s.push_str(&day_ticks(&f, &days, slot, tick_every));
    s.push_str("</svg>");

    // Discount granted: line with area.
    let g = Frame { w: 1060.0, h: 180.0, left: 58.0, right: 18.0, top: 14.0, bottom: 26.0 };
    let max_spent = days.iter().map(|d| d.discount_spent.max(0)).max().unwrap_or(0) as f64 / 100.0;
    let (top, step) = nice_axis(max_spent, 1.0);
    let pts: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            format!(
                "{},{}",
                n(g.left + slot * (i as f64 + 0.5)),
                n(g.y(d.discount_spent.max(0) as f64 / 100.0, top))
            )
        })
        .collect();
    let total_spent = days.iter().fold(0i64, |a, d| a.saturating_add(d.discount_spent));
    s.push_str(&format!("<div class=\"chart-label\">Discount granted per day ({})</div>", esc(&r.currency)));
    s.push_str(&svg_open(
        "daily-spent",
        g.w,
        g.h,
        &format!("Discount granted per day ({})", r.currency),
        &format!("Discount granted per day; {} in total.", format_money(total_spent, &r.currency)),
    ));
    s.push_str(&g.y_grid(top, step, compact));
    let base = n(g.y(0.0, top));
    s.push_str(&format!(
        "<polygon points=\"{},{base} {} {},{base}\" fill=\"#0d9488\" fill-opacity=\".10\"/>\
         <polyline points=\"{}\" fill=\"none\" stroke=\"#0d9488\" stroke-width=\"2.2\" stroke-linejoin=\"round\"/>",
        n(g.left + slot * 0.5),
        pts.join(" "),
        n(g.left + slot * (count - 0.5)),
        pts.join(" "),
    ));
    s.push_str(&day_ticks(&g, &days, slot, tick_every));
    s.push_str("</svg>");
    s.push_str("</section>");
    s
}

fn day_ticks(f: &Frame, days: &[ReportDay], slot: f64, every: usize) -> String {
    let mut s = String::from("<g class=\"axis\">");
    for (i, d) in days.iter().enumerate().step_by(every.max(1)) {
        let xv = f.left + slot * (i as f64 + 0.5);
        let label = if d.date.day() == 1 || i == 0 { d.date.format("%-d %b") } else { d.date.format("%-d") };
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            n(xv),
            n(f.h - f.bottom + 17.0),
            label
        ));
    }
    s.push_str(&format!(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#9ca3af\"/></g>",
        n(f.left),
        n(f.w - f.right),
        y = n(f.h - f.bottom)
    ));
    s
}

// ---------------------------------------------------------------------------------------------
// Table and methods

fn variants_table(r: &Report) -> String {
    let mut s = String::from(
        "<section class=\"card\"><h2>Variants and comparisons</h2><div class=\"table-wrap\">\
         <table id=\"variants-table\" class=\"data\"><thead><tr><th>Variant</th><th class=\"num\">Weight</th>\
         <th class=\"num\">Issued</th><th class=\"num\">Redeemed</th><th class=\"num\">Rate (95% CI)</th>\
         <th class=\"num\">Discount</th><th class=\"num\">Order value</th><th class=\"num\">Lift</th>\
         <th class=\"num\">p-value</th><th class=\"num\">P(beat control)</th></tr></thead><tbody>",
    );
    for (i, v) in r.variants.iter().enumerate() {
        let cmp = i.checked_sub(1).and_then(|j| r.comparisons.get(j));
        s.push_str(&format!(
            "<tr><td class=\"name\">{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{} <span class=\"muted\">[{}–{}]</span></td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            esc(&v.name),
            if i == 0 { "<span class=\"tag\">control</span>" } else { "" },
            v.weight,
            format_count(v.issued),
            format_count(v.redeemed),
            format_pct(v.rate),
            pct_bare(v.rate_ci_low),
            pct_bare(v.rate_ci_high),
            esc(&format_money(v.discount_spent, &r.currency)),
            esc(&format_money(v.order_value, &r.currency)),
        ));
        match cmp {
            Some(c) => {
                let class = if c.lift_abs > 0.0 {
                    "pos"
                } else if c.lift_abs < 0.0 {
                    "neg"
                } else {
                    ""
                };
                let rel = c.lift_rel.map(|x| format!(" ({})", format_signed_pct(x))).unwrap_or_default();
                s.push_str(&format!(
                    "<td class=\"num {}\">{}{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td></tr>",
                    class,
                    signed_points(c.lift_abs),
                    rel,
                    if c.p_value < ALPHA { " sig" } else { "" },
                    p_clause(c.p_value).trim_start_matches("p = ").trim_start_matches("p "),
                    format_prob(c.prob_beat_control)
                ));
            }
            None => s.push_str(
                "<td class=\"num muted\">—</td><td class=\"num muted\">—</td><td class=\"num muted\">—</td></tr>",
            ),
        }
    }
    s.push_str("</tbody></table></div>");
    if r.variants.len() >= 2 {
        let alert = r.srm_p_value < SRM_ALERT;
        s.push_str(&format!(
            "<p class=\"note{}\">Sample ratio check (issued vs weights): {} — {}</p>",
            if alert { " alert" } else { "" },
            p_clause(r.srm_p_value),
            if alert {
                "the split does not match the weights; assignment looks broken."
            } else {
                "the split matches the weights."
            }
        ));
    }
    s.push_str("</section>");
    s
}

/// A rate difference in percentage points: `+2.0 pts`, `−0.5 pts`.
fn signed_points(x: f64) -> String {
    let p = if x.is_finite() { x * 100.0 } else { 0.0 };
    if p >= 0.05 {
        format!("+{p:.1} pts")
    } else if p <= -0.05 {
        format!("\u{2212}{:.1} pts", -p)
    } else {
        "0.0 pts".into()
    }
}

fn methods(r: &Report) -> String {
    format!(
        "<footer class=\"methods\"><p><strong>How to read this.</strong> Rate = redeemed ÷ issued, with a 95% Wilson \
         interval. p-value: two-sided pooled two-proportion z-test against the control (the first variant, “{}”); \
         significant when below 0.05. P(beats control): Bayesian probability that the variant's true rate is higher, \
         with uniform priors. Burn rate: discount granted per day over the last 7 days. Money is in {} \
         (minor units ÷ 100).</p><p>Generated {} by vouchsafe.</p></footer>",
        r.variants.first().map(|v: &ReportVariant| esc(&v.name)).unwrap_or_else(|| "first".into()),
        esc(&r.currency),
        fmt_instant(r.as_of)
    )
}

/// A small inline gauge for the index table.
fn mini_gauge(frac: f64) -> String {
    let f = frac.clamp(0.0, 1.0);
    format!(
        "<svg viewBox=\"0 0 110 10\" role=\"img\" aria-label=\"{} used\"><title>{} used</title>\
         <rect width=\"110\" height=\"10\" rx=\"5\" fill=\"#eef0f3\"/>\
         <rect width=\"{}\" height=\"10\" rx=\"5\" fill=\"{}\"/></svg>",
        format_pct(frac),
        format_pct(frac),
        n(110.0 * f),
        gauge_color(frac)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::{build_report, DailyInput, ReportInput, VariantInput};
    use chrono::TimeZone;

    fn input() -> ReportInput {
        let daily = (1..=20)
            .map(|d| DailyInput {
                date: NaiveDate::from_ymd_opt(2024, 5, d).unwrap(),
                redemptions: 80 + u64::from(d % 5) * 4,
                discount_spent: 80_000 + i64::from(d) * 1_000,
            })
            .collect();
        ReportInput {
            campaign_id: "cmp_42".into(),
            campaign_name: "Birthday 2024".into(),
            currency: "EUR".into(),
            status: "active".into(),
            starts_at: Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
            expires_at: Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
            as_of: Utc.with_ymd_and_hms(2024, 5, 21, 9, 30, 0).unwrap(),
            max_amount: Some(2_500_000),
            max_redemptions: Some(2_500),
            variants: vec![
                VariantInput {
                    name: "control".into(),
                    weight: 50,
                    issued: 10_000,
                    redeemed: 712,
                    discount_spent: 712_000,
                    order_value: 5_696_000,
                },
                VariantInput {
                    name: "fixed10".into(),
                    weight: 50,
                    issued: 10_000,
                    redeemed: 910,
                    discount_spent: 1_234_567,
                    order_value: 7_240_000,
                },
            ],
            daily,
        }
    }

    fn assert_self_contained(html: &str) {
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("http://") && !html.contains("https://"), "external reference");
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<link"));
        assert!(!html.contains("url("), "no CSS resource");
        // Attribute values are always quoted here; escaped user text cannot contain a quote.
        for attr in ["src=\"", "href=\""] {
            for (i, _) in html.match_indices(attr) {
                let rest = &html[i + attr.len()..];
                let head: String = rest.chars().take(40).collect();
                assert!(rest.starts_with("/reports/"), "{attr} must be a relative /reports link: {head}");
            }
        }
        assert!(!html.contains("NaN") && !html.contains("inf\""), "non-finite number in the page");
    }

    #[test]
    fn page_has_every_section_and_chart() {
        let html = render_report_page(&build_report(&input()));
        assert_self_contained(&html);
        for id in ["verdict", "budget-gauge", "burn-down", "variant-rates", "daily-series", "variants-table"]
        {
            assert!(html.contains(&format!("id=\"{id}\"")), "missing #{id}");
        }
        assert!(html.matches("<svg").count() >= 5);
        assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
        assert!(html.matches("<title").count() > html.matches("<svg").count(), "every chart has a title");
        // Numbers from the report.
        for text in [
            "Birthday 2024",
            "EUR 19,465.67", // spent = 7,120.00 + 12,345.67
            "EUR 25,000.00", // budget
            "EUR 5,534.33",  // remaining
            "20,000",        // issued
            "7.1%",          // control rate
            "9.1%",          // variant rate
            "[6.6–7.6]",     // control interval
            "21 May 2024, 09:30 UTC",
            "projection at the 7-day burn rate",
            "1,622", // redemptions
        ] {
            assert!(html.contains(text), "missing {text:?}");
        }
        let report = build_report(&input());
        assert!(html.contains("id=\"verdict\""));
        assert!(html.contains(&esc(&report.verdict[..20])));
    }

    #[test]
    fn user_text_is_escaped() {
        let mut i = input();
        i.campaign_name = "<script>alert('x')</script> & \"friends\"".into();
        i.variants[1].name = "<img src=x onerror=alert(1)>".into();
        i.currency = "<b>".into();
        i.campaign_id = "\"><script>".into();
        i.status = "<i>active".into();
        let html = render_report_page(&build_report(&i));
        assert!(
            !html.contains("<script>")
                && !html.contains("<img")
                && !html.contains("<b>")
                && !html.contains("<i>")
        );
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;friends&quot;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert_self_contained(&html);
    }

    #[test]
    fn edge_case_reports_render_cleanly() {
        let mut cases = Vec::new();
        // Unlimited, nothing issued, no data.
        let mut i = input();
        i.max_amount = None;
        i.max_redemptions = None;
        for v in &mut i.variants {
            (v.issued, v.redeemed, v.discount_spent, v.order_value) = (0, 0, 0, 0);
        }
        i.daily.clear();
        cases.push(i);
        // Count budget only; exhausted.
        let mut i = input();
        i.max_amount = None;
        i.max_redemptions = Some(1_000);
        cases.push(i);
        // Money budget exhausted, campaign over.
        let mut i = input();
        i.max_amount = Some(1_000_000);
        i.as_of = Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap();
        cases.push(i);
        // Single variant, not started yet.
        let mut i = input();
        i.variants.truncate(1);
        i.as_of = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
        i.daily.clear();
        cases.push(i);
        // No variants, zero-length campaign.
        let mut i = input();
        i.variants.clear();
        i.expires_at = i.starts_at;
        cases.push(i);
        for i in cases {
            let html = render_report_page(&build_report(&i));
            assert_self_contained(&html);
            for id in ["verdict", "budget-gauge", "burn-down", "variant-rates", "daily-series"] {
                assert!(html.contains(&format!("id=\"{id}\"")), "missing #{id}");
            }
        }
    }

    #[test]
    fn unlimited_budget_is_shown_as_such() {
        let mut i = input();
        i.max_amount = None;
        i.max_redemptions = None;
        let html = render_report_page(&build_report(&i));
        assert!(html.contains("Unlimited budget"));
        assert!(html.contains("Discount granted over time (no budget cap)"));
    }

    #[test]
    fn index_lists_campaigns_with_relative_links() {
        let html = render_index_page(&[
            IndexEntry {
                id: "cmp_1".into(),
                name: "Birthday <2024>".into(),
                status: "active".into(),
                currency: "EUR".into(),
                spent: 123_456,
                max_amount: Some(500_000),
            },
            IndexEntry {
                id: "a b/c".into(),
                name: "Spring".into(),
                status: "ended".into(),
                currency: "USD".into(),
                spent: 0,
                max_amount: None,
            },
        ]);
        assert_self_contained(&html);
        assert!(html.contains("href=\"/reports/campaigns/cmp_1\""));
        assert!(html.contains("href=\"/reports/campaigns/a%20b%2Fc\""));
        assert!(html.contains("Birthday &lt;2024&gt;"));
        assert!(html.contains("EUR 1,234.56") && html.contains("24.7%") && html.contains("unlimited"));
        assert!(render_index_page(&[]).contains("No campaigns yet."));
    }

    #[test]
    fn chart_helpers() {
        assert_eq!(nice_axis(0.0, 1.0), (1.0, 0.25));
        assert_eq!(nice_axis(19_465.0, 1.0), (20_000.0, 5_000.0));
        assert_eq!(nice_axis(93.0, 1.0), (100.0, 25.0));
        assert_eq!(nice_axis_count(10.0), (10.0, 5.0));
        assert_eq!(nice_axis_count(0.0), (1.0, 1.0));
        assert_eq!(nice_axis_count(3.0), (3.0, 1.0));
        assert_eq!(nice_axis_count(80.0), (80.0, 20.0));
        assert_eq!(compact(2_500.0), "2,500");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(20_000.0), "20k");
        assert_eq!(compact(1_250_000.0), "1.2M");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(2.5), "2.5");
        assert_eq!(n(f64::NAN), "0.0");
        assert_eq!(path_segment("ok-_.~9"), "ok-_.~9");
        assert_eq!(signed_points(0.0193), "+1.9 pts");
        assert_eq!(signed_points(-0.004), "\u{2212}0.4 pts");
    }
}
