//! Instants as whole milliseconds, and the UTC calendar arithmetic the engine needs.
//!
//! The engine works at millisecond resolution: every instant (an event's timestamp, `now`, a
//! `since` bound) is taken as the millisecond that contains it (rounded down). Deadlines are
//! therefore whole milliseconds too, and "1 ms before" is the closest distinct instant. The
//! calendar (years, month-days, anniversaries) is the proleptic Gregorian calendar in UTC.

use jiff::Timestamp;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub(crate) type Ms = i64;

/// Milliseconds in one UTC day (UTC has no leap seconds in this arithmetic, like jiff).
pub(crate) const DAY: Ms = 86_400_000;

/// The millisecond containing `ts` (rounded down, also before 1970).
pub(crate) fn to_ms(ts: Timestamp) -> Ms {
    // Seconds and nanoseconds share their sign in jiff; this avoids a 128-bit division, which is
    // measurable on the per-event path. (±10,000 years fit easily in i64 milliseconds.)
    let ns = ts.subsec_nanosecond();
    let ms = ts.as_second() * 1000 + i64::from(ns / 1_000_000);
    if ns < 0 && ns % 1_000_000 != 0 {
        ms - 1
    } else {
        ms
    }
}

/// The timestamp of a millisecond, or `None` outside jiff's range (±9999 years).
pub(crate) fn from_ms(ms: Ms) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// The UTC day number (days since 1970-01-01) of an instant.
pub(crate) fn day_of(ms: Ms) -> i64 {
    ms.div_euclid(DAY)
}

/// The first millisecond of a UTC day, saturating far outside any real date.
pub(crate) fn midnight(day: i64) -> Ms {
    day.saturating_mul(DAY)
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// The day number of a civil date. Counting years from March puts the leap day at the end of
/// the (shifted) year, so each month's start is a fixed offset; 400 years are 146,097 days.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (y, m) = if month <= 2 {
        (year - 1, i64::from(month) + 9)
    } else {
        (year, i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 = March
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The UTC calendar year of an instant.
pub(crate) fn year_of(ms: Ms) -> i64 {
    civil_from_days(day_of(ms)).0
}

/// The first millisecond of January 1st of `year`.
pub(crate) fn new_year(year: i64) -> Ms {
    midnight(days_from_civil(year, 1, 1))
}

/// The day on which a yearly date falls in `year`: 29 February falls on 28 February in common
/// years (the anniversary rule).
pub(crate) fn anniversary_in(year: i64, month: u32, day: u32) -> i64 {
    if month == 2 && day == 29 && !is_leap(year) {
        days_from_civil(year, 2, 28)
    } else {
        days_from_civil(year, month, day)
    }
}

/// The next anniversary of `(month, day)` on or after day `today`, as a day number.
pub(crate) fn next_anniversary(today: i64, month: u32, day: u32) -> i64 {
    let (year, _, _) = civil_from_days(today);
    let this_year = anniversary_in(year, month, day);
    if this_year >= today {
        this_year
    } else {
        anniversary_in(year + 1, month, day)
    }
}

/// Whether the next anniversary of the date `date` (an instant; its UTC date counts) is at most
/// `within_days` days after the UTC date of `now` (today counts as 0).
pub(crate) fn anniversary_within(date: Ms, within_days: i64, now: Ms) -> bool {
    let (_, month, day) = civil_from_days(day_of(date));
    let today = day_of(now);
    next_anniversary(today, month, day) - today <= within_days
}

/// The first instant after `now` at which [`anniversary_within`] changes value, if it ever does.
pub(crate) fn anniversary_flip(date: Ms, within_days: i64, now: Ms) -> Option<Ms> {
    // The distance to the next anniversary is at most 365 days, so a window that wide always holds.
    if within_days >= 365 {
        return None;
    }
    let (_, month, day) = civil_from_days(day_of(date));
    let mut today = day_of(now);
    let current = anniversary_within(date, within_days, now);
    // The distance shrinks by one each day and jumps up the day after an anniversary: a flip to
    // true happens `within_days` before an anniversary, a flip to false the day after one. A
    // handful of anniversaries always contains the next flip (distances after a jump are >= 363).
    for _ in 0..8 {
        let next = next_anniversary(today, month, day);
        let candidate = if current {
            next + 1
        } else {
            (next - within_days).max(today + 1)
        };
        let at = midnight(candidate);
        if anniversary_within(date, within_days, at) != current {
            return Some(at);
        }
        today = candidate;
    }
    Some(midnight(today))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Ms {
        if s.len() == 10 {
            return to_ms(format!("{s}T00:00:00Z").parse().unwrap());
        }
        to_ms(s.parse().unwrap())
    }

    #[test]
    fn civil_round_trips_and_agrees_with_jiff() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            let date = jiff::civil::date(y as i16, m as i8, d as i8);
            let expected = date
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
                / 86_400;
            assert_eq!(expected, days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn milliseconds_round_down() {
        let ts: Timestamp = "2024-01-01T00:00:00.0009Z".parse().unwrap();
        assert_eq!(to_ms(ts), ms("2024-01-01T00:00:00Z"));
        let before: Timestamp = "1969-12-31T23:59:59.9995Z".parse().unwrap();
        assert_eq!(to_ms(before), -1);
        for ns in [
            -2_000_000_001i128,
            -1_999_999_999,
            -1_000_000,
            -1,
            0,
            1,
            999_999,
            1_000_000,
        ] {
            let ts = Timestamp::from_nanosecond(ns).unwrap();
            assert_eq!(to_ms(ts), ns.div_euclid(1_000_000) as i64, "{ns}");
        }
    }

    #[test]
    fn anniversaries_count_today_and_fold_leap_days() {
        let bday = ms("2000-02-29");
        // 2025 is common: the anniversary falls on 28 February.
        assert!(anniversary_within(bday, 0, ms("2025-02-28T23:59:59.999Z")));
        assert!(!anniversary_within(bday, 0, ms("2025-03-01T00:00:00Z")));
        assert!(anniversary_within(bday, 0, ms("2028-02-29T12:00:00Z")));
        assert!(!anniversary_within(bday, 0, ms("2028-02-28T12:00:00Z")));
        assert!(anniversary_within(bday, 1, ms("2028-02-28T12:00:00Z")));
        let summer = ms("1990-07-10");
        assert!(anniversary_within(summer, 7, ms("2024-07-03T00:00:00Z")));
        assert!(!anniversary_within(
            summer,
            7,
            ms("2024-07-02T23:59:59.999Z")
        ));
        assert!(!anniversary_within(summer, 7, ms("2024-07-11T00:00:00Z")));
    }

    #[test]
    fn anniversary_flips_at_midnights() {
        let summer = ms("1990-07-10");
        let now = ms("2024-06-01T10:00:00Z");
        assert_eq!(
            anniversary_flip(summer, 7, now),
            Some(ms("2024-07-03T00:00:00Z"))
        );
        assert_eq!(
            anniversary_flip(summer, 7, ms("2024-07-03T00:00:00Z")),
            Some(ms("2024-07-11T00:00:00Z"))
        );
        assert_eq!(anniversary_flip(summer, 365, now), None);
        // A window of 364 days is only left when a leap day makes the gap to the next
        // anniversary 365 days: from 2027-07-11 to 2028-07-10.
        let flip = anniversary_flip(summer, 364, ms("2024-07-10T10:00:00Z")).unwrap();
        assert_eq!(flip, ms("2027-07-11T00:00:00Z"));
        assert!(!anniversary_within(summer, 364, flip));
    }
}
