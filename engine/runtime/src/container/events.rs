//! `events`: a container's statistics and OOM notifications as JSON lines, shaped as runc's:
//! `{"type":"stats","id":…,"data":{…}}` every `--interval` (or once with `--stats`), and
//! `{"type":"oom","id":…}` each time the container runs out of memory. Unlike runc, which keeps
//! logging errors after the container is deleted, the stream ends when the container is gone.

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cgroups::oom::{OomEvent, OomWatch};
use crate::cgroups::stats::{self, Stats};
use crate::cgroups::{Cgroup, Layout};
use crate::state::{ContainerDir, StateError, Status};

/// One line of the stream.
#[derive(Debug, Serialize)]
pub struct Event {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The container id.
    pub id: String,
    /// The statistics (for `stats`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// Print the container's events on stdout.
pub fn events(root: &Path, id: &str, stats_only: bool, interval: &str) -> Result<()> {
    let interval = parse_duration(interval)?;
    if interval.is_zero() {
        bail!("duration interval must be greater than 0");
    }
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    if dir.status(&record) == Status::Stopped {
        bail!("container with id {id} is not running");
    }
    let cgroup = Cgroup::from_dirs(&Layout::detect()?, &record.cgroup_dirs);
    if stats_only {
        return print(&stats_event(id, &cgroup)?);
    }

    let (sender, events) = mpsc::channel();
    match watch_oom(&cgroup) {
        Ok(mut watch) => {
            let id = id.to_string();
            // The thread ends with the cgroup (or with us, the process being short-lived).
            std::thread::spawn(move || {
                while watch.wait() == OomEvent::Oom {
                    let event = Event {
                        kind: "oom",
                        id: id.clone(),
                        data: None,
                    };
                    if sender.send(event).is_err() {
                        break;
                    }
                }
            });
        }
        Err(err) => tracing::warn!("OOM notifications unavailable: {err}"),
    }
    // As runc: the first statistics come one interval after the start.
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match events.recv_timeout(wait) {
            Ok(event) => print(&event)?,
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                if Instant::now() < next {
                    // The OOM watch ended early (its cgroup is going): keep ticking.
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                next += interval;
                match dir.load() {
                    Err(StateError::NotFound(_)) => return Ok(()),
                    Err(err) => return Err(err.into()),
                    Ok(_) => {}
                }
                match stats_event(id, &cgroup) {
                    Ok(event) => print(&event)?,
                    Err(err) => tracing::error!("{err:#}"),
                }
            }
        }
    }
}

fn stats_event(id: &str, cgroup: &Cgroup) -> Result<Event> {
    let data = stats::read(cgroup).context("cannot read the container's statistics")?;
    Ok(Event {
        kind: "stats",
        id: id.to_string(),
        data: Some(data),
    })
}

fn watch_oom(cgroup: &Cgroup) -> Result<OomWatch> {
    Ok(match cgroup {
        Cgroup::V1(cg) => {
            let dir = cg
                .dir_of("memory")
                .context("the memory cgroup controller is not available")?;
            OomWatch::v1(dir)?
        }
        Cgroup::V2(cg) => OomWatch::v2(&cg.dir)?,
    })
}

/// One JSON line, flushed at once so a reader sees each event as it happens.
fn print(event: &Event) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, event)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A Go duration as runc's `--interval` takes it: `5s`, `500ms`, `1m30s`, `1.5h`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = || anyhow::anyhow!("invalid duration: {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_end);
        let number: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").expect("5s"), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").expect("ms"), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").expect("m s"), Duration::from_secs(90));
        assert_eq!(parse_duration("0").expect("0"), Duration::ZERO);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn an_oom_event_has_no_data() {
        let event = Event {
            kind: "oom",
            id: "c1".to_string(),
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&event).expect("json"),
            r#"{"type":"oom","id":"c1"}"#
        );
    }
}
