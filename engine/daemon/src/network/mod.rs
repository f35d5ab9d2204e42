//! Networks: the default `bridge`, user-defined bridge networks, `host` and `none`, and each
//! container's sandbox on them (its network namespace, veth, address, published ports and DNS).
//!
//! Code map:
//! - [`ipam`]: subnets, gateways, the addresses handed to endpoints.
//! - [`netns`]: named network namespaces, pinned by a bind mount.
//! - [`netlink`]: bridges, veth pairs, addresses and routes over rtnetlink.
//! - [`firewall`]: berthd's nftables table (forwarding, masquerade, DNAT) and Docker coexistence.
//! - [`ports`]: `-p`/`-P`/`--expose` → the ports to bind, and `NetworkSettings.Ports`.
//! - [`proxy`]: the userland proxy that serves published ports on the host's addresses.
//! - [`counters`]: the interface counters inside a container's namespace.
//! - [`dns`]: the embedded DNS server on 127.0.0.11 for user-defined networks.
//! - [`record`]: network records on disk and their `inspect` shape.
//! - `sandbox`: a container's place on its networks — prepare at start, release at exit.
//!
//! IPv6: a network created with `EnableIPv6` and an IPv6 subnet is dual-stack — its bridge holds
//! the IPv6 gateway too, each container gets an address of each family and a default route of
//! each, the embedded DNS answers AAAA, and the `ip6 berth-<bridge>` table isolates networks as
//! the IPv4 table does. As Docker 20.10 without its experimental ip6tables, there is no IPv6
//! NAT: containers' IPv6 addresses are routed as they are.
//!
//! What it deliberately does not do (yet): more than one subnet of a family per network (the
//! bridge driver's rule), IPv6 default address pools, IPAM plugins, overlay/macvlan drivers,
//! swarm scope.
//! Everything it makes in the kernel carries berth's name (`berth…`/`brb-…` bridges, `vb…`
//! veths, the `ip berth-<bridge>` and `ip6 berth-<bridge>` tables) and is removed on container
//! exit or daemon shutdown.

/// A container's interface counters (`docker stats`' NET I/O, the metrics' network series).
pub mod counters;
pub mod dns;
mod error;
pub mod firewall;
pub mod ipam;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod proxy;
pub mod record;
mod sandbox;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_api::types::{IpamConfig, Network, NetworkContainer, NetworkCreateRequest, NetworkCreateResponse};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub use error::NetworkError;
pub use sandbox::{EndpointInfo, JoinRequest, SandboxInfo, SandboxRequest, VethRelease};

use error::kernel;
use netlink::Netlink;
use record::{BRIDGE, HOST, NULL, NetworkRecord};

/// berthd's network settings (its `--bridge-name`, `--bip` and `--default-address-pool`).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Where network records live: `<data-root>/network`.
    pub records: PathBuf,
    /// For atomic writes (same file system as `records`).
    pub tmp: PathBuf,
    /// Where sandboxes' namespaces are pinned: `<exec-root>/netns`.
    pub netns_dir: PathBuf,
    /// The default bridge's kernel name.
    pub bridge_name: String,
    /// The default bridge's address and prefix: its gateway and subnet.
    pub bip: Ipv4Net,
    /// Where subnets of networks created without `--subnet` come from.
    pub pool_base: Ipv4Net,
    /// The prefix length of those subnets.
    pub pool_size: u8,
    /// `--ipv6`: the default bridge gets IPv6 (from `fixed_cidr_v6`).
    pub ipv6: bool,
    /// `--fixed-cidr-v6`: the default bridge's IPv6 subnet.
    pub fixed_cidr_v6: Option<Ipv6Net>,
}

/// The default `--bip`: overlaps neither Docker's 172.17.0.0/16 nor Podman's 10.88.0.0/16.
pub const DEFAULT_BIP: &str = "10.66.0.1/16";
/// The default bridge's name (berth's prefix, so the leak check sees it).
pub const DEFAULT_BRIDGE: &str = "berth0";
/// The default pool for user-defined networks: /24s in 10.67.0.0/16… (Docker's own pools are
/// 172.17–31/16 and 192.168/16; Podman's 10.88–89).
pub const DEFAULT_POOL: &str = "base=10.67.0.0/16,size=24";

