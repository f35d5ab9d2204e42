//! Running the OCI runtime with runc's command line: create, start, exec, kill, delete.
//!
//! Every call is `RUNTIME --root R --log <state-dir>/explain.jsonl --log-format json <command>`.
//! The shim runs each one to its end before doing anything else, so its reaper never takes a
//! runtime command's exit status.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use berth_api::explain::TARGET;
use tracing::info;

use crate::stdio;

/// Why a runtime command failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// could not run the runtime {binary}: {source}
    #[error("could not run the runtime {binary}: {source}")]
    Spawn {
        /// The runtime binary.
        binary: String,
        /// The I/O error.
        source: io::Error,
    },
    /// {0} (the runtime's own message)
    #[error("{0}")]
    Failed(String),
}

/// The stdio a runtime command gets. For `create` and `exec` without a tty, the process inherits
/// it from the runtime: these are the container's pipes.
pub struct ProcessIo {
    /// Standard input: the read end of the stdin pipe, or `/dev/null`.
    pub stdin: Option<OwnedFd>,
    /// Standard output: the write end of the stdout pipe.
    pub stdout: OwnedFd,
    /// Standard error: the write end of the stderr pipe.
    pub stderr: OwnedFd,
}

/// One container's runtime: binary, `--root`, `--log` and the container id.
#[derive(Debug, Clone)]
pub struct Runtime {
    binary: PathBuf,
    /// A read-only clone of the binary that the runtime is executed through, when the kernel
    /// could make one (see [`sealed_binary`]).
    sealed: Option<Arc<OwnedFd>>,
    root: PathBuf,
    log: PathBuf,
    id: String,
}

/// A read-only clone of the runtime's binary, made once per shim. A runtime started from it
/// already runs sealed against CVE-2019-5736 (its `/proc/self/exe` cannot be written), so it skips
/// the re-execution from a sealed copy that `create` and `exec` otherwise begin with. `None`
/// where the kernel cannot (before 5.12), the binary is a bare name looked up on PATH, or it is a
/// script (its interpreter would need the fd, which is closed on exec).
fn sealed_binary(binary: &Path) -> Option<Arc<OwnedFd>> {
    if !binary.as_os_str().as_bytes().contains(&b'/') {
        return None;
    }
    let mut magic = [0u8; 2];
    File::open(binary)
        .and_then(|mut f| f.read_exact(&mut magic))
        .ok()?;
    if &magic == b"#!" {
        return None;
    }
    let path = CString::new(binary.as_os_str().as_bytes()).ok()?;
    berth_runtime::sealed_exe::read_only_clone_of(&path)
        .ok()
        .map(Arc::new)
}

/// An `execveat` of the sealed binary, with its argument and environment arrays built before the
/// fork (the child of a threaded process may not allocate). Executed by fd rather than through
/// `/proc/self/fd/N`, so that the process is named after the binary, not the fd.
struct SealedExec {
    binary: Arc<OwnedFd>,
    /// Own the strings the pointer arrays point into.
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into `_strings`, owned by the same value and never changed, and
// are only read (by the kernel, in the child).
unsafe impl Send for SealedExec {}
// SAFETY: as for Send: nothing is ever written through the pointers.
unsafe impl Sync for SealedExec {}

impl SealedExec {
    fn new(binary: Arc<OwnedFd>, program: &Path, args: &[std::ffi::OsString]) -> SealedExec {
        let cstring = |bytes: &[u8]| CString::new(bytes).unwrap_or_default();
        let argv_strings: Vec<CString> = std::iter::once(cstring(program.as_os_str().as_bytes()))
            .chain(args.iter().map(|a| cstring(a.as_bytes())))
            .collect();
        let env_strings: Vec<CString> = std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k.into_vec();
                kv.push(b'=');
                kv.extend(v.into_vec());
                cstring(&kv)
            })
            .collect();
        let pointers = |strings: &[CString]| -> Vec<*const libc::c_char> {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain([std::ptr::null()])
                .collect()
        };
        let argv = pointers(&argv_strings);
        let envp = pointers(&env_strings);
        let mut strings = argv_strings;
        strings.extend(env_strings);
        SealedExec {
            binary,
            _strings: strings,
            argv,
            envp,
        }
    }

    /// Returns only on failure, with the error.
    fn exec(&self) -> io::Error {
        // SAFETY: a valid fd, an empty NUL-terminated path with AT_EMPTY_PATH, and two
        // NULL-terminated arrays of pointers to NUL-terminated strings that outlive the call.
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                self.binary.as_raw_fd(),
                c"".as_ptr(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        io::Error::last_os_error()
    }
}

