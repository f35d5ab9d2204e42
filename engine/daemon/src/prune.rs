//! What a prune may delete: Docker's `until`, `label` and `label!` filters, shared by container,
//! image, network and volume prune. A filter only ever narrows what prune deletes; one Docker
//! does not know is refused before anything is deleted (`server::params`).

use std::collections::BTreeMap;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The filters of one prune request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// Only what was created at or before this time (nanoseconds since the epoch).
    pub until: Option<i128>,
    /// `label=key` or `label=key=value`: all must match.
    pub labels: Vec<String>,
    /// `label!=…`: what matches all of these is kept.
    pub not_labels: Vec<String>,
}

impl PruneFilter {
    /// Whether an object created at `created` (RFC 3339) with `labels` may be pruned.
    pub fn selects(&self, created: &str, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.created_in_time(created) && self.labels_match(labels)
    }

    /// Docker keeps what was created after `until`; a time that can't be read is kept too.
    pub fn created_in_time(&self, created: &str) -> bool {
        let Some(until) = self.until else {
            return true;
        };
        DateTime::parse_from_rfc3339(created).is_ok_and(|t| {
            i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()) <= until
        })
    }

    /// Docker's `matchLabels`: every `label` matches, and not every `label!` does.
    pub fn labels_match(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match_kv_list(&self.labels, labels)
            && (self.not_labels.is_empty() || !match_kv_list(&self.not_labels, labels))
    }
}

/// Go's `filters.Args.MatchKVList`: no filter matches anything; otherwise every `key` or
/// `key=value` must be among `labels`.
fn match_kv_list(filters: &[String], labels: Option<&BTreeMap<String, String>>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return false;
    };
    filters.iter().all(|filter| match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter.as_str()),
    })
}

/// Docker's `timetypes.GetTimestamp` then `ParseTimestamps`: a Go duration before `now` (`10m`,
/// `1h30m`), an RFC 3339 date or time (with or without zone, fraction or seconds), or Unix
/// seconds with an optional fraction. Returns nanoseconds since the epoch, or Docker's message.
pub fn parse_until(value: &str, now: DateTime<Utc>) -> Result<i128, String> {
    if value != "0" {
        if let Some(nanos) = go_duration(value) {
            // Docker keeps only the seconds of `now - duration`.
            let seconds = (i128::from(now.timestamp()) * 1_000_000_000 - nanos).div_euclid(1_000_000_000);
            return Ok(seconds * 1_000_000_000);
        }
    }
    match go_date(value) {
        Some(Ok(nanos)) => return Ok(nanos),
        Some(Err(layout)) if value.contains('-') => {
            return Err(format!(
                "parsing time {value:?} as {layout:?}: cannot parse {value:?} as \"2006\""
            ));
        }
        _ => {}
    }
    unix_timestamp(value).ok_or_else(|| format!("failed to parse value as time or duration: {value:?}"))
}

/// `SECONDS[.FRACTION]` (Docker's `parseTimestamp`), in nanoseconds.
fn unix_timestamp(value: &str) -> Option<i128> {
    let (seconds, fraction) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let seconds = i128::from(seconds.parse::<i64>().ok()?);
    let nanos = match fraction {
        None => 0,
        Some(f) => {
            let n = f.parse::<i64>().ok()?;
            // Go scales the fraction to nine digits (as a float, so a long one saturates).
            (n as f64 * 10f64.powi(9 - f.len() as i32)) as i128
        }
    };
    Some(seconds * 1_000_000_000 + nanos)
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with ns, us, µs, ms, s, m, h.
fn go_duration(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
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
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * scale;
        rest = next;
    }
    let nanos = total as i128;
    Some(if negative { -nanos } else { nanos })
}

