//! OCI hooks: programs the caller asks the runtime to run at points of the lifecycle
//! (runtime-spec config.md "POSIX-platform Hooks", runtime.md "Lifecycle").
//!
//! | kind              | run by, where                                  | when                                    | a failure                        |
//! |-------------------|------------------------------------------------|-----------------------------------------|----------------------------------|
//! | `prestart`        | `create`, runtime namespaces, cwd = bundle     | mounts made, before pivot_root          | fails `create`, nothing is left  |
//! | `createRuntime`   | `create`, runtime namespaces, cwd = bundle     | right after `prestart`                  | fails `create`, nothing is left  |
//! | `createContainer` | the init, container namespaces, cwd = rootfs   | after `createRuntime`, before pivot_root | fails `create`, nothing is left |
//! | `startContainer`  | the init, inside the container, process's cwd  | released by `start`, before the exec    | fails `start`; the init exits    |
//! | `poststart`       | `start`, runtime namespaces                    | once the program is released            | fails `start`; container killed  |
//! | `poststop`        | `delete`, runtime namespaces                   | once the container is gone              | a warning; the rest still run    |
//!
//! Each hook gets the container's state JSON on stdin (the pid as seen where the hook runs, so 1
//! for the in-container ones in a pid namespace), its own `args` and `env` (without `env`, the
//! runtime's environment, or for `startContainer` the process's with the HOME runc adds), and is
//! killed with its process group when it runs past its `timeout`. The first failure in a list stops the
//! list, except for `poststop`. runc 1.1 differs in three places: it runs `poststart` during
//! `create` (later runc moved it to `start`, as the spec says), its `start` succeeds when a
//! `startContainer` hook fails (the container just stops), and it stops `poststop` at the first
//! failure.

use std::io::{ErrorKind, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use oci_spec::runtime::{Hook, Hooks};

use crate::state::OciState;

/// The six hook lists, by their names in config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deprecated: as `createRuntime`, run before it.
    Prestart,
    /// In the runtime namespaces, before pivot_root.
    CreateRuntime,
    /// In the container namespaces, before pivot_root.
    CreateContainer,
    /// Inside the container, before the user's program.
    StartContainer,
    /// In the runtime namespaces, once the program runs.
    Poststart,
    /// In the runtime namespaces, once the container is deleted.
    Poststop,
}

