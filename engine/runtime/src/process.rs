//! The last steps of every container process, init or exec'd: working directory, the program's
//! path, every inherited fd above 2 marked close-on-exec (CVE-2024-21626: a leaked host directory
//! fd let a container walk out of its root), no_new_privs, seccomp, capabilities and user, then
//! `execve`.
//!
//! Everything that can be checked is checked before `ready` (the program is looked up on the
//! container's PATH, as runc does), because until then a failure goes back over the setup
//! channel to `create`. What can only fail later (`execve` itself) is written to the failure
//! pipe `ready` hands back, so that `start` can report it: nothing fails silently.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::capabilities::{CapabilityError, CapabilitySets};
use crate::seccomp::{self, Filter, SeccompError};
use crate::user::{self, UserError};

/// Errors in a process's last steps.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// the program does not exist (runc's wording)
    #[error("exec: {program:?}: stat {program}: {source}")]
    NoSuchProgram {
        /// The program as given.
        program: String,
        /// What stat said.
        source: std::io::Error,
    },
    /// the program is not on the PATH (runc's wording)
    #[error("exec: {0:?}: executable file not found in $PATH")]
    NotInPath(String),
    /// the program is a directory or has no execute bit (runc's wording)
    #[error("exec: {0:?}: permission denied")]
    NotExecutable(String),
    /// cannot enter the working directory
    #[error("cannot enter working directory {path}: {source}")]
    Cwd {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// the process has no args
    #[error("the process has no args")]
    NoArgs,
    /// an argument, variable or path holds a NUL byte
    #[error("an argument, variable or path holds a NUL byte: {0:?}")]
    Nul(String),
    /// a process setting failed
    #[error("cannot {what}: {source}")]
    Kernel {
        /// What was being done.
        what: &'static str,
        /// What failed.
        source: nix::Error,
    },
    /// execve failed
    #[error("exec {path}: {source}")]
    Exec {
        /// The program.
        path: PathBuf,
        /// What failed.
        source: nix::Error,
    },
    /// capabilities could not be set
    #[error(transparent)]
    Capabilities(#[from] CapabilityError),
    /// seccomp could not be loaded
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    /// the user could not be switched
    #[error(transparent)]
    User(#[from] UserError),
    /// the caller's `ready` step failed
    #[error("{0}")]
    Ready(String),
    /// a failure after `ready`, already written to the failure pipe for `start` to report
    #[error("{0}")]
    Reported(Box<ProcessError>),
}

type Result<T, E = ProcessError> = std::result::Result<T, E>;

/// The PATH used when the process's environment has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find the program like `execvp` would, to report a missing one before the container starts,
/// with runc's wording.
pub fn find_program(program: &str, env: &[String]) -> Result<PathBuf> {
    let is_executable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let path = PathBuf::from(program);
        if let Err(source) = std::fs::metadata(&path) {
            return Err(ProcessError::NoSuchProgram {
                program: program.to_string(),
                source,
            });
        }
        // As runc's LookPath: a directory or a file without an execute bit cannot be invoked.
        if !is_executable(&path) {
            return Err(ProcessError::NotExecutable(program.to_string()));
        }
        return Ok(path);
    }
    let path_var = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path_var
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| ProcessError::NotInPath(program.to_string()))
}

fn chdir(cwd: &Path) -> Result<()> {
    let err = |source| ProcessError::Cwd {
        path: cwd.to_path_buf(),
        source,
    };
    match std::env::set_current_dir(cwd) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // runc makes a missing working directory.
            std::fs::create_dir_all(cwd).map_err(err)?;
            std::env::set_current_dir(cwd).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

fn set_no_new_privs() -> Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(ProcessError::Kernel {
            what: "set no_new_privs",
            source: nix::Error::last(),
        });
    }
    crate::explain!("set no_new_privs: the program can never gain privileges");
    Ok(())
}

/// The program starts with no signal blocked and every disposition at its default, as under
/// runc, whatever its parents had: the shim blocks SIGCHLD for its signalfd, and Rust programs
/// ignore SIGPIPE. (A shell as PID 1 with SIGCHLD blocked never returns from `wait` in its
/// SIGTERM trap, so `docker stop` waited its full 10 seconds.)
fn reset_signals() {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: SIG_DFL installs no handler of ours, so no code can run in signal context.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    // Real-time signals (which nix's `Signal` doesn't list) may be ignored too.
    for sig in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: as above: restoring the default disposition of a signal number.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Mark every fd from `3 + preserve` up close-on-exec, and the `preserve` ones below it (the
/// caller's `--preserve-fds`) inheritable, so the program gets exactly stdio and those.
///
/// Done before the seccomp filter is loaded: older profiles (the OCI runtime-tools generator's,
/// for one) do not allow `close_range`, and after the filter it would fail with EPERM. Where
/// `close_range` is missing or refused, every fd listed in /proc/self/fd is marked instead.
pub fn mark_inherited_fds_cloexec(preserve: u32) -> Result<()> {
    let first = 3u32.saturating_add(preserve);
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes flags of this process's fds.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    let marked = if rc == 0 {
        Ok(())
    } else {
        match nix::Error::last() {
            nix::Error::ENOSYS | nix::Error::EINVAL | nix::Error::EPERM => mark_listed_fds_cloexec(first),
            source => Err(ProcessError::Kernel {
                what: "mark inherited fds close-on-exec",
                source,
            }),
        }
    };
    marked?;
    for fd in 3..first {
        // SAFETY: F_SETFD on an fd number only changes that fd's flags (or fails with EBADF).
        if unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) } != 0 {
            return Err(ProcessError::Kernel {
                what: "keep a preserved fd open",
                source: nix::Error::last(),
            });
        }
    }
    Ok(())
}

