//! Chart geometry for the report page: plot frames, value axes with "nice" steps, time axes whose
//! tick step comes from a ladder (hours … centuries) so that any campaign length gets at most
//! [`MAX_TIME_LABELS`] labels, and coordinates that can never be `NaN`.
//!
//! Everything here is in SVG viewBox units; the page template only prints it.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};

use super::format::format_count;

/// The most labels a time axis shows (more would run into each other on a page-wide chart).
pub const MAX_TIME_LABELS: usize = 8;

/// A coordinate in viewBox units, printed with one decimal; a non-finite value prints as `0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Px(pub f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = if self.0.is_finite() { self.0 } else { 0.0 };
        write!(f, "{x:.1}")
    }
}

/// A point, printed `x,y`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub x: Px,
    pub y: Px,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Self {
        Point { x: Px(x), y: Px(y) }
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.x, self.y)
    }
}

/// The points of a `polyline` or `polygon`, printed `x,y x,y …`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Points(pub Vec<Point>);

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) that cuts `range` into about `ticks` parts.
pub fn nice_step(range: f64, ticks: f64) -> f64 {
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
pub fn nice_axis(max: f64, min_top: f64) -> (f64, f64) {
    let max = if max.is_finite() { max.max(min_top) } else { min_top };
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil().max(1.0) * step;
    (top, step)
}

/// Like [`nice_axis`] for counts: whole-number steps only.
pub fn nice_axis_count(max: f64) -> (f64, f64) {
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
pub fn compact(x: f64) -> String {
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

/// A percentage tick with as many decimals as the step needs: `5%`, `2.5%`, `0.25%`.
pub fn pct_tick(v: f64, step: f64) -> String {
    let decimals = if (step * 100.0).fract().abs() < 1e-9 {
        0
    } else if (step * 1000.0).fract().abs() < 1e-9 {
        1
    } else {
        2
    };
    format!("{:.*}%", decimals, v * 100.0)
}

/// The plot area of a chart: the viewBox size and the margins around the plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub w: f64,
    pub h: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub fn plot_w(&self) -> f64 {
        self.w - self.left - self.right
    }
    pub fn plot_h(&self) -> f64 {
        self.h - self.top - self.bottom
    }
    /// The x of the plot's right edge.
    pub fn right_x(&self) -> f64 {
        self.w - self.right
    }
    /// The y of the plot's bottom edge (the x axis).
    pub fn base_y(&self) -> f64 {
        self.h - self.bottom
    }
    /// y for `v` on an axis from 0 to `top`.
    pub fn y(&self, v: f64, top: f64) -> f64 {
        let f = if top > 0.0 && v.is_finite() { (v / top).clamp(0.0, 1.0) } else { 0.0 };
        self.top + self.plot_h() * (1.0 - f)
    }
    /// The horizontal grid of a value axis from 0 to `top` by `step`, labelled on the left.
    pub fn y_grid(&self, top: f64, step: f64, label: impl Fn(f64) -> String) -> YGrid {
        let mut lines = Vec::new();
        let mut v = 0.0;
        while v <= top + step * 1e-9 && lines.len() < 50 {
            let y = self.y(v, top);
            lines.push(GridLine { y: Px(y), label_y: Px(y + 4.0), label: label(v) });
            v += step;
        }
        YGrid { x1: Px(self.left), x2: Px(self.right_x()), label_x: Px(self.left - 8.0), lines }
    }
    /// The x axis line along the bottom of the plot.
    pub fn x_axis(&self) -> AxisLine {
        AxisLine { x1: Px(self.left), x2: Px(self.right_x()), y: Px(self.base_y()) }
    }
}

/// Horizontal grid lines with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct YGrid {
    pub x1: Px,
    pub x2: Px,
    pub label_x: Px,
    pub lines: Vec<GridLine>,
}

/// One grid line of a value axis.
#[derive(Debug, Clone, PartialEq)]
pub struct GridLine {
    pub y: Px,
    pub label_y: Px,
    pub label: String,
}

/// A horizontal axis line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisLine {
    pub x1: Px,
    pub x2: Px,
    pub y: Px,
}

/// One labelled tick of an x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct XTick {
    pub x: Px,
    pub label: String,
}

/// A step of the time-axis ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStep {
    Hours(u32),
    Days(u32),
    Months(u32),
    Years(u32),
}

