//! RFC 3339 timestamps in UTC, the way Go (and so Docker) formats them.

use chrono::{DateTime, Utc};

/// Go's `time.RFC3339Nano` in UTC: nanoseconds with trailing zeros trimmed
/// (`2026-11-28T03:30:00.1234Z`, or no fraction at all on a whole second). Docker writes log
/// times and `State.FinishedAt` this way.
pub fn rfc3339_nano(time: DateTime<Utc>) -> String {
    let fixed = rfc3339_nano_fixed(time);
    // "…:SS.123400000Z": trim zeros of the fraction, then the dot if nothing is left.
    let without_z = &fixed[..fixed.len() - 1];
    let trimmed = without_z.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}Z")
}

/// RFC 3339 with exactly nine fraction digits in UTC (`2026-11-28T03:30:00.123400000Z`), the
/// format of explain events.
pub fn rfc3339_nano_fixed(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The current time in Go's RFC3339Nano.
pub fn now_rfc3339_nano() -> String {
    rfc3339_nano(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(nanos: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 3, 30, 5).unwrap() + chrono::Duration::nanoseconds(nanos.into())
    }

    #[test]
    fn trims_trailing_zeros_like_go() {
        assert_eq!(rfc3339_nano(at(123_400_000)), "2026-11-28T03:30:05.1234Z");
        assert_eq!(rfc3339_nano(at(1)), "2026-11-28T03:30:05.000000001Z");
    }

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(rfc3339_nano(at(0)), "2026-11-28T03:30:05Z");
    }

    #[test]
    fn fixed_keeps_nine_digits() {
        assert_eq!(
            rfc3339_nano_fixed(at(123_400_000)),
            "2026-11-28T03:30:05.123400000Z"
        );
        assert_eq!(rfc3339_nano_fixed(at(0)), "2026-11-28T03:30:05.000000000Z");
    }

    #[test]
    fn parses_back_as_rfc3339() {
        let text = rfc3339_nano(at(987_654_321));
        let parsed = DateTime::parse_from_rfc3339(&text).unwrap();
        assert_eq!(parsed.with_timezone(&Utc), at(987_654_321));
    }
}