impl Runtime {
    /// The runtime `binary` with state in `root`, logging to `log`, for container `id`.
    pub fn new(binary: PathBuf, root: PathBuf, log: PathBuf, id: String) -> Self {
        Self {
            sealed: sealed_binary(&binary),
            binary,
            root,
            log,
            id,
        }
    }

    /// The binary's file name (`runc`), for messages.
    pub fn name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "runtime".into())
    }

    /// `create --bundle B --pid-file P [--console-socket S] ID`: the container's init waits for start.
    pub fn create(
        &self,
        bundle: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        io: Option<ProcessIo>,
    ) -> Result<(), RuntimeError> {
        let mut args = vec![
            "create".into(),
            "--bundle".into(),
            bundle.into(),
            "--pid-file".into(),
            pid_file.into(),
        ];
        if let Some(console) = console {
            args.extend(["--console-socket".into(), console.into()]);
        }
        args.push(self.id.clone().into());
        self.run("create", args, io)?;
        info!(target: TARGET, "ran {} create for container {}: its init process is made and waits for start", self.name(), self.id);
        Ok(())
    }

    /// `start ID`: the init process execs the container's program.
    pub fn start(&self) -> Result<(), RuntimeError> {
        self.run("start", vec!["start".into(), self.id.clone().into()], None)?;
        info!(target: TARGET, "ran {} start for container {}: its process runs", self.name(), self.id);
        Ok(())
    }

    /// `pause ID`.
    pub fn pause(&self) -> Result<(), RuntimeError> {
        self.run("pause", vec!["pause".into(), self.id.clone().into()], None)?;
        info!(target: TARGET, "ran {} pause: froze every process of container {}", self.name(), self.id);
        Ok(())
    }

    /// `resume ID`.
    pub fn resume(&self) -> Result<(), RuntimeError> {
        self.run("resume", vec!["resume".into(), self.id.clone().into()], None)?;
        info!(target: TARGET, "ran {} resume: thawed every process of container {}", self.name(), self.id);
        Ok(())
    }

    /// `update --resources FILE ID`: the cgroup limits in FILE, live.
    pub fn update(&self, resources: &Path) -> Result<(), RuntimeError> {
        let args = vec![
            "update".into(),
            "--resources".into(),
            resources.into(),
            self.id.clone().into(),
        ];
        self.run("update", args, None)?;
        info!(target: TARGET, "ran {} update: new resource limits for container {}", self.name(), self.id);
        Ok(())
    }

    /// `kill [--all] ID SIGNAL`.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), RuntimeError> {
        let mut args = vec!["kill".into()];
        if all {
            args.push("--all".into());
        }
        args.extend([self.id.clone().into(), signal.to_string().into()]);
        self.run("kill", args, None)?;
        let whom = if all {
            "every process of container"
        } else {
            "container"
        };
        info!(target: TARGET, "ran {} kill: sent signal {signal} to {whom} {}", self.name(), self.id);
        Ok(())
    }

    /// `delete [--force] ID`: removes the runtime's state and the container's cgroup.
    pub fn delete(&self, force: bool) -> Result<(), RuntimeError> {
        let mut args = vec!["delete".into()];
        if force {
            args.push("--force".into());
        }
        args.push(self.id.clone().into());
        self.run("delete", args, None)?;
        info!(target: TARGET, "ran {} delete for container {}: its runtime state and cgroup are gone", self.name(), self.id);
        Ok(())
    }

    /// `exec --process F --detach --pid-file P [--console-socket S] ID`.
    pub fn exec(
        &self,
        process: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        io: Option<ProcessIo>,
    ) -> Result<(), RuntimeError> {
        let mut args = vec![
            "exec".into(),
            "--process".into(),
            process.into(),
            "--detach".into(),
            "--pid-file".into(),
            pid_file.into(),
        ];
        if let Some(console) = console {
            args.extend(["--console-socket".into(), console.into()]);
        }
        args.push(self.id.clone().into());
        self.run("exec", args, io)
    }

    /// Run one command to its end. Without `io` the runtime gets `/dev/null` and a pipe on
    /// stderr for its error message; with `io` its stderr is the container's, so the message
    /// comes from the json `--log` (runc writes `{"level":"error","msg":…}` there too).
    fn run(
        &self,
        command: &str,
        args: Vec<std::ffi::OsString>,
        io: Option<ProcessIo>,
    ) -> Result<(), RuntimeError> {
        let log_start = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut args_with_globals: Vec<std::ffi::OsString> = vec![
            "--root".into(),
            self.root.clone().into(),
            "--log".into(),
            self.log.clone().into(),
            "--log-format".into(),
            "json".into(),
        ];
        args_with_globals.extend(args);
        let mut cmd = Command::new(&self.binary);
        cmd.args(&args_with_globals);
        if let Some(sealed) = &self.sealed {
            let exec = SealedExec::new(sealed.clone(), &self.binary, &args_with_globals);
            // SAFETY: the closure runs in the forked child and only makes the execveat system
            // call, on memory prepared before the fork: nothing that allocates or takes a lock.
            unsafe { cmd.pre_exec(move || Err(exec.exec())) };
        }
        let captured = io.is_none();
        match io {
            Some(io) => {
                cmd.stdin(io.stdin.map(Stdio::from).unwrap_or_else(Stdio::null))
                    .stdout(Stdio::from(io.stdout))
                    .stderr(Stdio::from(io.stderr));
            }
            None => {
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
            }
        }
        let spawn_error = |source| RuntimeError::Spawn {
            binary: self.binary.display().to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_error)?;
        // Drop our copies of the container's pipe ends now that the runtime holds them.
        drop(cmd);
        let status = child.wait().map_err(spawn_error)?;
        if status.success() {
            return Ok(());
        }
        // Read stderr only after the exit: a process the runtime left behind may hold it open.
        let stderr = if captured {
            child
                .stderr
                .take()
                .map(|s| read_available(s.into()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let message = last_error_in_log(&self.log, log_start)
            .or_else(|| Some(stderr.trim().to_owned()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| format!("{} {command} failed: {status}", self.name()));
        Err(RuntimeError::Failed(message))
    }
}

/// What is in a pipe right now, without waiting for its end.
fn read_available(fd: OwnedFd) -> String {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    if stdio::set_nonblocking(fd.as_fd()).is_ok() {
        while let Ok(n @ 1..) = stdio::read(fd.as_fd(), &mut buf) {
            text.extend_from_slice(&buf[..n]);
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The message of the last `"level":"error"` line written to the json log after `offset`.
fn last_error_in_log(log: &Path, offset: u64) -> Option<String> {
    let mut file = File::open(log).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    last_error_line(&text)
}

fn last_error_line(text: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let level = value.get("level")?.as_str()?;
        if level.eq_ignore_ascii_case("error") || level.eq_ignore_ascii_case("fatal") {
            value.get("msg")?.as_str().map(str::to_owned)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_last_error_among_explain_lines() {
        let log = concat!(
            "{\"time\":\"t\",\"source\":\"berth-shim\",\"msg\":\"made pipes\"}\n",
            "{\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n",
            "{\"level\":\"warning\",\"msg\":\"careful\",\"time\":\"t\"}\n",
            "{\"level\":\"error\",\"msg\":\"runc create failed: no such file\",\"time\":\"t\"}\n",
            "not json\n",
        );
        assert_eq!(
            last_error_line(log).as_deref(),
            Some("runc create failed: no such file")
        );
        assert_eq!(last_error_line("{\"level\":\"info\",\"msg\":\"x\"}\n"), None);
    }

    #[test]
    fn a_failing_runtime_command_reports_the_runtime_message() {
        // Real runc, asked about a container that does not exist: no kernel state is touched.
        // CI installs runc (Debian's package): a machine without it fails here, not passes.
        let runc = Path::new("/usr/sbin/runc");
        assert!(
            runc.exists(),
            "/usr/sbin/runc is not installed (apt-get install runc)"
        );
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(
            runc.into(),
            dir.path().join("root"),
            dir.path().join("log.json"),
            "shim-unit-missing".into(),
        );
        let text = runtime.start().unwrap_err().to_string();
        assert!(text.contains("does not exist"), "{text}");
        let text = runtime.kill(9, false).unwrap_err().to_string();
        assert!(text.contains("does not exist"), "{text}");
    }
}