/// Parse `--default-address-pool base=10.67.0.0/16,size=24` (dockerd's flag).
pub fn parse_address_pool(text: &str) -> Result<(Ipv4Net, u8), String> {
    let (mut base, mut size) = (None, None);
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("base", v)) => base = ipam::parse_subnet(v),
            Some(("size", v)) => size = v.parse::<u8>().ok(),
            _ => return Err(format!("invalid address pool {text}: want base=CIDR,size=N")),
        }
    }
    match (base, size) {
        (Some(base), Some(size)) if size >= base.prefix_len() && size <= 30 => Ok((base, size)),
        _ => Err(format!(
            "invalid address pool {text}: want base=CIDR,size=N with N from the base's prefix to 30"
        )),
    }
}

/// An endpoint: one container on one network, while it runs.
#[derive(Debug, Clone)]
struct Endpoint {
    id: String,
    container_name: String,
    aliases: Vec<String>,
    address: Ipv4Addr,
    /// On a network with IPv6.
    address6: Option<Ipv6Addr>,
    mac: [u8; 6],
    host_veth: String,
}

/// A network and what is attached to it now.
#[derive(Debug)]
struct Net {
    record: NetworkRecord,
    pool: Option<ipam::Pool>,
    /// The IPv6 addresses, on a network with `EnableIPv6`.
    pool6: Option<ipam::Pool6>,
    /// Container id → endpoint.
    endpoints: BTreeMap<String, Endpoint>,
}

impl Net {
    fn new(record: NetworkRecord) -> Net {
        let pool = match (record.driver.as_str(), record.subnet_net(), record.gateway_ip()) {
            (BRIDGE, Some(subnet), Some(gateway)) => {
                let mut pool = ipam::Pool::new(subnet, gateway, record.ip_range_net());
                // Auxiliary addresses belong to someone outside berth: never handed out.
                for ip in record.aux_ips() {
                    let _ = pool.reserve(ip);
                }
                Some(pool)
            }
            _ => None,
        };
        let pool6 = match (record.driver.as_str(), record.subnet6_net(), record.gateway6_ip()) {
            (BRIDGE, Some(subnet), Some(gateway)) => {
                let mut pool = ipam::Pool6::new(subnet, gateway, record.ip_range6_net());
                for ip in record.aux6_ips() {
                    let _ = pool.reserve(ip);
                }
                Some(pool)
            }
            _ => None,
        };
        Net {
            record,
            pool,
            pool6,
            endpoints: BTreeMap::new(),
        }
    }
}