/// The ladder, finest first; [`time_ticks`] takes the first step that gives few enough labels.
fn ladder() -> impl Iterator<Item = TimeStep> {
    let hours = [1, 2, 3, 6, 12].map(TimeStep::Hours);
    let days = [1, 2, 7, 14].map(TimeStep::Days);
    let months = [1, 2, 3, 6].map(TimeStep::Months);
    let years = (0..6u32).flat_map(|k| [1, 2, 5].map(|m| TimeStep::Years(m * 10u32.pow(k))));
    hours.into_iter().chain(days).chain(months).chain(years)
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The first tick of `step` at or after `t0`: hours on multiples of the step from midnight, days
/// on midnights, months on the first of a month whose index is a multiple of the step, years
/// on the first of January of a year that is a multiple of the step.
fn first_tick(t0: DateTime<Utc>, step: TimeStep) -> Option<DateTime<Utc>> {
    let up = |t: DateTime<Utc>| if t < t0 { None } else { Some(t) };
    match step {
        TimeStep::Hours(k) => {
            let h = t0.hour().div_ceil(k) * k;
            let base = midnight(t0.date_naive()).checked_add_signed(Duration::hours(h.into()))?;
            let at = if base < t0 { base.checked_add_signed(Duration::hours(k.into()))? } else { base };
            up(at)
        }
        TimeStep::Days(_) => {
            let d = midnight(t0.date_naive());
            if d < t0 {
                d.checked_add_signed(Duration::days(1))
            } else {
                Some(d)
            }
        }
        TimeStep::Months(k) => {
            let (mut y, m0) = (t0.year(), t0.month0());
            let mut m = m0.div_ceil(k) * k;
            if m == m0 && !(t0.day() == 1 && midnight(t0.date_naive()) == t0) {
                m += k;
            }
            y += (m / 12) as i32;
            Utc.with_ymd_and_hms(y, m % 12 + 1, 1, 0, 0, 0).single()
        }
        TimeStep::Years(k) => {
            let k = k as i32;
            let y0 = t0.year();
            let mut y = y0.div_euclid(k) * k;
            let at_new_year = t0.month() == 1 && t0.day() == 1 && midnight(t0.date_naive()) == t0;
            if y < y0 || (y == y0 && !at_new_year) {
                y += k;
            }
            Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single()
        }
    }
}

fn next_tick(t: DateTime<Utc>, step: TimeStep) -> Option<DateTime<Utc>> {
    match step {
        TimeStep::Hours(k) => t.checked_add_signed(Duration::hours(k.into())),
        TimeStep::Days(k) => t.checked_add_signed(Duration::days(k.into())),
        TimeStep::Months(k) => t.checked_add_months(chrono::Months::new(k)),
        TimeStep::Years(k) => t.checked_add_months(chrono::Months::new(k.checked_mul(12)?)),
    }
}

/// The instants of `step` within `[t0, t1]`, at most `limit + 1` of them (enough to tell "too many").
fn ticks_of(t0: DateTime<Utc>, t1: DateTime<Utc>, step: TimeStep, limit: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = first_tick(t0, step);
    while let Some(at) = t.filter(|at| *at <= t1) {
        out.push(at);
        if out.len() > limit {
            break;
        }
        t = next_tick(at, step);
    }
    out
}

fn tick_label(t: DateTime<Utc>, step: TimeStep, first: bool) -> String {
    match step {
        TimeStep::Hours(_) if first || (t.hour() == 0 && t.minute() == 0) => {
            t.format("%-d %b %H:%M").to_string()
        }
        TimeStep::Hours(_) => t.format("%H:%M").to_string(),
        TimeStep::Days(_) => t.format("%-d %b").to_string(),
        TimeStep::Months(_) => t.format("%b %Y").to_string(),
        TimeStep::Years(_) => t.format("%Y").to_string(),
    }
}

/// The labelled ticks of a time axis over `[t0, t1]`: the finest step of the ladder that yields
/// at most [`MAX_TIME_LABELS`] ticks, each labelled for its step (`09:00`, `3 May`, `Jun 2024`,
/// `2050`). Empty when `t1 <= t0`.
pub fn time_ticks(t0: DateTime<Utc>, t1: DateTime<Utc>) -> (TimeStep, Vec<(DateTime<Utc>, String)>) {
    let mut chosen = (TimeStep::Years(1_000_000), Vec::new());
    if t1 > t0 {
        for step in ladder() {
            let ticks = ticks_of(t0, t1, step, MAX_TIME_LABELS);
            if ticks.len() <= MAX_TIME_LABELS {
                chosen = (step, ticks);
                break;
            }
        }
    }
    let (step, ticks) = chosen;
    let labelled = ticks.into_iter().enumerate().map(|(i, t)| (t, tick_label(t, step, i == 0))).collect();
    (step, labelled)
}

/// Every how many days a day-per-slot chart of `days` days gets a label, so that at most
/// [`MAX_TIME_LABELS`] appear: 1, 2, 7, 14, 28, … days.
pub fn day_label_every(days: usize) -> usize {
    let mut every = [1usize, 2, 7, 14, 28, 56, 91, 182, 364]
        .into_iter()
        .find(|k| days.div_ceil(*k) <= MAX_TIME_LABELS)
        .unwrap_or(364);
    while days.div_ceil(every) > MAX_TIME_LABELS {
        every *= 2;
    }
    every
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn labels(t0: DateTime<Utc>, t1: DateTime<Utc>) -> (TimeStep, Vec<String>) {
        let (step, ticks) = time_ticks(t0, t1);
        for w in ticks.windows(2) {
            assert!(w[0].0 < w[1].0, "ascending");
        }
        for (t, _) in &ticks {
            assert!(t0 <= *t && *t <= t1, "{t} within [{t0}, {t1}]");
        }
        (step, ticks.into_iter().map(|t| t.1).collect())
    }

    #[test]
    fn value_axes_are_nice() {
        assert_eq!(nice_axis(0.0, 1.0), (1.0, 0.25));
        assert_eq!(nice_axis(19_465.0, 1.0), (20_000.0, 5_000.0));
        assert_eq!(nice_axis(93.0, 1.0), (100.0, 25.0));
        assert_eq!(nice_axis(f64::NAN, 1.0), (1.0, 0.25));
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
        assert_eq!(pct_tick(0.05, 0.025), "5.0%");
        assert_eq!(pct_tick(0.1, 0.02), "10%");
        assert_eq!(Px(f64::NAN).to_string(), "0.0");
        assert_eq!(Px(f64::INFINITY).to_string(), "0.0");
        assert_eq!(Points(vec![Point::new(1.0, 2.25), Point::new(3.0, 4.0)]).to_string(), "1.0,2.2 3.0,4.0");
    }

    #[test]
    fn y_grid_runs_from_zero_to_top() {
        let f = Frame { w: 100.0, h: 100.0, left: 10.0, right: 10.0, top: 10.0, bottom: 10.0 };
        let g = f.y_grid(100.0, 25.0, compact);
        let ys: Vec<String> = g.lines.iter().map(|l| l.y.to_string()).collect();
        assert_eq!(ys, ["90.0", "70.0", "50.0", "30.0", "10.0"]);
        assert_eq!(g.lines[4].label, "100");
        assert_eq!(f.y(f64::NAN, 100.0), 90.0);
        assert_eq!(f.y(5.0, 0.0), 90.0, "a zero-height axis puts everything at the base");
    }

    #[test]
    fn a_one_day_campaign_gets_hour_ticks() {
        let (step, l) = labels(at(2026, 12, 1, 8), at(2026, 12, 2, 8));
        assert_eq!(step, TimeStep::Hours(3));
        assert_eq!(l, ["1 Dec 09:00", "12:00", "15:00", "18:00", "21:00", "2 Dec 00:00", "03:00", "06:00"]);
        // One hour.
        let (step, l) = labels(at(2026, 12, 1, 8), at(2026, 12, 1, 9));
        assert_eq!((step, l.len()), (TimeStep::Hours(1), 2));
    }

    #[test]
    fn a_month_gets_weekly_day_ticks() {
        let (step, l) = labels(at(2024, 5, 1, 0), at(2024, 6, 1, 0));
        assert_eq!(step, TimeStep::Days(7));
        assert_eq!(l, ["1 May", "8 May", "15 May", "22 May", "29 May"]);
    }

    #[test]
    fn a_campaign_to_2099_gets_decade_ticks() {
        let (step, l) = labels(at(2026, 12, 1, 8), at(2099, 12, 31, 0));
        assert_eq!(step, TimeStep::Years(10));
        assert_eq!(l, ["2030", "2040", "2050", "2060", "2070", "2080", "2090"]);
        let (step, l) = labels(at(2024, 1, 1, 0), at(2025, 6, 1, 0));
        assert_eq!(step, TimeStep::Months(3));
        assert_eq!(l[0], "Jan 2024");
    }

    #[test]
    fn every_length_fits_the_label_budget() {
        let t0 = at(2024, 3, 17, 13);
        let mut span = Duration::minutes(30);
        while let Some(t1) = t0.checked_add_signed(span) {
            let (_, l) = labels(t0, t1);
            assert!(l.len() <= MAX_TIME_LABELS, "{span}: {l:?}");
            if span >= Duration::hours(2) {
                assert!(l.len() >= 2, "{span}: at least two labels, got {l:?}");
            }
            span = span * 3 / 2;
        }
        // The far end of time.
        let (_, l) = labels(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(!l.is_empty() && l.len() <= MAX_TIME_LABELS, "{l:?}");
        assert!(time_ticks(t0, t0).1.is_empty());
    }

    #[test]
    fn day_labels_fit_the_budget() {
        assert_eq!(day_label_every(1), 1);
        assert_eq!(day_label_every(8), 1);
        assert_eq!(day_label_every(9), 2);
        assert_eq!(day_label_every(21), 7);
        assert_eq!(day_label_every(366), 56);
        for n in 1..5_000usize {
            assert!(n.div_ceil(day_label_every(n)) <= MAX_TIME_LABELS, "{n}");
        }
    }
}