/// The fallback of [`mark_inherited_fds_cloexec`]: walk /proc/self/fd with fcntl, from `first` up.
fn mark_listed_fds_cloexec(first: u32) -> Result<()> {
    let io_err = |e: std::io::Error| ProcessError::Kernel {
        what: "list /proc/self/fd to mark inherited fds close-on-exec",
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    // Collected first: the directory's own fd is among those listed while it is read.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(io_err)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| u32::try_from(*fd).is_ok_and(|fd| fd >= first))
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD only read and change the flags of an fd of this process.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        // EBADF: the listing's own fd, closed since.
        // SAFETY: as above.
        if flags >= 0 && unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } != 0 {
            return Err(ProcessError::Kernel {
                what: "mark an inherited fd close-on-exec",
                source: nix::Error::last(),
            });
        }
    }
    Ok(())
}

/// Tell whoever waits on `sink` why the program could not be run: one write (a pipe keeps it
/// whole up to PIPE_BUF), so the reader never sees half a message. True when it was delivered.
pub fn report_failure(sink: RawFd, message: &str) -> bool {
    let mut bytes = message.as_bytes();
    if bytes.len() > libc::PIPE_BUF {
        bytes = &bytes[..libc::PIPE_BUF];
    }
    // SAFETY: writing a buffer we own to an fd of this process.
    let written = unsafe { libc::write(sink, bytes.as_ptr().cast(), bytes.len()) };
    written > 0
}

/// What a process needs for its last steps.
pub struct Finish<'a> {
    /// The spec's process.
    pub process: &'a Process,
    /// The compiled seccomp filter, if the spec has one.
    pub seccomp: Option<&'a Filter>,
    /// Its capability sets.
    pub capabilities: &'a CapabilitySets,
    /// Whether `setgroups` may be called (not in a user namespace with setgroups denied).
    pub setgroups_allowed: bool,
    /// Stay as a tiny init (PID 1) that runs the program as its child, forwards signals to it
    /// and reaps zombies, instead of exec'ing the program (Docker's `--init`).
    pub as_init: bool,
    /// How many fds above stderr (`--preserve-fds`) the program inherits.
    pub preserve_fds: u32,
}

impl Finish<'_> {
    /// Take the last steps; `ready` runs just before the exec (it reports to the parent and, for
    /// an init, waits for `start`) and hands back the failure pipe, if there is one, on which a
    /// failure after it is written. Returns only on error.
    pub fn exec<E: std::fmt::Display>(
        self,
        ready: impl FnOnce() -> std::result::Result<Option<File>, E>,
    ) -> Result<Infallible> {
        let process = self.process;
        chdir(process.cwd())?;
        let args = process
            .args()
            .clone()
            .filter(|a| !a.is_empty())
            .ok_or(ProcessError::NoArgs)?;
        let mut env = process.env().clone().unwrap_or_default();
        user::ensure_home(&mut env, process.user().uid());
        let program = find_program(&args[0], &env)?;
        let c = |s: &str| CString::new(s).map_err(|_| ProcessError::Nul(s.to_string()));
        let program_c = c(&program.to_string_lossy())?;
        let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
        let envp = env.iter().map(|e| c(e)).collect::<Result<Vec<_>>>()?;
        mark_inherited_fds_cloexec(self.preserve_fds)?;

        let no_new_privs = process.no_new_privileges().unwrap_or(false);
        if no_new_privs {
            set_no_new_privs()?;
        }
        // Without no_new_privs loading a filter needs CAP_SYS_ADMIN: do it while we hold it.
        if let (Some(filter), false) = (self.seccomp, no_new_privs) {
            seccomp::load(filter)?;
        }
        self.capabilities.apply_bounding()?;
        user::switch(process.user(), self.setgroups_allowed)?;
        self.capabilities.apply_process_sets()?;
        // With no_new_privs, as late as possible: fewer syscalls need allowing after it.
        if let (Some(filter), true) = (self.seccomp, no_new_privs) {
            seccomp::load(filter)?;
        }
        let umask = process.user().umask().unwrap_or(0o022);
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));

        let sink = ready().map_err(|e| ProcessError::Ready(format!("{e:#}")))?;
        let sink_fd = sink.as_ref().map(AsRawFd::as_raw_fd);

        reset_signals();
        if self.as_init {
            crate::tiny_init::run(&program_c, &argv, &envp, sink_fd);
        }
        let source = match nix::unistd::execve(&program_c, &argv, &envp) {
            Ok(never) => match never {},
            Err(source) => source,
        };
        let err = ProcessError::Exec {
            path: program,
            source,
        };
        match sink_fd {
            Some(fd) if report_failure(fd, &err.to_string()) => Err(ProcessError::Reported(Box::new(err))),
            _ => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_path_with_runc_messages() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(find_program("sh", &env).expect("sh"), PathBuf::from("/bin/sh"));
        let err = find_program("no-such-program-here", &env).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "exec: \"no-such-program-here\": executable file not found in $PATH"
        );
        let err = find_program("/no/such", &env).expect_err("missing");
        assert!(err.to_string().starts_with("exec: \"/no/such\": stat /no/such:"));
        let err = find_program("/etc", &env).expect_err("a directory");
        assert_eq!(err.to_string(), "exec: \"/etc\": permission denied");
    }
}
