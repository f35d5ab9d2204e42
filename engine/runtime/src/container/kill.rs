//! `kill`: send a signal to the init, or with `--all` to every process in the cgroup.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill as send};
use nix::unistd::Pid;

use crate::cgroups;
use crate::state::{ContainerDir, Status};

/// Parse a signal as runc does: `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).with_context(|| format!("unknown signal: {text}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).with_context(|| format!("unknown signal: {text}"))
}

/// Signal the container.
pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = parse_signal(signal)?;
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    if !status.can_kill() {
        bail!("container not running: {id}");
    }
    if all {
        for pid in cgroups::pids_of(&record.cgroup_dirs)? {
            let _ = send(Pid::from_raw(pid), signal);
        }
        crate::explain!("sent {signal} to every process in the container's cgroup");
    } else {
        send(Pid::from_raw(record.pid), signal).with_context(|| format!("cannot signal the init of {id}"))?;
        crate::explain!("sent {signal} to the container's init (pid {})", record.pid);
    }
    // A frozen process acts on SIGKILL only once thawed: runc thaws a paused container for it,
    // and only for it (other signals wait for `resume`).
    if status == Status::Paused && signal == Signal::SIGKILL {
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
    fn signals_by_name_or_number() {
        assert_eq!(parse_signal("KILL").expect("KILL"), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGTERM").expect("SIGTERM"), Signal::SIGTERM);
        assert_eq!(parse_signal("hup").expect("hup"), Signal::SIGHUP);
        assert_eq!(parse_signal("9").expect("9"), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }
}
