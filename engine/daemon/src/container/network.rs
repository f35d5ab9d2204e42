//! A container on its networks: the plan made at create (`--network`, `--network-alias`,
//! `--link`, `-p`), the sandbox joined at start with its /etc/hosts and resolv.conf, what
//! `NetworkSettings` shows while it runs, and `network connect`/`disconnect`. The kernel work is
//! the network module's; this file only turns a container record into its requests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_api::types::{ContainerConfig, EndpointSettings, HostConfig, NetworkSettings, NetworkingConfig};

use super::record::ContainerRecord;
use super::{Container, ContainerError, Containers, etc_files};
use crate::network::{
    EndpointInfo, JoinRequest, NetworkError, SandboxInfo, SandboxRequest, VethRelease, ports,
};

/// What a container's process needs from its networks at start.
#[derive(Debug, Default)]
pub struct Joined {
    /// The namespace to join (`None`: the host's).
    pub netns: Option<PathBuf>,
    /// Legacy links' variables (`DB_PORT=tcp://…`).
    pub link_env: Vec<String>,
}

/// How a container's `NetworkMode` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// `default` or `bridge`: the default bridge.
    Bridge,
    Host,
    None,
    /// `container:<name|id>`: another container's namespace.
    Container(String),
    /// A user-defined network.
    Named(String),
}

fn mode_of(network_mode: &str) -> Mode {
    match network_mode {
        "" | "default" | "bridge" => Mode::Bridge,
        "host" => Mode::Host,
        "none" => Mode::None,
        other => match other.strip_prefix("container:") {
            Some(target) => Mode::Container(target.to_owned()),
            None => Mode::Named(other.to_owned()),
        },
    }
}

/// The short id Docker adds to aliases on user-defined networks (not asked for by the user).
fn user_aliases(settings: &EndpointSettings, short_id: &str) -> Vec<String> {
    settings
        .aliases
        .iter()
        .flatten()
        .filter(|a| a.as_str() != short_id)
        .cloned()
        .collect()
}

/// `--add-host name:ip` → a hosts line: split at the first colon (an IPv6 address keeps its
/// own), `host-gateway` standing for the host, as Docker writes it.
fn extra_host_line(entry: &str, host_gateway: std::net::Ipv4Addr) -> Option<String> {
    let (name, ip) = entry.split_once(':')?;
    if ip == "host-gateway" {
        return Some(format!("{host_gateway}\t{name}"));
    }
    Some(format!("{ip}\t{name}"))
}