/// The RFC 3339-like layouts Docker tries, chosen by the text's shape as `GetTimestamp` does:
/// `Some(Ok(nanos))` parsed, `Some(Err(layout))` did not parse with the layout chosen.
fn go_date(value: &str) -> Option<Result<i128, &'static str>> {
    let zoned = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    let with_zone = |layout: &'static str, format: &str| {
        Some(
            DateTime::parse_from_str(&value.replace('z', "Z"), format)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .map(i128::from)
                .ok_or(layout),
        )
    };
    let local = |layout: &'static str, naive: Option<NaiveDateTime>| {
        Some(
            naive
                .and_then(|n| Local.from_local_datetime(&n).earliest())
                .and_then(|t| t.timestamp_nanos_opt())
                .map(i128::from)
                .ok_or(layout),
        )
    };
    let colons = value.matches(':').count();
    if value.contains('.') {
        return if zoned {
            with_zone("2006-01-02T15:04:05.999999999Z07:00", "%Y-%m-%dT%H:%M:%S%.f%#z")
        } else {
            local(
                "2006-01-02T15:04:05.999999999",
                NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").ok(),
            )
        };
    }
    if value.contains('T') {
        if zoned {
            // A `+07:00` zone has a colon of its own.
            let time_colons = if value.contains(['z', 'Z']) {
                colons
            } else {
                colons.saturating_sub(1)
            };
            return match time_colons {
                0 => with_zone("2006-01-02T15Z07:00", "%Y-%m-%dT%H%#z"),
                1 => with_zone("2006-01-02T15:04Z07:00", "%Y-%m-%dT%H:%M%#z"),
                _ => with_zone("2006-01-02T15:04:05Z07:00", "%Y-%m-%dT%H:%M:%S%#z"),
            };
        }
        let (layout, format) = match colons {
            0 => ("2006-01-02T15", "%Y-%m-%dT%H"),
            1 => ("2006-01-02T15:04", "%Y-%m-%dT%H:%M"),
            _ => ("2006-01-02T15:04:05", "%Y-%m-%dT%H:%M:%S"),
        };
        return local(layout, NaiveDateTime::parse_from_str(value, format).ok());
    }
    if zoned {
        let date = value
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let zone = value.get(10..).unwrap_or_default();
        let offset = if zone.eq_ignore_ascii_case("z") {
            Some(0)
        } else {
            DateTime::parse_from_str(&format!("2000-01-01T00:00:00{zone}"), "%Y-%m-%dT%H:%M:%S%#z")
                .ok()
                .map(|t| t.offset().local_minus_utc())
        };
        return Some(
            date.zip(offset)
                .and_then(|(d, off)| d.and_hms_opt(0, 0, 0).map(|n| (n, off)))
                .and_then(|(n, off)| {
                    n.and_utc()
                        .timestamp_nanos_opt()
                        .map(|t| i128::from(t) - i128::from(off) * 1_000_000_000)
                })
                .ok_or("2006-01-02Z07:00"),
        );
    }
    local(
        "2006-01-02",
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_select_as_dockers_match_labels() {
        let keep = PruneFilter {
            labels: vec!["tier=web".into()],
            ..Default::default()
        };
        assert!(keep.labels_match(Some(&labels(&[("tier", "web")]))));
        assert!(!keep.labels_match(Some(&labels(&[("tier", "db")]))));
        assert!(!keep.labels_match(None));
        let not = PruneFilter {
            not_labels: vec!["keep".into()],
            ..Default::default()
        };
        assert!(!not.labels_match(Some(&labels(&[("keep", "")]))));
        assert!(not.labels_match(Some(&labels(&[("other", "")]))));
        assert!(not.labels_match(None));
        assert!(PruneFilter::default().labels_match(None));
    }

    #[test]
    fn until_reads_as_dockers_get_timestamp() {
        let now = Utc.timestamp_opt(1_700_000_000, 500).single().unwrap();
        let s = |secs: i128| secs * 1_000_000_000;
        assert_eq!(parse_until("10m", now), Ok(s(1_700_000_000 - 600)));
        assert_eq!(parse_until("1h30m", now), Ok(s(1_700_000_000 - 5400)));
        assert_eq!(parse_until("1600000000", now), Ok(s(1_600_000_000)));
        assert_eq!(
            parse_until("1600000000.5", now),
            Ok(s(1_600_000_000) + 500_000_000)
        );
        assert_eq!(parse_until("0", now), Ok(0));
        assert_eq!(parse_until("2020-01-01T00:00:00Z", now), Ok(s(1_577_836_800)));
        assert_eq!(
            parse_until("2020-01-01T00:00:00.25Z", now),
            Ok(s(1_577_836_800) + 250_000_000)
        );
        assert_eq!(
            parse_until("2020-01-01T01:00:00+01:00", now),
            Ok(s(1_577_836_800))
        );
        assert_eq!(parse_until("2020-01-01Z", now), Ok(s(1_577_836_800)));
        assert_eq!(
            parse_until("garbage", now),
            Err("failed to parse value as time or duration: \"garbage\"".into())
        );
        assert_eq!(
            parse_until("-5", now),
            Err("parsing time \"-5\" as \"2006-01-02\": cannot parse \"-5\" as \"2006\"".into())
        );
    }

    #[test]
    fn until_keeps_what_came_after_it() {
        let filter = PruneFilter {
            until: Some(1_577_836_800 * 1_000_000_000),
            ..Default::default()
        };
        assert!(filter.created_in_time("2020-01-01T00:00:00Z"));
        assert!(filter.created_in_time("2019-12-31T23:59:59.9Z"));
        assert!(!filter.created_in_time("2020-01-01T00:00:00.000000001Z"));
        assert!(!filter.created_in_time("not a time"));
        assert!(filter.created_in_time("0001-01-01T00:00:00Z"));
    }
}
