//! The explain-event format shared by berthd, berth-shim and berth-runtime.
//!
//! Every kernel-facing step emits a `tracing` event with target [`TARGET`] and one plain sentence
//! ("mounted proc at /proc"). Processes that outlive a request (shim, runtime) write them as JSON
//! lines, one [`ExplainEvent`] each, to a file berthd later reads and streams to the trainee.

use serde::{Deserialize, Serialize};

/// The `tracing` target that marks an event as an explain event.
pub const TARGET: &str = "explain";

/// One explain event, as written on one line of an explain log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainEvent {
    /// RFC 3339 time with nanoseconds, UTC (`2026-11-28T03:30:00.123456789Z`).
    pub time: String,
    /// Which program did the step: `berthd`, `berth-shim` or `berth-runtime`.
    pub source: String,
    /// The container the step was for, when there is one (full 64-hex id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The plain sentence: what the kernel was asked to do.
    pub msg: String,
    /// What kind of kernel work it was (`namespaces`, `mounts`, `cgroups`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ExplainEvent {
    /// Parse one line of an explain log.
    pub fn from_json_line(line: &str) -> serde_json::Result<Self> {
        serde_json::from_str(line)
    }

    /// Render as one JSON line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}