/// resolv.conf for a container whose questions go to the embedded DNS server.
fn resolv_conf_for_dns(host: &str, host_config: &HostConfig) -> String {
    let mut out = String::new();
    let search = host_config.dns_search.as_deref().unwrap_or_default();
    if search.is_empty() {
        for line in host
            .lines()
            .filter(|l| l.starts_with("search ") || l.starts_with("domain "))
        {
            out.push_str(line);
            out.push('\n');
        }
    } else {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    out.push_str("nameserver 127.0.0.11\n");
    let mut options = vec!["ndots:0".to_owned()];
    options.extend(host_config.dns_options.iter().flatten().cloned());
    out.push_str(&format!("options {}\n", options.join(" ")));
    out
}

/// resolv.conf on the default bridge: the host's (or `--dns`), loopback servers dropped.
fn resolv_conf_plain(host: &str, host_config: &HostConfig) -> String {
    let dns = host_config.dns.as_deref().unwrap_or_default();
    let search = host_config.dns_search.as_deref().unwrap_or_default();
    let options = host_config.dns_options.as_deref().unwrap_or_default();
    if dns.is_empty() && search.is_empty() && options.is_empty() {
        return etc_files::resolv_conf(host);
    }
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if dns.is_empty() {
        for line in etc_files::resolv_conf(host)
            .lines()
            .filter(|l| l.starts_with("nameserver"))
        {
            out.push_str(line);
            out.push('\n');
        }
    }
    for server in dns {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Docker's variables for a legacy link `alias` to a container (its address and exposed ports).
fn link_env(alias: &str, linking_name: &str, target: &ContainerRecord, address: &str) -> Vec<String> {
    let prefix = alias.to_uppercase().replace('-', "_");
    let mut env = vec![format!("{prefix}_NAME=/{linking_name}/{alias}")];
    let mut exposed: Vec<(u16, String)> = target
        .config
        .exposed_ports
        .iter()
        .flat_map(|p| p.keys())
        .filter_map(|k| ports::parse_key(k).ok())
        .map(|(port, proto)| (port, proto.as_str().to_owned()))
        .collect();
    // tcp first, then by number (Docker's order for the main `_PORT`).
    exposed.sort_by_key(|(port, proto)| (proto != "tcp", *port));
    if let Some((port, proto)) = exposed.first() {
        env.push(format!("{prefix}_PORT={proto}://{address}:{port}"));
    }
    for (port, proto) in &exposed {
        let name = format!("{prefix}_PORT_{port}_{}", proto.to_uppercase());
        env.push(format!("{name}={proto}://{address}:{port}"));
        env.push(format!("{name}_ADDR={address}"));
        env.push(format!("{name}_PORT={port}"));
        env.push(format!("{name}_PROTO={proto}"));
    }
    for entry in target.config.env.iter().flatten() {
        if let Some((key, value)) = entry.split_once('=') {
            if key != "HOME" && key != "PATH" {
                env.push(format!("{prefix}_ENV_{key}={value}"));
            }
        }
    }
    env
}

/// `--ip` and `--ip6` as Docker checks them at create: each empty or an address of its family.
fn check_static_addresses(ipv4: &str, ipv6: &str) -> Result<(), ContainerError> {
    if !ipv4.is_empty() && ipv4.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(ContainerError::BadRequest(format!(
            "invalid IPv4 address: {ipv4}"
        )));
    }
    // An IPv4 address (plain or IPv4-mapped) is no IPv6 address to Docker.
    let v6 = ipv6
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .filter(|ip| ip.to_ipv4_mapped().is_none());
    if !ipv6.is_empty() && v6.is_none() {
        return Err(ContainerError::BadRequest(format!(
            "invalid IPv6 address: {ipv6}"
        )));
    }
    Ok(())
}

/// An endpoint's `GlobalIPv6Address`, `GlobalIPv6PrefixLen` and `IPv6Gateway` (empty without
/// IPv6).
fn ipv6_fields(endpoint: &EndpointInfo) -> (String, i64, String) {
    match endpoint.ipv6 {
        Some((ip, prefix, gateway)) => (ip.to_string(), i64::from(prefix), gateway.to_string()),
        None => (String::new(), 0, String::new()),
    }
}

/// `/web:/me/db` (as stored) or `web:db` (as asked) → (target name, alias).
fn parse_link(link: &str) -> Option<(String, String)> {
    let (target, alias) = link.split_once(':').unwrap_or((link, link));
    let target = target.trim_start_matches('/').to_owned();
    let alias = alias.rsplit('/').next().unwrap_or(alias).to_owned();
    (!target.is_empty() && !alias.is_empty()).then_some((target, alias))
}

/// Clear what only holds while the container runs, as Docker does at exit (the sandbox's id
/// and key stay, stale, as Docker's do).
fn clear_run_fields(settings: &mut NetworkSettings) {
    settings.ports = Default::default();
    settings.bridge.clear();
    settings.endpoint_id.clear();
    settings.gateway.clear();
    settings.ip_address.clear();
    settings.ip_prefix_len = 0;
    settings.mac_address.clear();
    settings.global_ipv6_address.clear();
    settings.global_ipv6_prefix_len = 0;
    settings.ipv6_gateway.clear();
    for endpoint in settings.networks.values_mut() {
        endpoint.endpoint_id.clear();
        endpoint.gateway.clear();
        endpoint.ip_address.clear();
        endpoint.ip_prefix_len = 0;
        endpoint.mac_address.clear();
        endpoint.global_ipv6_address.clear();
        endpoint.global_ipv6_prefix_len = 0;
        endpoint.ipv6_gateway.clear();
    }
}

impl Containers {
    /// At create: the networks a container will join (`NetworkSettings.Networks`), checked now
    /// so a missing network fails create as Docker's does.
    pub(super) fn plan_networks(
        &self,
        config: &ContainerConfig,
        host: &HostConfig,
        networking: Option<&NetworkingConfig>,
    ) -> Result<BTreeMap<String, EndpointSettings>, ContainerError> {
        ports::requests(
            host.port_bindings.as_ref(),
            config.exposed_ports.as_ref(),
            host.publish_all_ports,
        )
        .map_err(|e| ContainerError::BadRequest(e.to_string()))?;
        let mut asked: BTreeMap<String, EndpointSettings> = networking
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        if asked.len() > 1 {
            let names: Vec<&str> = asked.keys().map(String::as_str).collect();
            return Err(ContainerError::BadRequest(format!(
                "Container cannot be connected to network endpoints: {}",
                names.join(", ")
            )));
        }
        for ipam in asked.values().filter_map(|s| s.ipam_config.as_ref()) {
            check_static_addresses(&ipam.ipv4_address, &ipam.ipv6_address)?;
        }
        let networks = &self.inner.networks;
        let mut planned = BTreeMap::new();
        match mode_of(&host.network_mode) {
            Mode::Container(target) => {
                self.get(&target)?;
                return Ok(planned);
            }
            Mode::Named(name) => {
                let (id, name, driver) = networks.lookup(&name)?;
                let mut settings = asked
                    .remove(&name)
                    .or_else(|| asked.remove(&id))
                    .or_else(|| asked.pop_first().map(|(_, s)| s))
                    .unwrap_or_default();
                if driver == crate::network::record::NULL || driver == crate::network::record::HOST {
                    settings.aliases = None;
                }
                settings.network_id = id;
                planned.insert(name, settings);
            }
            mode => {
                let name = match mode {
                    Mode::Host => "host",
                    Mode::None => "none",
                    _ => "bridge",
                };
                let settings = asked.pop_first().map(|(_, s)| s).unwrap_or_default();
                if settings.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
                    return Err(ContainerError::BadRequest(
                        "network-scoped alias is supported only for containers in user defined networks"
                            .into(),
                    ));
                }
                if mode != Mode::Bridge && host.links.as_ref().is_some_and(|l| !l.is_empty()) {
                    return Err(ContainerError::BadRequest(format!(
                        "conflicting options: {name} type network can't be used with links. This would result in undefined behavior"
                    )));
                }
                planned.insert(name.to_owned(), settings);
            }
        }
        for link in host.links.iter().flatten() {
            let (target, _) = parse_link(link)
                .ok_or_else(|| ContainerError::BadRequest(format!("invalid link: {link}")))?;
            self.get(&target)
                .map_err(|_| ContainerError::BadRequest(format!("could not get container for {target}")))?;
        }
        Ok(planned)
    }

    /// After the name is given: links as Docker stores them, `/target:/me/alias`.
    pub(super) fn normalize_links(&self, container: &Container) -> Result<(), ContainerError> {
        let record = container.record();
        let Some(links) = &record.host_config.links else {
            return Ok(());
        };
        let normalized: Vec<String> = links
            .iter()
            .filter_map(|l| parse_link(l))
            .map(|(target, alias)| {
                let target = self
                    .get(&target)
                    .map(|c| c.record().bare_name().to_owned())
                    .unwrap_or(target);
                format!("/{target}:{}/{alias}", record.name)
            })
            .collect();
        container.update_durably(&self.inner.tmp, |r| r.host_config.links = Some(normalized))?;
        Ok(())
    }

    /// At start: join the container's networks and write its /etc/hosts and resolv.conf. The
    /// caller releases the sandbox ([`Containers::leave_networks`]) if a later step fails.
    pub(super) fn join_networks(&self, container: &Container) -> Result<Joined, ContainerError> {
        let record = container.record();
        let host = &record.host_config;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let paths = &container.paths;
        let mut extra: Vec<String> = host
            .extra_hosts
            .iter()
            .flatten()
            .filter_map(|e| extra_host_line(e, self.inner.networks.host_gateway()))
            .collect();
        // An address refused (in use, outside the subnet, `--ip`/`--ip6` where Docker allows
        // none) keeps Docker's status; any other failure is the start's (500).
        let start = |e: NetworkError| match e {
            NetworkError::Address(_) | NetworkError::Invalid(_) => ContainerError::Network(e),
            other => ContainerError::Start(other.to_string()),
        };
        let mode = mode_of(&host.network_mode);
        match &mode {
            Mode::Host => {
                let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                for line in &extra {
                    hosts.push_str(line);
                    hosts.push('\n');
                }
                std::fs::write(paths.hosts(), hosts)?;
                std::fs::write(paths.resolv_conf(), &host_resolv)?;
                let (id, _, _) = self.inner.networks.lookup("host").map_err(start)?;
                container.update(&self.inner.tmp, |r| {
                    let entry = r.network_settings.networks.entry("host".into()).or_default();
                    entry.network_id = id;
                    entry.endpoint_id = crate::id::new_id();
                })?;
                return Ok(Joined::default());
            }
            Mode::Container(target) => {
                let other = self.get(target)?.record();
                if !other.state.status.is_running() || other.network_settings.sandbox_key.is_empty() {
                    return Err(ContainerError::Conflict(format!(
                        "cannot join network of a non running container: {}",
                        other.id
                    )));
                }
                let other_paths = self.paths(&other.id);
                for (from, to) in [
                    (other_paths.hosts(), paths.hosts()),
                    (other_paths.resolv_conf(), paths.resolv_conf()),
                ] {
                    std::fs::copy(from, to)?;
                }
                let key = other.network_settings.sandbox_key.clone();
                container.update(&self.inner.tmp, |r| r.network_settings.sandbox_key = key.clone())?;
                return Ok(Joined {
                    netns: Some(PathBuf::from(key)),
                    link_env: Vec::new(),
                });
            }
            _ => {}
        }

        // The main network first (routes and published ports), then those connected later.
        let short_id = super::record::short(&record.id);
        let main = match &mode {
            Mode::Bridge => Some("bridge".to_owned()),
            Mode::Named(name) => Some(self.inner.networks.lookup(name).map_err(start)?.1),
            _ => None,
        };
        let mut requests: Vec<JoinRequest> = Vec::new();
        let joinable = record
            .network_settings
            .networks
            .iter()
            .filter(|(name, _)| *name != "none" && *name != "host");
        for (name, settings) in joinable {
            let network = if settings.network_id.is_empty() {
                name.clone()
            } else {
                settings.network_id.clone()
            };
            // `Config.MacAddress` is the main network's (API v1.41 reads no endpoint's own).
            let mac = match (Some(name) == main.as_ref(), record.config.mac_address.as_str()) {
                (true, text) if !text.is_empty() => Some(
                    crate::network::ipam::parse_mac(text)
                        .ok_or_else(|| ContainerError::Start(format!("invalid MAC address: {text}")))?,
                ),
                _ => None,
            };
            let join = JoinRequest {
                network,
                aliases: user_aliases(settings, short_id),
                ipv4: settings
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.parse().ok()),
                ipv6: settings
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv6_address.parse().ok()),
                mac,
            };
            if Some(name) == main.as_ref() {
                requests.insert(0, join);
            } else {
                requests.push(join);
            }
        }
        let ports = if mode == Mode::None {
            Vec::new()
        } else {
            ports::requests(
                host.port_bindings.as_ref(),
                record.config.exposed_ports.as_ref(),
                host.publish_all_ports,
            )
            .map_err(|e| ContainerError::BadRequest(e.to_string()))?
        };
        // Links: the targets must run on the default bridge now.
        let (link_hosts, link_env) = match mode {
            Mode::Bridge => self.links_of(&record, true)?,
            _ => Default::default(),
        };
        extra.extend(link_hosts);
        let request = SandboxRequest {
            container_id: record.id.clone(),
            container_name: record.bare_name().to_owned(),
            networks: requests,
            ports,
        };
        let info = self.inner.networks.prepare_sandbox(&request).map_err(start)?;
        let written = (|| {
            self.record_sandbox(container, &info)?;
            let hostname = match record.config.domainname.as_str() {
                "" => record.config.hostname.clone(),
                domain => format!("{}.{domain} {}", record.config.hostname, record.config.hostname),
            };
            let own: Vec<String> = info
                .endpoints
                .first()
                .map(|e| {
                    let v6 = e.ipv6.map(|(ip, _, _)| ip.to_string());
                    std::iter::once(e.address.to_string()).chain(v6).collect()
                })
                .unwrap_or_default();
            std::fs::write(paths.hosts(), etc_files::hosts(&hostname, &own, &extra))?;
            let resolv = if info.dns {
                resolv_conf_for_dns(&host_resolv, host)
            } else {
                resolv_conf_plain(&host_resolv, host)
            };
            std::fs::write(paths.resolv_conf(), resolv)?;
            Ok::<_, ContainerError>(())
        })();
        if let Err(e) = written {
            self.leave_networks(container, VethRelease::Now);
            return Err(e);
        }
        Ok(Joined {
            netns: Some(info.key),
            link_env,
        })
    }

    /// Docker's network `connect` (at start, once joined) or `disconnect` (at exit) events: one
    /// per network of the container's own, `host` and `none` included. A container sharing
    /// another's namespace (`container:`) has none, and logs none.
    pub(super) fn publish_network_events(&self, record: &ContainerRecord, action: &str) {
        if matches!(mode_of(&record.host_config.network_mode), Mode::Container(_)) {
            return;
        }
        for (name, endpoint) in &record.network_settings.networks {
            let key = if endpoint.network_id.is_empty() {
                name
            } else {
                &endpoint.network_id
            };
            if let Ok(network) = self.inner.networks.inspect(key) {
                self.inner
                    .events
                    .publish_network(action, &network, Some(&record.id));
            }
        }
    }

    /// A container's legacy links: their /etc/hosts lines and variables. `strict` (at start)
    /// refuses a target that doesn't run on the default bridge, as Docker; otherwise (for
    /// `exec`, which gets the variables too) such a link is left out.
    fn links_of(
        &self,
        record: &ContainerRecord,
        strict: bool,
    ) -> Result<(Vec<String>, Vec<String>), ContainerError> {
        let (mut hosts, mut env) = (Vec::new(), Vec::new());
        if mode_of(&record.host_config.network_mode) != Mode::Bridge {
            return Ok((hosts, env));
        }
        for link in record.host_config.links.iter().flatten() {
            let Some((target, alias)) = parse_link(link) else {
                continue;
            };
            let other = match self.get(&target) {
                Ok(c) => c.record(),
                Err(_) if !strict => continue,
                Err(e) => return Err(e),
            };
            if !other.state.status.is_running() {
                if !strict {
                    continue;
                }
                return Err(ContainerError::Start(format!(
                    "Cannot link to a non running container: /{} AS {}/{alias}",
                    other.bare_name(),
                    record.name
                )));
            }
            let address = other
                .network_settings
                .networks
                .get("bridge")
                .map(|e| e.ip_address.clone())
                .filter(|a| !a.is_empty());
            let address = match address {
                Some(address) => address,
                None if !strict => continue,
                None => {
                    return Err(ContainerError::Start(format!(
                        "Cannot link to /{}, as it does not belong to the default network",
                        other.bare_name()
                    )));
                }
            };
            let mut names = vec![alias.clone()];
            for name in [other.short_id(), other.bare_name()] {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            hosts.push(format!("{address}\t{}", names.join(" ")));
            env.extend(link_env(&alias, record.bare_name(), &other, &address));
        }
        Ok((hosts, env))
    }

    /// The legacy links' variables an `exec` process gets, as the container's own process did.
    pub(super) fn link_env(&self, record: &ContainerRecord) -> Vec<String> {
        self.links_of(record, false)
            .map(|(_, env)| env)
            .unwrap_or_default()
    }

    /// Fill `NetworkSettings` from a prepared sandbox, as Docker 20.10 shows it.
    fn record_sandbox(&self, container: &Container, info: &SandboxInfo) -> Result<(), ContainerError> {
        let exposed = container.record().config.exposed_ports.clone();
        container.update(&self.inner.tmp, |r| {
            let settings = &mut r.network_settings;
            settings.sandbox_id = info.id.clone();
            settings.sandbox_key = info.key.display().to_string();
            settings.ports = ports::port_map(exposed.as_ref(), &info.ports);
            for endpoint in &info.endpoints {
                let entry = settings
                    .networks
                    .entry(endpoint.network_name.clone())
                    .or_default();
                entry.network_id = endpoint.network_id.clone();
                entry.endpoint_id = endpoint.endpoint_id.clone();
                entry.gateway = endpoint.gateway.to_string();
                entry.ip_address = endpoint.address.to_string();
                entry.ip_prefix_len = i64::from(endpoint.prefix_len);
                entry.mac_address = endpoint.mac.clone();
                entry.aliases = (!endpoint.default_bridge).then(|| endpoint.aliases.clone());
                let (address6, prefix6, gateway6) = ipv6_fields(endpoint);
                entry.global_ipv6_address = address6.clone();
                entry.global_ipv6_prefix_len = prefix6;
                entry.ipv6_gateway = gateway6.clone();
                if endpoint.default_bridge {
                    settings.endpoint_id = endpoint.endpoint_id.clone();
                    settings.gateway = endpoint.gateway.to_string();
                    settings.ip_address = endpoint.address.to_string();
                    settings.ip_prefix_len = i64::from(endpoint.prefix_len);
                    settings.mac_address = endpoint.mac.clone();
                    settings.global_ipv6_address = address6;
                    settings.global_ipv6_prefix_len = prefix6;
                    settings.ipv6_gateway = gateway6;
                }
            }
            if let Some(none) = settings.networks.get_mut("none") {
                none.network_id = self
                    .inner
                    .networks
                    .lookup("none")
                    .map(|n| n.0)
                    .unwrap_or_default();
                none.endpoint_id = crate::id::new_id();
            }
        })?;
        Ok(())
    }

    /// At exit (and rm): release the sandbox and clear what only held while it ran.
    pub(super) fn leave_networks(&self, container: &Container, veth_release: VethRelease) {
        let record = container.record();
        if !mode_of(&record.host_config.network_mode).is_shared() {
            self.inner
                .networks
                .release_sandbox(&record.id, Some(&record.network_settings), veth_release);
        }
        let _ = container.update(&self.inner.tmp, |r| clear_run_fields(&mut r.network_settings));
    }

    /// After a daemon restart: take a running container's sandbox back.
    pub(super) fn restore_network(&self, container: &Container) {
        let record = container.record();
        let main = match mode_of(&record.host_config.network_mode) {
            Mode::Named(name) => self.inner.networks.lookup(&name).map(|n| n.1).unwrap_or(name),
            Mode::Host | Mode::Container(_) => return,
            _ => "bridge".to_owned(),
        };
        if let Err(e) = self.inner.networks.restore_sandbox(
            &record.id,
            record.bare_name(),
            &main,
            &record.network_settings,
        ) {
            tracing::warn!("container {}: restore its network: {e}", record.short_id());
        }
    }

    /// After every running container's sandbox is back: the nftables table, whole.
    pub(super) fn refresh_firewall(&self) {
        if let Err(e) = self.inner.networks.refresh_firewall() {
            tracing::warn!("{e}");
        }
    }

    /// `POST /networks/{id}/connect`. Blocking.
    pub fn connect_network(
        &self,
        network: &str,
        name: &str,
        config: Option<EndpointSettings>,
    ) -> Result<(), NetworkError> {
        let container = self
            .get(name)
            .map_err(|_| NetworkError::NotFound(format!("container {name}")))?;
        let record = container.record();
        let (id, network_name, driver) = self.inner.networks.lookup(network)?;
        let mode = mode_of(&record.host_config.network_mode);
        if driver == crate::network::record::HOST || mode == Mode::Host {
            return Err(NetworkError::Forbidden(
                "container cannot be disconnected from host network or connected to host network".into(),
            ));
        }
        if driver == crate::network::record::NULL || mode == Mode::None || matches!(mode, Mode::Container(_))
        {
            return Err(NetworkError::Forbidden(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode"
                    .into(),
            ));
        }
        // Checked first, and on a stopped container too, as Docker does; the address itself is
        // checked when the container joins (Docker takes any address for a stopped one).
        if let Some(asked) = config.as_ref().and_then(|c| c.ipam_config.as_ref()) {
            let record = self.inner.networks.record(&id)?;
            for (address, v6) in [(&asked.ipv4_address, false), (&asked.ipv6_address, true)] {
                if let (false, Some(refusal)) = (address.is_empty(), record.static_ip_refusal(v6)) {
                    return Err(NetworkError::Invalid(refusal.into()));
                }
            }
        }
        if record.network_settings.networks.contains_key(&network_name) {
            return Err(NetworkError::Forbidden(format!(
                "endpoint with name {} already exists in network {network_name}",
                record.bare_name()
            )));
        }
        let mut settings = config.unwrap_or_default();
        settings.network_id = id;
        if self.inner.networks.has_sandbox(&record.id) {
            let join = JoinRequest {
                network: network_name.clone(),
                aliases: user_aliases(&settings, record.short_id()),
                ipv4: settings
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.parse().ok()),
                ipv6: settings
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv6_address.parse().ok()),
                // Docker 20.10 ignores an endpoint's MacAddress on connect.
                mac: None,
            };
            let info = self
                .inner
                .networks
                .connect_sandbox(&record.id, record.bare_name(), &join)?;
            settings.endpoint_id = info.endpoint_id.clone();
            settings.gateway = info.gateway.to_string();
            settings.ip_address = info.address.to_string();
            settings.ip_prefix_len = i64::from(info.prefix_len);
            settings.mac_address = info.mac.clone();
            settings.aliases = (!info.default_bridge).then(|| info.aliases.clone());
            (
                settings.global_ipv6_address,
                settings.global_ipv6_prefix_len,
                settings.ipv6_gateway,
            ) = ipv6_fields(&info);
            // The new addresses join the container's own line set, as Docker appends them.
            let mut lines = format!("{}\t{}\n", info.address, record.config.hostname);
            if let Some((address6, _, _)) = info.ipv6 {
                lines.push_str(&format!("{address6}\t{}\n", record.config.hostname));
            }
            append(&container.paths.hosts(), &lines);
        }
        container
            .update_durably(&self.inner.tmp, |r| {
                r.network_settings.networks.insert(network_name.clone(), settings)
            })
            .map_err(|e| NetworkError::Invalid(e.to_string()))?;
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`. Blocking.
    pub fn disconnect_network(&self, network: &str, name: &str, force: bool) -> Result<(), NetworkError> {
        let container = self
            .get(name)
            .map_err(|_| NetworkError::NotFound(format!("container {name}")))?;
        let record = container.record();
        let (_, network_name, driver) = self.inner.networks.lookup(network)?;
        if driver == crate::network::record::HOST {
            return Err(NetworkError::Forbidden(
                "container cannot be disconnected from host network or connected to host network".into(),
            ));
        }
        if !record.network_settings.networks.contains_key(&network_name) {
            // Docker's two sentences: its daemon's for a stopped container, libnetwork's for
            // a running one.
            let the = if self.inner.networks.has_sandbox(&record.id) {
                ""
            } else {
                "the "
            };
            return Err(NetworkError::Unusable(format!(
                "container {} is not connected to {the}network {network_name}",
                record.id
            )));
        }
        if self.inner.networks.has_sandbox(&record.id) && driver != crate::network::record::NULL {
            // Forced, as Docker's: the container leaves the network even when taking its
            // endpoint away fails (a link someone deleted, say).
            match self.inner.networks.disconnect_sandbox(&record.id, &network_name) {
                Err(e) if force => tracing::warn!("forced disconnect from {network_name}: {e}"),
                other => other?,
            }
        }
        container
            .update_durably(&self.inner.tmp, |r| {
                r.network_settings.networks.remove(&network_name)
            })
            .map_err(|e| NetworkError::Invalid(e.to_string()))?;
        Ok(())
    }

    /// The containers that have `network` in their settings (running or not), for `network rm`.
    pub fn network_users(&self, network_name: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter(|c| c.record().network_settings.networks.contains_key(network_name))
            .map(|c| c.id.clone())
            .collect()
    }
}

impl Mode {
    /// A namespace berthd did not make for this container (the host's, another container's).
    fn is_shared(&self) -> bool {
        matches!(self, Mode::Host | Mode::Container(_))
    }
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::types::EmptyObject;

    #[test]
    fn links_parse_in_both_forms() {
        assert_eq!(parse_link("web:db"), Some(("web".into(), "db".into())));
        assert_eq!(parse_link("web"), Some(("web".into(), "web".into())));
        assert_eq!(parse_link("/web:/me/db"), Some(("web".into(), "db".into())));
    }

    #[test]
    fn link_variables_follow_docker() {
        let mut target: ContainerRecord = serde_json::from_value(serde_json::json!({
            "id": "d6bf83841ea3".repeat(5) + "abcd", "name": "/refh", "created": "", "path": "", "args": [],
            "config": {}, "host_config": {}, "image": format!("sha256:{}", "0".repeat(64)), "top_layer": null,
            "state": {"status": "running", "pid": 1, "exit_code": 0, "error": "", "started_at": "", "finished_at": "", "oom_killed": false},
            "restart_count": 0, "has_been_started": true, "manually_stopped": false
        }))
        .unwrap();
        target.config.env = Some(vec!["FOO=bar".into(), "PATH=/bin".into()]);
        target.config.exposed_ports = Some([("80/tcp".to_string(), EmptyObject {})].into_iter().collect());
        let env = link_env("web", "me", &target, "10.66.0.3");
        assert_eq!(
            env,
            vec![
                "WEB_NAME=/me/web",
                "WEB_PORT=tcp://10.66.0.3:80",
                "WEB_PORT_80_TCP=tcp://10.66.0.3:80",
                "WEB_PORT_80_TCP_ADDR=10.66.0.3",
                "WEB_PORT_80_TCP_PORT=80",
                "WEB_PORT_80_TCP_PROTO=tcp",
                "WEB_ENV_FOO=bar",
            ]
        );
    }

    #[test]
    fn user_networks_resolve_through_the_embedded_server() {
        let host = HostConfig::default();
        assert_eq!(
            resolv_conf_for_dns("search lan\nnameserver 10.0.0.1\n", &host),
            "search lan\nnameserver 127.0.0.11\noptions ndots:0\n"
        );
    }

    #[test]
    fn static_addresses_must_be_of_their_family() {
        assert!(check_static_addresses("10.1.2.3", "fd42::3").is_ok());
        assert!(check_static_addresses("", "").is_ok());
        assert!(check_static_addresses("fd42::3", "").is_err());
        assert!(check_static_addresses("", "10.1.2.3").is_err());
        assert!(check_static_addresses("", "::ffff:10.1.2.3").is_err());
        assert!(check_static_addresses("", "zz").is_err());
    }

    #[test]
    fn exit_clears_addresses_but_keeps_the_networks() {
        let mut settings = NetworkSettings {
            ip_address: "10.66.0.2".into(),
            sandbox_key: "/run/berth/netns/x".into(),
            ..NetworkSettings::default()
        };
        settings.networks.insert(
            "bridge".into(),
            EndpointSettings {
                network_id: "n".into(),
                ip_address: "10.66.0.2".into(),
                ..EndpointSettings::default()
            },
        );
        clear_run_fields(&mut settings);
        assert!(settings.ip_address.is_empty());
        assert_eq!(settings.sandbox_key, "/run/berth/netns/x");
        assert_eq!(settings.networks["bridge"].network_id, "n");
        assert!(settings.networks["bridge"].ip_address.is_empty());
    }
}
