//! Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`, `1m30.5s`, in nanoseconds, with Go's
//! errors (`time: unknown unit "x" in duration "5x"`), for the durations Docker reads from users
//! (a Dockerfile's `HEALTHCHECK --interval`, a CLI's `--health-interval`).

use std::fmt;

use crate::go_quote::go_quote;

/// A duration Go refuses, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

/// Nanoseconds in each unit Go knows.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

const LIMIT: u64 = 1 << 63;

/// Parse `text` as Go's `time.ParseDuration` does: nanoseconds, or Go's error.
pub fn parse_go_duration(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError(format!("time: invalid duration {}", go_quote(text)));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        // The whole part (an overflow is an invalid duration).
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let mut whole: u64 = 0;
        for digit in rest[..digits].bytes() {
            if whole > LIMIT / 10 {
                return Err(invalid());
            }
            whole = whole * 10 + u64::from(digit - b'0');
            if whole > LIMIT {
                return Err(invalid());
            }
        }
        let had_whole = digits > 0;
        rest = &rest[digits..];
        // The fraction: digits past what fits are ignored.
        let (mut fraction, mut scale, mut had_fraction) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let digits = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            let mut overflow = false;
            for digit in after_dot[..digits].bytes() {
                if overflow || fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                fraction = fraction * 10 + u64::from(digit - b'0');
                scale *= 10.0;
            }
            had_fraction = digits > 0;
            rest = &after_dot[digits..];
        }
        if !had_whole && !had_fraction {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(DurationError(format!(
                "time: missing unit in duration {}",
                go_quote(text)
            )));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit = unit_nanos(unit_text).ok_or_else(|| {
            DurationError(format!(
                "time: unknown unit {} in duration {}",
                go_quote(unit_text),
                go_quote(text)
            ))
        })?;
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_gos() {
        let cases = [
            ("0", 0),
            ("5s", 5_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5s", 1_500_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("100ms", 100_000_000),
            ("-1h", -3_600_000_000_000),
            ("+2us", 2_000),
            ("3\u{b5}s", 3_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn errors_read_as_gos() {
        let error = |text: &str| parse_go_duration(text).unwrap_err().to_string();
        // Docker 20.10 printed this one for `HEALTHCHECK --interval=5x`.
        assert_eq!(error("5x"), r#"time: unknown unit "x" in duration "5x""#);
        assert_eq!(error("5"), r#"time: missing unit in duration "5""#);
        assert_eq!(error(""), r#"time: invalid duration """#);
        assert_eq!(error("-"), r#"time: invalid duration "-""#);
        assert_eq!(error(".s"), r#"time: invalid duration ".s""#);
        assert_eq!(error("s"), r#"time: invalid duration "s""#);
        assert_eq!(
            error("9223372036854775808ns"),
            r#"time: invalid duration "9223372036854775808ns""#
        );
        assert_eq!(
            error("99999999999999999999h"),
            r#"time: invalid duration "99999999999999999999h""#
        );
    }
}
