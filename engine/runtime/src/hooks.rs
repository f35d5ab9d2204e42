//! OCI hooks: programs the caller asks the runtime to run at points of the lifecycle.
//!
//! dockerd, for one, adds a `prestart` hook for its networking. `prestart` and `createRuntime`
//! run in the runtime's namespaces once the container's namespaces exist and before its root is
//! entered (a failure fails `create`); `poststart` after `start`; `poststop` after `delete`
//! (failures there are only reported). Each gets the container's state JSON on stdin.
//! `createContainer` and `startContainer`, which run inside the container, are not supported.

use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::state::OciState;

/// The hook lists the runtime runs, by their names in the spec (`features` reports them).
pub const SUPPORTED: [&str; 4] = ["prestart", "createRuntime", "poststart", "poststop"];

/// Errors from hooks.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// a hook could not be started
    #[error("cannot run {kind} hook {path}: {source}")]
    Spawn {
        /// Which hook list.
        kind: &'static str,
        /// The program.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// a hook failed
    #[error("{kind} hook {path} failed: {status}")]
    Failed {
        /// Which hook list.
        kind: &'static str,
        /// The program.
        path: String,
        /// How it ended.
        status: String,
    },
    /// a hook ran past its timeout
    #[error("{kind} hook {path} did not finish within {seconds} s")]
    Timeout {
        /// Which hook list.
        kind: &'static str,
        /// The program.
        path: String,
        /// The timeout.
        seconds: i64,
    },
}

/// Run the hooks of one list in order; the first failure stops the list.
pub fn run(kind: &'static str, hooks: &[Hook], state: &OciState) -> Result<(), HookError> {
    let state_json = serde_json::to_vec(state).unwrap_or_default();
    for hook in hooks {
        run_one(kind, hook, &state_json)?;
    }
    Ok(())
}

fn run_one(kind: &'static str, hook: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let spawn_err = |source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    };
    let mut command = Command::new(hook.path());
    if let Some(args) = hook.args().as_deref() {
        if let Some((arg0, rest)) = args.split_first() {
            command.arg0(arg0).args(rest);
        }
    }
    command.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((key, value)) = kv.split_once('=') {
            command.env(key, value);
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| (t, Instant::now() + Duration::from_secs(t as u64)));
    let status = loop {
        match child.try_wait().map_err(spawn_err)? {
            Some(status) => break status,
            None => {
                if let Some((seconds, deadline)) = deadline {
                    if Instant::now() >= deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(HookError::Timeout { kind, path, seconds });
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    };
    if !status.success() {
        return Err(HookError::Failed {
            kind,
            path,
            status: status.to_string(),
        });
    }
    crate::explain!("ran the {kind} hook {path}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).expect("hook")
    }

    fn state() -> OciState {
        OciState {
            oci_version: "1.0.2".into(),
            id: "c1".into(),
            pid: 42,
            status: Status::Created,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: String::new(),
            owner: String::new(),
            annotations: Default::default(),
        }
    }

    #[test]
    fn hooks_get_the_state_on_stdin_and_their_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let script = format!("cat > {}; echo \" $X\" >> {}", out.display(), out.display());
        let hooks = [serde_json::from_value(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", script], "env": ["X=from-env"]
        }))
        .expect("hook")];
        run("poststart", &hooks, &state()).expect("hook runs");
        let text = std::fs::read_to_string(&out).expect("hook output");
        assert!(
            text.starts_with("{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":42"),
            "{text}"
        );
        assert!(text.ends_with(" from-env\n"), "{text}");
    }

    #[test]
    fn failures_and_timeouts_are_errors() {
        let failing = [hook(r#"{"path":"/bin/false","args":["false"]}"#)];
        assert!(matches!(
            run("prestart", &failing, &state()),
            Err(HookError::Failed { .. })
        ));
        let slow = [hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#)];
        assert!(matches!(
            run("prestart", &slow, &state()),
            Err(HookError::Timeout { .. })
        ));
    }
}
