//! Shared test scaffolding: busybox bundles, a spec close to what dockerd 20.10 generates, the
//! default seccomp profile turned into an OCI section the way dockerd does, and guards that
//! delete containers even when a test fails.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tempfile::TempDir;

/// The runtime under test.
pub const BERTH: &str = env!("CARGO_BIN_EXE_berth-runtime");
/// The reference runtime.
pub const RUNC: &str = "/usr/sbin/runc";

/// Docker's 14 default capabilities.
pub const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// A container id no other test (or test run) uses.
pub fn unique_id(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "rt-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bundle in a temp dir: `rootfs/` with busybox and its applets, and `config.json`.
pub struct Bundle {
    pub dir: TempDir,
}

impl Bundle {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-rt-bundle-")
            .tempdir()
            .expect("bundle dir");
        let rootfs = dir.path().join("rootfs");
        for sub in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
            fs::create_dir_all(rootfs.join(sub)).expect("rootfs dir");
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox");
        let list = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .expect("passwd");
        Bundle { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn write_spec(&self, spec: &Value) {
        fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(spec).expect("spec json"),
        )
        .expect("write config.json");
    }

    /// Compile a small C program statically into the rootfs (the probe for syscalls that
    /// busybox has no applet for).
    pub fn add_c_program(&self, name: &str, source: &str) {
        let src = self.path().join(format!("{name}.c"));
        fs::write(&src, source).expect("write C source");
        let out = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(self.rootfs().join("bin").join(name))
            .arg(&src)
            .output()
            .expect("run cc");
        assert!(
            out.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Docker's default seccomp profile turned into an OCI seccomp section, as dockerd does for a
/// container with `caps` on amd64: keep the native arch and its sub-arches, and keep a rule only
/// when its includes match and its excludes do not.
pub fn docker_seccomp(caps: &[&str]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/assets/seccomp-default.json");
    let profile: Value =
        serde_json::from_slice(&fs::read(&path).expect("seccomp profile")).expect("profile json");
    let mut arches = Vec::new();
    for entry in profile["archMap"].as_array().expect("archMap") {
        if entry["architecture"] == "SCMP_ARCH_X86_64" {
            arches.push(entry["architecture"].clone());
            arches.extend(entry["subArchitectures"].as_array().cloned().unwrap_or_default());
        }
    }
    let has = |list: &Value, item: &str| {
        list.as_array()
            .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(item)))
    };
    let mut syscalls = Vec::new();
    for call in profile["syscalls"].as_array().expect("syscalls") {
        let inc = &call["includes"];
        let exc = &call["excludes"];
        if inc["arches"].is_array() && !has(&inc["arches"], "amd64") {
            continue;
        }
        if has(&exc["arches"], "amd64") {
            continue;
        }
        if let Some(needed) = inc["caps"].as_array() {
            if !needed.iter().all(|c| caps.contains(&c.as_str().unwrap_or(""))) {
                continue;
            }
        }
        if let Some(excluded) = exc["caps"].as_array() {
            if excluded.iter().any(|c| caps.contains(&c.as_str().unwrap_or(""))) {
                continue;
            }
        }
        let mut rule = json!({"names": call["names"], "action": call["action"]});
        if call["args"].is_array() {
            rule["args"] = call["args"].clone();
        }
        if call["errnoRet"].is_number() {
            rule["errnoRet"] = call["errnoRet"].clone();
        }
        syscalls.push(rule);
    }
    json!({
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": syscalls,
    })
}

/// A spec close to what dockerd 20.10 writes for `docker run busybox <args>` on a cgroup v1 host
/// (compared with a real one: same mounts, devices, capabilities, paths, sysctls and groups;
/// without the prestart hook dockerd adds for its own networking).
pub fn docker_spec(bundle: &Bundle, id: &str, args: &[&str]) -> Value {
    // The per-container files dockerd bind-mounts over /etc.
    let etc = bundle.path().join("etc");
    fs::create_dir_all(&etc).expect("bundle etc");
    fs::write(etc.join("hostname"), "berthtest\n").expect("hostname");
    fs::write(etc.join("hosts"), "127.0.0.1\tlocalhost\n").expect("hosts");
    fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.53\n").expect("resolv.conf");
    // The image's own files, which the bind mounts cover (as in busybox's image).
    for name in ["hostname", "hosts", "resolv.conf"] {
        fs::write(bundle.rootfs().join("etc").join(name), "").expect("image etc file");
    }
    let etc_mount = |name: &str| {
        json!({"destination": format!("/etc/{name}"), "type": "bind",
               "source": etc.join(name), "options": ["rbind", "rprivate"]})
    };
    let caps: Vec<&str> = DOCKER_CAPS.to_vec();
    let dev_rule = |major: i64, minor: i64| json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"});
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0, "additionalGids": [0, 10]},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=berthtest"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "inheritable": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576u64, "soft": 1048576u64}],
            "oomScoreAdj": 0
        },
        "root": {"path": "rootfs"},
        "hostname": "berthtest",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
            etc_mount("resolv.conf"),
            etc_mount("hostname"),
            etc_mount("hosts")
        ],
        "linux": {
            "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"},
            "resources": {
                "devices": [
                    {"allow": false, "access": "rwm"},
                    dev_rule(1, 5), dev_rule(1, 3), dev_rule(1, 9), dev_rule(1, 8),
                    dev_rule(5, 0), dev_rule(5, 1),
                    {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
                ],
                "blockIO": {}
            },
            "cgroupsPath": format!("/{}", cgroup_name(id)),
            "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}],
            "seccomp": docker_seccomp(&caps),
            "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// A runtime binary with a state root of its own.
pub struct Runtime {
    pub bin: &'static str,
    pub root: TempDir,
}

impl Runtime {
    pub fn berth() -> Self {
        Self::new(BERTH)
    }

    pub fn runc() -> Self {
        Self::new(RUNC)
    }

    fn new(bin: &'static str) -> Self {
        let root = tempfile::Builder::new()
            .prefix("berth-rt-root-")
            .tempdir()
            .expect("state root");
        Runtime { bin, root }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.arg("--root").arg(self.root.path());
        cmd
    }

    /// Run a subcommand with null stdin, capturing output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn runtime")
    }

    /// `state ID` parsed.
    pub fn state(&self, id: &str) -> Option<Value> {
        let out = self.output(&["state", id]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("state json"))
    }

    /// `create` with stdin on /dev/null and stdout/stderr in files of the bundle: the init
    /// keeps them (as runc's does), so a pipe would stay open as long as the container lives.
    pub fn create<'a>(&'a self, bundle: &Bundle, id: &str) -> ContainerGuard<'a> {
        let (created, err) = try_create(self, bundle, id);
        assert!(created, "create failed: {err}");
        ContainerGuard {
            runtime: self,
            id: id.to_string(),
        }
    }

    /// `run` in the foreground with the given bundle, capturing the container's output.
    pub fn run(&self, bundle: &Bundle, id: &str) -> Output {
        let _guard = ContainerGuard {
            runtime: self,
            id: id.to_string(),
        };
        self.command()
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .stdin(Stdio::null())
            .output()
            .expect("spawn run")
    }
}

