//! `docker logs`: read the json-file log the shim writes, and follow it while the container runs.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use berth_shim::frame::{Stream, push_frame};
use berth_shim::json_log::LogEntry;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ContainerError, Containers};

/// What `GET /containers/{id}/logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only lines at or after this Unix time.
    pub since: Option<f64>,
    /// Only lines before this Unix time.
    pub until: Option<f64>,
}

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

fn unix_of(rfc3339: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
        .unwrap_or(0.0)
}

/// A log time as Docker prints it with `--timestamps`: always nine fraction digits
/// (Go's `RFC3339NanoFixed`), though the json-file log trims trailing zeros.
fn fixed_nanos(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(time) => time
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.9fZ")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

impl LogOptions {
    fn wants(&self, entry: &LogEntry) -> bool {
        let stream_ok = match entry.stream.as_str() {
            "stderr" => self.stderr,
            _ => self.stdout,
        };
        let time = unix_of(&entry.time);
        stream_ok && self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }

    /// One entry as the client receives it: framed without a tty, raw with one.
    fn render(&self, entry: &LogEntry, tty: bool, out: &mut Vec<u8>) {
        let mut text = String::new();
        if self.timestamps {
            text.push_str(&fixed_nanos(&entry.time));
            text.push(' ');
        }
        text.push_str(&entry.log);
        if tty {
            out.extend_from_slice(text.as_bytes());
        } else {
            let stream = if entry.stream == "stderr" {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            push_frame(out, stream, text.as_bytes());
        }
    }
}

impl Containers {
    /// Stream a container's log: returns whether it has a tty (raw output) and the chunks.
    pub fn logs(
        &self,
        name: &str,
        options: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<Bytes>), ContainerError> {
        if !options.stdout && !options.stderr {
            return Err(ContainerError::BadRequest(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        let container = self.get(name)?;
        let record = container.record();
        let tty = record.config.tty;
        let path = container.paths.log(&record.id);
        let (sender, receiver) = mpsc::channel(16);
        let mut exits = container.exits.subscribe();
        exits.mark_unchanged();
        let mut removed = container.removed.subscribe();
        let running_at_start = record.state.status.is_running();
        tokio::spawn(async move {
            let Ok(file) = tokio::task::spawn_blocking({
                let path = path.clone();
                move || std::fs::File::open(path)
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e))) else {
                return;
            };
            let mut reader = BufReader::new(file);
            // The backlog first (its last N lines with --tail), then what is appended.
            let mut backlog: Vec<LogEntry> = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
                if let Ok(entry) = serde_json::from_str::<LogEntry>(&line) {
                    if options.wants(&entry) {
                        backlog.push(entry);
                    }
                }
                line.clear();
            }
            let skip = options.tail.map_or(0, |n| backlog.len().saturating_sub(n));
            let mut out = Vec::new();
            for entry in &backlog[skip..] {
                options.render(entry, tty, &mut out);
                if out.len() > 64 * 1024 && sender.send(Bytes::from(std::mem::take(&mut out))).await.is_err()
                {
                    return;
                }
            }
            if !out.is_empty() && sender.send(Bytes::from(std::mem::take(&mut out))).await.is_err() {
                return;
            }
            if !options.follow {
                return;
            }
            let position = reader.stream_position().unwrap_or(0) - line.len() as u64;
            let _ = reader.seek(SeekFrom::Start(position));
            line.clear();
            // Once the container has stopped, one last pass drains what it wrote before.
            let mut stopped = !running_at_start;
            loop {
                while let Ok(n) = reader.read_line(&mut line) {
                    if n == 0 || !line.ends_with('\n') {
                        // A partial line: read again once the shim finishes writing it.
                        let back = reader.stream_position().unwrap_or(0) - line.len() as u64;
                        let _ = reader.seek(SeekFrom::Start(back));
                        line.clear();
                        break;
                    }
                    if let Ok(entry) = serde_json::from_str::<LogEntry>(&line) {
                        if options.wants(&entry) {
                            let mut chunk = Vec::new();
                            options.render(&entry, tty, &mut chunk);
                            if sender.send(Bytes::from(chunk)).await.is_err() {
                                return;
                            }
                        }
                    }
                    line.clear();
                }
                if stopped {
                    return;
                }
                tokio::select! {
                    _ = exits.changed() => stopped = true,
                    _ = removed.changed() => stopped = true,
                    _ = tokio::time::sleep(FOLLOW_POLL) => {}
                    _ = sender.closed() => return,
                }
            }
        });
        Ok((tty, receiver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_nine_digits() {
        assert_eq!(
            fixed_nanos("2026-11-28T05:22:55.60851738Z"),
            "2026-11-28T05:22:55.608517380Z"
        );
        assert_eq!(
            fixed_nanos("2026-11-28T05:22:55Z"),
            "2026-11-28T05:22:55.000000000Z"
        );
    }
}
