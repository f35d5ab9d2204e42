//! `--since` and `--until` values as Docker's `timetypes.GetTimestamp` reads them: a Go duration
//! before now (`10m`, `1h30m`), an RFC 3339 date or date-time (with or without a zone: without
//! one it is local time), or Unix seconds (`1700000000.5`). The daemon gets `seconds.nanoseconds`.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The value to send for `value`, relative to `now`; the error is Docker's text.
pub fn get_timestamp(value: &str, now: DateTime<Utc>) -> Result<String, String> {
    if value != "0" {
        if let Some(nanos) = parse_go_duration(value) {
            let then = now - chrono::TimeDelta::nanoseconds(nanos);
            return Ok(then.timestamp().to_string());
        }
    }
    let has_zone = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    if let Some(time) = parse_date_time(value, has_zone) {
        return Ok(format!(
            "{}.{:09}",
            time.timestamp(),
            time.timestamp_subsec_nanos()
        ));
    }
    if value.contains('-') || !is_unix_timestamp(value) {
        return Err(format!("failed to parse value as time or duration: {value:?}"));
    }
    Ok(value.to_owned())
}

/// `123` or `123.456`: already what the daemon wants.
fn is_unix_timestamp(value: &str) -> bool {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    !seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn parse_date_time(value: &str, has_zone: bool) -> Option<DateTime<Utc>> {
    if has_zone {
        let normalized = value.replacen('z', "Z", 1).replacen('Z', "+00:00", 1);
        if let Ok(t) = DateTime::parse_from_rfc3339(&normalized) {
            return Some(t.with_timezone(&Utc));
        }
        // `2006-01-02T15Z07:00` and `2006-01-02T15:04Z07:00`: the missing fields are zero.
        for format in ["%Y-%m-%dT%H%#z", "%Y-%m-%dT%H:%M%#z"] {
            if let Ok(t) = DateTime::parse_from_str(&normalized, format) {
                return Some(t.with_timezone(&Utc));
            }
        }
        // `2006-01-02Z07:00`: midnight in that zone.
        let (date, zone) = (normalized.get(..10)?, normalized.get(10..)?);
        let midnight = DateTime::parse_from_rfc3339(&format!("{date}T00:00:00{zone}")).ok()?;
        return Some(midnight.with_timezone(&Utc));
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return local(naive);
        }
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(&format!("{value}:00"), "%Y-%m-%dT%H:%M") {
        return local(naive);
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return local(date.and_hms_opt(0, 0, 0)?);
    }
    None
}

/// Go's `time.ParseDuration` in nanoseconds: `300ms`, `-1.5h`, `2h45m`. A bare `0` is zero.
pub fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." {
            return None;
        }
        let number: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * unit;
    }
    let nanos = total.round() as i64;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    #[test]
    fn durations_count_back_from_now_in_whole_seconds() {
        assert_eq!(
            get_timestamp("10m", now()).unwrap(),
            (now().timestamp() - 600).to_string()
        );
        assert_eq!(
            get_timestamp("1h30m", now()).unwrap(),
            (now().timestamp() - 5400).to_string()
        );
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("10"), None);
    }

    #[test]
    fn dates_with_a_zone_and_unix_seconds() {
        assert_eq!(
            get_timestamp("2026-11-28T12:00:00Z", now()).unwrap(),
            "1795867200.000000000"
        );
        assert_eq!(
            get_timestamp("2026-11-28T13:00:00.5+01:00", now()).unwrap(),
            "1795867200.500000000"
        );
        assert_eq!(get_timestamp("1795867200.25", now()).unwrap(), "1795867200.25");
        assert_eq!(get_timestamp("0", now()).unwrap(), "0");
        assert_eq!(
            get_timestamp("bogus", now()).unwrap_err(),
            "failed to parse value as time or duration: \"bogus\""
        );
    }

    #[test]
    fn dates_without_a_zone_are_local_time() {
        let local = Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 11, 28)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(
            get_timestamp("2026-11-28", now()).unwrap(),
            format!("{}.000000000", local.timestamp())
        );
        assert_eq!(
            get_timestamp("2026-11-28T10:15", now()).unwrap(),
            format!("{}.000000000", local.timestamp() + 10 * 3600 + 15 * 60)
        );
    }
}
