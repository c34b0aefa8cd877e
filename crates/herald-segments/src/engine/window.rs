//! Windows: which event times a condition looks at, as `now` moves.
//!
//! `Win::contains` is the definition, straight from `ast::Window`'s documentation; the
//! reference evaluator uses it. The incremental engine uses the equivalent view from the event's
//! side, `Win::span`: an event stamped `ts` is in the window exactly while `now` lies in one
//! half-open interval `[enter, exit)` (possibly empty). That single interval is what makes exact
//! deadlines cheap: an event can only enter once and leave once.
//!
//! Calendar windows: `from`/`to` are month-days of the calendar year `year(now) - years_ago`.
//! When `from` is later in the year than `to` the range wraps into the next year (`between 12-01
//! and 01-31 of last year` is last winter). A `02-29` bound in a common year stands for the
//! instant between 28 February and 1 March, so `between 02-29 and 02-29` is empty in common years.

use super::time::{Ms, days_from_civil, is_leap, midnight, new_year, year_of};
use crate::ast::{MonthDay, Window};

/// Calendar windows further back than this many years are empty (the arithmetic stays far from
/// overflow, and no event is that old).
const MAX_YEARS_AGO: u32 = 100_000;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Win {
    Ever,
    /// `(now - n, now]`.
    Last(Ms),
    /// `(now - from, now - to]`.
    Between {
        from: Ms,
        to: Ms,
    },
    /// `[since, now]`.
    Since(Ms),
    Calendar {
        years_ago: i64,
        from: MonthDay,
        to: MonthDay,
    },
    /// Never contains anything (a calendar window too far back, `between` with `from <= to`).
    Empty,
}

impl Win {
    pub(crate) fn compile(window: &Window) -> Win {
        match window {
            Window::Ever => Win::Ever,
            Window::Last(span) => Win::Last(span.millis()),
            Window::Between { from, to } if from.millis() > to.millis() => Win::Between {
                from: from.millis(),
                to: to.millis(),
            },
            Window::Between { .. } => Win::Empty,
            Window::Since(t) => Win::Since(super::time::to_ms(*t)),
            Window::Calendar {
                years_ago,
                from,
                to,
            } if *years_ago <= MAX_YEARS_AGO => Win::Calendar {
                years_ago: i64::from(*years_ago),
                from: *from,
                to: *to,
            },
            Window::Calendar { .. } => Win::Empty,
        }
    }

    /// Whether an event stamped `ts` is in the window at `now`.
    #[inline]
    pub(crate) fn contains(&self, ts: Ms, now: Ms) -> bool {
        if ts > now {
            return false;
        }
        match *self {
            Win::Ever => true,
            Win::Last(n) => ts > now.saturating_sub(n),
            Win::Between { from, to } => {
                ts > now.saturating_sub(from) && ts <= now.saturating_sub(to)
            }
            Win::Since(since) => ts >= since,
            Win::Calendar {
                years_ago,
                from,
                to,
            } => calendar_contains(years_ago, from, to, ts, now),
            Win::Empty => false,
        }
    }

    /// The instants `now` at which an event stamped `ts` is in the window: `[enter, exit)`, or
    /// `None` if never. `exit` is `Ms::MAX` for windows that never let go of an event.
    #[inline]
    pub(crate) fn span(&self, ts: Ms) -> Option<(Ms, Ms)> {
        match *self {
            Win::Ever => Some((ts, Ms::MAX)),
            // (now - n, now] holds ts  <=>  ts <= now < ts + n.
            Win::Last(n) => Some((ts, ts.saturating_add(n))),
            // (now - from, now - to] holds ts  <=>  ts + to <= now < ts + from.
            Win::Between { from, to } => Some((ts.saturating_add(to), ts.saturating_add(from))),
            Win::Since(since) => (ts >= since).then_some((ts, Ms::MAX)),
            Win::Calendar {
                years_ago,
                from,
                to,
            } => calendar_span(years_ago, from, to, ts),
            Win::Empty => None,
        }
    }

    /// The earliest timestamp an event can have and still be in the window at some instant at
    /// or after `now`: anything older can be forgotten.
    pub(crate) fn horizon(&self, now: Ms) -> Ms {
        match *self {
            Win::Ever => Ms::MIN,
            Win::Last(n) => now.saturating_sub(n).saturating_add(1),
            Win::Between { from, .. } => now.saturating_sub(from).saturating_add(1),
            Win::Since(since) => since,
            Win::Calendar {
                years_ago,
                from,
                to,
            } => calendar_range(year_of(now) - years_ago, from, to).0,
            Win::Empty => Ms::MAX,
        }
    }

    /// Whether an event, once in, stays in forever (so a running total is enough).
    pub(crate) fn never_expires(&self) -> bool {
        matches!(self, Win::Ever | Win::Since(_))
    }
}

// The calendar cases stay out of line so that the sliding cases inline into the hot loops.

