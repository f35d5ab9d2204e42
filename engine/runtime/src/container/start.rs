//! `start`: open the exec FIFO for reading, which lets the waiting init write its byte and
//! exec the user's program; then remove the FIFO, which is what makes the status `running`.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use crate::state::{ContainerDir, Record, Status};

use super::wait::pidfd_open;

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
    std::fs::remove_file(&fifo_path).with_context(|| format!("cannot remove {}", fifo_path.display()))?;
    crate::explain!("started the container: its init now runs the program");
    if !record.poststart.is_empty() {
        if let Err(err) = crate::hooks::run("poststart", &record.poststart, &dir.oci_state(record)) {
            tracing::warn!("{err}");
        }
    }
    Ok(())
}
