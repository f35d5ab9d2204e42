//! A private berthd for building the images: its own roots, socket, bridge and address pool, so
//! it never meets a system berthd, the labs' or a test's. Dropping it removes its containers,
//! stops it and deletes its roots, whichever way the build ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The network a private daemon uses: a bridge name (at most 15 bytes) and addresses no other
/// berthd of the project uses.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub bridge: &'static str,
    pub bip: &'static str,
    pub pool: &'static str,
}

/// The one `cargo xtask images --debian` builds with.
pub const BUILD_NETWORK: Network = Network {
    bridge: "berth-img0",
    bip: "10.73.0.1/24",
    pool: "base=10.74.0.0/16,size=24",
};

pub struct Daemon {
    child: Child,
    data_root: PathBuf,
    exec_root: PathBuf,
    host: String,
    berth: PathBuf,
}

impl Daemon {
    /// Start `bin/berthd` with roots named after `name` and this process, and wait until it answers.
    pub fn start(bin: &Path, name: &str, network: Network) -> anyhow::Result<Daemon> {
        // Beside berthd's defaults (/var/lib, /run): overlay upper directories under /tmp would
        // share a tmpfs with the rest of the machine on some hosts.
        let id = std::process::id();
        let data_root = PathBuf::from(format!("/var/lib/{name}-{id}"));
        let exec_root = PathBuf::from(format!("/run/{name}-{id}"));
        std::fs::create_dir_all(&data_root).with_context(|| format!("create {}", data_root.display()))?;
        std::fs::create_dir_all(&exec_root).with_context(|| format!("create {}", exec_root.display()))?;
        let socket = exec_root.join("berth.sock");
        let host = format!("unix://{}", socket.display());
        let log_path = data_root.join("berthd.log");
        let log = std::fs::File::create(&log_path)?;
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(bin.join("berthd"))
                .arg("--data-root")
                .arg(&data_root)
                .arg("--exec-root")
                .arg(&exec_root)
                .args(["-H", &host, "--bridge-name", network.bridge, "--bip", network.bip])
                .args(["--default-address-pool", network.pool])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                // Its own process group: a Ctrl-C stops the build step in the foreground, and
                // this guard then stops the daemon in order (its containers first).
                .process_group(0)
                .spawn()
                .context("start berthd")?
        };
        let daemon = Daemon {
            child,
            data_root,
            exec_root,
            host,
            berth: bin.join("berth"),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("berthd did not listen within 15 s:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }

    /// `berth -H <this daemon> …`, stdio inherited unless the caller changes it.
    pub fn berth(&self) -> Command {
        let mut command = Command::new(&self.berth);
        command.args(["-H", &self.host]);
        command
    }

    /// Run `berth args…` and answer its stdout; fail with its stderr on non-zero.
    pub fn output(&self, args: &[&str]) -> anyhow::Result<String> {
        let Output {
            status,
            stdout,
            stderr,
        } = self
            .berth()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run berth {args:?}"))?;
        if !status.success() {
            bail!(
                "berth {args:?} failed: {}",
                String::from_utf8_lossy(&stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Containers first (a build interrupted mid-RUN leaves one), while berthd can still
        // unmount their filesystems and remove their veths.
        if let Ok(ids) = self.output(&["ps", "-aq"]) {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = self.output(&[&["rm", "-f"], ids.as_slice()].concat());
            }
        }
        // SAFETY: kill with our own child's pid and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.exec_root);
        let _ = std::fs::remove_dir_all(&self.data_root);
    }
}
