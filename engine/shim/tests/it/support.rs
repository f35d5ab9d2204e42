//! Shared pieces of the shim's integration tests: a busybox bundle, a container guard that
//! cleans up even when a test fails, and readers that give up instead of hanging.
//!
//! Tests run as root on the real kernel with the runtime from `BERTH_TEST_RUNTIME` (default
//! `/usr/sbin/runc`). Each container has a unique id and its own top-level cgroup `/berth-<id>`
//! (no shared parent that another test's runtime could remove under runc), so tests run in
//! parallel.

use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use berth_shim::json_log::LogEntry;
use berth_shim::paths::StateDir;
use berth_shim::{ShimClient, ShimError, ShimOptions};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::{Value, json};

/// How long a test waits for something that should happen at once before failing instead of
/// hanging (a guard, not a measurement).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The runtime under test.
pub fn runtime() -> PathBuf {
    std::env::var_os("BERTH_TEST_RUNTIME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/sbin/runc".into())
}

fn unique_id(name: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "shimtest-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// What the container runs and how.
#[derive(Debug, Clone)]
pub struct Setup {
    name: String,
    args: Vec<String>,
    tty: bool,
    stdin: bool,
    stdin_once: bool,
    memory_limit: Option<i64>,
}

/// A container running `args`, named `name` in its id.
pub fn container(name: &str, args: &[&str]) -> Setup {
    Setup {
        name: name.to_owned(),
        args: args.iter().map(|a| a.to_string()).collect(),
        tty: false,
        stdin: false,
        stdin_once: false,
        memory_limit: None,
    }
}

impl Setup {
    /// Give it a pty.
    pub fn tty(mut self) -> Self {
        self.tty = true;
        self
    }

    /// Give it a stdin.
    pub fn stdin(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Close its stdin when the first client closes its side.
    pub fn stdin_once(mut self) -> Self {
        self.stdin_once = true;
        self
    }

    /// Limit its memory (and memory+swap) to `bytes`.
    pub fn memory_limit(mut self, bytes: i64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Write the bundle and start the shim; the guard exists before the shim runs, so even a
    /// half-made container is cleaned up.
    pub fn try_create(self) -> (TestContainer, Result<ShimClient, ShimError>) {
        let container = self.prepare();
        // `spawn` waits for the invoker's stdout and stderr to close: if the shim kept them, this hangs.
        let result = container.options.spawn();
        (container, result)
    }

    /// Write the bundle, without starting a shim.
    pub fn prepare(self) -> TestContainer {
        let id = unique_id(&self.name);
        let dir = tempfile::tempdir().expect("temp dir");
        let bundle = dir.path().join("bundle");
        write_busybox_rootfs(&bundle.join("rootfs"));
        let config = oci_config(&self, &id);
        fs::write(
            bundle.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        let options = ShimOptions {
            shim_binary: env!("CARGO_BIN_EXE_berth-shim").into(),
            id: id.clone(),
            bundle,
            state_dir: dir.path().join("state"),
            runtime: runtime(),
            runtime_root: dir.path().join("runtime-root"),
            log_path: dir.path().join("container-json.log"),
            tty: self.tty,
            stdin: self.stdin,
            stdin_once: self.stdin_once,
        };
        TestContainer {
            id,
            options,
            _dir: dir,
        }
    }

    /// Create and expect success.
    pub fn create(self) -> TestContainer {
        let (container, result) = self.try_create();
        if let Err(e) = result {
            panic!("the shim failed to create {}: {e}", container.id);
        }
        container
    }
}

/// A busybox root: the static binary and a symlink per applet.
fn write_busybox_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for dir in ["proc", "dev", "sys", "tmp", "etc"] {
        fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    fs::copy("/bin/busybox", bin.join("busybox")).expect("/bin/busybox (busybox-static) is needed");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
}

/// A config like `runc spec`'s, with our args, terminal, cgroup and limits.
fn oci_config(setup: &Setup, id: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(limit) = setup.memory_limit {
        resources["memory"] = json!({"limit": limit, "swap": limit});
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": setup.tty,
            "user": {"uid": 0, "gid": 0},
            "args": setup.args,
            "env": ["PATH=/bin", "TERM=xterm", "HOME=/"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "shimtest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
        ],
        "linux": {
            "cgroupsPath": format!("/berth-{id}"),
            "resources": resources,
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// One test's container. Dropping it removes everything: runtime state, shim, cgroups, files.
pub struct TestContainer {
    /// The container id.
    pub id: String,
    /// How its shim was started.
    pub options: ShimOptions,
    _dir: tempfile::TempDir,
}

impl TestContainer {
    /// A client for its shim.
    pub fn client(&self) -> ShimClient {
        ShimClient::for_state_dir(&self.options.state_dir)
    }

    /// Its state dir's file names.
    pub fn state(&self) -> StateDir {
        StateDir::new(&self.options.state_dir)
    }

    /// The shim's pid, from `shim.pid`.
    pub fn shim_pid(&self) -> i32 {
        read_pid(&self.state().shim_pid()).expect("shim.pid")
    }

    /// The json-file log, parsed.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        let text = fs::read_to_string(&self.options.log_path).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad log line {line:?}: {e}")))
            .collect()
    }

    /// `(log, stream)` of each log entry.
    pub fn log_lines(&self) -> Vec<(String, String)> {
        self.log_entries()
            .into_iter()
            .map(|e| (e.log, e.stream))
            .collect()
    }

    /// Ask the runtime whether it still knows the container.
    pub fn runtime_knows_it(&self) -> bool {
        Command::new(runtime())
            .arg("--root")
            .arg(&self.options.runtime_root)
            .args(["state", &self.id])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// The container's cgroup directories that exist.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
            return Vec::new();
        };
        hierarchies
            .filter_map(|h| h.ok())
            .map(|h| h.path().join(format!("berth-{}", self.id)))
            .filter(|dir| dir.is_dir())
            .collect()
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = Command::new(runtime())
            .arg("--root")
            .arg(&self.options.runtime_root)
            .args(["delete", "--force", &self.id])
            .output();
        if let Some(pid) = read_pid(&self.state().shim_pid()) {
            if is_our_shim(pid, &self.id) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for dir in self.cgroup_dirs() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Is `pid` a live berth-shim for container `id`? (Guards against pid reuse before a kill.)
pub fn is_our_shim(pid: i32, id: &str) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    args.windows(2).any(|w| w[0] == b"--id" && w[1] == id.as_bytes())
}

/// Any process whose command line names container `id` (a shim or runtime left behind).
pub fn processes_naming(id: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.split(|&b| b == 0).any(|arg| arg == id.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Is process `pid` alive (not yet exited)?
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            // The state letter follows the command name in parentheses; Z is a zombie (exited).
            let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
            !matches!(state, Some('Z') | Some('X'))
        })
        .unwrap_or(false)
}

/// Block until process `pid` (any process, not only a child) has exited, through a pidfd.
pub fn wait_for_exit(pid: i32) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        // Already gone (and reaped).
        assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::ESRCH));
        return;
    }
    // SAFETY: the syscall returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    assert!(
        readable_within(pidfd.as_fd(), PATIENCE),
        "process {pid} did not exit"
    );
}

/// Wait until `fd` is readable, for at most `limit`.
pub fn readable_within(fd: BorrowedFd<'_>, limit: Duration) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(limit.as_millis() as i32).unwrap();
    matches!(poll(&mut fds, timeout), Ok(1..))
}

/// Read raw bytes until `needle` appears; returns everything read. Panics after [`PATIENCE`].
pub fn read_until(stream: &mut UnixStream, needle: &[u8]) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        match stream.read(&mut buf) {
            Ok(0) => panic!(
                "stream ended before {:?}; got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&seen)
            ),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no {:?} in time ({e}); got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    seen
}

/// Read raw bytes to the end of the stream. Panics after [`PATIENCE`] without progress.
pub fn read_to_end(stream: &mut UnixStream) -> Vec<u8> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("the stream should end");
    all
}

