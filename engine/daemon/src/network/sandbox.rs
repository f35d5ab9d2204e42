//! A container's sandbox: its network namespace and its endpoints on networks — prepared before
//! the runtime creates the container (which joins the namespace by path), released when its
//! process exits, found again after a daemon restart.
//!
//! Preparing, for each network: an address from the network's pool, a veth pair whose host end
//! is plugged into the network's bridge and whose other end is the container's `ethN`, the
//! address and (on the first network) the default route — of each family, on a network with
//! IPv6; then the published ports (userland
//! proxies and DNAT rules) and, on user-defined networks, the embedded DNS server.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use berth_api::types::NetworkSettings;

use super::error::kernel;
use super::firewall::{PortForward, Proto};
use super::netlink::Netlink;
use super::ports::{PortRequest, PublishedPort};
use super::record::BRIDGE;
use super::{Endpoint, NetworkError, Networks, State, dns, ipam, netns, ports, proxy};

/// One network to join.
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    /// Name, id or id prefix.
    pub network: String,
    /// `--network-alias`.
    pub aliases: Vec<String>,
    /// `--ip`.
    pub ipv4: Option<Ipv4Addr>,
    /// `--ip6`.
    pub ipv6: Option<Ipv6Addr>,
    /// `--mac-address` (Docker's `02:42:` + the IPv4 address when absent).
    pub mac: Option<[u8; 6]>,
}

/// What a container's sandbox needs.
#[derive(Debug, Clone, Default)]
pub struct SandboxRequest {
    pub container_id: String,
    /// Without the slash.
    pub container_name: String,
    /// In order: the first is the container's main network (default route, published ports).
    pub networks: Vec<JoinRequest>,
    pub ports: Vec<PortRequest>,
}

/// A container's endpoint on one network, as `NetworkSettings.Networks.<name>` shows it.
#[derive(Debug, Clone)]
pub struct EndpointInfo {
    pub network_id: String,
    pub network_name: String,
    pub endpoint_id: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// On a network with IPv6: the address, its prefix length and the gateway.
    pub ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
    pub mac: String,
    /// The aliases DNS answers to (with the short id on user-defined networks).
    pub aliases: Vec<String>,
    pub default_bridge: bool,
}

/// A prepared sandbox.
#[derive(Debug, Clone)]
pub struct SandboxInfo {
    pub id: String,
    /// The pinned namespace (`SandboxKey`), which the runtime joins.
    pub key: PathBuf,
    pub endpoints: Vec<EndpointInfo>,
    pub ports: Vec<PublishedPort>,
    /// Whether the embedded DNS server answers in it (resolv.conf says 127.0.0.11).
    pub dns: bool,
}

/// Published ports: what `NetworkSettings.Ports` shows, the DNAT rules, and the proxies.
#[derive(Debug, Default)]
struct Published {
    ports: Vec<PublishedPort>,
    forwards: Vec<PortForward>,
    proxies: Vec<proxy::Proxy>,
}

/// A running container's sandbox, as berthd keeps it.
#[derive(Debug)]
pub(super) struct Sandbox {
    key: PathBuf,
    pub(super) forwards: Vec<PortForward>,
    published: Vec<PublishedPort>,
    proxies: Vec<proxy::Proxy>,
    dns: Option<dns::DnsServer>,
}

impl Sandbox {
    /// Stop what berthd's own tasks serve (proxies, DNS); the kernel state stays.
    pub(super) fn stop_services(&mut self) {
        self.proxies.clear();
        self.dns = None;
    }
}

/// The veth host end of an endpoint: berth's `vb` prefix and the endpoint id.
/// When [`Networks::release_sandbox`] deletes the host ends of a sandbox's veths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VethRelease {
    /// Before it returns: the caller (a failed start, a disconnect) may check that nothing is left.
    Now,
    /// In a task of its own, after the namespace is unpinned: a container's exit.
    InBackground,
}

fn host_veth_name(endpoint_id: &str) -> String {
    format!("vb{}", &endpoint_id[..endpoint_id.len().min(11)])
}

