//! The shim's socket protocol.
//!
//! One request per connection: the client sends one [`Request`] as a JSON line and reads one JSON
//! line back. Success is `{"ok":true}` plus the reply's fields, e.g. `{"ok":true,"pid":4242}`;
//! failure is `{"ok":false,"error":"no such process: e1"}`.
//!
//! | request | reply fields |
//! |---|---|
//! | `{"op":"attach","process":"init","stdin":true,"stdout":true,"stderr":true}` | none; then the connection is a stream |
//! | `{"op":"start"}` | [`PidReply`](crate::protocol::PidReply) `pid` |
//! | `{"op":"kill","signal":15,"all":false}` | none |
//! | `{"op":"resize","process":"init","width":80,"height":24}` | none |
//! | `{"op":"wait","process":"init"}` | [`ExitStatus`](crate::ExitStatus) `exit_code`, `finished_at`, `oom_killed` |
//! | `{"op":"exec_create","id":"e1","process":{…OCI process…},"tty":false,"stdin":true}` | none |
//! | `{"op":"exec_start","id":"e1"}` | [`PidReply`](crate::protocol::PidReply) `pid` |
//! | `{"op":"update","resources":{…OCI linux.resources…}}` | none |
//! | `{"op":"state"}` | [`ShimState`](crate::protocol::ShimState) `status`, `pid` |
//!
//! `process` is [`INIT`](crate::protocol::INIT) or an exec id and defaults to `"init"`; boolean fields default to false.

use serde::{Deserialize, Serialize};

/// The process name of the container's init process.
pub const INIT: &str = "init";

/// The longest request line the shim reads.
pub const MAX_REQUEST: usize = 1 << 20;

fn init() -> String {
    INIT.to_owned()
}

/// A request to the shim, tagged by `"op"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Turn this connection into the process's stdio stream.
    ///
    /// After the reply, output arrives as raw bytes with a tty, else as Docker's multiplexed
    /// frames ([`crate::frame`]); bytes the client sends go to stdin when `stdin` is set.
    Attach {
        /// `"init"` or an exec id.
        #[serde(default = "init")]
        process: String,
        /// Forward what the client sends to the process's stdin.
        #[serde(default)]
        stdin: bool,
        /// Send the process's stdout.
        #[serde(default)]
        stdout: bool,
        /// Send the process's stderr (with a tty it is the same stream as stdout).
        #[serde(default)]
        stderr: bool,
    },
    /// Run `runtime start`: the created container begins its process.
    Start,
    /// Run `runtime kill [--all] ID SIGNAL`.
    Kill {
        /// Signal number (see [`crate::signal::parse_signal`] for names).
        signal: i32,
        /// Signal every process of the container, not only init.
        #[serde(default)]
        all: bool,
    },
    /// Run `runtime pause ID`: freeze every process of the container.
    Pause,
    /// Run `runtime resume ID`: thaw them.
    Resume,
    /// Run `runtime update --resources FILE ID`: new cgroup limits for the live container.
    Update {
        /// An OCI runtime-spec `linux.resources` object; only what it names changes.
        resources: serde_json::Value,
    },
    /// Set the window size of the process's pty.
    Resize {
        /// `"init"` or an exec id.
        #[serde(default = "init")]
        process: String,
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Reply once the process has exited (at once if it has).
    Wait {
        /// `"init"` or an exec id.
        #[serde(default = "init")]
        process: String,
    },
    /// Make an exec's stdio (pipes, or a pty at start) without running it.
    ExecCreate {
        /// The exec id: letters, digits, `_`, `.`, `-`; not `"init"`.
        id: String,
        /// An OCI runtime-spec process object (`args`, `env`, `cwd`, `user`, …). The shim sets
        /// its `terminal` field from `tty`.
        process: serde_json::Value,
        /// Give the exec a pty.
        #[serde(default)]
        tty: bool,
        /// Give the exec a stdin (closed when the attached client closes its side).
        #[serde(default)]
        stdin: bool,
    },
    /// Run `runtime exec --detach` for a created exec.
    ExecStart {
        /// The exec id.
        id: String,
    },
    /// The container's status and init pid.
    State,
}

/// The lifecycle status of the container, as the runtime's `state` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessStatus {
    /// Created by the runtime, waiting for `start`.
    Created,
    /// Started and not exited yet.
    Running,
    /// Init has exited.
    Stopped,
}

/// Reply to `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimState {
    /// Where the container is in its lifecycle.
    pub status: ProcessStatus,
    /// The init process's pid on the host (it stays set after exit).
    pub pid: i32,
}

