//! What berthd remembers of a network, on disk so it survives a restart:
//! `<data-root>/network/<id>.json`, written atomically. Which containers are attached is not
//! stored here: it lives in the container records (and in memory while they run).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use berth_api::types::{ConfigReference, Ipam, IpamConfig, Network, NetworkContainer};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::NetworkError;
use crate::store::{StoreError, write_atomic};

/// The drivers berth has: Docker's names.
pub const BRIDGE: &str = "bridge";
pub const HOST: &str = "host";
pub const NULL: &str = "null";

/// A network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// The kernel bridge (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    /// As given (`10.66.0.0/16`); empty for host and null.
    #[serde(default)]
    pub subnet: String,
    #[serde(default)]
    pub gateway: String,
    /// Shown in `inspect` only when it was asked for (as Docker).
    #[serde(default)]
    pub gateway_given: bool,
    /// The subnet came from the address pool, not `--subnet`: no `--ip` on it, as Docker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pool_picked: bool,
    #[serde(default)]
    pub ip_range: String,
    /// `AuxiliaryAddresses`: host name → an address of the subnet kept from endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux_addresses: Option<BTreeMap<String, String>>,
    /// `EnableIPv6`: the bridge and its containers get addresses of the IPv6 subnet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    /// The IPv6 subnets of `IPAM.Config`, as given (Docker keeps one given without
    /// `EnableIPv6` too, and shows it, but gives no address of it). With `EnableIPv6`, exactly one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipv6_configs: Vec<IpamConfig>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// The default `bridge` network (no DNS, legacy links, top-level inspect fields).
    #[serde(default)]
    pub default_bridge: bool,
    /// The bridge was there before the network (`com.docker.network.bridge.name` named a link
    /// someone else made): berthd uses it but never deletes it, as Docker's `ifaceCreatedByUser`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted_bridge: bool,
}

impl NetworkRecord {
    /// bridge, host and none: made by berthd, never removed.
    pub fn is_predefined(&self) -> bool {
        self.default_bridge || self.driver == HOST || self.driver == NULL
    }

    /// The subnet for address arithmetic (host bits cleared).
    pub fn subnet_net(&self) -> Option<Ipv4Net> {
        super::ipam::parse_subnet(&self.subnet)
    }

    pub fn gateway_ip(&self) -> Option<Ipv4Addr> {
        self.gateway.parse().ok()
    }

    pub fn ip_range_net(&self) -> Option<Ipv4Net> {
        super::ipam::parse_subnet(&self.ip_range)
    }

    /// The IPv6 subnet whose addresses the network hands out (with `EnableIPv6` only).
    pub fn subnet6_net(&self) -> Option<Ipv6Net> {
        let config = self.ipv6_configs.first().filter(|_| self.enable_ipv6)?;
        super::ipam::parse_subnet6(&config.subnet)
    }

    /// The bridge's IPv6 address: the one given, or the subnet's first host address.
    pub fn gateway6_ip(&self) -> Option<Ipv6Addr> {
        let subnet = self.subnet6_net()?;
        match self.ipv6_configs[0].gateway.as_str() {
            "" => match super::ipam::first_address(IpNet::V6(subnet)) {
                IpAddr::V6(ip) => Some(ip),
                IpAddr::V4(_) => None,
            },
            given => given.parse().ok(),
        }
    }

    pub fn ip_range6_net(&self) -> Option<Ipv6Net> {
        super::ipam::parse_subnet6(&self.ipv6_configs.first()?.ip_range)
    }

    /// The IPv6 auxiliary addresses (checked at create).
    pub fn aux6_ips(&self) -> Vec<Ipv6Addr> {
        self.ipv6_configs
            .first()
            .and_then(|c| c.auxiliary_addresses.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|(_, ip)| ip.parse().ok())
            .collect()
    }

