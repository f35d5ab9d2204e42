//! Waiting on processes, and passing signals on to a container we wait for.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

/// A pidfd: becomes readable when the process exits, whoever its parent is.
pub fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Wait until `pid` has exited (or `timeout_ms` passed); true when it is gone.
pub fn wait_gone(pid: i32, timeout_ms: u16) -> bool {
    let Ok(pidfd) = pidfd_open(pid) else {
        // ESRCH: already gone.
        return true;
    };
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
}

/// The exit code a shell would report for a wait status (128 + signal for a killed process).
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => 1,
    }
}

/// Wait for our child `pid` to exit and return its exit code.
pub fn wait_child(pid: Pid) -> nix::Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                return Ok(exit_code(status));
            }
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(err) => return Err(err),
        }
    }
}

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Pass the signals a terminal or supervisor sends us on to `pid`, as `runc run` does.
pub fn forward_signals_to(pid: Pid) {
    FORWARD_TO.store(pid.as_raw(), Ordering::Relaxed);
    let action = SigAction::new(SigHandler::Handler(forward), SaFlags::SA_RESTART, SigSet::empty());
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        // SAFETY: the handler only reads an atomic and calls kill, both async-signal-safe.
        let _ = unsafe { sigaction(signal, &action) };
    }
}
