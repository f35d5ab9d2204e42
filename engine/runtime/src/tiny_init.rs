//! A tiny init for `--init`: PID 1 that runs the container's program as its only child,
//! forwards every signal to it, reaps the zombies orphans leave behind, and exits with the
//! program's status — what tini (Docker's `docker-init`) does.
//!
//! It is the runtime's own container init process that stays on as PID 1 (so nothing has to be
//! mounted into the container): all its setup (namespaces, capabilities, seccomp, user) is done,
//! and it never execs.

use std::ffi::CString;
use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, execve, fork};

/// Run `program` as the child of this PID 1; never returns. `failure_pipe` (close-on-exec) is
/// where the child says why its exec failed; PID 1 closes its own copy at once, so the reader
/// sees the end of the pipe as soon as the program runs.
pub fn run(program: &CString, argv: &[CString], envp: &[CString], failure_pipe: Option<RawFd>) -> ! {
    // Signals stay pending while blocked, even for PID 1 (an unhandled one would be ignored), and
    // are taken one by one with sigwait.
    let all = SigSet::all();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None);
    // SAFETY: this process is single-threaded here (the runtime's container init), so fork is
    // sound; the child only restores its signal mask and execs.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
            let Err(err) = execve(program, argv, envp);
            if let Some(fd) = failure_pipe {
                let message = format!("exec {}: {err}", program.to_string_lossy());
                crate::process::report_failure(fd, &message);
            }
            // SAFETY: _exit is always safe; nothing of the parent's state must run here.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            // What `ps` shows for PID 1, as `docker-init` shows for Docker's.
            let _ = nix::sys::prctl::set_name(c"berth-init");
            if let Some(fd) = failure_pipe {
                // SAFETY: closing our copy of the failure pipe, which nothing here uses again (its
                // owner is a frame of this never-returning call, so it is never closed twice);
                // by number, because close_range below may be refused by the seccomp filter.
                unsafe { libc::close(fd) };
            }
            // PID 1 keeps only stdio; the program has its own copies of everything else.
            // SAFETY: closing this process's own fds from 3 up; none is used after this point.
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            supervise(child, &all)
        }
        Err(err) => {
            if let Some(fd) = failure_pipe {
                crate::process::report_failure(fd, &format!("cannot fork the program: {err}"));
            }
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(126) }
        }
    }
}

fn supervise(child: Pid, all: &SigSet) -> ! {
    loop {
        let Ok(signal) = all.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        // Reap every child that is done; leave when the program itself is.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                    std::process::exit(128 + signal as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
