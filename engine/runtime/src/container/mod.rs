//! The lifecycle operations, one file each, as the OCI runtime spec names them.

/// `create`: set up the container and leave its init waiting for `start`.
pub mod create;
/// `delete`: remove a stopped container's cgroups and state.
pub mod delete;
/// `events`: the container's statistics and OOM notifications as JSON lines.
pub mod events;
/// `exec`: run another process inside a running container.
pub mod exec;
/// `features`: the OCI features document, built from the tables the runtime works from.
pub mod features;
/// The container's init: what happens inside the new namespaces before the user's program.
pub mod init;
/// `kill`: signal the init, or every process of the container.
pub mod kill;
/// `list`: every container under `--root`, as a table or JSON.
pub mod list;
/// `pause` and `resume`: freezing and thawing the container's processes.
pub mod pause;
/// `ps`: the container's processes.
pub mod ps;
/// `run`: create, start and (without --detach) wait.
pub mod run;
/// Making a process in new namespaces: `clone` with fork semantics.
pub mod spawn;
/// `start`: release the init into the user's program.
pub mod start;
/// `state`: the OCI state JSON.
pub mod state;
/// `update`: changing a live container's resource limits.
pub mod update;
/// Waiting for a process that is not our child, and forwarding signals to one that is.
pub mod wait;

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Write a pid file the way runc does: to a temp file renamed into place, so readers never
/// see a partial number; not fsynced, for the reason [`crate::state::ContainerDir::save`] gives.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().context("the pid file has no name")?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut file =
        fs::File::create(&tmp).with_context(|| format!("cannot write pid file {}", tmp.display()))?;
    write!(file, "{pid}").with_context(|| format!("cannot write pid file {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write pid file {}", path.display()))
}

/// runc's rules for a terminal: a process that runs detached (every `create`, `run -d`,
/// `exec -d`) sends its pty master over `--console-socket`, and the socket is for nothing else.
/// runc proxies a terminal itself for a foreground process; berth-runtime does not.
pub fn check_terminal(terminal: bool, detach: bool, console_socket: bool) -> Result<()> {
    if detach && terminal && !console_socket {
        bail!("cannot allocate a tty for a detached process without --console-socket");
    }
    if (!detach || !terminal) && console_socket {
        bail!("--console-socket is only for a detached process with a tty");
    }
    if !detach && terminal {
        bail!("a tty needs --detach and --console-socket: berth-runtime does not proxy a terminal");
    }
    Ok(())
}

/// Check that the caller passed the `--preserve-fds` fds 3 up to 3+n-1, as runc does. Runs
/// before the runtime opens anything, so a number the caller left free cannot be one of ours.
pub fn check_preserved_fds(n: u32) -> Result<()> {
    for i in 0..n {
        let fd = i32::try_from(3 + u64::from(i)).context("--preserve-fds is too large")?;
        nix::sys::stat::fstat(fd).with_context(|| format!("unable to stat preserved-fd {i} (of {n})"))?;
    }
    Ok(())
}

/// How many fds systemd's socket activation handed to this process: `LISTEN_FDS`, when
/// `LISTEN_PID` names us (the sealed re-exec keeps the pid). `create` and `run` pass them on.
pub fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id());
    if !ours {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
