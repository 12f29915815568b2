//! The burn-down chart: the remaining budget (or the discount granted, without a cap) over the
//! campaign's time, the dashed projection at the 7-day burn rate, and the "now" / "ends" markers.

use chrono::{DateTime, Duration, Utc};

use super::super::chart::{
    compact, nice_axis, nice_axis_count, time_ticks, AxisLine, Frame, Point, Points, Px, XTick, YGrid,
};
use super::super::format::{format_count, format_date, format_money};
use super::super::{Report, MIN_PROJECTION_DAYS};
use super::day_start;

/// What the line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurnMode {
    /// Money left under the money budget.
    Money,
    /// Redemptions left under the count cap (no money cap).
    Count,
    /// Discount granted so far (no cap at all).
    Cumulative,
}

/// The burn-down chart, in viewBox units.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnChart {
    pub mode: BurnMode,
    pub title: &'static str,
    /// The line under the heading.
    pub caption: String,
    /// The chart's description for screen readers.
    pub desc: String,
    pub w: Px,
    pub h: Px,
    pub grid: YGrid,
    pub time: TimeAxis,
    /// The campaign's end.
    pub end: Marker,
    /// Now, when it lies inside the chart.
    pub now: Option<Marker>,
    /// The filled area under the line (closed along the base).
    pub area: Points,
    pub line: Points,
    /// The current level.
    pub last: Option<Point>,
    pub projection: Option<Projection>,
}

/// Date ticks along the bottom of a time chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAxis {
    pub ticks: Vec<XTick>,
    /// Top and bottom of the small tick marks, and the baseline of their labels.
    pub tick_y1: Px,
    pub tick_y2: Px,
    pub label_y: Px,
    pub axis: AxisLine,
}

/// A vertical marker line across the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: Px,
    pub y1: Px,
    pub y2: Px,
    pub label_y: Px,
}

/// The dashed projection from the current level, with its end point and label.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub from: Point,
    pub to: Point,
    pub label: String,
    pub label_x: Px,
    pub label_y: Px,
    pub anchor: &'static str,
    pub dx: Px,
}

/// The labelled ticks of [`time_ticks`] placed on the frame by `x`.
pub fn time_axis(
    f: &Frame,
    t0: DateTime<Utc>,
    t1: DateTime<Utc>,
    x: &dyn Fn(DateTime<Utc>) -> f64,
) -> TimeAxis {
    let (_, ticks) = time_ticks(t0, t1);
    TimeAxis {
        ticks: ticks.into_iter().map(|(t, label)| XTick { x: Px(x(t)), label }).collect(),
        tick_y1: Px(f.base_y()),
        tick_y2: Px(f.base_y() + 4.0),
        label_y: Px(f.base_y() + 18.0),
        axis: f.x_axis(),
    }
}

impl BurnChart {
    pub fn new(r: &Report) -> Self {
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
            t1 = t0.checked_add_signed(Duration::days(1)).unwrap_or(DateTime::<Utc>::MAX_UTC);
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
        } else if !b.exhausted && rate > 0.0 && days_to_end > 0.0 && b.burn_window_days >= MIN_PROJECTION_DAYS
        {
            // Never more than the open vouchers can still take.
            let most = match mode {
                BurnMode::Count => Some(b.open_vouchers as f64),
                _ => b.open_discount_max.map(|m| m as f64),
            };
            let ahead = (rate * days_to_end).min(most.unwrap_or(f64::INFINITY));
            let v = match mode {
                BurnMode::Cumulative => current + ahead,
                _ => (current - ahead).max(0.0),
            };
            let label = match mode {
                BurnMode::Money => format!("≈ {} left at end", format_money(v.round() as i64, &r.currency)),
                BurnMode::Count => format!("≈ {} left at end", format_count(v.round() as u64)),
                BurnMode::Cumulative => {
                    format!("≈ {} by the end", format_money(v.round() as i64, &r.currency))
                }
            };
            Some((r.expires_at, v, label))
        } else {
            None
        };

        let data_max =
            pts.iter().map(|p| p.1).fold(0.0, f64::max).max(projection.as_ref().map_or(0.0, |p| p.1));
        let to_axis = |v: f64| if mode == BurnMode::Count { v } else { v / 100.0 };
        let (top, step) = match mode {
            BurnMode::Count => nice_axis_count(full.max(data_max)),
            _ => nice_axis(to_axis(full.max(data_max)), 1.0),
        };
        let at = |t: DateTime<Utc>, v: f64| Point::new(x(t), f.y(to_axis(v), top));

        let (title, what) = match mode {
            BurnMode::Money => ("Remaining budget over time", format!("{} remaining", r.currency)),
            BurnMode::Count => ("Remaining redemptions over time", "redemptions remaining".to_string()),
            BurnMode::Cumulative => {
                ("Discount granted over time (no budget cap)", format!("{} granted", r.currency))
            }
        };
        let now_text = match mode {
            BurnMode::Count => format_count(current as u64),
            _ => format_money(current as i64, &r.currency),
        };
        let desc =
            format!("{} from {} to {}; now {}.", what, format_date(t0), format_date(r.expires_at), now_text);
        let caption = match mode {
            BurnMode::Money => {
                format!("{}, from the daily redemptions; the last point is the current balance.", r.currency)
            }
            BurnMode::Count => "Redemptions left under the count cap.".to_string(),
            BurnMode::Cumulative => format!("{} granted so far, cumulative.", r.currency),
        };