#[inline(never)]
fn calendar_contains(years_ago: i64, from: MonthDay, to: MonthDay, ts: Ms, now: Ms) -> bool {
    let (start, end) = calendar_range(year_of(now) - years_ago, from, to);
    start <= ts && ts < end
}

#[inline(never)]
fn calendar_span(years_ago: i64, from: MonthDay, to: MonthDay, ts: Ms) -> Option<(Ms, Ms)> {
    let year = year_of(ts);
    // Only the range of this year, or of last year when it wraps, can hold `ts`.
    let owner = [year, year - 1].into_iter().find(|&y| {
        let (start, end) = calendar_range(y, from, to);
        start <= ts && ts < end
    })?;
    // The window shows that range during the calendar year `owner + years_ago`.
    let enter = ts.max(new_year(owner + years_ago));
    let exit = new_year(owner + years_ago + 1);
    (enter < exit).then_some((enter, exit))
}

/// `[start, end)` of a calendar window's range in `year` (see the module documentation).
pub(crate) fn calendar_range(year: i64, from: MonthDay, to: MonthDay) -> (Ms, Ms) {
    let end_year = if from > to { year + 1 } else { year };
    (
        midnight(first_day(year, from)),
        midnight(first_day_after(end_year, to)),
    )
}

/// The day a month-day starts in `year`; a missing 29 February starts (empty) on 1 March.
fn first_day(year: i64, md: MonthDay) -> i64 {
    if md.month == 2 && md.day == 29 && !is_leap(year) {
        days_from_civil(year, 3, 1)
    } else {
        days_from_civil(year, u32::from(md.month), u32::from(md.day))
    }
}

/// The day after a month-day in `year`; a missing 29 February ends on 1 March too.
fn first_day_after(year: i64, md: MonthDay) -> i64 {
    if md.month == 2 && md.day == 29 && !is_leap(year) {
        days_from_civil(year, 3, 1)
    } else {
        days_from_civil(year, u32::from(md.month), u32::from(md.day)) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Span;
    use crate::engine::time::{DAY, to_ms};

    fn ms(s: &str) -> Ms {
        to_ms(s.parse().unwrap())
    }

    fn md(s: &str) -> MonthDay {
        MonthDay::parse(s).unwrap()
    }

    /// `span` must agree with `contains` at every instant around its boundaries.
    fn check_span(win: &Win, ts: Ms, probes: &[Ms]) {
        let span = win.span(ts);
        for &now in probes {
            let by_span = span.is_some_and(|(enter, exit)| enter <= now && now < exit);
            assert_eq!(win.contains(ts, now), by_span, "{win:?} ts={ts} now={now}");
        }
    }

    #[test]
    fn last_is_half_open() {
        let win = Win::compile(&Window::Last(Span::parse("90 days").unwrap()));
        let ts = ms("2024-01-01T00:00:00Z");
        assert!(win.contains(ts, ts));
        assert!(!win.contains(ts, ts - 1));
        assert!(win.contains(ts, ts + 90 * DAY - 1));
        assert!(!win.contains(ts, ts + 90 * DAY));
        check_span(&win, ts, &[ts - 1, ts, ts + 90 * DAY - 1, ts + 90 * DAY]);
    }

    #[test]
    fn calendar_spans_match_contains() {
        let cases = [
            (1, "11-15", "12-31"),
            (0, "02-29", "03-01"),
            (1, "12-01", "01-31"),
            (0, "12-01", "01-31"),
            (2, "02-29", "02-29"),
            (0, "01-01", "12-31"),
        ];
        let mut probes = Vec::new();
        for year in 2022..2029 {
            for (m, d) in [
                (1, 1),
                (1, 31),
                (2, 1),
                (2, 28),
                (2, 29),
                (3, 1),
                (11, 15),
                (12, 31),
            ] {
                if d == 29 && !is_leap(year) {
                    continue;
                }
                let at = midnight(days_from_civil(year, m, d));
                probes.extend([at - 1, at, at + 1, at + DAY / 2]);
            }
        }
        for (years_ago, from, to) in cases {
            let win = Win::Calendar {
                years_ago,
                from: md(from),
                to: md(to),
            };
            for &ts in &probes {
                check_span(&win, ts, &probes);
            }
        }
    }

    #[test]
    fn holiday_window_of_last_year() {
        let win = Win::Calendar {
            years_ago: 1,
            from: md("11-15"),
            to: md("12-31"),
        };
        let now = ms("2025-03-01T00:00:00Z");
        assert!(win.contains(ms("2024-11-15T00:00:00Z"), now));
        assert!(!win.contains(ms("2024-11-14T23:59:59.999Z"), now));
        assert!(win.contains(ms("2024-12-31T23:59:59.999Z"), now));
        assert!(!win.contains(ms("2025-01-01T00:00:00Z"), now));
        // At the new year the window moves on.
        assert!(!win.contains(ms("2024-12-01T00:00:00Z"), ms("2026-01-01T00:00:00Z")));
        assert!(win.contains(ms("2024-12-01T00:00:00Z"), ms("2025-12-31T23:59:59.999Z")));
    }
}
