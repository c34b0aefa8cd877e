//! Local time: a person's time zone, the next local time of day, quiet hours, anniversaries.
//!
//! All in the person's IANA zone (trait `timezone`), with jiff's rules for the gaps and folds
//! of daylight saving time: a local time that does not exist on a day (02:30 when clocks spring
//! forward) becomes the first instant after the gap; one that exists twice takes the earlier.

use crate::ast::{TimeOfDay, Weekday};
use herald_segments::ast::{Span, Unit};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, Value};

/// The person's time zone: trait `timezone` when it names a zone, else `default`.
pub fn zone_of(traits: &Map<String, Value>, default: &TimeZone) -> TimeZone {
    traits
        .get("timezone")
        .and_then(Value::as_str)
        .and_then(|name| TimeZone::get(name).ok())
        .unwrap_or_else(|| default.clone())
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn at_local(date: Date, at: TimeOfDay, tz: &TimeZone) -> Option<i64> {
    let dt = date.at(at.hour as i8, at.minute as i8, 0, 0);
    tz.to_ambiguous_zoned(dt)
        .compatible()
        .ok()
        .map(|z| ms(z.timestamp()))
}

fn weekday_bit(date: Date) -> u8 {
    // jiff: Monday = 1 ... Sunday = 7; `Weekday::ALL` starts on Monday.
    1 << (date.weekday().to_monday_one_offset() - 1)
}

/// The first instant at or after `now` (ms) whose local time is `at` on an allowed weekday
/// (`days`: bit `i` for `Weekday::ALL[i]`; 0 allows every day).
pub fn next_local(now: i64, at: TimeOfDay, days: u8, tz: &TimeZone) -> i64 {
    let Ok(now_ts) = Timestamp::from_millisecond(now) else {
        return now;
    };
    let today = now_ts.to_zoned(tz.clone()).date();
    for offset in 0..=8 {
        let Ok(date) = today.checked_add(offset.days()) else {
            break;
        };
        if days != 0 && days & weekday_bit(date) == 0 {
            continue;
        }
        if let Some(t) = at_local(date, at, tz)
            && t >= now
        {
            return t;
        }
    }
    now
}

/// When quiet hours from `from` to `to` (local; wrapping past midnight when `to` is earlier)
/// hold at `now`, the instant they end; `None` when sending is allowed now.
pub fn quiet_until(now: i64, from: TimeOfDay, to: TimeOfDay, tz: &TimeZone) -> Option<i64> {
    let local = Timestamp::from_millisecond(now).ok()?.to_zoned(tz.clone());
    let m = local.hour() as u32 * 60 + local.minute() as u32;
    let (f, t) = (from.minutes(), to.minutes());
    let quiet = match f.cmp(&t) {
        std::cmp::Ordering::Less => f <= m && m < t,
        std::cmp::Ordering::Greater => m >= f || m < t,
        std::cmp::Ordering::Equal => false,
    };
    quiet.then(|| next_local(now, to, 0, tz))
}

/// A date trait's month and day (`YYYY-MM-DD`, or the date part of an RFC 3339 instant).
pub fn month_day(v: &Value) -> Option<(i8, i8)> {
    let s = v.as_str()?;
    let date: Date = s.get(..10)?.parse().ok()?;
    Some((date.month(), date.day()))
}

/// The first anniversary strictly after `now` (ms) of a month and day, at local time `at`.
/// 29 February falls on 28 February in other years.
pub fn next_anniversary(
    now: i64,
    (month, day): (i8, i8),
    at: TimeOfDay,
    tz: &TimeZone,
) -> Option<i64> {
    let year = Timestamp::from_millisecond(now)
        .ok()?
        .to_zoned(tz.clone())
        .year();
    for y in year..=year + 1 {
        let date = Date::new(y, month, day)
            .or_else(|_| Date::new(y, month, day - 1))
            .ok()?;
        if let Some(t) = at_local(date, at, tz)
            && t > now
        {
            return Some(t);
        }
    }
    None
}

/// Where a frequency cap's window starts (ms, inclusive) for a send at `now`. Caps in days or
/// weeks count the person's calendar days: "2 per 1 day" means today in their time zone, "3 per
/// 7 days" today and the 6 days before. Caps in hours or minutes slide.
pub fn cap_window_start(now: i64, per: Span, tz: &TimeZone) -> i64 {
    let days = match per.unit {
        Unit::Days => i64::from(per.amount),
        Unit::Weeks => 7 * i64::from(per.amount),
        Unit::Hours | Unit::Minutes => return now - per.millis() + 1,
    };
    let Ok(now_ts) = Timestamp::from_millisecond(now) else {
        return now;
    };
    let today = now_ts.to_zoned(tz.clone()).date();
    today
        .checked_sub((days.max(1) - 1).days())
        .ok()
        .and_then(|d| {
            tz.to_ambiguous_zoned(d.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .ok()
        })
        .map_or(now - per.millis() + 1, |z| ms(z.timestamp()))
}

/// Bits of the weekdays, for [`next_local`].
pub fn day_mask(days: &[Weekday]) -> u8 {
    days.iter().fold(0, |m, d| m | super::flow::day_bit(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn tod(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    #[test]
    fn next_local_time_across_a_dst_change() {
        let ny = TimeZone::get("America/New_York").unwrap();
        // 2026-03-08: clocks go from 02:00 to 03:00 in New York.
        let before = t("2026-03-07T15:00:00Z"); // 10:00 local on the 7th
        assert_eq!(
            next_local(before, tod("09:00"), 0, &ny),
            t("2026-03-08T13:00:00Z")
        );
        // 02:30 does not exist on the 8th: the first instant after the gap.
        assert_eq!(
            next_local(before, tod("02:30"), 0, &ny),
            t("2026-03-08T07:30:00Z")
        );
        // Exactly at the time: now.
        let nine = t("2026-03-09T13:00:00Z");
        assert_eq!(next_local(nine, tod("09:00"), 0, &ny), nine);
        // Only on Mondays: 2026-03-09 is a Monday.
        let mondays = day_mask(&[Weekday::Monday]);
        assert_eq!(next_local(before, tod("09:00"), mondays, &ny), nine);
    }

    #[test]
    fn quiet_hours_wrap_midnight_and_follow_dst() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let (from, to) = (tod("21:00"), tod("08:00"));
        // 2026-03-29: Paris goes from UTC+1 to UTC+2 at 02:00 local.
        let late = t("2026-03-28T21:30:00Z"); // 22:30 local, UTC+1
        assert_eq!(
            quiet_until(late, from, to, &paris),
            Some(t("2026-03-29T06:00:00Z"))
        );
        let day = t("2026-03-29T10:00:00Z"); // 12:00 local
        assert_eq!(quiet_until(day, from, to, &paris), None);
        assert_eq!(
            quiet_until(t("2026-03-29T06:00:00Z"), from, to, &paris),
            None
        );
    }

    #[test]
    fn caps_in_days_count_local_calendar_days() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let day = Span::parse("1 day").unwrap();
        // 00:30 in Tokyo on 2026-05-02: the window starts at local midnight, 30 minutes before.
        let now = t("2026-05-01T15:30:00Z");
        assert_eq!(
            cap_window_start(now, day, &tokyo),
            t("2026-05-01T15:00:00Z")
        );
        let week = Span::parse("7 days").unwrap();
        assert_eq!(
            cap_window_start(now, week, &tokyo),
            t("2026-04-25T15:00:00Z")
        );
        let hours = Span::parse("24 hours").unwrap();
        assert_eq!(cap_window_start(now, hours, &tokyo), now - 86_400_000 + 1);
    }

    #[test]
    fn anniversaries() {
        let utc = TimeZone::UTC;
        let nine = tod("09:00");
        let now = t("2026-05-01T12:00:00Z");
        assert_eq!(
            next_anniversary(now, month_day(&"1990-05-02".into()).unwrap(), nine, &utc),
            Some(t("2026-05-02T09:00:00Z"))
        );
        // Today, but 09:00 has passed: next year.
        assert_eq!(
            next_anniversary(now, (5, 1), nine, &utc),
            Some(t("2027-05-01T09:00:00Z"))
        );
        assert_eq!(
            next_anniversary(now, (2, 29), nine, &utc),
            Some(t("2027-02-28T09:00:00Z"))
        );
        assert_eq!(month_day(&"1990-05-02T10:00:00Z".into()), Some((5, 2)));
        assert_eq!(month_day(&"May 2".into()), None);
    }
}