/// Read a pipe to its end, failing if it is not closed within [`PATIENCE`].
pub fn read_pipe_to_end(pipe: &mut impl Read, fd: BorrowedFd<'_>) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            readable_within(fd, PATIENCE),
            "the pipe stayed open: somebody still holds it"
        );
        match pipe.read(&mut buf).unwrap() {
            0 => return all,
            n => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// An OCI process object running `args`.
pub fn oci_process(args: &[&str]) -> Value {
    json!({
        "args": args,
        "env": ["PATH=/bin", "TERM=xterm", "HOME=/"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "noNewPrivileges": true
    })
}

/// Send a `wait` request now and return its connection; read the reply with [`finish_wait`].
/// A `state` round trip afterwards makes sure the shim has read the request: it serves
/// connections in the order they arrive.
pub fn start_wait(client: &ShimClient, process: &str) -> UnixStream {
    let mut stream = UnixStream::connect(client.socket()).unwrap();
    let request = berth_shim::Request::Wait {
        process: process.to_owned(),
    };
    let mut line = serde_json::to_vec(&request).unwrap();
    line.push(b'\n');
    std::io::Write::write_all(&mut stream, &line).unwrap();
    client.state().unwrap();
    stream
}

/// The reply of a `wait` sent by [`start_wait`].
pub fn finish_wait(mut stream: UnixStream) -> berth_shim::ExitStatus {
    let reply: Value = serde_json::from_slice(&read_to_end(&mut stream)).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    serde_json::from_value(reply).unwrap()
}