impl Kind {
    /// Every list, in the order of a container's life.
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    /// The name config.json uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors from hooks. Each names the hook list and the program.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// a hook in the spec is invalid (path not absolute, timeout not positive)
    #[error("invalid {kind} hook {path}: {reason}")]
    Invalid {
        /// Which hook list.
        kind: Kind,
        /// The program.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// a hook could not be started
    #[error("cannot run {kind} hook {path}: {source}")]
    Spawn {
        /// Which hook list.
        kind: Kind,
        /// The program.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// a hook failed
    #[error("{kind} hook {path} failed: {status}{output}")]
    Failed {
        /// Which hook list.
        kind: Kind,
        /// The program.
        path: String,
        /// How it ended ("exit status 3", "killed by signal 9").
        status: String,
        /// What it printed, quoted on one line (empty when nothing).
        output: String,
    },
    /// a hook ran past its timeout
    #[error("{kind} hook {path} ran past its timeout of {seconds} s and was killed")]
    Timeout {
        /// Which hook list.
        kind: Kind,
        /// The program.
        path: String,
        /// The timeout.
        seconds: i64,
    },
}

/// Where and how a list runs, beyond the hooks themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The hooks' working directory; `None` keeps the caller's.
    pub cwd: Option<&'a Path>,
    /// The environment of a hook without `env`; `None` keeps the caller's.
    pub env: Option<&'a [String]>,
}

/// The in-container hooks, handed to the init by `create`.
#[derive(Debug, Clone)]
pub struct InContainer {
    /// Run by the init before pivot_root.
    pub create_container: Vec<Hook>,
    /// Run by the init once `start` releases it, before the exec.
    pub start_container: Vec<Hook>,
    /// The state they get; pid and status are filled in when they run.
    pub state: OciState,
}

/// Check every hook of the spec the way the runtime spec words it: an absolute path and, if
/// set, a timeout above zero. `create` checks before it makes a cgroup or a process.
pub fn validate(hooks: &Hooks) -> Result<(), HookError> {
    #[allow(deprecated)]
    let lists = [
        (Kind::Prestart, hooks.prestart()),
        (Kind::CreateRuntime, hooks.create_runtime()),
        (Kind::CreateContainer, hooks.create_container()),
        (Kind::StartContainer, hooks.start_container()),
        (Kind::Poststart, hooks.poststart()),
        (Kind::Poststop, hooks.poststop()),
    ];
    for (kind, list) in lists {
        for hook in list.iter().flatten() {
            let invalid = |reason| HookError::Invalid {
                kind,
                path: hook.path().display().to_string(),
                reason,
            };
            if !hook.path().is_absolute() {
                return Err(invalid("the path must be absolute"));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(invalid("the timeout must be greater than zero"));
            }
        }
    }
    Ok(())
}

/// Run the hooks of one list in order; the first failure stops the list.
pub fn run(kind: Kind, hooks: &[Hook], state: &OciState, context: Context<'_>) -> Result<(), HookError> {
    let state_json = state_json(state);
    for hook in hooks {
        run_one(kind, hook, &state_json, context)?;
    }
    Ok(())
}

/// Run every hook of a list whose failures are only warnings (`poststop`): a failure is logged
/// and the remaining hooks still run, as the runtime spec asks.
pub fn run_warning_only(kind: Kind, hooks: &[Hook], state: &OciState, context: Context<'_>) {
    let state_json = state_json(state);
    for hook in hooks {
        if let Err(err) = run_one(kind, hook, &state_json, context) {
            tracing::warn!("{err}");
        }
    }
}

fn state_json(state: &OciState) -> Vec<u8> {
    // Plain strings, numbers and a string map: serializing cannot fail.
    serde_json::to_vec(state).unwrap_or_default()
}

/// At most this much of a hook's stdout and of its stderr goes into an error message.
const OUTPUT_LIMIT: usize = 4096;

fn run_one(kind: Kind, hook: &Hook, state_json: &[u8], context: Context<'_>) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let spawn_err = |source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    };
    let mut command = Command::new(hook.path());
    if let Some((arg0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        command.arg0(arg0).args(rest);
    }
    if let Some(env) = hook.env().as_deref().or(context.env) {
        command.env_clear();
        for kv in env {
            if let Some((key, value)) = kv.split_once('=') {
                command.env(key, value);
            }
        }
    }
    if let Some(cwd) = context.cwd {
        command.current_dir(cwd);
    }
    // A group of its own, so a timeout kills what the hook started too (a shell's `sleep`).
    command
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(spawn_err)?;
    let deadline = hook
        .timeout()
        .map(|t| (t, Instant::now() + Duration::from_secs(t.unsigned_abs())));
    let outcome = watch(&mut child, state_json, deadline.map(|(_, d)| d));
    let (status, stdout, stderr) = match outcome {
        Ok(Watched::Exited(status, stdout, stderr)) => (status, stdout, stderr),
        Ok(Watched::TimedOut) => {
            kill_group(&mut child);
            return Err(HookError::Timeout {
                kind,
                path,
                seconds: deadline.map_or(0, |(t, _)| t),
            });
        }
        Err(err) => {
            kill_group(&mut child);
            return Err(spawn_err(err));
        }
    };
    if !status.success() {
        let mut output = String::new();
        for (name, bytes) in [("stdout", &stdout), ("stderr", &stderr)] {
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            if !text.is_empty() {
                output.push_str(&format!(", {name}: {text:?}"));
            }
        }
        return Err(HookError::Failed {
            kind,
            path,
            status: describe(status),
            output,
        });
    }
    crate::explain!("ran the {kind} hook {path}");
    Ok(())
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

fn kill_group(child: &mut Child) {
    // process_group(0) made the hook the leader of a group whose id is its pid.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

enum Watched {
    Exited(ExitStatus, Vec<u8>, Vec<u8>),
    TimedOut,
}

/// Feed the state to the hook's stdin and collect its output until it exits or the deadline
/// passes. One poll over the pipes and a pidfd, so no threads: the init runs hooks too, and
/// must stay single-threaded. Output is kept up to [`OUTPUT_LIMIT`] and otherwise drained, so
/// a chatty hook never blocks on a full pipe; a hook that leaves children holding its pipes is
/// not waited for past its own exit.
fn watch(child: &mut Child, state_json: &[u8], deadline: Option<Instant>) -> std::io::Result<Watched> {
    // Without a pidfd (a seccomp profile may refuse pidfd_open to startContainer hooks), look
    // at the hook every few milliseconds instead.
    let pidfd = crate::container::wait::pidfd_open(child.id() as i32).ok();
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    for fd in [
        stdin.as_ref().map(|s| s.as_fd()),
        stdout.as_ref().map(|s| s.as_fd()),
        stderr.as_ref().map(|s| s.as_fd()),
    ]
    .into_iter()
    .flatten()
    {
        set_nonblocking(fd)?;
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut written = 0;
    if state_json.is_empty() {
        stdin = None;
    }
    let mut exited = false;
    while !exited {
        let mut wait_ms = if pidfd.is_some() { 60_000 } else { 5 };
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Watched::TimedOut);
            }
            wait_ms = wait_ms.min(left.as_millis() + 1);
        }
        let timeout = PollTimeout::try_from(wait_ms).unwrap_or(PollTimeout::MAX);
        let mut fds = Vec::with_capacity(4);
        let pidfd_at = pidfd.as_ref().map(|p| {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let stdin_at = stdin.as_ref().map(|s| {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
            fds.len() - 1
        });
        let stdout_at = stdout.as_ref().map(|s| {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let stderr_at = stderr.as_ref().map(|s| {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Ok(0) if pidfd.is_some() => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let ready = |at: Option<usize>| at.and_then(|i| fds[i].revents()).is_some_and(|r| !r.is_empty());
        let (pid_ready, stdin_ready, stdout_ready, stderr_ready) = (
            ready(pidfd_at),
            ready(stdin_at),
            ready(stdout_at),
            ready(stderr_at),
        );
        drop(fds);
        exited = match pidfd {
            Some(_) => pid_ready,
            None => child.try_wait()?.is_some(),
        };
        if stdin_ready {
            if let Some(pipe) = stdin.as_mut() {
                match pipe.write(&state_json[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    // A hook that does not read its stdin is fine.
                    Err(_) => written = state_json.len(),
                }
                if written >= state_json.len() {
                    stdin = None;
                }
            }
        }
        if stdout_ready && !drain(&mut stdout, &mut out) {
            stdout = None;
        }
        if stderr_ready && !drain(&mut stderr, &mut err) {
            stderr = None;
        }
    }
    // Whatever the hook wrote before it exited is in the pipes now.
    drain(&mut stdout, &mut out);
    drain(&mut stderr, &mut err);
    let status = child.wait()?;
    Ok(Watched::Exited(status, out, err))
}

/// Read what is there without blocking; false once the pipe is closed.
fn drain<R: std::io::Read>(pipe: &mut Option<R>, keep: &mut Vec<u8>) -> bool {
    let Some(reader) = pipe.as_mut() else {
        return false;
    };
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(keep.len());
                keep.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).expect("hook")
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
    fn hooks_get_the_state_on_stdin_their_env_and_cwd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let script = format!("cat > {0}; echo \" $X $(pwd)\" >> {0}", out.display());
        let hooks = [hook(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", script], "env": ["X=from-env"]
        }))];
        let context = Context {
            cwd: Some(dir.path()),
            env: None,
        };
        run(Kind::Poststart, &hooks, &state(), context).expect("hook runs");
        let text = std::fs::read_to_string(&out).expect("hook output");
        assert!(
            text.starts_with("{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":42"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(" from-env {}\n", dir.path().display())),
            "{text}"
        );
    }

    #[test]
    fn a_hook_without_env_gets_the_context_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let script = format!("echo \"$Y\" > {}", out.display());
        let hooks = [hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", script]}),
        )];
        let env = ["Y=from-process".to_string()];
        let context = Context {
            cwd: None,
            env: Some(&env),
        };
        run(Kind::StartContainer, &hooks, &state(), context).expect("hook runs");
        assert_eq!(std::fs::read_to_string(&out).expect("output"), "from-process\n");
    }

    #[test]
    fn failures_name_the_hook_and_carry_its_output_on_one_line() {
        let failing = [hook(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", "echo out; echo 'two\nlines' >&2; exit 3"]
        }))];
        let err = run(Kind::CreateRuntime, &failing, &state(), Context::default()).expect_err("fails");
        assert_eq!(
            err.to_string(),
            "createRuntime hook /bin/sh failed: exit status 3, stdout: \"out\", stderr: \"two\\nlines\""
        );
        let missing = [hook(serde_json::json!({"path": "/no/such/hook"}))];
        let err = run(Kind::Prestart, &missing, &state(), Context::default()).expect_err("fails");
        assert!(
            err.to_string()
                .starts_with("cannot run prestart hook /no/such/hook: "),
            "{err}"
        );
    }

    #[test]
    fn a_timeout_kills_the_hook_and_what_it_started() {
        let slow = [hook(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", "sleep 30; true"], "timeout": 1
        }))];
        let started = Instant::now();
        let err = run(Kind::Prestart, &slow, &state(), Context::default()).expect_err("times out");
        assert!(matches!(err, HookError::Timeout { seconds: 1, .. }), "{err}");
        // The shell's `sleep` held the pipes: it was killed with the group, not waited for.
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn the_first_failure_stops_a_list_but_not_a_warning_only_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let hooks = [
            hook(serde_json::json!({"path": "/bin/false", "args": ["false"]})),
            hook(serde_json::json!({
                "path": "/bin/sh", "args": ["sh", "-c", format!("echo ran >> {}", out.display())]
            })),
        ];
        assert!(run(Kind::CreateRuntime, &hooks, &state(), Context::default()).is_err());
        assert!(!out.exists());
        run_warning_only(Kind::Poststop, &hooks, &state(), Context::default());
        assert_eq!(std::fs::read_to_string(&out).expect("output"), "ran\n");
    }

