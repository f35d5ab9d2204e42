//! Healthchecks (`HEALTHCHECK`, `--health-cmd`): while a container runs, its test command runs
//! in it every interval, as an exec of its own; the status goes from `starting` to `healthy` on a
//! success, and to `unhealthy` after `retries` failures in a row (failures during the start
//! period do not count). Each change is an event (`health_status: healthy`), the last five probes
//! are kept, and `docker ps` shows the status — dockerd's `daemon/health.go`, step for step.

use std::sync::Arc;
use std::time::Duration;

use berth_api::types::{ExecConfig, Health, HealthConfig, HealthcheckResult};
use tokio::io::AsyncReadExt;

use super::record::Status;
use super::{Container, Containers};
use crate::image::time;

/// Docker's defaults for what the healthcheck leaves at zero.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: i64 = 3;
/// Probes kept in `State.Health.Log`.
const KEPT_PROBES: usize = 5;
/// Bytes of a probe's output kept.
const KEPT_OUTPUT: usize = 4096;

/// A container's healthcheck with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    command: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    retries: i64,
}

impl Check {
    /// The check `config` asks for; none without a test or with `NONE`.
    fn of(config: Option<&HealthConfig>) -> Option<Check> {
        let config = config?;
        let test = config.test.as_deref().unwrap_or_default();
        let command = match test.split_first() {
            Some((kind, args)) if kind == "CMD" && !args.is_empty() => args.to_vec(),
            Some((kind, [shell])) if kind == "CMD-SHELL" => {
                vec!["/bin/sh".into(), "-c".into(), shell.clone()]
            }
            _ => return None,
        };
        let duration = |ns: i64, default: Duration| {
            if ns > 0 {
                Duration::from_nanos(ns as u64)
            } else {
                default
            }
        };
        Some(Check {
            command,
            interval: duration(config.interval, DEFAULT_INTERVAL),
            timeout: duration(config.timeout, DEFAULT_TIMEOUT),
            start_period: duration(config.start_period, Duration::ZERO),
            retries: if config.retries > 0 {
                config.retries
            } else {
                DEFAULT_RETRIES
            },
        })
    }
}

impl Containers {
    /// Watch the health of a container that has just started (or was found running): status
    /// `starting`, then a probe every interval for as long as this run of it lasts.
    pub(super) fn watch_health(&self, container: &Arc<Container>) {
        let record = container.record();
        let Some(check) = Check::of(record.config.healthcheck.as_ref()) else {
            return;
        };
        let run = record.state.started_at.clone();
        let began = tokio::time::Instant::now();
        if container
            .update(&self.inner.tmp, |r| {
                r.state.health = Some(Health {
                    status: "starting".into(),
                    ..Health::default()
                })
            })
            .is_err()
        {
            return;
        }
        let (this, container) = (self.clone(), container.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(check.interval).await;
                let state = container.record().state;
                if state.started_at != run || !state.status.is_running() {
                    return;
                }
                // A frozen container cannot run a probe; it is tried again next interval.
                if state.status == Status::Paused {
                    continue;
                }
                let result = this.probe(&container, &check).await;
                let in_start_period = began.elapsed() < check.start_period;
                this.record_probe(&container, &run, result, check.retries, in_start_period);
            }
        });
    }

    /// Run the test command once, as an exec; its exit code and output (a timeout is -1).
    async fn probe(&self, container: &Container, check: &Check) -> HealthcheckResult {
        let start = time::now_rfc3339();
        let (exit_code, output) =
            match tokio::time::timeout(check.timeout, self.run_probe(container, check)).await {
                Ok(Ok(done)) => done,
                Ok(Err(message)) => (-1, message),
                Err(_) => (
                    -1,
                    format!("Health check exceeded timeout ({})", go_duration(check.timeout)),
                ),
            };
        HealthcheckResult {
            start,
            end: time::now_rfc3339(),
            exit_code,
            output,
        }
    }

    async fn run_probe(&self, container: &Container, check: &Check) -> Result<(i64, String), String> {
        let config = ExecConfig {
            cmd: check.command.clone(),
            attach_stdout: true,
            attach_stderr: true,
            ..ExecConfig::default()
        };
        let exec_id = self
            .exec_create(&container.id, config)
            .map_err(|e| e.to_string())?;
        let started = self
            .exec_start(&exec_id, false)
            .await
            .map_err(|e| e.to_string())?;
        let (Some(stream), Some(launch)) = (started.stream, started.launch) else {
            return Err("the probe has no output stream".into());
        };
        launch.run().await.map_err(|e| e.to_string())?;
        let mut framed = Vec::new();
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(stream))
            .map_err(|e| e.to_string())?;
        // At most what is kept, and a little more to cut at a frame's end.
        let _ = stream
            .take((KEPT_OUTPUT * 2) as u64)
            .read_to_end(&mut framed)
            .await;
        let _ = self.exec_wait(&exec_id).await;
        let exit_code = self
            .exec_inspect(&exec_id)
            .ok()
            .and_then(|e| e.exit_code)
            .unwrap_or(-1);
        let mut output = unframe(&framed);
        output.truncate(KEPT_OUTPUT);
        Ok((exit_code, String::from_utf8_lossy(&output).into_owned()))
    }

    /// dockerd's `handleProbeResult`: the new status, the streak, the log; an event on a change.
    fn record_probe(
        &self,
        container: &Container,
        run: &str,
        result: HealthcheckResult,
        retries: i64,
        in_start_period: bool,
    ) {
        let changed = container.update(&self.inner.tmp, |record| {
            if record.state.started_at != run {
                return None;
            }
            let health = record.state.health.get_or_insert_with(Health::default);
            let before = health.status.clone();
            if result.exit_code == 0 {
                health.failing_streak = 0;
                health.status = "healthy".into();
            } else if !(in_start_period && health.status == "starting") {
                health.failing_streak += 1;
                if health.failing_streak >= retries {
                    health.status = "unhealthy".into();
                }
            }
            health.log.push(result);
            let excess = health.log.len().saturating_sub(KEPT_PROBES);
            health.log.drain(..excess);
            (health.status != before).then(|| health.status.clone())
        });
        if let Ok(Some(status)) = changed {
            crate::explain!(container = %container.id, "the healthcheck of container {} found it {status}", container.record().short_id());
            self.event(container, &format!("health_status: {status}"), &[]);
        }
    }
}