        let marker = |t: DateTime<Utc>| Marker {
            x: Px(x(t)),
            y1: Px(f.top),
            y2: Px(f.base_y()),
            label_y: Px(f.top + 10.0),
        };
        let line: Vec<Point> = pts.iter().map(|(t, v)| at(*t, *v)).collect();
        let area = match (pts.first(), pts.last()) {
            (Some(first), Some(last)) => {
                let base = f.y(0.0, top);
                let mut area = vec![Point::new(x(first.0), base)];
                area.extend(line.iter().copied());
                area.push(Point::new(x(last.0), base));
                area
            }
            _ => Vec::new(),
        };
        let projection = match (projection, pts.last()) {
            (Some((pt, pv, label)), Some(last)) => {
                let to = at(pt, pv);
                let (x1, y1) = (x(pt), f.y(to_axis(pv), top));
                // Up and to the right of the end point, clear of the line coming from the upper
                // left; above it when there is no room on the right.
                let room_right = x1 + 120.0 <= f.right_x();
                let (anchor, dx, ly) =
                    if room_right { ("start", 8.0, y1 - 8.0) } else { ("end", -8.0, y1 - 30.0) };
                Some(Projection {
                    from: at(last.0, last.1),
                    to,
                    label,
                    label_x: Px(x1),
                    label_y: Px(ly.max(f.top + 24.0)),
                    anchor,
                    dx: Px(dx),
                })
            }
            _ => None,
        };

        BurnChart {
            mode,
            title,
            caption,
            desc,
            w: Px(f.w),
            h: Px(f.h),
            grid: f.y_grid(top, step, compact),
            time: time_axis(&f, t0, t1, &x),
            end: marker(r.expires_at),
            now: (r.as_of > t0 && r.as_of < t1).then(|| marker(r.as_of)),
            last: pts.last().map(|(t, v)| at(*t, *v)),
            area: Points(area),
            line: Points(line),
            projection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::build_report;
    use super::super::super::fixtures::*;
    use super::*;

    #[test]
    fn money_burn_down_with_projection() {
        let c = BurnChart::new(&build_report(&page_input()));
        assert_eq!(c.mode, BurnMode::Money);
        // Start, 20 day ends, now.
        assert_eq!(c.line.0.len(), 22);
        // The full budget of 25k at the start, on an axis to 30k.
        assert_eq!(c.line.0[0], Point::new(58.0, 14.0 + 236.0 * (1.0 - 25.0 / 30.0)));
        assert_eq!(c.area.0.len(), 24);
        let p = c.projection.as_ref().expect("runs out before the end");
        assert!(p.label.starts_with("runs out ~"), "{}", p.label);
        assert_eq!(p.to.y, Px(250.0), "exhaustion is at zero");
        assert!(c.now.is_some());
        let labels: Vec<&str> = c.time.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1 May", "8 May", "15 May", "22 May", "29 May"]);
        assert_eq!(c.grid.lines.last().unwrap().label, "30k");
    }

    #[test]
    fn one_point_is_still_drawn() {
        // Not started: the line is the single starting point; it gets a dot.
        let mut i = page_input();
        i.as_of = at(2024, 4, 1, 0);
        i.daily.clear();
        let c = BurnChart::new(&build_report(&i));
        assert_eq!(c.line.0.len(), 1);
        assert!(c.last.is_some() && c.projection.is_none() && c.now.is_none());
    }

    #[test]
    fn long_and_short_campaigns_keep_readable_axes() {
        let mut i = page_input();
        i.expires_at = at(2099, 12, 31, 0);
        let c = BurnChart::new(&build_report(&i));
        assert!(c.time.ticks.len() <= 8, "{:?}", c.time.ticks);
        assert_eq!(c.time.ticks[0].label, "2030");
        let mut i = page_input();
        i.starts_at = at(2024, 5, 21, 8);
        i.expires_at = at(2024, 5, 22, 8);
        let c = BurnChart::new(&build_report(&i));
        assert_eq!(c.time.ticks.len(), 8);
        assert_eq!(c.time.ticks[0].label, "21 May 09:00");
        for w in c.time.ticks.windows(2) {
            assert!(w[1].x.0 - w[0].x.0 > 60.0, "labels stay apart: {:?}", c.time.ticks);
        }
    }

    #[test]
    fn count_and_cumulative_modes() {
        let mut i = page_input();
        i.max_amount = None;
        let c = BurnChart::new(&build_report(&i));
        assert_eq!((c.mode, c.title), (BurnMode::Count, "Remaining redemptions over time"));
        i.max_redemptions = None;
        let c = BurnChart::new(&build_report(&i));
        assert_eq!(c.mode, BurnMode::Cumulative);
        assert_eq!(c.title, "Discount granted over time (no budget cap)");
        assert!(c.projection.as_ref().unwrap().label.ends_with("by the end"));
    }
}
