//! Event time: parsing RFC 3339 timestamps and Segment's clock-skew correction.
//!
//! Devices' clocks are wrong. Segment's rule corrects for that with the two clocks it can compare:
//! `timestamp = receivedAt - (sentAt - originalTimestamp)`, i.e. the event happened as long before
//! the server received it as the device thought it happened before it sent it.

use jiff::SignedDuration;
pub use jiff::Timestamp;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "`{0}` is not an RFC 3339 timestamp (expected e.g. 2024-05-01T12:30:00Z or 2024-05-01T14:30:00.250+02:00)"
    )]
    Malformed(String),
    #[error("`{0}` has no UTC offset; add `Z` or an offset such as +02:00")]
    NoOffset(String),
    #[error("`{0}` is outside the supported years 1970 to 2999")]
    OutOfRange(String),
}

fn earliest() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn latest() -> Timestamp {
    // 3000-01-01T00:00:00Z
    Timestamp::from_second(32_503_680_000).expect("valid constant")
}

/// Parses an RFC 3339 timestamp with `Z` or an offset, with or without fractional seconds.
pub fn parse_timestamp(s: &str) -> Result<Timestamp, TimestampError> {
    match s.parse::<Timestamp>() {
        Ok(ts) if ts < earliest() || ts >= latest() => {
            Err(TimestampError::OutOfRange(s.to_owned()))
        }
        Ok(ts) => Ok(ts),
        Err(_) => {
            // Tell apart "no offset" (a common client bug) from plain garbage.
            if s.parse::<jiff::civil::DateTime>().is_ok() {
                Err(TimestampError::NoOffset(s.to_owned()))
            } else {
                Err(TimestampError::Malformed(s.to_owned()))
            }
        }
    }
}

/// Applies Segment's clock-skew correction. Without `sent_at` the device's own time is trusted;
/// without a device time the event is taken to have happened when it was received.
pub fn corrected_timestamp(
    received_at: Timestamp,
    sent_at: Option<Timestamp>,
    original: Option<Timestamp>,
) -> Timestamp {
    match (original, sent_at) {
        (Some(original), Some(sent)) => {
            let delay: SignedDuration = sent.duration_since(original);
            received_at.checked_sub(delay).unwrap_or(original)
        }
        (Some(original), None) => original,
        (None, _) => received_at,
    }
}

/// Milliseconds since the Unix epoch, the unit Herald stores and compares event times in.
pub fn to_millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the supported range.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn accepts_z_offsets_and_fractions() {
        assert_eq!(ts("2024-05-01T12:30:00Z"), ts("2024-05-01T14:30:00+02:00"));
        assert_eq!(ts("2024-05-01T12:30:00.250Z").subsec_millisecond(), 250);
        assert_eq!(
            ts("2024-05-01T12:30:00.123456Z").subsec_microsecond(),
            123_456
        );
    }

    #[test]
    fn explains_refusals() {
        assert!(matches!(
            parse_timestamp("2024-05-01T12:30:00"),
            Err(TimestampError::NoOffset(_))
        ));
        assert!(matches!(
            parse_timestamp("yesterday"),
            Err(TimestampError::Malformed(_))
        ));
        assert!(matches!(
            parse_timestamp("2024-13-01T00:00:00Z"),
            Err(TimestampError::Malformed(_))
        ));
        assert!(matches!(
            parse_timestamp("1969-12-31T23:59:59Z"),
            Err(TimestampError::OutOfRange(_))
        ));
    }

    #[test]
    fn skew_correction_follows_segment() {
        // Device clock 1 hour fast: it says it sent at 13:00:10 an event of 13:00:00;
        // the server received it at 12:00:10, so the event happened at 12:00:00.
        let corrected = corrected_timestamp(
            ts("2024-05-01T12:00:10Z"),
            Some(ts("2024-05-01T13:00:10Z")),
            Some(ts("2024-05-01T13:00:00Z")),
        );
        assert_eq!(corrected, ts("2024-05-01T12:00:00Z"));
        assert_eq!(
            corrected_timestamp(ts("2024-05-01T12:00:10Z"), None, None),
            ts("2024-05-01T12:00:10Z")
        );
        let original = ts("2020-01-01T00:00:00Z");
        assert_eq!(
            corrected_timestamp(ts("2024-05-01T12:00:10Z"), None, Some(original)),
            original
        );
    }
}