/// Docker's wording for a listener that could not be bound.
fn bind_failure(proto: Proto, ip: IpAddr, port: u16, error: &std::io::Error) -> String {
    let family = if ip.is_ipv4() { "4" } else { "6" };
    let reason = match error.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    };
    let host = SocketAddr::new(ip, port);
    format!(
        "Error starting userland proxy: listen {}{family} {host}: bind: {reason}",
        proto.as_str()
    )
}

/// What the embedded DNS server of one container may answer: the containers sharing a
/// user-defined network with it.
struct SandboxNames {
    state: Weak<Mutex<State>>,
    container: String,
}

impl SandboxNames {
    /// The endpoints `name` stands for on the container's user-defined networks.
    fn endpoints_named<T: PartialEq>(&self, name: &str, address: impl Fn(&Endpoint) -> Option<T>) -> Vec<T> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        let mut found = Vec::new();
        for net in state
            .networks
            .values()
            .filter(|n| !n.record.default_bridge && n.endpoints.contains_key(&self.container))
        {
            // `web.front` is `web` on network `front`.
            let bare = name
                .strip_suffix(&format!(".{}", net.record.name.to_lowercase()))
                .unwrap_or(name);
            for (container, e) in &net.endpoints {
                let hit = e.container_name.eq_ignore_ascii_case(bare)
                    || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(bare))
                    || (bare.len() == 12 && container.starts_with(bare));
                if let Some(ip) = address(e).filter(|ip| hit && !found.contains(ip)) {
                    found.push(ip);
                }
            }
        }
        found
    }
}

impl dns::Names for SandboxNames {
    fn addresses(&self, name: &str) -> Vec<Ipv4Addr> {
        self.endpoints_named(name, |e| Some(e.address))
    }

    fn addresses6(&self, name: &str) -> Vec<Ipv6Addr> {
        self.endpoints_named(name, |e| e.address6)
    }

    fn name_of(&self, ip: IpAddr) -> Option<String> {
        let state = self.state.upgrade()?;
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .networks
            .values()
            .filter(|n| !n.record.default_bridge && n.endpoints.contains_key(&self.container))
            .find_map(|n| {
                n.endpoints
                    .values()
                    .find(|e| match ip {
                        IpAddr::V4(v4) => e.address == v4,
                        IpAddr::V6(v6) => e.address6 == Some(v6),
                    })
                    .map(|e| format!("{}.{}", e.container_name, n.record.name))
            })
    }
}

impl Networks {
    /// Where a container's namespace is pinned: `<exec-root>/netns/<short id>`.
    pub fn sandbox_key(&self, container_id: &str) -> PathBuf {
        self.config
            .netns_dir
            .join(&container_id[..container_id.len().min(12)])
    }

    /// Make a container's sandbox. On failure nothing is left behind. Blocking.
    pub fn prepare_sandbox(&self, request: &SandboxRequest) -> Result<SandboxInfo, NetworkError> {
        if !request.networks.is_empty() {
            self.recheck_docker_user();
        }
        let key = self.sandbox_key(&request.container_id);
        // A namespace left by a berthd that died is stale.
        let _ = netns::remove(&key);
        netns::create(&key).map_err(kernel(format!("create network namespace {}", key.display())))?;
        let prepared = self.prepare_in(key, request);
        if prepared.is_err() {
            self.release_sandbox(&request.container_id, None, VethRelease::Now);
        }
        prepared
    }

