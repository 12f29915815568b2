//! The rate per variant (bars with their Wilson interval as whiskers) and the daily series
//! (redemptions as bars, discount as a line), in viewBox units.

use chrono::{Datelike, Duration};

use super::super::chart::{
    compact, day_label_every, nice_axis, nice_axis_count, nice_step, pct_tick, AxisLine, Frame, Point,
    Points, Px, XTick, YGrid,
};
use super::super::format::{format_count, format_money, format_pct, pct_bare};
use super::super::{Report, ReportDay};
use super::truncate;

/// One colour per variant, the control grey; repeats after six.
pub const VARIANT_COLORS: [&str; 6] = ["#64748b", "#2563eb", "#7c3aed", "#0891b2", "#db2777", "#ea580c"];

/// The widest bar a daily chart draws, so one day of data is a bar and not a wall.
pub const MAX_BAR_W: f64 = 60.0;

/// Redemption rate per variant with 95% intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct RatesChart {
    pub w: Px,
    pub h: Px,
    pub desc: String,
    /// Vertical grid lines with percentage labels.
    pub grid: Vec<XTick>,
    pub grid_y1: Px,
    pub grid_y2: Px,
    pub grid_label_y: Px,
    pub rows: Vec<RateRow>,
}

/// One variant's bar, whisker and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub color: &'static str,
    /// The tooltip: `control: 712 of 10,000 redeemed, 7.1% (95% CI 6.6%–7.6%)`.
    pub tooltip: String,
    /// The name, cut to 22 characters.
    pub name: String,
    /// `10,000 issued · control`.
    pub issued: String,
    pub name_x: Px,
    pub name_y: Px,
    pub issued_y: Px,
    pub bar_x: Px,
    pub bar_y: Px,
    pub bar_w: Px,
    pub bar_h: Px,
    pub ci_low_x: Px,
    pub ci_high_x: Px,
    pub cy: Px,
    pub whisker_y1: Px,
    pub whisker_y2: Px,
    pub label_x: Px,
    pub label_y: Px,
    pub rate: String,
    pub ci_low: String,
    pub ci_high: String,
}

impl RatesChart {
    /// `None` without variants.
    pub fn new(r: &Report) -> Option<Self> {
        if r.variants.is_empty() {
            return None;
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
        let mut grid = Vec::new();
        let mut v = 0.0;
        while v <= top + step * 1e-9 && grid.len() < 30 {
            grid.push(XTick { x: Px(x(v)), label: pct_tick(v, step) });
            v += step;
        }
        let rows = r
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let cy = f.top + row * i as f64 + row / 2.0;
                let (bh, wh) = (22.0, 14.0);
                let (x0, xr, xh) = (x(0.0), x(v.rate), x(v.rate_ci_high));
                RateRow {
                    color: VARIANT_COLORS[i % VARIANT_COLORS.len()],
                    tooltip: format!(
                        "{}: {} of {} redeemed, {} (95% CI {}–{})",
                        v.name,
                        format_count(v.redeemed),
                        format_count(v.issued),
                        format_pct(v.rate),
                        format_pct(v.rate_ci_low),
                        format_pct(v.rate_ci_high)
                    ),
                    name: truncate(&v.name, 22),
                    issued: format!(
                        "{} issued{}",
                        format_count(v.issued),
                        if i == 0 { " · control" } else { "" }
                    ),
                    name_x: Px(f.left - 12.0),
                    name_y: Px(cy - 2.0),
                    issued_y: Px(cy + 12.0),
                    bar_x: Px(x0),
                    bar_y: Px(cy - bh / 2.0),
                    bar_w: Px((xr - x0).max(0.0)),
                    bar_h: Px(bh),
                    ci_low_x: Px(x(v.rate_ci_low)),
                    ci_high_x: Px(xh),
                    cy: Px(cy),
                    whisker_y1: Px(cy - wh / 2.0),
                    whisker_y2: Px(cy + wh / 2.0),
                    label_x: Px((xh + 12.0).min(f.right_x() - 120.0)),
                    label_y: Px(cy + 4.5),
                    rate: format_pct(v.rate),
                    ci_low: pct_bare(v.rate_ci_low),
                    ci_high: pct_bare(v.rate_ci_high),
                }
            })
            .collect();
        Some(RatesChart {
            w: Px(f.w),
            h: Px(f.h),
            desc,
            grid,
            grid_y1: Px(f.top - 6.0),
            grid_y2: Px(f.base_y()),
            grid_label_y: Px(f.h - 6.0),
            rows,
        })
    }
}

