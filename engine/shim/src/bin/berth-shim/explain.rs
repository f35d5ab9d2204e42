//! Where the shim's `tracing` events go, since its stderr is `/dev/null`.
//!
//! Explain events (target [`TARGET`]) become [`ExplainEvent`] JSON lines in
//! `<state-dir>/explain.jsonl`, the file the runtime's `--log` also appends to. Warnings and
//! errors go to `<state-dir>/shim.log`, opened on the first one.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use berth_api::explain::{ExplainEvent, TARGET, kind_of_module};
use berth_shim::timefmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Send this process's events to the state dir's files.
pub fn install(explain_log: &Path, shim_log: PathBuf, container: &str) -> io::Result<()> {
    let explain = ExplainLayer {
        file: open_append(explain_log)?,
        container: container.to_owned(),
    };
    let warnings = WarningLayer {
        path: shim_log,
        file: OnceLock::new(),
    };
    let subscriber = tracing_subscriber::registry().with(explain).with(warnings);
    tracing::subscriber::set_global_default(subscriber).map_err(io::Error::other)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Writes explain events as JSON lines.
struct ExplainLayer {
    file: File,
    container: String,
}

impl<S: Subscriber> Layer<S> for ExplainLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let line = ExplainEvent {
            time: timefmt::rfc3339_nano_fixed(chrono::Utc::now()),
            source: "berth-shim".to_owned(),
            container: Some(self.container.clone()),
            kind: event
                .metadata()
                .module_path()
                .and_then(kind_of_module)
                .map(str::to_owned),
            msg: message_of(event),
        }
        .to_json_line();
        // One write per line on an O_APPEND file: lines of the shim and the runtime never mix.
        let _ = (&self.file).write_all(format!("{line}\n").as_bytes());
    }
}

/// Writes warnings and errors as `time LEVEL message` lines.
struct WarningLayer {
    path: PathBuf,
    file: OnceLock<Option<File>>,
}

impl<S: Subscriber> Layer<S> for WarningLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN || event.metadata().target() == TARGET {
            return;
        }
        if let Some(file) = self.file.get_or_init(|| open_append(&self.path).ok()) {
            let line = format!("{} {level} {}\n", timefmt::now_rfc3339_nano(), message_of(event));
            let _ = (&*file).write_all(line.as_bytes());
        }
    }
}

fn message_of(event: &Event<'_>) -> String {
    let mut visitor = MessageVisitor(String::new());
    event.record(&mut visitor);
    visitor.0
}

/// Collects the `message` field, then any other fields as ` name=value`.
struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
