//! Explain events: the plain sentences that tell a trainee what the kernel was asked to do.
//!
//! berthd emits them with [`explain!`] (a `tracing` event with target `explain`, and a `container`
//! field when the step was for one). [`ExplainLayer`] appends each as an
//! [`ExplainEvent`](berth_api::explain::ExplainEvent) JSON line to the container's
//! `<exec-root>/c/<short id>/explain.jsonl` — the same file its shim and runtime write to — or to
//! `<exec-root>/explain.jsonl` for daemon-wide steps (an image load). `/berth/explain` reads them back.

use std::io::Write;
use std::path::{Path, PathBuf};

use berth_api::explain::{ExplainEvent, TARGET, kind_of_module};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Emit an explain event: one plain sentence about a kernel-facing step.
///
/// `explain!("mounted overlay at {} with {} lower layers", path.display(), n)`, or with the
/// container it concerns: `explain!(container = %id, "started container {}", short)`.
#[macro_export]
macro_rules! explain {
    ($($arg:tt)*) => {
        ::tracing::info!(target: "explain", $($arg)*)
    };
}

/// The daemon-wide explain log.
pub fn daemon_log(exec_root: &Path) -> PathBuf {
    exec_root.join("explain.jsonl")
}

/// A container's explain log (shared with its shim and runtime).
pub fn container_log(exec_root: &Path, id: &str) -> PathBuf {
    exec_root
        .join("c")
        .join(&id[..id.len().min(12)])
        .join("explain.jsonl")
}

/// Writes berthd's explain events to the explain logs.
#[derive(Debug)]
pub struct ExplainLayer {
    exec_root: PathBuf,
}

impl ExplainLayer {
    pub fn new(exec_root: &Path) -> ExplainLayer {
        ExplainLayer {
            exec_root: exec_root.to_owned(),
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    container: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "container" => self.container = Some(format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "container" => self.container = Some(value.to_owned()),
            _ => {}
        }
    }
}

/// The container a span is about (`container_span(id)`), kept in the span's extensions.
struct SpanContainer(String);

/// A span whose explain events belong to container `id`: enter it around code shared by all
/// containers (mounts, layers), so their sentences land in the right container's log.
pub fn container_span(id: &str) -> tracing::Span {
    tracing::info_span!("container", container = %id)
}

impl<S> tracing_subscriber::Layer<S> for ExplainLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(container), Some(span)) = (fields.container, ctx.span(id)) {
            span.extensions_mut().insert(SpanContainer(container));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.container.is_none() {
            fields.container = ctx.event_scope(event).and_then(|scope| {
                scope
                    .from_root()
                    .find_map(|span| span.extensions().get::<SpanContainer>().map(|c| c.0.clone()))
            });
        }
        let path = match &fields.container {
            Some(id) if id.len() >= 12 => container_log(&self.exec_root, id),
            _ => daemon_log(&self.exec_root),
        };
        let line = ExplainEvent {
            time: crate::image::time::now_rfc3339(),
            source: "berthd".into(),
            container: fields.container,
            kind: event
                .metadata()
                .module_path()
                .and_then(kind_of_module)
                .map(str::to_owned),
            msg: fields.message,
        }
        .to_json_line();
        // Best effort: an explain line must never fail the step it describes.
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// The most read from one explain log at a time: a follower catches up over several reads.
const READ_LIMIT: u64 = 4 << 20;

/// Read the explain events in `path` from byte `offset`; returns them and the offset after the
/// last whole line (a line still being written is left for the next read). Only what follows
/// `offset` is read (at most [`READ_LIMIT`] bytes), never the file again from its start.
pub fn read_from(path: &Path, offset: u64) -> (Vec<ExplainEvent>, u64) {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return (Vec::new(), offset);
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut bytes = Vec::new();
    if file.take(READ_LIMIT).read_to_end(&mut bytes).is_err() {
        return (Vec::new(), offset);
    }
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let events = String::from_utf8_lossy(&bytes[..whole])
        .lines()
        .filter_map(|line| ExplainEvent::from_json_line(line).ok())
        .collect();
    (events, offset + whole as u64)
}

/// Whether `path` changed at or after `since` (Unix seconds): a log untouched since then holds
/// nothing newer, and need not be read.
pub fn written_since(path: &Path, since: f64) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
                >= since - 1.0
        })
        .unwrap_or(false)
}
