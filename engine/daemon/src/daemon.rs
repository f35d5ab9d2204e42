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
    /// Enable insecure registry communication
    #[arg(long = "insecure-registry", value_name = "list")]
    pub insecure_registries: Vec<String>,
    /// Attach containers to a network bridge (the default network's kernel name)
    #[arg(short = 'b', long = "bridge-name", alias = "bridge", value_name = "string", default_value = crate::network::DEFAULT_BRIDGE)]
    pub bridge_name: String,
    /// Specify network bridge IP: the default network's gateway and prefix
    #[arg(long, value_name = "string", default_value = crate::network::DEFAULT_BIP, value_parser = parse_bip)]
    pub bip: ipnet::Ipv4Net,
    /// Default address pool for user-defined networks (base=CIDR,size=N)
    #[arg(long, value_name = "pool-options", default_value = crate::network::DEFAULT_POOL, value_parser = crate::network::parse_address_pool)]
    pub default_address_pool: (ipnet::Ipv4Net, u8),
    /// Enable IPv6 networking (on the default bridge, with --fixed-cidr-v6)
    #[arg(long)]
    pub ipv6: bool,
    /// IPv6 subnet for fixed IPs (the default bridge's)
    #[arg(long = "fixed-cidr-v6", value_name = "string", value_parser = parse_fixed_cidr_v6)]
    pub fixed_cidr_v6: Option<ipnet::Ipv6Net>,
    /// Leave the host's cgroup mount options alone (by default berthd turns on the kernel's
    /// `favordynmods`, which takes 8 to 20 ms off each container start)
    #[arg(long)]
    pub no_cgroup_favordynmods: bool,
    /// Set default address and port to serve the metrics api on
    #[arg(long, value_name = "string")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `--bip 10.66.0.1/16`: a host address (the gateway) with the subnet's prefix.
fn parse_bip(text: &str) -> Result<ipnet::Ipv4Net, String> {
    let net: ipnet::Ipv4Net = text
        .parse()
        .map_err(|_| format!("invalid --bip {text}: want an address with a prefix, like 10.66.0.1/16"))?;
    if net.addr() == net.network() || net.addr() == net.broadcast() {
        return Err(format!(
            "invalid --bip {text}: the address must be a host of the subnet (its gateway)"
        ));
    }
    Ok(net)
}

/// `--fixed-cidr-v6 fd42:1::/64`: an IPv6 subnet (host bits cleared, as Go's ParseCIDR).
fn parse_fixed_cidr_v6(text: &str) -> Result<ipnet::Ipv6Net, String> {
    crate::network::ipam::parse_subnet6(text)
        .ok_or_else(|| format!("invalid --fixed-cidr-v6 {text}: want an IPv6 subnet, like fd42:1::/64"))
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

/// How often ended execs are collected (dockerd's interval); one lives 5 to 10 minutes after it
/// ends.
const EXEC_COLLECTION: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Run the daemon until SIGTERM or SIGINT.
pub async fn run(flags: Flags) -> anyhow::Result<()> {
    let socket = flags.socket_path()?;
    let _pidfile = flags.pidfile.as_deref().map(PidFile::create).transpose()?;
    if flags.bridge_name.is_empty() || flags.bridge_name.len() > 15 {
        bail!(
            "invalid --bridge-name {:?}: a link name has 1 to 15 characters",
            flags.bridge_name
        );
    }
    if flags.ipv6 && flags.fixed_cidr_v6.is_none() {
        // dockerd's words.
        bail!(
            "IPv6 is enabled for the default bridge, but no subnet is configured. Specify an IPv6 subnet using --fixed-cidr-v6"
        );
    }
    let engine = Engine::open(EngineConfig {
        data_root: flags.data_root.clone(),
        exec_root: flags.exec_root.clone(),
        insecure_registries: flags.insecure_registries.clone(),
        bridge_name: flags.bridge_name.clone(),
        bip: flags.bip,
        address_pool: flags.default_address_pool,
        ipv6: flags.ipv6,
        fixed_cidr_v6: flags.fixed_cidr_v6,
    })
    .context("open the daemon's state")?;
    if !flags.no_cgroup_favordynmods {
        match berth_runtime::cgroups::dynmods::favor_dynamic_modifications() {
            Ok(done) => tracing::debug!("cgroup favordynmods: {done:?}"),
            Err(e) => tracing::info!("each container start waits for the kernel's cgroup lock: {e}"),
        }
    }
    let networks = engine.networks.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || networks.setup()).await? {
        // Images and volumes still work; containers on a bridge will fail to start with the cause.
        tracing::warn!("network setup failed: {e}");
    }
    engine.containers.restore().await;
    // Ended execs are forgotten after a while, as dockerd forgets them: a container exec'd into
    // every second (a lab's checks) must not make the daemon grow.
    let containers = engine.containers.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EXEC_COLLECTION);
        every.tick().await;
        loop {
            every.tick().await;
            let removed = containers.collect_ended_execs();
            if removed > 0 {
                tracing::debug!("forgot {removed} ended execs");
            }
        }
    });
    // Off by default, as dockerd's: only `--metrics-addr` opens a TCP port.
    let metrics = match flags.metrics_addr {
        Some(addr) => {
            let requests = crate::metrics::RequestMetrics::default();
            let (engine, served) = (engine.clone(), requests.clone());
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listen for metrics on {addr}"))?;
            tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(listener, engine, served).await {
                    tracing::warn!("metrics endpoint stopped: {e}");
                }
            });
            Some(requests)
        }
        None => None,
    };
    let listener = bind(&socket)?;
    tracing::info!(socket = %socket.display(), data_root = %flags.data_root.display(), "API listening");
    let networks = engine.networks.clone();
    let result = crate::server::serve(listener, engine, metrics, shutdown_signal()).await;
    let _ = std::fs::remove_file(&socket);
    let _ = tokio::task::spawn_blocking(move || networks.shutdown()).await;
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
