//! The last steps of every container process, init or exec'd: working directory, the program's
//! path, no_new_privs, seccomp, capabilities and user, then `execve` with every inherited fd above
//! 2 closed (CVE-2024-21626: a leaked host directory fd let a container walk out of its root).

use std::convert::Infallible;
use std::ffi::CString;
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
pub fn close_inherited_fds(preserve: u32) -> Result<()> {
    let first = 3u32.saturating_add(preserve);
    // SAFETY: close_range only changes flags of this process's fds.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        return Err(ProcessError::Kernel {
            what: "mark inherited fds close-on-exec",
            source: nix::Error::last(),
        });
    }
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
    /// an init, waits for `start`). Returns only on error.
    pub fn exec<E: std::fmt::Display>(
        self,
        ready: impl FnOnce() -> std::result::Result<(), E>,
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

        ready().map_err(|e| ProcessError::Ready(format!("{e:#}")))?;

        close_inherited_fds(self.preserve_fds)?;
        reset_signals();
        let c = |s: &str| CString::new(s).map_err(|_| ProcessError::Nul(s.to_string()));
        let program_c = c(&program.to_string_lossy())?;
        let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
        let envp = env.iter().map(|e| c(e)).collect::<Result<Vec<_>>>()?;
        if self.as_init {
            crate::tiny_init::run(&program_c, &argv, &envp);
        }
        let source = nix::unistd::execve(&program_c, &argv, &envp).unwrap_err();
        Err(ProcessError::Exec {
            path: program,
            source,
        })
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