    fn prepare_in(&self, key: PathBuf, request: &SandboxRequest) -> Result<SandboxInfo, NetworkError> {
        let ns = File::open(&key).map_err(kernel(format!("open {}", key.display())))?;
        let inside = Netlink::connect_in(&ns, &self.runtime)
            .map_err(kernel("open a netlink socket in the container's namespace"))?;
        // The loopback of a new namespace is always link 1.
        self.block_on(inside.set_up(1, "lo"))
            .map_err(kernel("bring up lo in the container's namespace"))?;
        let mut endpoints = Vec::new();
        let mut routed = false;
        for (n, join) in request.networks.iter().enumerate() {
            let (info, has_route) = self.join(
                &ns,
                &inside,
                &request.container_id,
                &request.container_name,
                join,
                &format!("eth{n}"),
                !routed,
            )?;
            routed |= has_route;
            endpoints.push(info);
        }
        let Published {
            ports: published,
            forwards,
            proxies,
        } = match endpoints.first() {
            Some(main) if !request.ports.is_empty() => self.publish(request, main)?,
            _ => Published::default(),
        };
        let dns = match endpoints.iter().any(|e| !e.default_bridge) {
            true => Some(self.start_dns(&ns, &request.container_id)?),
            false => None,
        };
        let has_dns = dns.is_some();
        let has_forwards = !forwards.is_empty();
        self.state().sandboxes.insert(
            request.container_id.clone(),
            Sandbox {
                key: key.clone(),
                forwards,
                published: published.clone(),
                proxies,
                dns,
            },
        );
        if has_forwards {
            self.refresh_firewall()?;
        }
        Ok(SandboxInfo {
            id: super::new_id(),
            key,
            endpoints,
            ports: published,
            dns: has_dns,
        })
    }

    /// Put the container on one network: claim an address, then plug a veth into the bridge.
    /// Returns the endpoint and whether it got the default route.
    #[allow(clippy::too_many_arguments)]
    fn join(
        &self,
        ns: &File,
        inside: &Netlink,
        container_id: &str,
        container_name: &str,
        join: &JoinRequest,
        interface: &str,
        wants_route: bool,
    ) -> Result<(EndpointInfo, bool), NetworkError> {
        let endpoint_id = super::new_id();
        let host_veth = host_veth_name(&endpoint_id);
        let (record, address, prefix_len, gateway, aliases, ipv6) = {
            let mut state = self.state();
            let net = state.find_mut(&join.network)?;
            if net.record.driver != BRIDGE {
                return Err(NetworkError::Invalid(format!(
                    "container cannot be connected to network {} of the {} driver",
                    net.record.name, net.record.driver
                )));
            }
            if net.endpoints.contains_key(container_id) {
                return Err(NetworkError::Forbidden(format!(
                    "endpoint with name {container_name} already exists in network {}",
                    net.record.name
                )));
            }
            for (asked, v6) in [(join.ipv4.is_some(), false), (join.ipv6.is_some(), true)] {
                if let (true, Some(refusal)) = (asked, net.record.static_ip_refusal(v6)) {
                    return Err(NetworkError::Invalid(refusal.into()));
                }
            }
            let pool = net
                .pool
                .as_mut()
                .ok_or_else(|| NetworkError::Invalid(format!("network {} has no subnet", net.record.name)))?;
            let address = match join.ipv4 {
                Some(ip) => pool.reserve(ip).map(|()| ip)?,
                None => pool.allocate()?,
            };
            let mac = join.mac.unwrap_or(ipam::mac_for(address));
            // The IPv6 address, on a network with IPv6 (the IPv4 one goes back if it fails).
            let ipv6 = match net.pool6.as_mut() {
                None => None,
                Some(pool6) => {
                    let taken = match (join.ipv6, net.record.default_bridge) {
                        (Some(ip), _) => pool6.reserve(ip).map(|()| ip),
                        // dockerd's default bridge builds it from the MAC when its
                        // --fixed-cidr-v6 leaves room (48 host bits), as Docker's driver.
                        (None, true) if pool6.subnet().prefix_len() <= 80 => {
                            let ip = ipam::address_from_mac(pool6.subnet(), mac);
                            pool6.reserve(ip).map(|()| ip)
                        }
                        (None, _) => pool6.allocate(),
                    };
                    match taken {
                        Ok(ip) => Some((ip, pool6.subnet().prefix_len(), pool6.gateway())),
                        Err(e) => {
                            pool.release(address);
                            return Err(e.into());
                        }
                    }
                }
            };
            let mut aliases = join.aliases.clone();
            if !net.record.default_bridge {
                aliases.push(crate::container::record::short(container_id).to_owned());
            }
            let (prefix_len, gateway) = (pool.subnet().prefix_len(), pool.gateway());
            net.endpoints.insert(
                container_id.to_owned(),
                Endpoint {
                    id: endpoint_id.clone(),
                    container_name: container_name.to_owned(),
                    aliases: aliases.clone(),
                    address,
                    address6: ipv6.map(|(ip, _, _)| ip),
                    mac,
                    host_veth: host_veth.clone(),
                },
            );
            (net.record.clone(), address, prefix_len, gateway, aliases, ipv6)
        };
        let bridge = match self.block_on(self.host.index(&record.bridge)) {
            Ok(Some(index)) => index,
            // Someone deleted the bridge: make it again.
            _ => self.ensure_bridge(&record)?,
        };
        let mac = join.mac.unwrap_or(ipam::mac_for(address));
        let route = wants_route && !record.internal;
        self.block_on(async {
            self.host
                .add_veth(
                    &host_veth,
                    (bridge, &record.bridge),
                    interface,
                    mac,
                    record.mtu(),
                    ns,
                )
                .await?;
            let index = inside.index(interface).await?.ok_or_else(|| {
                std::io::Error::other(format!("{interface} did not appear in the namespace"))
            })?;
            inside
                .add_address(index, interface, IpAddr::V4(address), prefix_len)
                .await?;
            if let Some((address6, prefix6, _)) = ipv6 {
                inside
                    .add_address(index, interface, IpAddr::V6(address6), prefix6)
                    .await?;
            }
            inside.set_up(index, interface).await?;
            if route {
                inside.add_default_route(gateway).await?;
                if let Some((_, _, gateway6)) = ipv6 {
                    inside.add_default_route6(gateway6).await?;
                }
            }
            Ok::<_, std::io::Error>(())
        })
        .map_err(kernel(format!("connect to network {}", record.name)))?;
        match ipv6 {
            Some((address6, prefix6, _)) => crate::explain!(
                "connected to network {} as {address}/{prefix_len} and {address6}/{prefix6} on {interface}",
                record.name
            ),
            None => crate::explain!(
                "connected to network {} as {address}/{prefix_len} on {interface}",
                record.name
            ),
        }
        Ok((
            EndpointInfo {
                network_id: record.id.clone(),
                network_name: record.name.clone(),
                endpoint_id,
                address,
                prefix_len,
                gateway,
                ipv6,
                mac: ipam::mac_text(mac),
                aliases,
                default_bridge: record.default_bridge,
            },
            route,
        ))
    }

