//! The engine: every service berthd offers, behind one handle the HTTP server calls.

use std::path::PathBuf;
use std::sync::Arc;

use crate::container::{Binaries, ContainerError, Containers};
use crate::events::Events;
use crate::image::{ImageUser, Images};
use crate::network::{NetworkConfig, NetworkError, Networks};
use crate::registry::{Registry, RegistryOpenError};
use crate::store::{Store, StoreError};
use crate::volume::{VolumeError, Volumes};

/// Where a daemon keeps its state: two daemons with different roots run side by side.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Persistent state (`--data-root`, default /var/lib/berth).
    pub data_root: PathBuf,
    /// Runtime state that a reboot may clear (`--exec-root`, default /run/berth).
    pub exec_root: PathBuf,
    /// Registries reached without verified TLS besides 127.0.0.0/8 (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// The default bridge (`--bridge-name`, `--bip`) and the pool of user-defined networks
    /// (`--default-address-pool`); `network_config` fills in the paths.
    pub bridge_name: String,
    pub bip: ipnet::Ipv4Net,
    pub address_pool: (ipnet::Ipv4Net, u8),
    /// `--ipv6` and `--fixed-cidr-v6`: IPv6 on the default bridge.
    pub ipv6: bool,
    pub fixed_cidr_v6: Option<ipnet::Ipv6Net>,
}

impl EngineConfig {
    /// The network module's settings under these roots.
    pub fn network_config(&self) -> NetworkConfig {
        NetworkConfig {
            records: self.data_root.join("network"),
            tmp: self.data_root.join("tmp"),
            netns_dir: self.exec_root.join("netns"),
            bridge_name: self.bridge_name.clone(),
            bip: self.bip,
            pool_base: self.address_pool.0,
            pool_size: self.address_pool.1,
            ipv6: self.ipv6,
            fixed_cidr_v6: self.fixed_cidr_v6,
        }
    }
}

/// berthd's services.
#[derive(Debug, Clone)]
pub struct Engine {
    pub config: Arc<EngineConfig>,
    pub images: Images,
    pub containers: Containers,
    pub volumes: Arc<Volumes>,
    pub networks: Arc<Networks>,
    pub registry: Registry,
    pub events: Arc<Events>,
    /// `docker stats`: samples of the containers' counters.
    pub stats: crate::stats::Stats,
}

/// Why the engine could not open its state.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Containers(#[from] ContainerError),
    #[error(transparent)]
    Volumes(#[from] VolumeError),
    #[error(transparent)]
    Networks(#[from] NetworkError),
    #[error(transparent)]
    Registry(#[from] RegistryOpenError),
}

impl Engine {
    /// Open (creating when missing) the daemon's state.
    pub fn open(config: EngineConfig) -> Result<Engine, OpenError> {
        std::fs::create_dir_all(&config.exec_root)
            .map_err(StoreError::io(format!("create {}", config.exec_root.display())))?;
        let store = Store::open(&config.data_root.join("image"))?;
        let events = Arc::new(Events::default());
        let images = Images::new(Arc::new(store), events.clone());
        let registry = Registry::open(
            images.clone(),
            &config.data_root.join("registry"),
            &config.insecure_registries,
        )?;
        let volumes = Arc::new(Volumes::open(
            &config.data_root.join("volumes"),
            &config.data_root.join("tmp"),
            events.clone(),
        )?);
        std::fs::create_dir_all(config.data_root.join("tmp"))
            .map_err(StoreError::io(format!("create {}", config.data_root.display())))?;
        let networks = Arc::new(Networks::open(config.network_config())?);
        let containers = Containers::open(
            &config.data_root,
            &config.exec_root,
            images.clone(),
            volumes.clone(),
            networks.clone(),
            events.clone(),
            Binaries::locate(),
        )?;
        let stats = crate::stats::Stats::new(containers.clone());
        Ok(Engine {
            config: Arc::new(config),
            stats,
            images,
            containers,
            volumes,
            networks,
            registry,
            events,
        })
    }

    /// The containers standing on images, for rmi and prune.
    pub fn image_users(&self) -> Vec<ImageUser> {
        self.containers.image_users()
    }
}
