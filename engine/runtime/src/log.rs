//! Where explain events and errors go.
//!
//! With `--log FILE --log-format json` every explain event becomes one
//! [`ExplainEvent`](berth_api::explain::ExplainEvent) line (source `berth-runtime`, container = the
//! id) and every error a `{"level":"error","msg":…,"time":…}` line, the shape containerd reads from
//! runc's log. Each line goes out in a single `write` on an `O_APPEND` file, so the shim, the
//! runtime and the container's init can share one file without tearing lines.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use berth_api::explain::{ExplainEvent, kind_of_module};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;

/// The `source` of every explain event this program writes.
pub const SOURCE: &str = "berth-runtime";

/// A `tracing` layer writing explain events and errors to the `--log` file (and stderr).
pub struct LogLayer {
    file: Option<Mutex<File>>,
    format: LogFormat,
    container: Option<String>,
    debug: bool,
}

impl LogLayer {
    fn write_line(&self, line: &str) {
        if let Some(file) = &self.file {
            let mut buf = String::with_capacity(line.len() + 1);
            buf.push_str(line);
            buf.push('\n');
            if let Ok(mut file) = file.lock() {
                // Nothing sensible to do when the log itself cannot be written.
                let _ = file.write_all(buf.as_bytes());
            }
        }
    }
}

/// Now, in RFC 3339 with nanoseconds (UTC), as explain events and runc's JSON log carry it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.message, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.message, " {}={value:?}", field.name());
        }
    }
}

impl LogLayer {
    /// Whether an event of this kind goes anywhere: explain events only to a log file, errors
    /// and warnings always, everything with `--debug`.
    fn wants(&self, meta: &tracing::Metadata<'_>) -> bool {
        let is_explain = meta.target() == "explain";
        self.debug || *meta.level() <= Level::WARN || (is_explain && self.file.is_some())
    }
}

impl<S: Subscriber> Layer<S> for LogLayer {
    /// Events nobody reads are not even formatted: without `--log`, the dozens of explain
    /// events of a `create` would each cost a message and a timestamp for nothing.
    fn enabled(&self, meta: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.wants(meta)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let is_explain = meta.target() == "explain";
        let level = *meta.level();
        if !self.wants(meta) {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let msg = visitor.message;
        if self.file.is_none() {
            eprintln!("berth-runtime: {msg}");
            return;
        }
        let time = now_rfc3339();
        let line = match (self.format, is_explain) {
            (LogFormat::Json, true) => ExplainEvent {
                time,
                source: SOURCE.to_string(),
                container: self.container.clone(),
                kind: meta.module_path().and_then(kind_of_module).map(str::to_owned),
                msg: msg.clone(),
            }
            .to_json_line(),
            (LogFormat::Json, false) => serde_json::json!({
                "level": level.as_str().to_ascii_lowercase(),
                "msg": msg,
                "time": time,
            })
            .to_string(),
            (LogFormat::Text, _) => format!(
                "time={time:?} level={} msg={msg:?}",
                level.as_str().to_ascii_lowercase()
            ),
        };
        self.write_line(&line);
        if level <= Level::WARN && !is_explain {
            eprintln!("berth-runtime: {msg}");
        }
    }
}

/// Install the global subscriber for this process. A log file that cannot be opened is reported
/// on stderr and otherwise ignored: the runtime's work matters more than its diary.
pub fn init(path: Option<&Path>, format: LogFormat, container: Option<String>, debug: bool) {
    let file = path.and_then(|path| {
        match OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
        {
            Ok(file) => Some(Mutex::new(file)),
            Err(err) => {
                eprintln!("berth-runtime: cannot open log file {}: {err}", path.display());
                None
            }
        }
    });
    let layer = LogLayer {
        file,
        format,
        container,
        debug,
    };
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(file: Option<File>, debug: bool) -> LogLayer {
        LogLayer {
            file: file.map(Mutex::new),
            format: LogFormat::Json,
            container: None,
            debug,
        }
    }

    #[test]
    fn explain_events_are_enabled_only_when_a_log_file_takes_them() {
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer(None, false)), || {
            assert!(!tracing::event_enabled!(target: "explain", Level::INFO));
            assert!(tracing::event_enabled!(Level::WARN));
        });
        let file = tempfile::tempfile().expect("temp file");
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(layer(Some(file), false)),
            || {
                assert!(tracing::event_enabled!(target: "explain", Level::INFO));
                assert!(!tracing::event_enabled!(Level::DEBUG));
            },
        );
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer(None, true)), || {
            assert!(tracing::event_enabled!(target: "explain", Level::INFO));
        });
    }

    #[test]
    fn a_log_file_gets_explain_events_as_json_lines() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let writer = file.reopen().expect("reopen");
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(layer(Some(writer), false)),
            || crate::explain!("made cgroup {}", "/berth/x"),
        );
        let text = std::fs::read_to_string(file.path()).expect("read log");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["msg"], "made cgroup /berth/x");
        assert_eq!(line["source"], SOURCE);
    }
}
