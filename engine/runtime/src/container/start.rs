//! `start`: open the exec FIFO for reading, which lets the waiting init write its byte, run the
//! startContainer hooks and exec the user's program; then remove the FIFO, which is what makes
//! the status `running`, and run the poststart hooks.
//!
//! The init keeps its end of the FIFO open, close-on-exec, as a failure pipe: `start` reads on
//! until it closes. Closed with nothing more said, the program runs; otherwise the init wrote why
//! it could not run it (a startContainer hook failed, or `exec /bin/app: ENOENT: …`), and
//! `start` fails with that message.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::hooks::Kind;
use crate::state::{ContainerDir, Record, Status};

use super::wait::{pidfd_open, wait_gone};

/// Start a created container.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = ContainerDir::new(root, id)?;
    let record = dir.load()?;
    start_loaded(&dir, &record)
}

/// Start a container whose record is at hand.
pub fn start_loaded(dir: &ContainerDir, record: &Record) -> Result<()> {
    let status = dir.status(record);
    if !status.can_start() {
        match status {
            Status::Running => bail!("cannot start an already running container: {}", record.id),
            Status::Paused => bail!("cannot start a container in the paused state: {}", record.id),
            _ => bail!("cannot start a container that has stopped: {}", record.id),
        }
    }
    let fifo_path = dir.exec_fifo();
    let fd = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", fifo_path.display()))?;
    // SAFETY: the fd was just opened and is owned by nobody else.
    let fifo = unsafe { OwnedFd::from_raw_fd(fd) };
    let pidfd = pidfd_open(record.pid).context("the container's init is gone")?;
    loop {
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(err) => return Err(err).context("cannot wait on the exec fifo"),
            Ok(_) => {}
        }
        let fifo_events = fds[0].revents().unwrap_or(PollFlags::empty());
        let init_events = fds[1].revents().unwrap_or(PollFlags::empty());
        if fifo_events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
            let mut byte = [0u8; 1];
            match nix::unistd::read(fifo.as_raw_fd(), &mut byte) {
                Ok(1) => break,
                Err(nix::Error::EAGAIN) => {}
                _ => bail!("the container's init exited before it was started"),
            }
        }
        if init_events.contains(PollFlags::POLLIN) {
            bail!("the container's init exited before it was started");
        }
    }
    // The init keeps the FIFO open while it runs the startContainer hooks and closes it on
    // exec; if a hook fails it writes the error first and exits.
    let hook_error = read_to_close(&fifo)?;
    std::fs::remove_file(&fifo_path).with_context(|| format!("cannot remove {}", fifo_path.display()))?;
    if !hook_error.is_empty() {
        wait_gone(record.pid, 10_000);
        bail!("{hook_error}");
    }
    crate::explain!("started the container: its init now runs the program");
    if !record.poststart.is_empty() {
        let context = crate::hooks::Context::default();
        let state = dir.oci_state(record);
        if let Err(err) = crate::hooks::run(Kind::Poststart, &record.poststart, &state, context) {
            // As runc (and runtime-spec 1.3): a failed poststart hook stops the container.
            kill_container(record);
            return Err(err.into());
        }
    }
    Ok(())
}

/// Read what is left in the FIFO until its writer closes it.
fn read_to_close(fifo: &OwnedFd) -> Result<String> {
    let mut text = Vec::new();
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(err) => return Err(err).context("cannot wait on the exec fifo"),
            Ok(_) => {}
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(fifo.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            // Bounded: only a hook's error message is ever written here.
            Ok(n) => text.extend_from_slice(&buf[..n.min((64 * 1024usize).saturating_sub(text.len()))]),
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => {}
            Err(err) => return Err(err).context("cannot read the exec fifo"),
        }
    }
    Ok(String::from_utf8_lossy(&text).trim().to_string())
}

/// Kill the init and anything else in the container's cgroup, and wait for the init to go.
fn kill_container(record: &Record) {
    let _ = kill(Pid::from_raw(record.pid), Signal::SIGKILL);
    for pid in crate::cgroups::pids_of(&record.cgroup_dirs).unwrap_or_default() {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    wait_gone(record.pid, 10_000);
}
