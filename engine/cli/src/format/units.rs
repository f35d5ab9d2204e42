//! Docker's units (docker/go-units) and the time and id forms its CLI prints.

use chrono::{DateTime, Local, TimeDelta, TimeZone, Utc};

use super::template::printf::format_g;

const DECIMAL_UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Divide by `base` until below it (or out of units), as go-units' `getSizeAndUnit`.
fn size_and_unit(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits
/// ("1.24MB", "4.86kB", "0B") — the sizes of `docker images`, `ps -s`, `history`.
pub fn human_size(size: u64) -> String {
    human_size_with_precision(size as f64, 3)
}

/// go-units `HumanSizeWithPrecision`; precision 4 is go-units `HumanSize` ("1.982MB"),
/// which Docker uses for the images' `.VirtualSize`, `.SharedSize` and volumes' `.Size`.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (size, unit) = size_and_unit(size, 1000.0, DECIMAL_UNITS);
    format!("{}{unit}", format_g(size, precision))
}

/// go-units `BytesSize`: binary units, 4 significant digits ("1.944GiB"), as `docker info` prints memory.
pub fn human_size_binary(size: u64) -> String {
    let (size, unit) = size_and_unit(size as f64, 1024.0, BINARY_UNITS);
    format!("{}{unit}", format_g(size, 4))
}

/// go-units `HumanDuration`: "Less than a second", "About a minute", "2 weeks", "3 months"…
pub fn human_duration(duration: TimeDelta) -> String {
    let nanos = duration
        .num_nanoseconds()
        .map_or(duration.num_seconds() as f64 * 1e9, |n| n as f64);
    berth_api::units::human_duration(nanos / 1e9)
}

/// The time since `then`, as Docker's CLI prints CREATED: "5 minutes ago".
pub fn time_ago_at(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", human_duration(now - then))
}

/// [`time_ago_at`] from a Unix time in seconds (the API's `Created`) to now.
pub fn time_ago(created: i64) -> String {
    time_ago_at(unix(created), Utc::now())
}

fn unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

/// Go's `time.Time.String()` in the local zone: "2026-11-28 03:56:58 +0000 UTC", with
/// nanoseconds when there are any ("03:29:02.194721794"), as `CreatedAt` columns print.
pub fn go_time_string(time: DateTime<Utc>) -> String {
    let local = time.with_timezone(&Local);
    let mut out = local.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = local.timestamp_subsec_nanos();
    if nanos > 0 {
        out.push_str(format!(".{nanos:09}").trim_end_matches('0'));
    }
    let offset = local.format("%z").to_string();
    // Go names the zone; without a zone database we know UTC's name and show others numerically.
    let zone = if offset == "+0000" {
        "UTC".to_string()
    } else {
        offset.clone()
    };
    format!("{out} {offset} {zone}")
}

/// [`go_time_string`] of a Unix time in seconds: images' and containers' `CreatedAt`.
pub fn local_time(created: i64) -> String {
    go_time_string(unix(created))
}

/// [`go_time_string`] of an RFC 3339 time from the API (networks' `Created`);
/// text that is not RFC 3339 comes back unchanged.
pub fn local_time_rfc3339(text: &str) -> String {
    DateTime::parse_from_rfc3339(text).map_or_else(|_| text.to_string(), |t| go_time_string(t.to_utc()))
}

/// Go's `Format(time.RFC3339)` of a Unix time in the local zone: history's `CreatedAt`
/// ("2026-11-28T03:56:58Z").
pub fn rfc3339_local(created: i64) -> String {
    let local = unix(created).with_timezone(&Local);
    if local.offset().local_minus_utc() == 0 {
        local.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Docker's `stringid.TruncateID`: drop an algorithm prefix (`sha256:`), keep 12 characters.
pub fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, hex)| hex);
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4860), "4.86kB");
        assert_eq!(human_size(1_982_284), "1.98MB");
        assert_eq!(human_size(1_240_000), "1.24MB");
        assert_eq!(human_size(999_900), "1e+03kB");
        assert_eq!(human_size_with_precision(1_982_284.0, 4), "1.982MB");
        assert_eq!(human_size(5_000_000_000_000), "5TB");
        assert_eq!(human_size_binary(2_087_473_152), "1.944GiB");
        assert_eq!(human_size_binary(512), "512B");
    }

    #[test]
    fn durations_match_go_units() {
        let d = |s: i64| human_duration(TimeDelta::seconds(s));
        assert_eq!(human_duration(TimeDelta::milliseconds(400)), "Less than a second");
        assert_eq!(d(-5), "Less than a second");
        assert_eq!(d(1), "1 second");
        assert_eq!(d(59), "59 seconds");
        assert_eq!(d(60), "About a minute");
        assert_eq!(d(119), "About a minute");
        assert_eq!(d(120), "2 minutes");
        assert_eq!(d(59 * 60 + 59), "59 minutes");
        assert_eq!(d(3600), "About an hour");
        assert_eq!(d(3600 + 1799), "About an hour");
        assert_eq!(d(3600 + 1800), "2 hours");
        assert_eq!(d(47 * 3600), "47 hours");
        assert_eq!(d(48 * 3600), "2 days");
        assert_eq!(d(13 * 86400), "13 days");
        assert_eq!(d(14 * 86400), "2 weeks");
        assert_eq!(d(59 * 86400), "8 weeks");
        assert_eq!(d(60 * 86400), "2 months");
        assert_eq!(d(729 * 86400), "24 months");
        assert_eq!(d(730 * 86400), "2 years");
    }

    #[test]
    fn ago_and_times() {
        let now = unix(1_800_000_000);
        assert_eq!(time_ago_at(unix(1_800_000_000 - 31), now), "31 seconds ago");
        assert_eq!(truncate_id("sha256:56f40399b23df2614e3ebe2e"), "56f40399b23d");
        assert_eq!(truncate_id("<missing>"), "<missing>");
    }

    #[test]
    fn go_time_strings() {
        // The expected text depends on the local zone; in UTC (CI, the lab VM) Go prints these.
        if Local
            .offset_from_utc_datetime(&unix(0).naive_utc())
            .local_minus_utc()
            == 0
        {
            assert_eq!(local_time(1_795_838_218), "2026-11-28 03:56:58 +0000 UTC");
            assert_eq!(rfc3339_local(1_795_838_218), "2026-11-28T03:56:58Z");
            assert_eq!(
                local_time_rfc3339("2026-11-28T03:29:02.15876558Z"),
                "2026-11-28 03:29:02.15876558 +0000 UTC"
            );
        }
    }
}
