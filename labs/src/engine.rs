//! Which engine a lab talks to, and getting it ready: a running berthd, a private berthd lab
//! starts, or a Docker daemon; then the lab images loaded into it when missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::client::sibling;
use crate::image_archive;

/// Which kind of engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// berthd: a running one, or a private one lab starts
    Berth,
    /// A Docker daemon (DOCKER_HOST, or /var/run/docker.sock)
    Docker,
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineKind::Berth => "berth",
            EngineKind::Docker => "docker",
        })
    }
}

/// Why the engine is not ready.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// nothing answers at the address
    #[error("no engine answers at {0}")]
    NoAnswer(String),
    /// the address is not one lab can use
    #[error(transparent)]
    Client(#[from] berth_api::client::ClientError),
    /// berthd is not built or installed
    #[error("berthd not found: build it (cargo build -p berthd) or start one and pass --host")]
    NoBerthd,
    /// the private berthd did not start
    #[error("the private berthd did not answer within 10 s: see {}", log.display())]
    PrivateDaemon { log: PathBuf },
    /// a file or directory of the private daemon
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// the lab images are needed and not found
    #[error(
        "images {missing} are missing and no lab-images.tar was found: run `cargo xtask images` or pass --images FILE"
    )]
    NoImageArchive { missing: String },
    /// the lab images did not load
    #[error("loading {}: {source}", path.display())]
    Load {
        path: PathBuf,
        source: berth_api::client::ClientError,
    },
    /// the archive lacks an image the lab needs
    #[error("{} does not hold image {image}", path.display())]
    StillMissing { path: PathBuf, image: String },
    /// the archive's index could not be read
    #[error("reading {}: {source}", path.display())]
    Index { path: PathBuf, source: std::io::Error },
    /// the lab needs the real program and the engine has lab's busybox stand-in
    #[error(
        "this lab needs the real {image} ({stands_in_for}), and the engine has lab's busybox stand-in: build the lab images from Debian's packages with `cargo xtask images`, then run lab again"
    )]
    StandIn { image: String, stands_in_for: String },
}

/// The private berthd lab starts when no berthd is running: its own roots, socket and bridge,
/// so it never meets a system berthd or a test's. `lab daemon start --data-root … --exec-root …
/// --host …` places it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateDaemon {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// Its socket (`unix:///…`).
    pub host: String,
}

impl Default for PrivateDaemon {
    fn default() -> PrivateDaemon {
        PrivateDaemon::new(None, None, None)
    }
}

impl PrivateDaemon {
    pub const DATA_ROOT: &'static str = "/var/lib/berth-lab";
    pub const EXEC_ROOT: &'static str = "/run/berth-lab";
    pub const BRIDGE: &'static str = "berth-lab0";
    pub const BIP: &'static str = "10.68.0.1/24";
    pub const POOL: &'static str = "base=10.69.0.0/16,size=24";

    /// The daemon with these roots and socket; each defaults to the standard place (the socket
    /// to `berth.sock` in the exec root).
    pub fn new(
        data_root: Option<PathBuf>,
        exec_root: Option<PathBuf>,
        host: Option<String>,
    ) -> PrivateDaemon {
        let data_root = data_root.unwrap_or_else(|| Self::DATA_ROOT.into());
        let exec_root = exec_root.unwrap_or_else(|| Self::EXEC_ROOT.into());
        let host = host.unwrap_or_else(|| format!("unix://{}", exec_root.join("berth.sock").display()));
        PrivateDaemon {
            data_root,
            exec_root,
            host,
        }
    }

    fn pidfile(&self) -> PathBuf {
        self.exec_root.join("berthd.pid")
    }

    pub fn log(&self) -> PathBuf {
        self.data_root.join("berthd.log")
    }