    /// Whether another running container already publishes `port`.
    fn port_taken(&self, proto: Proto, ip: IpAddr, port: u16) -> bool {
        self.state().sandboxes.values().any(|s| {
            s.published.iter().any(|p| {
                p.proto == proto
                    && p.host_port == port
                    && p.host_ip.is_ipv4() == ip.is_ipv4()
                    && (p.host_ip == ip || p.host_ip.is_unspecified() || ip.is_unspecified())
            })
        })
    }

    /// Bind every requested port (a free one for random requests) and start its proxy; the
    /// DNAT rules for them are returned for the table.
    fn publish(&self, request: &SandboxRequest, main: &EndpointInfo) -> Result<Published, NetworkError> {
        let failed = |reason: String| NetworkError::PortBind {
            endpoint: request.container_name.clone(),
            endpoint_id: main.endpoint_id.clone(),
            reason,
        };
        let (low, high) = ports::ephemeral_range();
        let mut published = Vec::new();
        let mut listeners = Vec::new();
        for wanted in &request.ports {
            let addresses = ports::host_addresses(wanted);
            let candidates: Vec<u16> = match wanted.host_ports {
                (0, 0) => (low..=high).collect(),
                (from, to) => (from..=to).collect(),
            };
            let mut last_failure = None;
            let mut bound_here = None;
            'ports: for port in candidates {
                let mut bound = Vec::new();
                for ip in &addresses {
                    if self.port_taken(wanted.proto, *ip, port)
                        || published.iter().any(|p: &PublishedPort| {
                            p.proto == wanted.proto && p.host_port == port && p.host_ip == *ip
                        })
                    {
                        last_failure = Some(format!(
                            "Bind for {}:{port} failed: port is already allocated",
                            ip_text(*ip)
                        ));
                        continue 'ports;
                    }
                    match proxy::bind(wanted.proto, SocketAddr::new(*ip, port)) {
                        Ok(listener) => bound.push((*ip, listener)),
                        // A host without IPv6 publishes on 0.0.0.0 only.
                        Err(e)
                            if ip.is_ipv6()
                                && wanted.host_ip.is_none()
                                && matches!(
                                    e.raw_os_error(),
                                    Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
                                ) => {}
                        Err(e) => {
                            last_failure = Some(bind_failure(wanted.proto, *ip, port, &e));
                            continue 'ports;
                        }
                    }
                }
                bound_here = Some((port, bound));
                break;
            }
            let Some((port, bound)) = bound_here else {
                return Err(failed(last_failure.unwrap_or_else(|| "no free host port".into())));
            };
            for (ip, listener) in bound {
                published.push(PublishedPort {
                    proto: wanted.proto,
                    container_port: wanted.container_port,
                    host_ip: ip,
                    host_port: port,
                });
                listeners.push((ip, port, wanted.proto, wanted.container_port, listener));
            }
        }
        let mut proxies = Vec::new();
        let mut forwards = Vec::new();
        for (ip, port, proto, container_port, listener) in listeners {
            let target = SocketAddr::new(IpAddr::V4(main.address), container_port);
            proxies.push(
                proxy::spawn(listener, target, &self.runtime)
                    .map_err(kernel(format!("start the proxy for port {port}")))?,
            );
            crate::explain!(
                "userland proxy listens on {}/{} for {target}",
                SocketAddr::new(ip, port),
                proto.as_str()
            );
            if let IpAddr::V4(v4) = ip {
                if !v4.is_loopback() {
                    forwards.push(PortForward {
                        proto,
                        host_ip: (!v4.is_unspecified()).then_some(v4),
                        host_port: port,
                        container_ip: main.address,
                        container_port,
                    });
                }
            }
        }
        Ok(Published {
            ports: published,
            forwards,
            proxies,
        })
    }

    fn start_dns(&self, ns: &File, container_id: &str) -> Result<dns::DnsServer, NetworkError> {
        let sockets = dns::bind_in(ns).map_err(kernel("bind the DNS server on 127.0.0.11:53"))?;
        let names = Arc::new(SandboxNames {
            state: Arc::downgrade(&self.state),
            container: container_id.to_owned(),
        });
        let server = dns::spawn(sockets, names, self.upstreams.clone(), &self.runtime)
            .map_err(kernel("start the DNS server"))?;
        crate::explain!(
            "embedded DNS server answers on 127.0.0.11:53 inside the container's network namespace"
        );
        Ok(server)
    }

    /// Undo a sandbox: proxies and DNS stopped, veths deleted, addresses and ports freed, the
    /// namespace unpinned, the DNAT rules gone. `recorded` (the container's record) names what a
    /// berthd that died may have left. Missing pieces are fine. Blocking.
    ///
    /// With [`VethRelease::InBackground`] (a container that exited) the veths are deleted by a
    /// task berthd waits for only at shutdown: deleting a link waits for an RCU grace period
    /// (~10 ms), the largest part of a `run --rm`'s teardown, and nothing needs the name back
    /// (every endpoint gets a new one). The namespace is unpinned first, so the kernel may well
    /// delete the pair itself, with the namespace.
    pub fn release_sandbox(
        &self,
        container_id: &str,
        recorded: Option<&NetworkSettings>,
        veth_release: VethRelease,
    ) {
        let (sandbox, mut veths) = {
            let mut state = self.state();
            let sandbox = state.sandboxes.remove(container_id);
            let mut veths = Vec::new();
            for net in state.networks.values_mut() {
                if let Some(e) = net.endpoints.remove(container_id) {
                    net.release_addresses(&e);
                    veths.push(e.host_veth);
                }
            }
            (sandbox, veths)
        };
        for endpoint in recorded.iter().flat_map(|s| s.networks.values()) {
            if !endpoint.endpoint_id.is_empty() {
                let veth = host_veth_name(&endpoint.endpoint_id);
                if !veths.contains(&veth) {
                    veths.push(veth);
                }
            }
        }
        let had_forwards = sandbox.as_ref().is_some_and(|s| !s.forwards.is_empty());
        let mut keys = vec![self.sandbox_key(container_id)];
        if let Some(s) = &sandbox {
            keys.push(s.key.clone());
        }
        drop(sandbox);
        if veth_release == VethRelease::Now {
            for veth in &veths {
                if let Err(e) = self.block_on(self.host.delete_link(veth)) {
                    tracing::warn!("delete {veth}: {e}");
                }
            }
        }
        keys.dedup();
        for key in keys {
            if let Err(e) = netns::remove(&key) {
                tracing::warn!("remove network namespace {}: {e}", key.display());
            }
        }
        if veth_release == VethRelease::InBackground && !veths.is_empty() {
            crate::explain!(
                "deleting veth {} in the background (the kernel may beat berthd to it, with the namespace)",
                veths.join(", ")
            );
            self.delete_links_in_background(veths);
        }
        if had_forwards {
            if let Err(e) = self.refresh_firewall() {
                tracing::warn!("{e}");
            }
        }
    }

    /// Take back a running container's sandbox after a daemon restart: its addresses, its
    /// bridges' veths, its proxies and DNS server. `main` is the network its ports go to.
    /// Call [`Networks::refresh_firewall`] once all are back. Blocking.
    pub fn restore_sandbox(
        &self,
        container_id: &str,
        container_name: &str,
        main: &str,
        settings: &NetworkSettings,
    ) -> Result<(), NetworkError> {
        let key = PathBuf::from(&settings.sandbox_key);
        if settings.sandbox_key.is_empty() || !netns::is_pinned(&key) {
            return Ok(());
        }
        let mut targets: BTreeMap<String, Ipv4Addr> = BTreeMap::new();
        let mut user_defined = false;
        for (name, endpoint) in &settings.networks {
            let Ok(address) = endpoint.ip_address.parse::<Ipv4Addr>() else {
                continue;
            };
            if endpoint.endpoint_id.is_empty() {
                continue;
            }
            let host_veth = host_veth_name(&endpoint.endpoint_id);
            let record = {
                let mut state = self.state();
                let net = match state.find(&endpoint.network_id) {
                    Ok(_) => state.find_mut(&endpoint.network_id)?,
                    Err(_) => state.find_mut(name)?,
                };
                if let Some(pool) = net.pool.as_mut() {
                    if let Err(e) = pool.reserve(address) {
                        tracing::warn!("container {container_id}: {address}: {e}");
                    }
                }
                let address6 = endpoint.global_ipv6_address.parse::<Ipv6Addr>().ok();
                if let (Some(pool6), Some(ip)) = (net.pool6.as_mut(), address6) {
                    if let Err(e) = pool6.reserve(ip) {
                        tracing::warn!("container {container_id}: {ip}: {e}");
                    }
                }
                net.endpoints.insert(
                    container_id.to_owned(),
                    Endpoint {
                        id: endpoint.endpoint_id.clone(),
                        container_name: container_name.to_owned(),
                        aliases: endpoint.aliases.clone().unwrap_or_default(),
                        address,
                        address6,
                        mac: ipam::parse_mac(&endpoint.mac_address).unwrap_or(ipam::mac_for(address)),
                        host_veth: host_veth.clone(),
                    },
                );
                net.record.clone()
            };
            let bridge = self.ensure_bridge(&record)?;
            self.block_on(self.host.attach(&host_veth, (bridge, &record.bridge)))
                .map_err(kernel(format!("attach {host_veth} to {}", record.bridge)))?;
            user_defined |= !record.default_bridge;
            targets.insert(record.name.clone(), address);
        }
        let target = targets.get(main).or_else(|| targets.values().next()).copied();
        let mut published = Vec::new();
        let mut proxies = Vec::new();
        let mut forwards = Vec::new();
        for port in ports::published_in(&settings.ports) {
            let Some(container_ip) = target else { break };
            let listener = match proxy::bind(port.proto, SocketAddr::new(port.host_ip, port.host_port)) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(
                        "container {container_id}: {}",
                        bind_failure(port.proto, port.host_ip, port.host_port, &e)
                    );
                    continue;
                }
            };
            let target = SocketAddr::new(IpAddr::V4(container_ip), port.container_port);
            proxies.push(proxy::spawn(listener, target, &self.runtime).map_err(kernel("start a proxy"))?);
            if let IpAddr::V4(v4) = port.host_ip {
                if !v4.is_loopback() {
                    forwards.push(PortForward {
                        proto: port.proto,
                        host_ip: (!v4.is_unspecified()).then_some(v4),
                        host_port: port.host_port,
                        container_ip,
                        container_port: port.container_port,
                    });
                }
            }
            published.push(port);
        }
        let ns = File::open(&key).map_err(kernel(format!("open {}", key.display())))?;
        let dns = if user_defined {
            Some(self.start_dns(&ns, container_id)?)
        } else {
            None
        };
        self.state().sandboxes.insert(
            container_id.to_owned(),
            Sandbox {
                key,
                forwards,
                published,
                proxies,
                dns,
            },
        );
        Ok(())
    }

    /// `network connect` of a running container: one more endpoint in its sandbox. Blocking.
    pub fn connect_sandbox(
        &self,
        container_id: &str,
        container_name: &str,
        join: &JoinRequest,
    ) -> Result<EndpointInfo, NetworkError> {
        let key = self
            .state()
            .sandboxes
            .get(container_id)
            .map(|s| s.key.clone())
            .ok_or_else(|| {
                NetworkError::Invalid(format!("container {container_id} has no network sandbox"))
            })?;
        let ns = File::open(&key).map_err(kernel(format!("open {}", key.display())))?;
        let inside = Netlink::connect_in(&ns, &self.runtime)
            .map_err(kernel("open a netlink socket in the container's namespace"))?;
        let interface = self.block_on(async {
            for n in 0..256 {
                let name = format!("eth{n}");
                if inside.index(&name).await?.is_none() {
                    return Ok(name);
                }
            }
            Err(std::io::Error::other("no free ethN name"))
        });
        let interface = interface.map_err(kernel("name the new interface"))?;
        let joined = self.join(
            &ns,
            &inside,
            container_id,
            container_name,
            join,
            &interface,
            false,
        );
        let info = match joined {
            Ok((info, _)) => info,
            Err(e) => {
                let network = join.network.clone();
                let _ = self.leave(container_id, &network);
                return Err(e);
            }
        };
        let wants_dns = !info.default_bridge
            && self
                .state()
                .sandboxes
                .get(container_id)
                .is_some_and(|s| s.dns.is_none());
        if wants_dns {
            let server = self.start_dns(&ns, container_id)?;
            if let Some(sandbox) = self.state().sandboxes.get_mut(container_id) {
                sandbox.dns = Some(server);
            }
        }
        Ok(info)
    }

    /// `network disconnect` of a running container. Blocking.
    pub fn disconnect_sandbox(&self, container_id: &str, network: &str) -> Result<(), NetworkError> {
        self.leave(container_id, network)
    }

    /// Take one endpoint away: its address back to the pool, its veth deleted.
    fn leave(&self, container_id: &str, network: &str) -> Result<(), NetworkError> {
        let (endpoint, name) = {
            let mut state = self.state();
            let net = state.find_mut(network)?;
            let endpoint = net.endpoints.remove(container_id).ok_or_else(|| {
                NetworkError::Forbidden(format!(
                    "container {container_id} is not connected to network {}",
                    net.record.name
                ))
            })?;
            net.release_addresses(&endpoint);
            (endpoint, net.record.name.clone())
        };
        self.block_on(self.host.delete_link(&endpoint.host_veth))
            .map_err(kernel(format!("delete {}", endpoint.host_veth)))?;
        crate::explain!("disconnected from network {name} ({} freed)", endpoint.address);
        Ok(())
    }

    /// Whether the container's sandbox is held (it runs, or runs again after a restart).
    pub fn has_sandbox(&self, container_id: &str) -> bool {
        self.state().sandboxes.contains_key(container_id)
    }
}

/// `0.0.0.0` and `::` as Docker prints them in bind errors.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}