/// The bytes of Docker's multiplexed frames (stdout and stderr as they came).
fn unframe(mut framed: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(Ok(size)) = framed.get(4..8).map(<[u8; 4]>::try_from) {
        let end = (8 + u32::from_be_bytes(size) as usize).min(framed.len());
        bytes.extend_from_slice(framed.get(8..end).unwrap_or_default());
        framed = framed.get(end..).unwrap_or_default();
    }
    bytes
}

/// A duration as Go prints it (`30s`, `1.5s`, `100ms`).
fn go_duration(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{}ms", duration.as_millis())
    } else {
        let seconds = duration.as_secs_f64();
        format!("{}s", (seconds * 1000.0).round() / 1000.0)
    }
}

/// The `(…)` Docker's `docker ps` adds after `Up …`: `(healthy)`, `(health: starting)`.
pub fn status_suffix(health: Option<&Health>) -> String {
    match health.map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)".into(),
        Some(status) if !status.is_empty() => format!(" ({status})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(test: &[&str]) -> HealthConfig {
        HealthConfig {
            test: Some(test.iter().map(|s| s.to_string()).collect()),
            ..HealthConfig::default()
        }
    }

    #[test]
    fn tests_read_as_docker_reads_them() {
        let shell = Check::of(Some(&config(&["CMD-SHELL", "exit 0"]))).unwrap();
        assert_eq!(shell.command, ["/bin/sh", "-c", "exit 0"]);
        assert_eq!(
            (shell.interval, shell.timeout, shell.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, 3)
        );
        assert_eq!(
            Check::of(Some(&config(&["CMD", "true"]))).unwrap().command,
            ["true"]
        );
        assert_eq!(Check::of(Some(&config(&["NONE"]))), None);
        assert_eq!(Check::of(Some(&config(&[]))), None);
        assert_eq!(Check::of(None), None);
    }

    #[test]
    fn frames_unwrap_to_their_bytes() {
        let mut framed = vec![1, 0, 0, 0, 0, 0, 0, 3];
        framed.extend_from_slice(b"out");
        framed.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        framed.extend_from_slice(b"err\n");
        assert_eq!(unframe(&framed), b"outerr\n");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(100)), "100ms");
    }

    #[test]
    fn ps_shows_the_status_as_docker() {
        let health = |status: &str| Health {
            status: status.into(),
            ..Health::default()
        };
        assert_eq!(status_suffix(Some(&health("starting"))), " (health: starting)");
        assert_eq!(status_suffix(Some(&health("healthy"))), " (healthy)");
        assert_eq!(status_suffix(None), "");
    }
}
