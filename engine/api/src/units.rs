//! Docker's human units (github.com/docker/go-units), shared by the daemon (`Up 3 seconds`) and
//! the CLI (`2 weeks ago`, `1.98MB`).

/// go-units `HumanDuration`: "Less than a second", "About a minute", "3 weeks"…
/// Go truncates seconds and minutes and rounds hours; so does this.
pub fn human_duration(seconds: f64) -> String {
    let whole = seconds as i64;
    let minutes = (seconds / 60.0) as i64;
    let hours = (seconds / 3600.0 + 0.5) as i64;
    if whole < 1 {
        "Less than a second".into()
    } else if whole == 1 {
        "1 second".into()
    } else if whole < 60 {
        format!("{whole} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", (seconds / 3600.0) as i64 / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(59.0), "59 seconds");
        assert_eq!(human_duration(60.0), "About a minute");
        assert_eq!(human_duration(119.0), "About a minute");
        assert_eq!(human_duration(120.0), "2 minutes");
        assert_eq!(human_duration(3600.0 * 0.6), "36 minutes");
        assert_eq!(human_duration(3600.0 * 1.2), "About an hour");
        assert_eq!(human_duration(3600.0 * 47.0), "47 hours");
        assert_eq!(human_duration(3600.0 * 24.0 * 3.0), "3 days");
        assert_eq!(human_duration(3600.0 * 24.0 * 15.0), "2 weeks");
        assert_eq!(human_duration(3600.0 * 24.0 * 90.0), "3 months");
        assert_eq!(human_duration(3600.0 * 24.0 * 800.0), "2 years");
    }
}