    /// Its pid, when it runs.
    pub fn pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: kill with signal 0 only checks that the process exists; it touches no memory.
        (unsafe { libc::kill(pid, 0) } == 0).then_some(pid)
    }

    /// Start it (detached: it outlives this lab command, so `lab grade` after `lab run` finds
    /// the same engine) unless it already answers; answers its address.
    pub fn ensure(&self) -> Result<String, EngineError> {
        let host = self.host.clone();
        if Api::new(&host)?.ping() {
            return Ok(host);
        }
        let berthd = sibling("berthd")
            .or_else(|| crate::client::on_path("berthd"))
            .ok_or(EngineError::NoBerthd)?;
        for dir in [&self.data_root, &self.exec_root] {
            std::fs::create_dir_all(dir).map_err(|source| EngineError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let log_path = self.log();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| EngineError::Io {
                path: log_path.clone(),
                source,
            })?;
        use std::os::unix::process::CommandExt;
        Command::new(&berthd)
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .args(["-H", &host, "--bridge-name", Self::BRIDGE, "--bip", Self::BIP])
            .args(["--default-address-pool", Self::POOL])
            .arg("--pidfile")
            .arg(self.pidfile())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: a Ctrl-C in the trainee's terminal must not stop it.
            .process_group(0)
            .spawn()
            .map_err(|source| EngineError::Io {
                path: berthd.clone(),
                source,
            })?;
        wait_for_answer(&host, Duration::from_secs(10))
            .then_some(host)
            .ok_or(EngineError::PrivateDaemon { log: log_path })
    }

    /// Stop it (SIGTERM, then wait up to 10 s); answers whether one was running.
    pub fn stop(&self) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        // SAFETY: kill with a pid read from our own pid file and a valid signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pid().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

/// Wait until `host` answers a ping.
fn wait_for_answer(host: &str, limit: Duration) -> bool {
    let Ok(api) = Api::new(host) else {
        return false;
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if api.ping() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The engine's address for `kind`, given `--host` when there is one.
pub fn resolve_host(kind: EngineKind, host: Option<&str>) -> Result<String, EngineError> {
    if let Some(host) = host {
        if !Api::new(host)?.ping() {
            return Err(EngineError::NoAnswer(host.to_owned()));
        }
        return Ok(host.to_owned());
    }
    match kind {
        EngineKind::Docker => {
            let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
            if !Api::new(&host)?.ping() {
                return Err(EngineError::NoAnswer(host));
            }
            Ok(host)
        }
        EngineKind::Berth => {
            if let Ok(host) = std::env::var("BERTH_HOST") {
                if Api::new(&host)?.ping() {
                    return Ok(host);
                }
                return Err(EngineError::NoAnswer(host));
            }
            if Api::new(berth_api::DEFAULT_HOST)?.ping() {
                return Ok(berth_api::DEFAULT_HOST.to_owned());
            }
            PrivateDaemon::default().ensure()
        }
    }
}

/// The archives lab looks for in the cargo target directory, best first: the images with the
/// real software (`cargo xtask images`), then the offline stand-ins (`--stand-ins`).
const ARCHIVE_NAMES: [&str; 2] = ["lab-images.tar", "stand-in-images.tar"];

/// Where the lab images are: `--images`, `$BERTH_LAB_IMAGES`, or an archive of
/// [`ARCHIVE_NAMES`] in the cargo target directory lab was built in (`cargo xtask images`
/// writes it there).
pub fn find_image_archive(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_owned());
    }
    if let Some(path) = std::env::var_os("BERTH_LAB_IMAGES") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let workspace_target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let dirs: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(Path::to_path_buf)
        .chain([workspace_target])
        .collect();
    ARCHIVE_NAMES
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Load the lab images into the engine when any of `images` is missing, or is one lab made
/// (a stand-in, an older build) but not the archive's; answers whether it loaded them. Images
/// the trainee pulled or built under those names are left alone.
pub fn ensure_images(api: &Api, images: &[String], archive: Option<&Path>) -> Result<bool, EngineError> {
    let path = find_image_archive(archive);
    let mut archive_ids = None;
    let mut missing = Vec::new();
    for image in images {
        let Some(found) = api.image(image)? else {
            missing.push(image.clone());
            continue;
        };
        let Some(path) = path.as_deref() else {
            continue;
        };
        if !image_archive::made_by_lab(found.config.labels.as_ref()) {
            continue;
        }
        if archive_ids.is_none() {
            let ids = image_archive::image_ids(path).map_err(|source| EngineError::Index {
                path: path.to_owned(),
                source,
            })?;
            archive_ids = Some(ids);
        }
        let archive_id = archive_ids
            .as_ref()
            .and_then(|ids| ids.get(&image_archive::with_tag(image)));
        if archive_id.is_some_and(|id| *id != found.id) {
            missing.push(image.clone());
        }
    }
    if missing.is_empty() {
        return Ok(false);
    }
    let path = path.ok_or_else(|| EngineError::NoImageArchive {
        missing: missing.join(", "),
    })?;
    api.load_images(&path).map_err(|source| EngineError::Load {
        path: path.clone(),
        source,
    })?;
    for image in &missing {
        if api.image(image)?.is_none() {
            return Err(EngineError::StillMissing {
                path,
                image: image.clone(),
            });
        }
    }
    Ok(true)
}

/// Fail when one of `images` is lab's busybox stand-in: the lab needs the real program there
/// (Apache's modules, PostgreSQL's `psql`, `apt-get`), which the stand-in does not have.
pub fn require_real_software(api: &Api, images: &[String]) -> Result<(), EngineError> {
    for image in images {
        let Some(found) = api.image(image)? else {
            continue;
        };
        let labels = found.config.labels.unwrap_or_default();
        if let Some(stands_in_for) = labels.get(image_archive::STAND_IN_LABEL) {
            return Err(EngineError::StandIn {
                image: image.clone(),
                stands_in_for: stands_in_for.clone(),
            });
        }
    }
    Ok(())
}

/// What the engine calls itself: "Berth Engine 0.1.0" or "Docker Engine 20.10.24+dfsg1"
/// (Debian's dockerd leaves its platform name empty).
pub fn describe(api: &Api) -> String {
    let Ok(version) = api.version() else {
        return "an engine".to_owned();
    };
    let name = version
        .pointer("/Platform/Name")
        .and_then(|v| v.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("Docker Engine");
    let number = version.get("Version").and_then(|v| v.as_str()).unwrap_or("");
    format!("{name} {number}").trim().to_owned()
}
