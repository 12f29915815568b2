//! Server-rendered HTML for the marketer reports: one page per campaign, an index, and the page
//! a browser gets without a usable key.
//!
//! The pages are askama templates (`templates/*.html`) over the page model of
//! [`crate::domain::report::page`], which computes every figure, sentence and chart coordinate;
//! the templates only print. Askama, not maud, because the pages are mostly static HTML and SVG
//! markup: as templates they read (and diff) as the HTML they produce, a designer can edit them
//! without knowing Rust, and askama still checks them at compile time (a misspelt field is a build
//! error) and escapes every printed value by default; `|safe` appears nowhere.
//!
//! Each page is a single self-contained HTML5 document: inline CSS, charts as inline SVG (each
//! with a `<title>` and `<desc>` for screen readers), no script, font, image or any other
//! resource from anywhere; the only links are relative `/reports/...` ones. Stable ids for tests
//! and styling: `verdict`, `budget-gauge`, `burn-down`, `variant-rates`, `daily-series`,
//! `variants-table`, `campaigns-table`.

use std::fmt;

use askama::Template;

pub use crate::domain::report::page::IndexEntry;
use crate::domain::report::page::{IndexRow, ReportPage};
use crate::domain::report::Report;

/// The escaper of every template (set in `askama.toml`): text for element content and quoted
/// attribute values, with the named entities `&amp; &lt; &gt; &quot; &#39;`.
#[derive(Debug, Clone, Copy)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&s[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&s[last..])
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportTemplate<'a> {
    p: &'a ReportPage,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexTemplate<'a> {
    rows: &'a [IndexRow],
}

#[derive(Template)]
#[template(path = "denied.html")]
struct DeniedTemplate<'a> {
    title: &'a str,
}

/// Rendering writes into a `String` and the models hold only printable values, so it cannot
/// fail; should askama ever report an error, the page says so instead of panicking.
fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering a report page failed");
        "<!DOCTYPE html>\n<title>Report unavailable</title><p>The page could not be rendered.</p>\n".into()
    })
}

/// The report page of one campaign.
pub fn render_report_page(report: &Report) -> String {
    render(&ReportTemplate { p: &ReportPage::new(report) })
}

/// The list of campaigns, each linking to `/reports/campaigns/{id}`.
pub fn render_index_page(campaigns: &[IndexEntry]) -> String {
    let rows: Vec<IndexRow> = campaigns.iter().map(IndexRow::new).collect();
    render(&IndexTemplate { rows: &rows })
}

/// The page for a browser without a usable key: how to sign in and how to get a key.
pub fn render_denied_page(title: &str) -> String {
    render(&DeniedTemplate { title })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::fixtures::page_input;
    use crate::domain::report::{build_report, ReportInput};
    use chrono::{TimeZone, Utc};

    fn input() -> ReportInput {
        page_input()
    }

    /// `s` as the templates print it.
    fn esc(s: &str) -> String {
        let mut out = String::new();
        askama::filters::Escaper::write_escaped_str(&Html, &mut out, s).unwrap();
        out
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
        assert!(html.contains(&esc(&report.verdict.text[..20])));
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
}

/// Any campaign or variant name comes out escaped, and the page stays well-formed: every tag is
/// one of the templates' own elements, attributes are all quoted, tags balance, and every `&`
/// starts an entity.
#[cfg(test)]
mod escaping_properties {
    use super::*;
    use crate::domain::report::build_report;
    use crate::domain::report::fixtures::page_input;
    use proptest::prelude::*;

    const ELEMENTS: [&str; 38] = [
        "html", "head", "meta", "title", "style", "body", "main", "header", "div", "h1", "h2", "span",
        "code", "section", "p", "svg", "desc", "text", "tspan", "rect", "line", "g", "dl", "dt", "dd",
        "strong", "polygon", "polyline", "circle", "i", "table", "thead", "tbody", "tr", "th", "td",
        "footer", "a",
    ];
    const VOID: [&str; 1] = ["meta"];

    /// Checks the page and returns the text of every `href` attribute.
    fn assert_well_formed(html: &str) {
        let body = html.strip_prefix("<!DOCTYPE html>\n").expect("doctype");
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = body;
        while let Some(lt) = rest.find('<') {
            assert_entities(&rest[..lt]);
            rest = &rest[lt + 1..];
            let gt = rest.find('>').expect("every tag closes");
            let tag = &rest[..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "closing </{name}> matches the open element");
                continue;
            }
            let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            let name = name.trim_end_matches('/');
            assert!(ELEMENTS.contains(&name), "<{name}> is a template element: <{tag}>");
            assert_attributes(attrs.trim_end_matches('/'), tag);
            if name == "style" {
                // CSS selectors use `>`; the stylesheet is a constant of the template.
                let end = rest.find("</style>").expect("style closes");
                rest = &rest[end + "</style>".len()..];
                continue;
            }
            if !tag.ends_with('/') && !VOID.contains(&name) {
                stack.push(name);
            }
        }
        assert_entities(rest);
        assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    }

    /// `name="value"` pairs separated by one space; a value holds no quote and no `<`.
    fn assert_attributes(mut attrs: &str, tag: &str) {
        while !attrs.is_empty() {
            let eq = attrs.find("=\"").unwrap_or_else(|| panic!("attribute with a quoted value in <{tag}>"));
            let name = &attrs[..eq];
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "attribute name {name:?} in <{tag}>"
            );
            let value_and_rest = &attrs[eq + 2..];
            let end = value_and_rest.find('"').expect("value closes");
            assert_entities(&value_and_rest[..end]);
            attrs = value_and_rest[end + 1..].strip_prefix(' ').unwrap_or(&value_and_rest[end + 1..]);
        }
    }

    /// Every `&` starts `&name;` or `&#digits;`.
    fn assert_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let tail = &text[i + 1..];
            let semi = tail.find(';').unwrap_or_else(|| panic!("bare & in {text:?}"));
            let entity = &tail[..semi];
            let named = !entity.is_empty() && entity.chars().all(|c| c.is_ascii_alphabetic());
            let numeric = entity
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
            assert!(named || numeric, "&{entity}; is not an entity in {text:?}");
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[<>&\"' a-z;#=/]{0,24}", Just("</style><script>\"'&amp".to_string())]
    }

    #[test]
    fn the_templates_own_markup_is_well_formed() {
        assert_well_formed(&render_report_page(&build_report(&page_input())));
        assert_well_formed(&render_index_page(&[]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn names_are_escaped_and_the_page_stays_well_formed(campaign in name(), control in name(), variant in name()) {
            let mut input = page_input();
            input.campaign_name = campaign.clone();
            input.variants[0].name = control.clone();
            input.variants[1].name = variant.clone();
            let html = render_report_page(&build_report(&input));
            assert_well_formed(&html);
            let escaped = |s: &str| {
                let mut out = String::new();
                askama::filters::Escaper::write_escaped_str(&Html, &mut out, s).unwrap();
                out
            };
            assert!(html.contains(&format!("<h1>{}</h1>", escaped(&campaign))));
            assert!(html.contains(&format!("<td class=\"name\">{}", escaped(&variant))));

            let index = render_index_page(&[IndexEntry {
                id: variant.clone(),
                name: campaign.clone(),
                status: control,
                currency: "EUR".into(),
                spent: 1,
                max_amount: Some(2),
            }]);
            assert_well_formed(&index);
            assert!(index.contains(&format!(">{}</a>", escaped(&campaign))));
        }
    }
}
