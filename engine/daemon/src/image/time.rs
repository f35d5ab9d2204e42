//! Times as Docker writes them: RFC 3339 with nanoseconds, UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, as `2026-11-28T03:34:52.88369788Z` (trailing zeros of the fraction trimmed, as Go does).
pub fn now_rfc3339() -> String {
    format_rfc3339(Utc::now())
}

pub fn format_rfc3339(time: DateTime<Utc>) -> String {
    let s = time.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // Go's RFC3339Nano drops trailing zeros of the fraction, and the dot when nothing is left.
    match s.strip_suffix('Z').and_then(|body| body.split_once('.')) {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{whole}Z")
            } else {
                format!("{whole}.{fraction}Z")
            }
        }
        None => s,
    }
}

/// Unix seconds of an RFC 3339 time, 0 when it can't be read.
pub fn parse_unix(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_trimmed_like_go() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T03:34:52.883697880Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_rfc3339(t), "2026-11-28T03:34:52.88369788Z");
        let t = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_rfc3339(t), "2020-01-01T00:00:00Z");
        assert_eq!(parse_unix("2020-01-01T00:00:00Z"), 1577836800);
    }
}