impl Net {
    /// Give an endpoint's addresses back to the pools.
    fn release_addresses(&mut self, endpoint: &Endpoint) {
        if let Some(pool) = self.pool.as_mut() {
            pool.release(endpoint.address);
        }
        if let (Some(pool6), Some(ip)) = (self.pool6.as_mut(), endpoint.address6) {
            pool6.release(ip);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Network id → network.
    networks: BTreeMap<String, Net>,
    /// Container id → its sandbox, while it runs.
    sandboxes: BTreeMap<String, sandbox::Sandbox>,
}

impl State {
    /// Find a network as Docker does: full id, exact name, then a unique id prefix.
    fn find(&self, name: &str) -> Result<&Net, NetworkError> {
        if let Some(net) = self.networks.get(name) {
            return Ok(net);
        }
        // Docker makes a second network of one name when asked without `CheckDuplicate`; the
        // name then refers to neither.
        let named: Vec<&Net> = self.networks.values().filter(|n| n.record.name == name).collect();
        match named.len() {
            0 => {}
            1 => return Ok(named[0]),
            n => return Err(NetworkError::AmbiguousName(name.to_owned(), n)),
        }
        let matches: Vec<&Net> = self
            .networks
            .values()
            .filter(|n| n.record.id.starts_with(name))
            .collect();
        match matches.len() {
            1 if !name.is_empty() => Ok(matches[0]),
            0 | 1 => Err(NetworkError::NotFound(name.to_owned())),
            n => Err(NetworkError::Ambiguous(name.to_owned(), n)),
        }
    }

    fn find_mut(&mut self, name: &str) -> Result<&mut Net, NetworkError> {
        let id = self.find(name)?.record.id.clone();
        Ok(self.networks.get_mut(&id).expect("found just now"))
    }

    /// The rules berthd's table must hold now.
    fn ruleset(&self) -> firewall::Ruleset {
        firewall::Ruleset {
            bridges: self
                .networks
                .values()
                .filter(|n| n.record.driver == BRIDGE)
                .filter_map(|n| {
                    Some(firewall::BridgeRules {
                        bridge: n.record.bridge.clone(),
                        subnet: n.record.subnet_net()?,
                        ipv6: n.record.subnet6_net().is_some(),
                        internal: n.record.internal,
                        icc: n.record.icc(),
                        masquerade: n.record.masquerade(),
                    })
                })
                .collect(),
            forwards: self.sandboxes.values().flat_map(|s| s.forwards.clone()).collect(),
        }
    }

    fn bridges(&self) -> Vec<String> {
        self.networks
            .values()
            .filter(|n| n.record.driver == BRIDGE)
            .map(|n| n.record.bridge.clone())
            .collect()
    }

    /// Whether a network has IPv6 (the host must then forward IPv6).
    fn has_ipv6(&self) -> bool {
        self.networks.values().any(|n| n.pool6.is_some())
    }

    /// The bridges berthd made (those it may delete).
    fn own_bridges(&self) -> Vec<String> {
        self.networks
            .values()
            .filter(|n| n.record.driver == BRIDGE && !n.record.adopted_bridge)
            .map(|n| n.record.bridge.clone())
            .collect()
    }
}

/// The networks service.
#[derive(Debug)]
pub struct Networks {
    config: NetworkConfig,
    runtime: tokio::runtime::Handle,
    state: Arc<Mutex<State>>,
    /// A netlink connection in berthd's namespace.
    host: Netlink,
    /// Serialises writes of the nftables table.
    firewall: Mutex<()>,
    /// The host's name servers, where the embedded DNS forwards.
    upstreams: Vec<SocketAddr>,
    /// Whether Docker's DOCKER-USER chain was there at the last look, and when that was.
    docker_user: Mutex<(bool, Option<std::time::Instant>)>,
    /// Veth deletions still running in the background ([`VethRelease::InBackground`]);
    /// [`Networks::shutdown`] waits for them.
    link_deletions: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// How often to look again for DOCKER-USER while it is missing (Docker may start after berthd).
const DOCKER_USER_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

use crate::id::new_id;

impl Networks {
    /// Read the network records (making `bridge`, `host` and `none` the first time). Call
    /// inside the tokio runtime; touches no kernel state until [`Networks::setup`].
    pub fn open(config: NetworkConfig) -> Result<Networks, NetworkError> {
        for dir in [&config.records, &config.netns_dir] {
            std::fs::create_dir_all(dir).map_err(kernel(format!("create {}", dir.display())))?;
        }
        let mut records = NetworkRecord::load_all(&config.records)?;
        let now = crate::image::time::now_rfc3339();
        let predefined = |records: &mut Vec<NetworkRecord>, name: &str, driver: &str| {
            if !records.iter().any(|r| r.name == name && r.is_predefined()) {
                records.push(NetworkRecord {
                    id: new_id(),
                    name: name.into(),
                    created: now.clone(),
                    driver: driver.into(),
                    default_bridge: driver == BRIDGE,
                    labels: BTreeMap::new(),
                    ..NetworkRecord::default()
                });
            }
        };
        predefined(&mut records, "bridge", BRIDGE);
        predefined(&mut records, "host", HOST);
        predefined(&mut records, "none", NULL);
        let mut state = State::default();
        for mut record in records {
            if record.default_bridge {
                // The flags decide the default bridge, as dockerd's --bip and --bridge do.
                record.bridge = config.bridge_name.clone();
                record.subnet = config.bip.trunc().to_string();
                record.gateway = config.bip.addr().to_string();
                record.gateway_given = true;
                record.options = record::default_bridge_options(&config.bridge_name);
                // `--ipv6 --fixed-cidr-v6`, as dockerd's: shown without a gateway, as Docker's.
                record.enable_ipv6 = config.ipv6;
                record.ipv6_configs = config
                    .fixed_cidr_v6
                    .iter()
                    .map(|subnet| IpamConfig {
                        subnet: subnet.to_string(),
                        ..IpamConfig::default()
                    })
                    .collect();
            }
            record.save(&config.records, &config.tmp)?;
            state.networks.insert(record.id.clone(), Net::new(record));
        }
        let host = Netlink::connect().map_err(kernel("open a netlink socket"))?;
        let upstreams = dns::host_upstreams(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default());
        Ok(Networks {
            config,
            runtime: tokio::runtime::Handle::current(),
            state: Arc::new(Mutex::new(state)),
            host,
            firewall: Mutex::new(()),
            upstreams,
            docker_user: Mutex::new((false, None)),
            link_deletions: Mutex::new(Vec::new()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run netlink work from a blocking thread.
    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// Delete these links in a task of their own (one that is already gone is fine).
    fn delete_links_in_background(&self, links: Vec<String>) {
        let host = self.host.clone();
        let task = self.runtime.spawn(async move {
            for link in links {
                if let Err(e) = host.delete_link(&link).await {
                    tracing::warn!("delete {link}: {e}");
                }
            }
        });
        let mut pending = self.link_deletions.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
    }

    /// Wait for the background link deletions. Blocking.
    fn finish_link_deletions(&self) {
        let pending = std::mem::take(&mut *self.link_deletions.lock().unwrap_or_else(|p| p.into_inner()));
        for task in pending {
            let _ = self.block_on(task);
        }
    }

    /// The default bridge's kernel name.
    pub fn bridge_name(&self) -> &str {
        &self.config.bridge_name
    }

    /// The host as containers reach it: the default bridge's gateway (what `--add-host
    /// name:host-gateway` stands for, as dockerd's default `host-gateway-ip`).
    pub fn host_gateway(&self) -> Ipv4Addr {
        self.config.bip.addr()
    }

    /// Make the kernel match the records: every bridge up with its gateway, forwarding on, the
    /// nftables table written, Docker's FORWARD chain told about berth's bridges. Blocking.
    pub fn setup(&self) -> Result<(), NetworkError> {
        let bridges: Vec<NetworkRecord> = self
            .state()
            .networks
            .values()
            .filter(|n| n.record.driver == BRIDGE)
            .map(|n| n.record.clone())
            .collect();
        // The default bridge must come up; a user network that can't only warns (its
        // containers will fail to start with the cause).
        for record in &bridges {
            match self.ensure_bridge(record) {
                Err(e) if !record.default_bridge => tracing::warn!("network {}: {e}", record.name),
                other => {
                    other?;
                }
            }
        }
        enable_forwarding()?;
        if self.state().has_ipv6() {
            enable_forwarding6()?;
        }
        self.refresh_firewall()?;
        self.allow_in_docker_user()?;
        Ok(())
    }

    /// Accept berth's bridges in Docker's DOCKER-USER chain, and remember whether it exists.
    fn allow_in_docker_user(&self) -> Result<(), NetworkError> {
        let present = firewall::allow_in_docker_user(&self.state().bridges())?;
        *self.docker_user.lock().unwrap_or_else(|p| p.into_inner()) =
            (present, Some(std::time::Instant::now()));
        Ok(())
    }

    /// When DOCKER-USER was missing, look again now and then: a dockerd started after berthd
    /// sets its FORWARD policy to DROP, and berth's bridges need its accept rules from then on.
    fn recheck_docker_user(&self) {
        let due = {
            let seen = self.docker_user.lock().unwrap_or_else(|p| p.into_inner());
            !seen.0 && seen.1.is_none_or(|at| at.elapsed() >= DOCKER_USER_RECHECK)
        };
        if due {
            if let Err(e) = self.allow_in_docker_user() {
                tracing::warn!("{e}");
            }
        }
    }

    fn ensure_bridge(&self, record: &NetworkRecord) -> Result<u32, NetworkError> {
        let (Some(subnet), Some(gateway)) = (record.subnet_net(), record.gateway_ip()) else {
            return Err(NetworkError::Invalid(format!(
                "network {} has no subnet",
                record.name
            )));
        };
        let mut gateways = vec![(IpAddr::V4(gateway), subnet.prefix_len())];
        if let (Some(subnet6), Some(gateway6)) = (record.subnet6_net(), record.gateway6_ip()) {
            gateways.push((IpAddr::V6(gateway6), subnet6.prefix_len()));
        }
        self.block_on(self.host.ensure_bridge(&record.bridge, &gateways))
            .map_err(kernel(format!("set up bridge {}", record.bridge)))
    }

    /// Rewrite berthd's nftables table from the state. Blocking.
    pub fn refresh_firewall(&self) -> Result<(), NetworkError> {
        let _writing = self.firewall.lock().unwrap_or_else(|p| p.into_inner());
        let ruleset = self.state().ruleset();
        firewall::apply(&self.table_name(), &ruleset)?;
        firewall::apply6(&self.table_name(), &ruleset)?;
        Ok(())
    }

    /// `ip berth-<bridge>` (and `ip6 berth-<bridge>`): two daemons with different bridges never
    /// share a table.
    pub fn table_name(&self) -> String {
        format!("berth-{}", self.config.bridge_name)
    }

    /// Undo berthd's kernel state when it stops — unless containers still run on it (they
    /// keep their network until berthd is back and they exit). Blocking.
    pub fn shutdown(&self) {
        self.finish_link_deletions();
        let (running, bridges, own) = {
            let mut state = self.state();
            // Proxies and DNS servers are berthd's tasks: they stop with it.
            for sandbox in state.sandboxes.values_mut() {
                sandbox.stop_services();
            }
            (state.sandboxes.len(), state.bridges(), state.own_bridges())
        };
        if running > 0 {
            tracing::info!("{running} container(s) still running: keeping their bridges and rules");
            return;
        }
        if let Err(e) = firewall::remove_from_docker_user(&bridges) {
            tracing::warn!("{e}");
        }
        if let Err(e) = firewall::delete(&self.table_name()) {
            tracing::warn!("{e}");
        }
        // A bridge someone else made stays, as it was found.
        for bridge in &own {
            if let Err(e) = self.block_on(self.host.delete_link(bridge)) {
                tracing::warn!("delete bridge {bridge}: {e}");
            }
        }
    }

    /// The network `name` (id, name or id prefix) refers to: its id, name and driver.
    pub fn lookup(&self, name: &str) -> Result<(String, String, String), NetworkError> {
        let state = self.state();
        let net = state.find(name)?;
        Ok((
            net.record.id.clone(),
            net.record.name.clone(),
            net.record.driver.clone(),
        ))
    }

    /// The network's record, for `inspect` fields the container side needs.
    pub fn record(&self, name: &str) -> Result<NetworkRecord, NetworkError> {
        Ok(self.state().find(name)?.record.clone())
    }

    /// `POST /networks/create`. Blocking.
    pub fn create(&self, request: NetworkCreateRequest) -> Result<NetworkCreateResponse, NetworkError> {
        let name = request.name.clone();
        if name.is_empty() {
            return Err(NetworkError::Invalid("network name is required".into()));
        }
        if !valid_name(&name) {
            return Err(NetworkError::Invalid(format!(
                "invalid network name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        match request.driver.as_str() {
            "" | BRIDGE => {}
            HOST | NULL => {
                return Err(NetworkError::Forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    request.driver
                )));
            }
            other => return Err(NetworkError::Driver(other.to_owned())),
        }
        let ipam_driver = request.ipam.as_ref().map_or("", |i| i.driver.as_str());
        if !matches!(ipam_driver, "" | "default") {
            return Err(NetworkError::Driver(ipam_driver.to_owned()));
        }
        let options = request.options.clone().unwrap_or_default();
        record::check_options(&options)?;
        let configs = request
            .ipam
            .as_ref()
            .map(|i| i.config.clone())
            .unwrap_or_default();
        // Split by family as Docker does, each subnet parsed in the order given.
        let (mut wanted4, mut wanted6) = (Vec::new(), Vec::new());
        for config in configs {
            match config.subnet.parse::<IpNet>() {
                Ok(IpNet::V4(_)) => wanted4.push(config),
                Ok(IpNet::V6(_)) => wanted6.push(config),
                // An empty subnet is refused too, as Go's ParseCIDR refuses "".
                Err(_) => {
                    return Err(NetworkError::Unusable(format!(
                        "Invalid subnet {0} : invalid CIDR address: {0}",
                        config.subnet
                    )));
                }
            }
        }
        // Docker reads the auxiliary addresses before it looks at the pools.
        for config in wanted4.iter().chain(&wanted6) {
            if let Some(given) = &config.auxiliary_addresses {
                aux_addresses(&name, given)?;
            }
        }
        let routed = self
            .block_on(self.host.routed_subnets())
            .map_err(kernel("list the host's routes"))?;
        let routed6 = match request.enable_ipv6 {
            true => self
                .block_on(self.host.routed_subnets6())
                .map_err(kernel("list the host's IPv6 routes"))?,
            false => Vec::new(),
        };
        let id = new_id();
        let record = {
            let state = self.state();
            let duplicate = state.networks.values().find(|n| n.record.name == name);
            let warning = match duplicate {
                Some(_) if request.check_duplicate => return Err(NetworkError::NameTaken(name)),
                Some(other) => format!(
                    "Network with name {name} (id : {}) already exists",
                    other.record.id
                ),
                None => String::new(),
            };
            let taken: Vec<IpNet> = state
                .networks
                .values()
                .flat_map(|n| {
                    let v4 = n.record.subnet_net().map(IpNet::V4);
                    let v6 = n.record.subnet6_net().map(IpNet::V6);
                    v4.into_iter().chain(v6)
                })
                .chain(routed.iter().copied().map(IpNet::V4))
                .chain(routed6.iter().copied().map(IpNet::V6))
                .collect();
            // IPv4 first (a subnet from the default pool when none is given), then IPv6 (only
            // with EnableIPv6: otherwise Docker keeps the subnet but allocates nothing of it).
            let mut planned4 = Vec::new();
            if wanted4.is_empty() {
                let all: Vec<Ipv4Net> = taken
                    .iter()
                    .filter_map(|t| match t {
                        IpNet::V4(net) => Some(*net),
                        IpNet::V6(_) => None,
                    })
                    .collect();
                let subnet = ipam::choose_subnet(self.config.pool_base, self.config.pool_size, &all).ok_or_else(|| {
                    NetworkError::Forbidden(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                    )
                })?;
                planned4.push(plan_subnet(
                    &IpamConfig {
                        subnet: subnet.to_string(),
                        ..IpamConfig::default()
                    },
                    &taken,
                )?);
            }
            for config in &wanted4 {
                planned4.push(plan_subnet(config, &taken)?);
            }
            let mut planned6 = Vec::new();
            if request.enable_ipv6 {
                if wanted6.is_empty() {
                    return Err(NetworkError::NoDefaultPool6);
                }
                for config in &wanted6 {
                    planned6.push(plan_subnet(config, &taken)?);
                }
            }
            if planned4.len() > 1 || planned6.len() > 1 {
                return Err(NetworkError::Forbidden(
                    "bridge driver doesn't support multiple subnets".into(),
                ));
            }
            let v4 = planned4.remove(0);
            let pool_picked = wanted4.is_empty();
            let wanted = wanted4.into_iter().next().unwrap_or_default();
            let bridge = options
                .get("com.docker.network.bridge.name")
                .cloned()
                .unwrap_or_else(|| format!("brb-{}", &id[..11]));
            // Two networks never share a bridge: removing one would take the other's away.
            if let Some(other) = state.networks.values().find(|n| n.record.bridge == bridge) {
                return Err(NetworkError::Forbidden(format!(
                    "cannot create network {id} ({bridge}): conflicts with network {} ({}): networks have same bridge name",
                    other.record.id, other.record.bridge
                )));
            }
            (
                warning,
                NetworkRecord {
                    id: id.clone(),
                    name: name.clone(),
                    created: crate::image::time::now_rfc3339(),
                    driver: BRIDGE.into(),
                    bridge,
                    subnet: v4.text,
                    gateway: v4.gateway.to_string(),
                    // Docker shows the gateway it picked for a pool it picked, not for a --subnet.
                    gateway_given: !wanted.gateway.is_empty() || pool_picked,
                    pool_picked,
                    ip_range: wanted.ip_range.clone(),
                    aux_addresses: wanted.auxiliary_addresses.clone(),
                    enable_ipv6: request.enable_ipv6,
                    ipv6_configs: wanted6,
                    internal: request.internal,
                    attachable: request.attachable,
                    labels: request.labels.clone().unwrap_or_default(),
                    options,
                    // `null` unless asked for, as Docker shows it (its CLI always sends `{}`).
                    ipam_options: request.ipam.as_ref().and_then(|i| i.options.clone()),
                    default_bridge: false,
                    adopted_bridge: false,
                },
            )
        };
        let (warning, mut record) = record;
        // A bridge someone else made is used as it is (Docker's behaviour) and left behind.
        record.adopted_bridge = self
            .block_on(self.host.index(&record.bridge))
            .map_err(kernel(format!("look up link {}", record.bridge)))?
            .is_some();
        if let Err(e) = self.ensure_bridge(&record) {
            // Half made (the link, or some of its addresses): take it away again.
            if record.adopted_bridge {
                let _ = self.take_gateways_off(&record);
            } else {
                let _ = self.block_on(self.host.delete_link(&record.bridge));
            }
            return Err(e);
        }
        let made = (|| {
            if record.enable_ipv6 {
                enable_forwarding6()?;
            }
            record.save(&self.config.records, &self.config.tmp)?;
            self.state().networks.insert(id.clone(), Net::new(record.clone()));
            self.refresh_firewall()?;
            firewall::allow_in_docker_user(std::slice::from_ref(&record.bridge))?;
            Ok(())
        })();
        if let Err(e) = made {
            self.state().networks.remove(&id);
            let _ = NetworkRecord::delete(&self.config.records, &id);
            if record.adopted_bridge {
                let _ = self.take_gateways_off(&record);
            } else {
                let _ = self.block_on(self.host.delete_link(&record.bridge));
            }
            let _ = self.refresh_firewall();
            return Err(e);
        }
        crate::explain!(
            "created network {name} on bridge {} with subnet {}",
            record.bridge,
            record.subnet
        );
        Ok(NetworkCreateResponse { id, warning })
    }

    /// Take berthd's gateway addresses off a bridge it did not make.
    fn take_gateways_off(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        let v4 = record
            .gateway_ip()
            .zip(record.subnet_net())
            .map(|(ip, net)| (IpAddr::V4(ip), net.prefix_len()));
        let v6 = record
            .gateway6_ip()
            .zip(record.subnet6_net())
            .map(|(ip, net)| (IpAddr::V6(ip), net.prefix_len()));
        for (gateway, prefix) in v4.into_iter().chain(v6) {
            self.block_on(self.host.delete_address(&record.bridge, gateway, prefix))
                .map_err(kernel(format!("take the gateway off bridge {}", record.bridge)))?;
        }
        Ok(())
    }

    fn containers_of(net: &Net) -> BTreeMap<String, NetworkContainer> {
        let prefix = net.pool.as_ref().map_or(0, |p| p.subnet().prefix_len());
        let prefix6 = net.pool6.as_ref().map_or(0, |p| p.subnet().prefix_len());
        net.endpoints
            .iter()
            .map(|(container, e)| {
                (
                    container.clone(),
                    NetworkContainer {
                        name: e.container_name.clone(),
                        endpoint_id: e.id.clone(),
                        mac_address: ipam::mac_text(e.mac),
                        ipv4_address: format!("{}/{prefix}", e.address),
                        ipv6_address: e.address6.map(|ip| format!("{ip}/{prefix6}")).unwrap_or_default(),
                    },
                )
            })
            .collect()
    }

    /// `GET /networks/{id}`.
    pub fn inspect(&self, name: &str) -> Result<Network, NetworkError> {
        let state = self.state();
        let net = state.find(name)?;
        Ok(net.record.to_api(Self::containers_of(net)))
    }

    /// `GET /networks`: every network, by name.
    pub fn list(&self) -> Vec<Network> {
        let state = self.state();
        let mut all: Vec<Network> = state
            .networks
            .values()
            .map(|n| n.record.to_api(Self::containers_of(n)))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Whether a network has running containers attached.
    pub fn has_endpoints(&self, name: &str) -> bool {
        self.state().find(name).is_ok_and(|n| !n.endpoints.is_empty())
    }

    /// `DELETE /networks/{id}`. Blocking.
    pub fn remove(&self, name: &str) -> Result<String, NetworkError> {
        let record = {
            let mut state = self.state();
            let net = state.find(name)?;
            if net.record.is_predefined() {
                return Err(NetworkError::Predefined(net.record.name.clone()));
            }
            if !net.endpoints.is_empty() {
                return Err(NetworkError::ActiveEndpoints {
                    name: net.record.name.clone(),
                    id: net.record.id.clone(),
                });
            }
            let id = net.record.id.clone();
            state.networks.remove(&id).expect("found just now").record
        };
        NetworkRecord::delete(&self.config.records, &record.id)?;
        firewall::remove_from_docker_user(std::slice::from_ref(&record.bridge))?;
        if record.adopted_bridge {
            // Only the gateway addresses were berthd's: the bridge stays as it was found.
            self.take_gateways_off(&record)?;
            self.refresh_firewall()?;
            crate::explain!(
                "removed network {} and left bridge {} that it did not make",
                record.name,
                record.bridge
            );
            return Ok(record.id);
        }
        self.block_on(self.host.delete_link(&record.bridge))
            .map_err(kernel(format!("delete bridge {}", record.bridge)))?;
        self.refresh_firewall()?;
        crate::explain!("removed network {} and its bridge {}", record.name, record.bridge);
        Ok(record.id)
    }
}

/// One subnet of a new network, checked as Docker's IPAM checks it.
#[derive(Debug)]
struct PlannedSubnet {
    /// As given (`10.5.5.5/24` stays so in `inspect`).
    text: String,
    gateway: IpAddr,
}

/// Check one `IPAM.Config` entry of either family, in Docker's order: the pool (no overlap with
/// `taken`), its `IPRange`, the auxiliary addresses inside it, the gateway.
fn plan_subnet(wanted: &IpamConfig, taken: &[IpNet]) -> Result<PlannedSubnet, NetworkError> {
    let subnet = wanted
        .subnet
        .parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| {
            NetworkError::Unusable(format!(
                "Invalid subnet {0} : invalid CIDR address: {0}",
                wanted.subnet
            ))
        })?;
    if taken.iter().any(|t| ipam::overlaps(*t, subnet)) {
        return Err(NetworkError::Forbidden(
            "Pool overlaps with other one on this address space".into(),
        ));
    }
    // Docker takes any range that parses, even one outside the subnet (its addresses are then
    // never handed out).
    if !wanted.ip_range.is_empty() && wanted.ip_range.parse::<IpNet>().is_err() {
        return Err(NetworkError::Unusable(format!(
            "failed to parse pool request for address space \"LocalDefault\" pool \"{}\" subpool \"{}\": Invalid Address SubPool",
            wanted.subnet, wanted.ip_range
        )));
    }
    for (host, ip) in wanted.auxiliary_addresses.iter().flatten() {
        if !ip.parse::<IpAddr>().is_ok_and(|ip| subnet.contains(&ip)) {
            return Err(NetworkError::Forbidden(format!(
                "auxiliary address: ({host}:{ip}) must belong to the master pool: {}",
                wanted.subnet
            )));
        }
    }
    Ok(PlannedSubnet {
        text: wanted.subnet.clone(),
        gateway: gateway_of(subnet, &wanted.gateway)?,
    })
}

/// The gateway of a new network: the one asked for, or the subnet's first address. Docker's IPAM
/// never hands out a subnet's first address (nor an IPv4 subnet's broadcast address), so an
/// IPv4 /31 or /32, or an IPv6 /128, has none to give.
fn gateway_of(subnet: IpNet, wanted: &str) -> Result<IpAddr, NetworkError> {
    let refused = |reason: &str| NetworkError::Gateway {
        gateway: wanted.to_owned(),
        reason: reason.to_owned(),
    };
    let has_hosts = ipam::has_hosts(subnet);
    if wanted.is_empty() {
        return match has_hosts {
            true => Ok(ipam::first_address(subnet)),
            false => Err(refused("No available addresses on this pool")),
        };
    }
    let ip = wanted.parse::<IpAddr>().map_err(|_| {
        NetworkError::Unusable(format!("invalid gateway address {wanted} in Ipam configuration"))
    })?;
    if !subnet.contains(&ip) {
        Err(refused("Requested address is out of range"))
    } else if !has_hosts {
        Err(refused("No available addresses on this pool"))
    } else if ipam::is_reserved(subnet, ip) {
        Err(refused("Address already in use"))
    } else {
        Ok(ip)
    }
}

/// `AuxiliaryAddresses` read as Docker reads them: each an address of either family (500
/// otherwise).
fn aux_addresses(
    network: &str,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, IpAddr>, NetworkError> {
    given
        .iter()
        .map(|(host, ip)| match ip.parse::<IpAddr>() {
            Ok(parsed) => Ok((host.clone(), parsed)),
            Err(_) => Err(NetworkError::Unusable(format!(
                "non parsable secondary ip address ({host}:{ip}) passed for network {network}"
            ))),
        })
        .collect()
}

/// Docker's rule for network names.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Turn on IPv6 forwarding, as Docker does once a network has IPv6 (`all` and `default`, so
/// bridges made later forward too), if it is off.
fn enable_forwarding6() -> Result<(), NetworkError> {
    for path in [
        "/proc/sys/net/ipv6/conf/all/forwarding",
        "/proc/sys/net/ipv6/conf/default/forwarding",
    ] {
        let now = std::fs::read_to_string(path).map_err(kernel(format!("read {path}")))?;
        if now.trim() != "1" {
            std::fs::write(path, "1").map_err(kernel(format!("write {path}")))?;
            crate::explain!("wrote 1 to {path}: the host forwards IPv6 packets between its interfaces");
        }
    }
    Ok(())
}

/// Turn on IPv4 forwarding (the host routes between its bridges and the world), if it is off.
fn enable_forwarding() -> Result<(), NetworkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    let now = std::fs::read_to_string(path).map_err(kernel(format!("read {path}")))?;
    if now.trim() != "1" {
        std::fs::write(path, "1").map_err(kernel(format!("write {path}")))?;
        crate::explain!("wrote 1 to {path}: the host forwards packets between its interfaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_pools_parse_like_dockerd() {
        assert_eq!(
            parse_address_pool(DEFAULT_POOL),
            Ok(("10.67.0.0/16".parse().unwrap(), 24))
        );
        assert!(parse_address_pool("base=10.0.0.0/16,size=8").is_err());
        assert!(parse_address_pool("10.0.0.0/16").is_err());
    }

    #[test]
    fn network_names_follow_docker() {
        assert!(valid_name("front-end_1.a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
    }
}
