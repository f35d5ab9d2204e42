use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::http::{Answer, request};
use crate::paths::{bin_dir, stand_in_images};

/// A network slot of the test's own: a bridge name and subnets no other test daemon (in this
/// process or another) uses while it holds the slot's lock.
pub struct NetSlot {
    /// Held (flock) while the slot is in use; the kernel lets go if the process dies.
    _lock: std::fs::File,
    pub index: u32,
}

impl NetSlot {
    /// Take the first free slot of 100.
    pub fn take() -> NetSlot {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join("berth-test-net");
        std::fs::create_dir_all(&dir).expect("create the slot dir");
        for index in 0..100 {
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{index}.lock")))
                .expect("open a slot lock");
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return NetSlot { _lock: lock, index };
            }
        }
        panic!("no free test network slot (100 daemons running?)");
    }

    /// The default bridge's name (berth's prefix, for the leak check).
    pub fn bridge(&self) -> String {
        format!("berth-t{}", self.index)
    }

    /// `--bip`: the default bridge's gateway, in `10.(100+slot).0.0/24`.
    pub fn bip(&self) -> String {
        format!("10.{}.0.1/24", 100 + self.index)
    }

    /// `--default-address-pool`: /24s of `10.(100+slot).0.0/16` (the bip's /24 is skipped).
    pub fn pool(&self) -> String {
        format!("base=10.{}.0.0/16,size=24", 100 + self.index)
    }

    /// A subnet of the slot for `network create --subnet` (`n` from 1 to 255).
    pub fn subnet(&self, n: u8) -> String {
        format!("10.{}.{n}.0/24", 100 + self.index)
    }
}

/// A berthd of the test's own: temporary data and exec roots and socket, its own bridge and
/// subnets; on drop, every container is removed, the daemon stopped, whatever a failed test left
/// mounted under the roots detached, and the roots deleted.
pub struct TestDaemon {
    child: Option<Child>,
    pub root: PathBuf,
    pub socket: PathBuf,
    pub net: NetSlot,
    /// Flags added to berthd's command line.
    extra: Vec<String>,
}

impl TestDaemon {
    pub fn start() -> TestDaemon {
        TestDaemon::start_with(&[])
    }

    /// Start one with more flags on berthd's command line.
    pub fn start_with(flags: &[&str]) -> TestDaemon {
        TestDaemon::start_in(&std::env::temp_dir(), flags)
    }

    /// Start one whose roots are under `base` (`/dev/shm` for a test whose trees would keep a
    /// disk filesystem busy).
    pub fn start_in(base: &Path, flags: &[&str]) -> TestDaemon {
        let root = base.join(crate::unique::unique_name("berth-test"));
        std::fs::create_dir_all(&root).expect("create the daemon's root");
        let socket = root.join("berth.sock");
        let mut daemon = TestDaemon {
            child: None,
            root,
            socket,
            net: NetSlot::take(),
            extra: flags.iter().map(|f| (*f).to_owned()).collect(),
        };
        daemon.spawn();
        daemon
    }

    /// Start berthd on this daemon's roots and socket (again, after [`TestDaemon::kill9`]).
    fn spawn(&mut self) {
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let berthd = bin_dir().join("berthd");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("berthd.log"))
            .map_err(|e| format!("open the daemon log: {e}"))?;
        let child = Command::new(&berthd)
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("-H")
            .arg(self.host())
            .arg("--pidfile")
            .arg(self.root.join("berthd.pid"))
            .arg("--bridge-name")
            .arg(self.net.bridge())
            .arg("--bip")
            .arg(self.net.bip())
            .arg("--default-address-pool")
            .arg(self.net.pool())
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", berthd.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        // After a kill -9 the old socket file may still be there: wait for an answer.
        while !self.answers() {
            if Instant::now() >= deadline {
                return Err(format!("berthd did not answer within 10 s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Whether the daemon answers `GET /_ping` with `OK` within a second.
    pub fn answers(&self) -> bool {
        self.request("GET", "/_ping", b"")
            .is_ok_and(|a| a.status == 200 && a.body == b"OK")
    }

    /// Whether the daemon's process is still there.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().is_ok_and(|status| status.is_none()))
    }

    /// `kill -9` the daemon (its containers' shims live on), and wait for it to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the daemon again on the same roots.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Stop the daemon (SIGTERM) and wait for it; the roots stay until drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with our own child's pid and a valid signal.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Remove every container (as `rm -f -v`, through the API), so no shim or container
    /// process outlives the test.
    pub fn remove_all_containers(&self) {
        let Ok(listed) = self.request("GET", "/containers/json?all=1", b"") else {
            return;
        };
        for container in listed.json().as_array().into_iter().flatten() {
            if let Some(id) = container["Id"].as_str() {
                let _ = self.request("DELETE", &format!("/containers/{id}?force=1&v=1"), b"");
            }
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.root.join("exec")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("berthd.log")).unwrap_or_default()
    }

    /// A raw Engine API request to this daemon (10 s to answer).
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Answer> {
        request(&self.host(), method, path, body, Duration::from_secs(10))
    }

    /// A `berth` command aimed at this daemon.
    pub fn berth(&self) -> Command {
        let mut command = Command::new(bin_dir().join("berth"));
        command.arg("-H").arg(self.host());
        command
    }

    /// Run `berth ARGS`, returning the whole output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.berth().args(args).output().expect("run berth")
    }

    /// Run `berth ARGS`, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.output(args);
        assert!(
            output.status.success(),
            "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Run `berth ARGS`, expecting failure; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let output = self.output(args);
        assert!(
            !output.status.success(),
            "berth {args:?} should have failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8(output.stderr).expect("utf-8 output"),
        )
    }

    /// `berth events --explain` for one container, up to now: the engine's steps as sentences.
    pub fn explain_steps(&self, container: &str) -> String {
        let until = (chrono::Utc::now().timestamp() + 1).to_string();
        self.ok(&[
            "events",
            "--explain",
            "--filter",
            &format!("container={container}"),
            "--until",
            &until,
        ])
    }

    /// Load the stand-in lab images into this daemon.
    pub fn load_stand_in_images(&self) {
        let out = self.ok(&["load", "-i", &stand_in_images().display().to_string()]);
        assert!(out.contains("Loaded image: busybox:latest"), "{out}");
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        // Containers must not outlive the test, even one whose daemon it killed.
        let has_containers = std::fs::read_dir(self.data_root().join("containers"))
            .is_ok_and(|mut entries| entries.next().is_some());
        if self.child.is_none() && has_containers {
            let _ = self.try_spawn();
        }
        if self.child.is_some() {
            self.remove_all_containers();
        }
        self.stop();
        // Whatever a failed test left mounted under the roots (a bind volume's host directory
        // among them) is detached first, so removing the roots never reaches through a mount.
        for point in mount_points_under(&self.root) {
            if let Ok(path) = std::ffi::CString::new(point) {
                // SAFETY: umount2 with a valid, NUL-terminated path and a valid flag.
                unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
            }
        }
        remove_tree(&self.root);
    }
}

/// Remove a test's directory whatever a test left in it (a tree deeper than std's recursive
/// removal survives): coreutils' `rm`, which walks iteratively and stays on one filesystem.
pub fn remove_tree(dir: &Path) {
    let _ = Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(dir)
        .status();
}

/// The mount points under `dir`, deepest first (the fifth field of /proc/self/mountinfo).
fn mount_points_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let mut points: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points
}
