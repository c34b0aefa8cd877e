//! Simulated time: milliseconds since the Unix epoch, civil dates, and RFC 3339 text.
//!
//! Every event carries a timestamp, so formatting is done by hand on integers (Howard Hinnant's
//! civil-from-days algorithm) rather than through a date library's general formatter; the tests
//! check it against `jiff`.

use std::fmt::Write;

pub(crate) const SECOND: i64 = 1_000;
pub(crate) const MINUTE: i64 = 60 * SECOND;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// A calendar date in the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// The UTC date of an instant.
    pub(crate) fn of(ms: i64) -> Self {
        let days = ms.div_euclid(DAY);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Day of the week of an instant's UTC date, Monday = 0.
    pub(crate) fn weekday(ms: i64) -> u32 {
        // 1970-01-01 was a Thursday.
        (ms.div_euclid(DAY) + 3).rem_euclid(7) as u32
    }

    /// `YYYY-MM-DD`.
    pub(crate) fn write(self, out: &mut String) {
        let _ = write!(out, "{:04}-{:02}-{:02}", self.year, self.month, self.day);
    }
}

fn push_two(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `ms` as RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:30:00.250Z`.
pub(crate) fn write_timestamp(out: &mut String, ms: i64) {
    let date = Date::of(ms);
    let in_day = ms.rem_euclid(DAY);
    let year = date.year as u32;
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push('-');
    push_two(out, date.month);
    out.push('-');
    push_two(out, date.day);
    out.push('T');
    push_two(out, (in_day / HOUR) as u32);
    out.push(':');
    push_two(out, (in_day % HOUR / MINUTE) as u32);
    out.push(':');
    push_two(out, (in_day % MINUTE / SECOND) as u32);
    out.push('.');
    let millis = (in_day % SECOND) as u32;
    out.push(char::from(b'0' + (millis / 100) as u8));
    push_two(out, millis % 100);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_jiff() {
        let samples = [
            0i64,
            951_782_400_000,    // 2000-02-29
            1_714_566_600_250,  // 2024-05-01T12:30:00.250Z
            4_102_444_799_999,  // 2099-12-31T23:59:59.999Z
            1_709_251_199_001,  // 2024-02-29T23:59:59.001Z
            32_503_679_999_999, // 2999-12-31T23:59:59.999Z
        ];
        for ms in samples {
            let mut ours = String::new();
            write_timestamp(&mut ours, ms);
            let theirs = jiff::Timestamp::from_millisecond(ms).unwrap();
            assert_eq!(ours, format!("{theirs:.3}"), "{ms}");
        }
        for day in 0..20_000i64 {
            let ms = day * DAY + 123;
            let d = Date::of(ms);
            let z = jiff::Timestamp::from_millisecond(ms)
                .unwrap()
                .to_zoned(jiff::tz::TimeZone::UTC);
            assert_eq!(
                (d.year, d.month, d.day),
                (i64::from(z.year()), z.month() as u32, z.day() as u32)
            );
            assert_eq!(
                Date::weekday(ms),
                z.weekday().to_monday_zero_offset() as u32
            );
        }
    }
}
