//! Turning the invoked process into a detached shim, and telling the invoker when it is ready.
//!
//! The invoker forks; the child detaches (new session, child subreaper, cwd `/`, stdio on
//! `/dev/null`) and later writes one message into a pipe: `ok`, or why it failed. The invoker
//! reads the pipe to its end and exits with that outcome, so its caller's call returns exactly
//! when the container is created (or has failed) and never keeps the caller's pipes open.

use std::fs::File;
use std::io::{Read, Write};

use anyhow::Context;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{ForkResult, chdir, dup2, fork, pipe2, setsid};

const READY: &str = "ok";

/// Which side of the fork this process is.
pub enum Role {
    /// The invoked process: wait for the shim's word and exit with it.
    Invoker(ReadyWaiter),
    /// The shim: detach, create the container, then say so.
    Shim(ReadyNotifier),
}

/// Fork the shim. Must run before any thread exists (nothing in main starts one).
pub fn fork_shim() -> anyhow::Result<Role> {
    let (read, write) = pipe2(OFlag::O_CLOEXEC).context("could not make the readiness pipe")?;
    // SAFETY: the process is single-threaded here (main has only parsed arguments), so the child
    // may run any code after fork: no lock can be held by a thread that does not exist in it.
    match unsafe { fork() }.context("could not fork the shim")? {
        ForkResult::Parent { .. } => {
            drop(write);
            Ok(Role::Invoker(ReadyWaiter(File::from(read))))
        }
        ForkResult::Child => {
            drop(read);
            Ok(Role::Shim(ReadyNotifier(File::from(write))))
        }
    }
}

/// In the shim: leave the invoker's session and terminal, become the subreaper of the
/// container's processes, and let go of the invoker's cwd and stdio.
pub fn detach() -> anyhow::Result<()> {
    setsid().context("could not start a new session")?;
    // Orphans below us (the container's init once `runtime create` exits, execs once
    // `runtime exec --detach` exits) are re-parented to us, so we can reap them and see their codes.
    nix::sys::prctl::set_child_subreaper(true).context("could not become a child subreaper")?;
    chdir("/").context("could not change directory to /")?;
    let null = open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
        .context("could not open /dev/null")?;
    for target in 0..=2 {
        dup2(null, target).context("could not put stdio on /dev/null")?;
    }
    nix::unistd::close(null).context("could not close /dev/null")?;
    Ok(())
}

/// Close every fd above 2 the invoker inherited (the shim outlives its caller and must hold
/// nothing of it), and make sure 0, 1 and 2 are open so nothing of ours lands on them.
/// Runs first in main, before the shim opens anything.
pub fn close_inherited_fds() {
    // SAFETY: close_range only closes descriptors; none above 2 is owned by Rust code yet, since
    // main calls this before opening anything.
    unsafe {
        libc::close_range(3, libc::c_uint::MAX, 0);
    }
    // open() returns the lowest free fd: fill any closed stdio slot with /dev/null.
    while let Ok(fd) = open("/dev/null", OFlag::O_RDWR, Mode::empty()) {
        if fd > 2 {
            let _ = nix::unistd::close(fd);
            break;
        }
    }
}

/// Undo signal state the caller passed on through exec: an ignored SIGCHLD would make the
/// kernel reap the container's processes before we can read their exit codes, and a blocked
/// signal mask would make the shim deaf to signals its caller chose to block.
pub fn reset_inherited_signals() -> anyhow::Result<()> {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    // SAFETY: SIG_DFL installs no handler code, so no signal-safety rules apply; the process is
    // single-threaded at this point.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.context("could not reset SIGCHLD")?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context("could not reset the signal mask")?;
    Ok(())
}

/// The invoker's end of the readiness pipe.
pub struct ReadyWaiter(File);

impl ReadyWaiter {
    /// Wait for the shim's word: `Ok` once it is ready, or its error message.
    pub fn wait(mut self) -> Result<(), String> {
        let mut message = String::new();
        if let Err(e) = self.0.read_to_string(&mut message) {
            return Err(format!(
                "berth-shim: could not read the shim's readiness pipe: {e}"
            ));
        }
        match message.as_str() {
            READY => Ok(()),
            "" => Err("berth-shim: the shim exited before the container was created".to_owned()),
            _ => Err(message),
        }
    }
}

/// The shim's end of the readiness pipe.
pub struct ReadyNotifier(File);

impl ReadyNotifier {
    /// The container is created and the socket is ready.
    pub fn ready(self) {
        self.send(READY);
    }

    /// Nothing was created: tell the invoker why. The pipe stays open until the kernel tears
    /// this process down, so when the invoker returns the failed shim is gone too.
    pub fn failed(mut self, message: &str) {
        let _ = self.0.write_all(message.as_bytes());
        std::mem::forget(self.0);
    }

    fn send(mut self, message: &str) {
        // If the invoker was killed meanwhile nobody listens: the shim carries on regardless.
        let _ = self.0.write_all(message.as_bytes());
    }
}