    /// Why `--ip` (or, with `v6`, `--ip6`) can't be used on this network, if it can't (Docker's
    /// words): the default bridge never, a family whose subnet the user did not give never.
    pub fn static_ip_refusal(&self, v6: bool) -> Option<&'static str> {
        let no_subnet = "user specified IP address is supported only when connecting to networks with user configured subnets";
        if self.default_bridge {
            Some("user specified IP address is supported on user defined networks only")
        } else if v6 {
            self.ipv6_configs.is_empty().then_some(no_subnet)
        } else if self.pool_picked {
            Some(
                "user specified IP address is supported only when connecting to networks with user configured subnets",
            )
        } else {
            None
        }
    }

    /// The auxiliary addresses (checked at create).
    pub fn aux_ips(&self) -> Vec<Ipv4Addr> {
        self.aux_addresses
            .iter()
            .flatten()
            .filter_map(|(_, ip)| ip.parse().ok())
            .collect()
    }

    /// `com.docker.network.bridge.enable_icc`: whether containers of the network talk to each
    /// other (on unless switched off).
    pub fn icc(&self) -> bool {
        self.bool_option(ENABLE_ICC)
    }

    /// `com.docker.network.bridge.enable_ip_masquerade`: whether traffic leaving the network
    /// takes the host's address.
    pub fn masquerade(&self) -> bool {
        self.bool_option(ENABLE_MASQUERADE)
    }

    /// `com.docker.network.driver.mtu`: the MTU of the network's veths (the kernel's 1500 when
    /// absent or 0, as Docker).
    pub fn mtu(&self) -> Option<u32> {
        self.options
            .get(MTU)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|mtu| *mtu > 0)
    }

    fn bool_option(&self, key: &str) -> bool {
        self.options.get(key).is_none_or(|v| go_bool(v) != Some(false))
    }

    /// The network as `GET /networks/{id}` shows it.
    pub fn to_api(&self, containers: BTreeMap<String, NetworkContainer>) -> Network {
        // IPv4 first, then IPv6, whatever the order given (Docker's order).
        let config = if self.driver == BRIDGE {
            let v4 = IpamConfig {
                subnet: self.subnet.clone(),
                ip_range: self.ip_range.clone(),
                gateway: if self.gateway_given {
                    self.gateway.clone()
                } else {
                    String::new()
                },
                auxiliary_addresses: self.aux_addresses.clone().filter(|a| !a.is_empty()),
            };
            let v6 = self.ipv6_configs.iter().map(|c| IpamConfig {
                auxiliary_addresses: c.auxiliary_addresses.clone().filter(|a| !a.is_empty()),
                ..c.clone()
            });
            std::iter::once(v4).chain(v6).collect()
        } else {
            Vec::new()
        };
        Network {
            name: self.name.clone(),
            id: self.id.clone(),
            created: self.created.clone(),
            scope: "local".into(),
            driver: self.driver.clone(),
            enable_ipv6: self.enable_ipv6,
            ipam: Ipam {
                driver: "default".into(),
                options: self.ipam_options.clone(),
                config,
            },
            internal: self.internal,
            attachable: self.attachable,
            ingress: false,
            config_from: ConfigReference::default(),
            config_only: false,
            containers,
            options: self.options.clone(),
            labels: self.labels.clone(),
        }
    }

    fn path(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    pub fn save(&self, dir: &Path, tmp: &Path) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(self).expect("a network record serializes");
        write_atomic(&Self::path(dir, &self.id), tmp, &json)
    }

    pub fn delete(dir: &Path, id: &str) -> Result<(), StoreError> {
        let path = Self::path(dir, id);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::io(format!("remove {}", path.display()))(e))
            }
            _ => Ok(()),
        }
    }

    /// Every record in `dir` (unreadable ones are skipped with a warning).
    pub fn load_all(dir: &Path) -> Result<Vec<NetworkRecord>, StoreError> {
        let entries = std::fs::read_dir(dir).map_err(StoreError::io(format!("read {}", dir.display())))?;
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<NetworkRecord>(&bytes).ok())
            {
                Some(record) => records.push(record),
                None => tracing::warn!("skipping {}: no readable network record", path.display()),
            }
        }
        Ok(records)
    }
}

const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
const ENABLE_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
const MTU: &str = "com.docker.network.driver.mtu";

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The bridge driver's options checked as Docker's bridge driver parses them (its 500s).
pub fn check_options(options: &BTreeMap<String, String>) -> Result<(), NetworkError> {
    for key in [ENABLE_ICC, ENABLE_MASQUERADE] {
        if let Some(value) = options.get(key) {
            if go_bool(value).is_none() {
                return Err(NetworkError::Unusable(format!(
                    "failed to parse {key} value: {value} (strconv.ParseBool: parsing \"{value}\": invalid syntax)"
                )));
            }
        }
    }
    if let Some(value) = options.get(MTU) {
        // Too big an MTU is taken here and refused by the kernel at the first veth, as Docker.
        match value.parse::<i64>() {
            Ok(mtu) if mtu < 0 => {
                return Err(NetworkError::Unusable(format!("invalid MTU number: {value}")));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(NetworkError::Unusable(format!(
                    "failed to parse {MTU} value: {value} (strconv.Atoi: parsing \"{value}\": invalid syntax)"
                )));
            }
        }
    }
    Ok(())
}

/// The options Docker shows on its default bridge.
pub fn default_bridge_options(bridge: &str) -> BTreeMap<String, String> {
    [
        ("com.docker.network.bridge.default_bridge", "true"),
        ("com.docker.network.bridge.enable_icc", "true"),
        ("com.docker.network.bridge.enable_ip_masquerade", "true"),
        ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
        ("com.docker.network.bridge.name", bridge),
        ("com.docker.network.driver.mtu", "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_shows_the_gateway_only_when_it_was_given() {
        let record = NetworkRecord {
            id: "a".repeat(64),
            name: "front".into(),
            driver: BRIDGE.into(),
            subnet: "10.67.0.0/24".into(),
            gateway: "10.67.0.1".into(),
            ipam_options: Some(BTreeMap::new()),
            ..NetworkRecord::default()
        };
        let json = serde_json::to_value(record.to_api(BTreeMap::new())).unwrap();
        assert_eq!(
            json["IPAM"]["Config"],
            serde_json::json!([{"Subnet": "10.67.0.0/24"}])
        );
        assert_eq!(json["IPAM"]["Options"], serde_json::json!({}));
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 15);
    }
}
