//! The last steps of every container process, init or exec'd: working directory, the program's
//! path, no_new_privs, seccomp, capabilities and user, then `execve` with every inherited fd above
//! 2 closed (CVE-2024-21626: a leaked host directory fd let a container walk out of its root).

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::Process;

use crate::capabilities::CapabilitySets;
use crate::seccomp::{self, Filter};
use crate::user;

/// The PATH used when the process's environment has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find the program like `execvp` would, to report a missing one before the container starts,
/// with runc's wording.
pub fn find_program(program: &str, env: &[String]) -> Result<PathBuf> {
    let is_executable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        let path = PathBuf::from(program);
        if let Err(err) = std::fs::metadata(&path) {
            bail!("exec: {program:?}: stat {program}: {err}");
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
        .with_context(|| format!("exec: {program:?}: executable file not found in $PATH"))
}

fn chdir(cwd: &Path) -> Result<()> {
    match nix::unistd::chdir(cwd) {
        Ok(()) => Ok(()),
        Err(nix::Error::ENOENT) => {
            // runc makes a missing working directory.
            std::fs::create_dir_all(cwd)
                .with_context(|| format!("cannot create working directory {}", cwd.display()))?;
            nix::unistd::chdir(cwd)
                .with_context(|| format!("cannot enter working directory {}", cwd.display()))
        }
        Err(err) => Err(err).with_context(|| format!("cannot enter working directory {}", cwd.display())),
    }
}

fn set_no_new_privs() -> Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(nix::Error::last()).context("cannot set no_new_privs");
    }
    crate::explain!("set no_new_privs: the program can never gain privileges");
    Ok(())
}

/// Mark every fd from 3 up close-on-exec, so the program inherits only stdin, stdout, stderr.
pub fn close_inherited_fds() -> Result<()> {
    // SAFETY: close_range only changes flags of this process's fds.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        return Err(nix::Error::last()).context("cannot mark inherited fds close-on-exec");
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
}

impl Finish<'_> {
    /// Take the last steps; `ready` runs just before the exec (it reports to the parent and, for
    /// an init, waits for `start`). Returns only on error.
    pub fn exec(self, ready: impl FnOnce() -> Result<()>) -> Result<Infallible> {
        let process = self.process;
        chdir(process.cwd())?;
        let args = process
            .args()
            .clone()
            .filter(|a| !a.is_empty())
            .context("the process has no args")?;
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

        ready()?;

        close_inherited_fds()?;
        let c = |s: &str| CString::new(s).context("an argument or variable holds a NUL byte");
        let program_c = CString::new(program.as_os_str().as_encoded_bytes())
            .context("the program path holds a NUL byte")?;
        let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
        let envp = env.iter().map(|e| c(e)).collect::<Result<Vec<_>>>()?;
        let err = nix::unistd::execve(&program_c, &argv, &envp).unwrap_err();
        Err(err).with_context(|| format!("exec {}", program.display()))
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
    }
}
