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
    /// What the step was about, in the book's words (`namespaces`, `mounts`, `cgroups`,
    /// `network`…): see [`kind_of_module`]. Absent in logs written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The plain sentence: what the kernel was asked to do.
    pub msg: String,
}

/// Which modules' steps are of which kind. A module written `a::b` names itself only; `a::b::*`
/// names itself and every module below it. The longest entry that fits wins, so
/// `berthd::network::firewall` is `firewall` though `berthd::network` is `network`.
const KINDS: &[(&str, &str)] = &[
    // berth-runtime: the container's init, step by step.
    ("berth_runtime::namespaces", "namespaces"),
    ("berth_runtime::rootfs", "mounts"),
    ("berth_runtime::console", "mounts"),
    ("berth_runtime::cgroups::*", "cgroups"),
    ("berth_runtime::capabilities", "security"),
    ("berth_runtime::seccomp::*", "security"),
    ("berth_runtime::process", "security"),
    ("berth_runtime::user", "security"),
    ("berth_runtime::rlimits", "security"),
    ("berth_runtime::container::*", "process"),
    ("berth_runtime::hooks", "process"),
    // The runtime's main (the binary's crate root).
    ("berth_runtime", "process"),
    // berth-shim: the process's supervisor (library and binary share the name).
    ("berth_shim::*", "process"),
    // berthd.
    ("berthd::layer::*", "layers"),
    ("berthd::network", "network"),
    ("berthd::network::netlink", "network"),
    ("berthd::network::netns", "network"),
    ("berthd::network::sandbox", "network"),
    ("berthd::network::ipam", "network"),
    ("berthd::network::firewall", "firewall"),
    ("berthd::network::ports", "ports"),
    ("berthd::network::proxy", "ports"),
    ("berthd::network::dns", "dns"),
    ("berthd::volume::*", "volumes"),
    ("berthd::image::*", "images"),
    ("berthd::store::*", "images"),
    ("berthd::registry::*", "images"),
    ("berthd::container::*", "container"),
];

/// The kind of an explain event, from the module that emitted it (`tracing`'s
/// `metadata().module_path()`); `None` for a module the table doesn't name.
pub fn kind_of_module(module_path: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .filter(|(pattern, _)| match pattern.strip_suffix("::*") {
            Some(root) => {
                module_path == root
                    || module_path
                        .strip_prefix(root)
                        .is_some_and(|rest| rest.starts_with("::"))
            }
            None => module_path == *pattern,
        })
        .max_by_key(|(pattern, _)| pattern.len())
        .map(|(_, kind)| *kind)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_map_to_their_kinds() {
        let cases = [
            ("berth_runtime::namespaces", Some("namespaces")),
            ("berth_runtime::rootfs", Some("mounts")),
            ("berth_runtime::console", Some("mounts")),
            ("berth_runtime::cgroups", Some("cgroups")),
            ("berth_runtime::cgroups::v2", Some("cgroups")),
            ("berth_runtime::capabilities", Some("security")),
            ("berth_runtime::seccomp", Some("security")),
            ("berth_runtime::seccomp::bpf", Some("security")),
            ("berth_runtime::process", Some("security")),
            ("berth_runtime::user", Some("security")),
            ("berth_runtime::rlimits", Some("security")),
            ("berth_runtime::container", Some("process")),
            ("berth_runtime::container::init", Some("process")),
            ("berth_runtime::hooks", Some("process")),
            ("berth_runtime", Some("process")),
            ("berth_shim", Some("process")),
            ("berth_shim::container_create", Some("process")),
            ("berthd::layer::overlay", Some("layers")),
            ("berthd::network", Some("network")),
            ("berthd::network::netlink", Some("network")),
            ("berthd::network::sandbox", Some("network")),
            ("berthd::network::netns", Some("network")),
            ("berthd::network::firewall", Some("firewall")),
            ("berthd::network::proxy", Some("ports")),
            ("berthd::network::ports", Some("ports")),
            ("berthd::network::dns", Some("dns")),
            ("berthd::volume", Some("volumes")),
            ("berthd::volume::copy_up", Some("volumes")),
            ("berthd::image::archive", Some("images")),
            ("berthd::store::layers", Some("images")),
            ("berthd::registry::pull", Some("images")),
            ("berthd::container::start", Some("container")),
            // Not in the table: no kind rather than a wrong one.
            ("berthd", None),
            ("berthd::server::events", None),
            ("berth_runtime::secure_path", None),
            // A prefix must end at a module boundary.
            ("berthd::layers", None),
            ("berth_shimmer", None),
        ];
        for (module, kind) in cases {
            assert_eq!(kind_of_module(module), kind, "{module}");
        }
    }

    #[test]
    fn the_kind_is_optional_on_the_wire() {
        let old = r#"{"time":"t","source":"berthd","msg":"m"}"#;
        let event = ExplainEvent::from_json_line(old).unwrap();
        assert_eq!(event.kind, None);
        assert_eq!(event.to_json_line(), old);
        let new = ExplainEvent {
            kind: Some("mounts".into()),
            ..event
        };
        assert_eq!(
            new.to_json_line(),
            r#"{"time":"t","source":"berthd","kind":"mounts","msg":"m"}"#
        );
    }
}
