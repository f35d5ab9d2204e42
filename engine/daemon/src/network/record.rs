//! What berthd remembers of a network, on disk so it survives a restart:
//! `<data-root>/network/<id>.json`, written atomically. Which containers are attached is not
//! stored here: it lives in the container records (and in memory while they run).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use berth_api::types::{ConfigReference, Ipam, IpamConfig, Network, NetworkContainer};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

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
    #[serde(default)]
    pub ip_range: String,
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

    /// The network as `GET /networks/{id}` shows it.
    pub fn to_api(&self, containers: BTreeMap<String, NetworkContainer>) -> Network {
        let config = if self.driver == BRIDGE {
            vec![IpamConfig {
                subnet: self.subnet.clone(),
                ip_range: self.ip_range.clone(),
                gateway: if self.gateway_given {
                    self.gateway.clone()
                } else {
                    String::new()
                },
                auxiliary_addresses: None,
            }]
        } else {
            Vec::new()
        };
        Network {
            name: self.name.clone(),
            id: self.id.clone(),
            created: self.created.clone(),
            scope: "local".into(),
            driver: self.driver.clone(),
            enable_ipv6: false,
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
