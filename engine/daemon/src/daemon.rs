//! berthd's start and stop: flags like dockerd's, the socket, the pid file, signals.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::net::UnixListener;

use crate::engine::{Engine, EngineConfig};

/// berthd's command line; names and defaults follow dockerd's.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "berthd",
    version,
    about = "The Berth engine: a compact container engine serving the Docker Engine API"
)]
pub struct Flags {
    /// Root directory of persistent state
    #[arg(long, value_name = "DIR", default_value = "/var/lib/berth")]
    pub data_root: PathBuf,
    /// Root directory for execution state files
    #[arg(long, value_name = "DIR", default_value = "/run/berth")]
    pub exec_root: PathBuf,
    /// Daemon socket to listen on
    #[arg(short = 'H', long = "host", value_name = "unix:///PATH", default_value = berth_api::DEFAULT_HOST)]
    pub host: String,
    /// Path to use for the daemon PID file
    #[arg(short = 'p', long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Set the logging level ("debug"|"info"|"warn"|"error")
    #[arg(short = 'l', long, default_value = "info")]
    pub log_level: String,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    pub debug: bool,
}

impl Flags {
    /// The socket path named by `--host`.
    pub fn socket_path(&self) -> anyhow::Result<PathBuf> {
        match self.host.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => Ok(PathBuf::from(path)),
            _ => bail!(
                "unsupported host {}: berthd listens on unix:///path only",
                self.host
            ),
        }
    }
}

/// Run the daemon until SIGTERM or SIGINT.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let socket = flags.socket_path()?;
    let _pidfile = flags.pidfile.as_deref().map(PidFile::create).transpose()?;
    let engine = Engine::open(EngineConfig {
        data_root: flags.data_root.clone(),
        exec_root: flags.exec_root.clone(),
    })
    .context("open the daemon's state")?;
    engine.containers.restore().await;
    let listener = bind(&socket)?;
    tracing::info!(socket = %socket.display(), data_root = %flags.data_root.display(), "API listening");
    let result = crate::server::serve(listener, engine, shutdown_signal()).await;
    let _ = std::fs::remove_file(&socket);
    tracing::info!("daemon stopped");
    result.context("serve the API")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Bind the API socket: mode 0660, group `berth` when that group exists (as dockerd does with
/// `docker`). A stale socket is replaced; a live one means another daemon owns it.
fn bind(socket: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            bail!("another daemon is listening on {}", socket.display());
        }
        std::fs::remove_file(socket).with_context(|| format!("remove stale socket {}", socket.display()))?;
    }
    let listener = UnixListener::bind(socket).with_context(|| format!("listen on {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    if let Ok(Some(group)) = nix::unistd::Group::from_name("berth") {
        nix::unistd::chown(socket, None, Some(group.gid)).context("give the socket to group berth")?;
    }
    Ok(listener)
}

/// The pid file: refused while another live daemon holds it, removed on exit.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        if let Ok(old) = std::fs::read_to_string(path) {
            if let Ok(pid) = old.trim().parse::<i32>() {
                if Path::new(&format!("/proc/{pid}")).exists() && pid != std::process::id() as i32 {
                    bail!(
                        "pid file found, ensure berthd is not running or delete {} (process {pid})",
                        path.display()
                    );
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("write pid file {}", path.display()))?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