/// Reply to `start` and `exec_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidReply {
    /// The started process's pid on the host.
    pub pid: i32,
}

/// Reply with no fields (`{"ok":true}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Why an exec id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecIdError {
    /// bad exec id {0:?}: use 1 to 128 letters, digits, '_', '.' or '-'
    #[error("bad exec id {0:?}: use 1 to 128 letters, digits, '_', '.' or '-'")]
    Malformed(String),
    /// exec id "init" is reserved for the container's process
    #[error("exec id \"init\" is reserved for the container's process")]
    Reserved,
}

/// Check an exec id: it names files in the state dir, so only safe characters.
pub fn check_exec_id(id: &str) -> Result<(), ExecIdError> {
    if id == INIT {
        return Err(ExecIdError::Reserved);
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if id.is_empty() || id.len() > 128 || !id.chars().all(safe) || id.starts_with('.') {
        return Err(ExecIdError::Malformed(id.to_owned()));
    }
    Ok(())
}

/// Encode a success reply: `{"ok":true}` with `body`'s fields, as one line with its newline.
pub fn ok_line<T: Serialize>(body: &T) -> String {
    let mut object = serde_json::Map::new();
    object.insert("ok".into(), true.into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(body) {
        object.extend(fields);
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

/// Encode a failure reply: `{"ok":false,"error":message}`, as one line with its newline.
pub fn error_line(message: &str) -> String {
    let mut line = serde_json::json!({"ok": false, "error": message}).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_tagged_by_op() {
        let attach: Request =
            serde_json::from_value(json!({"op":"attach","stdin":true,"stdout":true})).unwrap();
        assert_eq!(
            attach,
            Request::Attach {
                process: "init".into(),
                stdin: true,
                stdout: true,
                stderr: false
            }
        );
        let kill: Request = serde_json::from_value(json!({"op":"kill","signal":9})).unwrap();
        assert_eq!(
            kill,
            Request::Kill {
                signal: 9,
                all: false
            }
        );
        assert_eq!(
            serde_json::to_value(Request::Start).unwrap(),
            json!({"op":"start"})
        );
        assert_eq!(
            serde_json::to_value(Request::ExecStart { id: "e1".into() }).unwrap(),
            json!({"op":"exec_start","id":"e1"})
        );
    }

    #[test]
    fn unknown_ops_are_refused() {
        assert!(serde_json::from_value::<Request>(json!({"op":"checkpoint"})).is_err());
    }

    #[test]
    fn pause_and_resume_are_requests() {
        assert_eq!(
            serde_json::from_value::<Request>(json!({"op":"pause"})).unwrap(),
            Request::Pause
        );
        assert_eq!(
            serde_json::from_value::<Request>(json!({"op":"resume"})).unwrap(),
            Request::Resume
        );
    }

    #[test]
    fn update_carries_oci_resources() {
        let update: Request =
            serde_json::from_value(json!({"op":"update","resources":{"pids":{"limit":50}}})).unwrap();
        assert_eq!(
            update,
            Request::Update {
                resources: json!({"pids":{"limit":50}})
            }
        );
        assert!(serde_json::from_value::<Request>(json!({"op":"update"})).is_err());
    }

    #[test]
    fn replies_flatten_their_fields() {
        let parse = |line: String| {
            assert!(
                line.ends_with('\n') && !line[..line.len() - 1].contains('\n'),
                "{line:?}"
            );
            serde_json::from_str::<serde_json::Value>(&line).unwrap()
        };
        assert_eq!(parse(ok_line(&PidReply { pid: 42 })), json!({"ok":true,"pid":42}));
        assert_eq!(parse(ok_line(&Empty {})), json!({"ok":true}));
        assert_eq!(
            parse(ok_line(&ShimState {
                status: ProcessStatus::Running,
                pid: 7
            })),
            json!({"ok":true,"status":"running","pid":7})
        );
        assert_eq!(
            parse(error_line("no such process: e1")),
            json!({"ok":false,"error":"no such process: e1"})
        );
    }

    #[test]
    fn exec_ids_name_files_safely() {
        assert!(check_exec_id("0123abcdef").is_ok());
        assert!(check_exec_id("exec_1.a-b").is_ok());
        assert_eq!(check_exec_id("init"), Err(ExecIdError::Reserved));
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(129)] {
            assert!(check_exec_id(bad).is_err(), "{bad}");
        }
    }
}