    #[test]
    fn a_large_state_reaches_a_hook_that_reads_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let mut big = state();
        big.annotations.insert("big".into(), "x".repeat(200_000));
        let hooks = [hook(serde_json::json!({
            "path": "/bin/sh", "args": ["sh", "-c", format!("wc -c > {}", out.display())]
        }))];
        run(Kind::Poststart, &hooks, &big, Context::default()).expect("hook runs");
        let count: usize = std::fs::read_to_string(&out)
            .expect("output")
            .trim()
            .parse()
            .expect("a count");
        assert_eq!(count, serde_json::to_vec(&big).expect("json").len());
        // And one that ignores it does not block the runtime.
        let deaf = [hook(serde_json::json!({"path": "/bin/true", "args": ["true"]}))];
        run(Kind::Poststart, &deaf, &big, Context::default()).expect("hook runs");
    }

    #[test]
    fn validation_wants_absolute_paths_and_positive_timeouts() {
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "poststop": [{"path": "hook.sh"}]
        }))
        .expect("hooks");
        let err = validate(&hooks).expect_err("relative");
        assert_eq!(
            err.to_string(),
            "invalid poststop hook hook.sh: the path must be absolute"
        );
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "createContainer": [{"path": "/bin/true", "timeout": 0}]
        }))
        .expect("hooks");
        assert!(validate(&hooks).is_err());
    }
}