/// The two daily charts and their summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCharts {
    /// `21 days, 1,622 redemptions; busiest day 3 May`.
    pub summary: String,
    pub currency: String,
    pub redemptions: BarChart,
    pub discount: LineChart,
}

/// Redemptions per day as bars.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub w: Px,
    pub h: Px,
    pub desc: String,
    pub grid: YGrid,
    pub bars: Vec<Bar>,
    pub ticks: DayTicks,
}

/// One day's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: Px,
    pub y: Px,
    pub w: Px,
    pub h: Px,
    /// `2024-05-03: 92 redemptions, EUR 830.00`.
    pub tooltip: String,
}

/// Discount granted per day as a line over a filled area, with dots when there are too few
/// points for a line to show.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub w: Px,
    pub h: Px,
    pub title: String,
    pub desc: String,
    pub grid: YGrid,
    pub area: Points,
    pub line: Points,
    pub dots: Vec<Point>,
    pub ticks: DayTicks,
}

/// Day labels under a day-per-slot chart.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTicks {
    pub ticks: Vec<XTick>,
    pub label_y: Px,
    pub axis: AxisLine,
}

/// Every day from the campaign start (or the first data) to now (or the last data), gaps as zero;
/// at most the last 366 days.
pub fn daily_range(r: &Report) -> Vec<ReportDay> {
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

fn day_ticks(f: &Frame, days: &[ReportDay], slot: f64) -> DayTicks {
    let every = day_label_every(days.len());
    let ticks = days
        .iter()
        .enumerate()
        .step_by(every)
        .map(|(i, d)| {
            let label = if d.date.day() == 1 || i == 0 {
                d.date.format("%-d %b").to_string()
            } else {
                d.date.format("%-d").to_string()
            };
            XTick { x: Px(f.left + slot * (i as f64 + 0.5)), label }
        })
        .collect();
    DayTicks { ticks, label_y: Px(f.base_y() + 17.0), axis: f.x_axis() }
}

impl DailyCharts {
    /// `None` before the first redemption.
    pub fn new(r: &Report) -> Option<Self> {
        let days = daily_range(r);
        if days.is_empty() || r.daily.is_empty() {
            return None;
        }
        let total_red: u64 = days.iter().map(|d| d.redemptions).fold(0, u64::saturating_add);
        let peak = days.iter().max_by_key(|d| d.redemptions).map(|d| d.date);
        let summary = format!(
            "{} days, {} redemptions{}",
            days.len(),
            format_count(total_red),
            peak.map(|p| format!("; busiest day {}", p.format("%-d %b"))).unwrap_or_default()
        );
        let count = days.len() as f64;

        let f = Frame { w: 1060.0, h: 210.0, left: 58.0, right: 18.0, top: 12.0, bottom: 26.0 };
        let slot = f.plot_w() / count;
        let max_red = days.iter().map(|d| d.redemptions).max().unwrap_or(0) as f64;
        let (top, step) = nice_axis_count(max_red);
        let gap = if slot > 6.0 { slot * 0.18 } else { 0.0 };
        let bar_w = (slot - gap).clamp(0.5, MAX_BAR_W);
        let bars = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let y = f.y(d.redemptions as f64, top);
                Bar {
                    x: Px(f.left + slot * (i as f64 + 0.5) - bar_w / 2.0),
                    y: Px(y),
                    w: Px(bar_w),
                    h: Px(f.base_y() - y),
                    tooltip: format!(
                        "{}: {} redemptions, {}",
                        d.date,
                        format_count(d.redemptions),
                        format_money(d.discount_spent, &r.currency)
                    ),
                }
            })
            .collect();
        let redemptions = BarChart {
            w: Px(f.w),
            h: Px(f.h),
            desc: format!(
                "Redemptions per day from {} to {}; {} in total.",
                days[0].date,
                days[days.len() - 1].date,
                total_red
            ),
            grid: f.y_grid(top, step, compact),
            bars,
            ticks: day_ticks(&f, &days, slot),
        };

        let g = Frame { w: 1060.0, h: 180.0, left: 58.0, right: 18.0, top: 14.0, bottom: 26.0 };
        let max_spent = days.iter().map(|d| d.discount_spent.max(0)).max().unwrap_or(0) as f64 / 100.0;
        let (top, step) = nice_axis(max_spent, 1.0);
        let line: Vec<Point> = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                Point::new(g.left + slot * (i as f64 + 0.5), g.y(d.discount_spent.max(0) as f64 / 100.0, top))
            })
            .collect();
        let base = g.y(0.0, top);
        let mut area = vec![Point::new(g.left + slot * 0.5, base)];
        area.extend(line.iter().copied());
        area.push(Point::new(g.left + slot * (count - 0.5), base));
        let total_spent = days.iter().fold(0i64, |a, d| a.saturating_add(d.discount_spent));
        let discount = LineChart {
            w: Px(g.w),
            h: Px(g.h),
            title: format!("Discount granted per day ({})", r.currency),
            desc: format!("Discount granted per day; {} in total.", format_money(total_spent, &r.currency)),
            grid: g.y_grid(top, step, compact),
            dots: if line.len() < 2 { line.clone() } else { Vec::new() },
            area: Points(area),
            line: Points(line),
            ticks: day_ticks(&g, &days, slot),
        };
        Some(DailyCharts { summary, currency: r.currency.clone(), redemptions, discount })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::build_report;
    use super::super::super::fixtures::*;
    use super::*;

    #[test]
    fn rates_chart_places_bars_and_whiskers() {
        let c = RatesChart::new(&build_report(&page_input())).unwrap();
        assert_eq!(c.rows.len(), 2);
        let labels: Vec<&str> = c.grid.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0%", "5%", "10%", "15%"]);
        let v = &c.rows[1];
        assert!(v.ci_low_x.0 < v.bar_x.0 + v.bar_w.0 && v.bar_x.0 + v.bar_w.0 < v.ci_high_x.0);
        assert_eq!((v.rate.as_str(), v.ci_low.as_str(), v.ci_high.as_str()), ("9.1%", "8.6", "9.7"));
        assert_eq!(c.rows[0].issued, "10,000 issued · control");
        let mut i = page_input();
        i.variants.clear();
        assert!(RatesChart::new(&build_report(&i)).is_none());
    }

    #[test]
    fn daily_charts_fill_gaps_and_label_at_most_eight_days() {
        let d = DailyCharts::new(&build_report(&page_input())).unwrap();
        assert_eq!(d.summary, "21 days, 1,760 redemptions; busiest day 19 May");
        assert_eq!(d.redemptions.bars.len(), 21);
        assert_eq!(d.redemptions.bars[20].h, Px(0.0), "today has no data yet");
        let labels: Vec<&str> = d.redemptions.ticks.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1 May", "8", "15"]);
        assert!(d.discount.dots.is_empty(), "a line is enough with many points");
    }

    #[test]
    fn one_day_of_data_is_a_bar_and_a_dot() {
        let mut i = page_input();
        i.starts_at = at(2024, 5, 21, 8);
        i.as_of = at(2024, 5, 21, 9);
        i.daily = vec![crate::domain::report::DailyInput {
            date: date(2024, 5, 21),
            redemptions: 1,
            discount_spent: 1_800,
        }];
        let d = DailyCharts::new(&build_report(&i)).unwrap();
        let bar = &d.redemptions.bars[0];
        assert_eq!(bar.w, Px(MAX_BAR_W));
        assert!(bar.h.0 > 100.0, "a full-height bar: {bar:?}");
        assert_eq!(d.discount.dots.len(), 1);
        assert_eq!(d.discount.dots[0], d.discount.line.0[0]);
        assert!(d.discount.dots[0].y.0 < 100.0, "at the top of its axis");
        assert_eq!(d.redemptions.ticks.ticks.len(), 1);
    }

    #[test]
    fn no_data_no_daily_charts() {
        let mut i = page_input();
        i.daily.clear();
        assert!(DailyCharts::new(&build_report(&i)).is_none());
    }
}