/// Deletes the container (forcefully) when the test ends, passing or failing.
pub struct ContainerGuard<'a> {
    pub runtime: &'a Runtime,
    pub id: String,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        let _ = self.runtime.output(&["delete", "--force", &self.id]);
    }
}

/// A test container's cgroup, at the top of each hierarchy: `berth-<id>`. Not under a shared
/// `berth` parent, which berth-runtime removes once empty: runc doesn't retry when a parent it
/// just made vanishes before it makes the child, so tests running at once would break each
/// other's runc containers. The leak check finds any `berth-…` cgroup left behind.
pub fn cgroup_name(id: &str) -> String {
    format!("berth-{id}")
}

/// Poll `state` until the status is `want` (bounded: the kernel needs a moment to reap).
pub fn wait_status(runtime: &Runtime, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..500 {
        if let Some(state) = runtime.state(id) {
            if state["status"] == want {
                return state;
            }
            last = state;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("container {id} never became {want}: last state {last}");
}

/// The cgroup v1 directories a test container id would have.
pub fn v1_cgroup_dirs(id: &str) -> Vec<PathBuf> {
    [
        "memory", "cpu", "pids", "cpuset", "devices", "freezer", "blkio", "cpuacct", "systemd",
    ]
    .iter()
    .map(|c| Path::new("/sys/fs/cgroup").join(c).join(cgroup_name(id)))
    .collect()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// [`docker_spec`] that runc also accepts here: runc refuses Docker's NOFILE 1048576 above this
/// host's hard limit (berth-runtime clamps it), so ask for what both can honour.
pub fn shared_spec(bundle: &Bundle, id: &str, args: &[&str]) -> Value {
    let mut spec = docker_spec(bundle, id, args);
    spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]);
    spec
}

/// Both runtimes, for tests that hold them to the same expectations.
pub fn both_runtimes() -> [Runtime; 2] {
    [Runtime::runc(), Runtime::berth()]
}

/// A file of a v1 controller's cgroup for a test container (absolute `cgroupsPath`).
pub fn v1_file(controller: &str, id: &str, file: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(cgroup_name(id))
        .join(file)
}

/// A cgroup file's content, trimmed.
pub fn read_trimmed(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
        .trim()
        .to_string()
}

/// Create a container from `spec` and start it, deleted when the guard drops.
pub fn start_container<'a>(
    runtime: &'a Runtime,
    bundle: &Bundle,
    id: &str,
    spec: &Value,
) -> ContainerGuard<'a> {
    bundle.write_spec(spec);
    let guard = runtime.create(bundle, id);
    let out = runtime.output(&["start", id]);
    assert!(out.status.success(), "{} start: {}", runtime.bin, stderr(&out));
    wait_status(runtime, id, "running");
    guard
}

/// Whether this host's v1 hierarchies are the tests' assumption (memory, pids, freezer on v1).
pub fn host_is_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
        && Path::new("/sys/fs/cgroup/freezer").is_dir()
}

/// `create` that may fail: whether it succeeded and its stderr. stdout and stderr go to files,
/// as in [`Runtime::create`], since a created init keeps them open. The caller deletes.
pub fn try_create(runtime: &Runtime, bundle: &Bundle, id: &str) -> (bool, String) {
    let err_path = bundle.path().join(format!("{id}.stderr"));
    let err_file = fs::File::create(&err_path).expect("stderr file");
    let status = runtime
        .command()
        .args(["create", "--bundle"])
        .arg(bundle.path())
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .status()
        .expect("spawn create");
    (
        status.success(),
        fs::read_to_string(&err_path).unwrap_or_default(),
    )
}
