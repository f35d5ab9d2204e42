//! `kill`: send a signal to the init, or with `--all` to every process in the cgroup.
//!
//! As runc: a created container can be signalled too (KILL makes it stopped); a stopped one
//! gives `container not running`, except with `--all`, which signals whatever is left in the
//! cgroup (nothing) and succeeds. The container is looked up before the signal is parsed, so a
//! missing container is reported first.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;

use crate::cgroups;
use crate::state::{ContainerDir, Status};

/// A signal as runc takes it: any number as given (checked by the kernel when sent, so `0` probes
/// and `99` fails with EINVAL), or a name with or without `SIG`, in any case. Empty means TERM.
pub fn parse_signal(text: &str) -> Result<i32> {
    if text.is_empty() {
        return Ok(Signal::SIGTERM as i32);
    }
    if let Ok(number) = text.parse::<i32>() {
        return Ok(number);
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| anyhow::anyhow!("unknown signal {text:?}"))
}

/// Send a raw signal number (nix's `Signal` has no 0 and no out-of-range numbers).
fn send(pid: i32, signal: i32) -> std::io::Result<()> {
    // SAFETY: kill takes a pid and a signal number and touches no memory of ours.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Signal the container.
pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    let signal = parse_signal(signal)?;
    let status = dir.status(&record);
    if all {
        // As runc: frozen while listed and signalled, so that no process forks a child the
        // listing missed. A freezer that fails only costs that guarantee (runc warns too).
        // The freezer we froze, to thaw after: never a paused container's (it stays paused).
        let frozen = cgroups::freezer::Freezer::of(&record.cgroup_dirs)
            .filter(|_| status != Status::Paused && status != Status::Stopped)
            .filter(|freezer| match freezer.freeze() {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!("cannot freeze {id} to signal all its processes: {err}");
                    false
                }
            });
        // A stopped container's cgroup may hold nothing or be gone: runc succeeds either way.
        let pids = match cgroups::pids_of(&record.cgroup_dirs) {
            Ok(pids) => pids,
            Err(_) if status == Status::Stopped => Vec::new(),
            Err(err) => {
                if let Some(freezer) = &frozen {
                    let _ = freezer.thaw();
                }
                return Err(err).with_context(|| format!("cannot list the processes of {id}"));
            }
        };
        for pid in &pids {
            // A process may exit between the listing and the signal.
            let _ = send(*pid, signal);
        }
        if let Some(freezer) = &frozen {
            freezer.thaw()?;
        }
        crate::explain!(
            "sent signal {signal} to the {} processes in the container's cgroup, frozen meanwhile",
            pids.len()
        );
    } else {
        if !status.can_kill() {
            bail!("container not running: {id}");
        }
        send(record.pid, signal).context("unable to signal init")?;
        crate::explain!(
            "sent signal {signal} to the container's init (pid {})",
            record.pid
        );
    }
    // A frozen process acts on SIGKILL only once thawed: runc thaws a paused container for it,
    // and only for it (other signals wait for `resume`).
    if status == Status::Paused && signal == Signal::SIGKILL as i32 {
        if let Some(freezer) = cgroups::freezer::Freezer::of(&record.cgroup_dirs) {
            freezer.thaw()?;
            crate::explain!("thawed the paused container so that SIGKILL takes effect");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number_as_runc_takes_them() {
        for (text, want) in [
            ("KILL", 9),
            ("SIGTERM", 15),
            ("hup", 1),
            ("sigusr1", 10),
            ("Kill", 9),
            ("9", 9),
            ("+9", 9),
            ("0", 0),
            ("99", 99),
            ("-9", -9),
            ("", 15),
        ] {
            assert_eq!(parse_signal(text).expect(text), want, "{text}");
        }
        for bad in ["NOPE", "SIG9", " 9", "RTMIN+1", "SIGCLD"] {
            let err = parse_signal(bad).expect_err(bad);
            assert_eq!(err.to_string(), format!("unknown signal {bad:?}"));
        }
    }
}
