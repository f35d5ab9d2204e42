//! Published ports: what `-p`, `-P` and `--expose` ask for (`HostConfig.PortBindings`,
//! `PublishAllPorts`, `Config.ExposedPorts`), and the `NetworkSettings.Ports` map that
//! `inspect`, `port` and `ps` show once they are bound.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_api::types::{EmptyObjectSet, PortBinding, PortMap};

use super::firewall::Proto;

/// A port spec Docker would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// the `80/tcp` key
    #[error("invalid port specification: \"{0}\"")]
    Port(String),
    /// the host side
    #[error("invalid host port: \"{0}\"")]
    HostPort(String),
    /// the host address
    #[error("invalid IP address: {0}")]
    HostIp(String),
}

/// One port to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    /// `None`: every address (`0.0.0.0`, and `::` where the host has IPv6).
    pub host_ip: Option<IpAddr>,
    /// Inclusive range; `(0, 0)` for any free port.
    pub host_ports: (u16, u16),
}

impl PortRequest {
    /// The `NetworkSettings.Ports` key: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto.as_str())
    }
}

/// A port bound on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: IpAddr,
    pub host_port: u16,
}

/// `80/tcp` (or `80`, tcp implied) → port and protocol.
pub fn parse_key(key: &str) -> Result<(u16, Proto), PortError> {
    let (number, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return Err(PortError::Port(key.to_owned())),
    };
    match number.parse::<u16>() {
        Ok(port) if port > 0 => Ok((port, proto)),
        _ => Err(PortError::Port(key.to_owned())),
    }
}

fn parse_host_ports(text: &str) -> Result<(u16, u16), PortError> {
    let bad = || PortError::HostPort(text.to_owned());
    if text.is_empty() {
        return Ok((0, 0));
    }
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let low: u16 = low.parse().map_err(|_| bad())?;
    let high: u16 = high.parse().map_err(|_| bad())?;
    if high < low {
        return Err(bad());
    }
    Ok((low, high))
}

fn parse_host_ip(text: &str) -> Result<Option<IpAddr>, PortError> {
    let text = text.trim_start_matches('[').trim_end_matches(']');
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| PortError::HostIp(text.to_owned()))
}

/// The ports to publish: every binding of `PortBindings`, and with `-P` every exposed port not
/// bound already (on a free port of every address).
pub fn requests(
    bindings: Option<&PortMap>,
    exposed: Option<&EmptyObjectSet>,
    publish_all: bool,
) -> Result<Vec<PortRequest>, PortError> {
    let mut out = Vec::new();
    for (key, list) in bindings.into_iter().flatten() {
        let (container_port, proto) = parse_key(key)?;
        let list = list.as_deref().unwrap_or_default();
        let defaulted = [PortBinding::default()];
        for binding in if list.is_empty() { &defaulted[..] } else { list } {
            out.push(PortRequest {
                proto,
                container_port,
                host_ip: parse_host_ip(&binding.host_ip)?,
                host_ports: parse_host_ports(&binding.host_port)?,
            });
        }
    }
    if publish_all {
        for key in exposed.into_iter().flat_map(|e| e.keys()) {
            let (container_port, proto) = parse_key(key)?;
            if !out
                .iter()
                .any(|r| r.container_port == container_port && r.proto == proto)
            {
                out.push(PortRequest {
                    proto,
                    container_port,
                    host_ip: None,
                    host_ports: (0, 0),
                });
            }
        }
    }
    Ok(out)
}

/// The addresses a request binds: one, or `0.0.0.0` then `::`.
pub fn host_addresses(request: &PortRequest) -> Vec<IpAddr> {
    match request.host_ip {
        Some(ip) => vec![ip],
        None => vec![
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ],
    }
}

/// `NetworkSettings.Ports`: every exposed port (null when not published) and each binding.
pub fn port_map(exposed: Option<&EmptyObjectSet>, published: &[PublishedPort]) -> PortMap {
    let mut map = PortMap::new();
    for key in exposed.into_iter().flat_map(|e| e.keys()) {
        if let Ok((port, proto)) = parse_key(key) {
            map.insert(format!("{port}/{}", proto.as_str()), None);
        }
    }
    for p in published {
        map.entry(format!("{}/{}", p.container_port, p.proto.as_str()))
            .or_insert(None)
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.to_string(),
                host_port: p.host_port.to_string(),
            });
    }
    map
}

/// The published ports a `NetworkSettings.Ports` map records (after a daemon restart).
pub fn published_in(map: &PortMap) -> Vec<PublishedPort> {
    let mut out = Vec::new();
    for (key, bindings) in map {
        let Ok((container_port, proto)) = parse_key(key) else {
            continue;
        };
        for binding in bindings.iter().flatten() {
            if let (Ok(host_ip), Ok(host_port)) = (binding.host_ip.parse(), binding.host_port.parse()) {
                out.push(PublishedPort {
                    proto,
                    container_port,
                    host_ip,
                    host_port,
                });
            }
        }
    }
    out
}

/// The kernel's range for ephemeral ports, where Docker picks random host ports from.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut words = text.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .unwrap_or((32768, 60999))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::types::EmptyObject;

    fn exposed(keys: &[&str]) -> EmptyObjectSet {
        keys.iter().map(|k| (k.to_string(), EmptyObject {})).collect()
    }

    #[test]
    fn bindings_and_publish_all_become_requests() {
        let mut bindings = PortMap::new();
        bindings.insert(
            "80/tcp".into(),
            Some(vec![PortBinding {
                host_ip: "127.0.0.1".into(),
                host_port: "8080".into(),
            }]),
        );
        bindings.insert("53/udp".into(), Some(vec![PortBinding::default()]));
        let got = requests(
            Some(&bindings),
            Some(&exposed(&["80/tcp", "90/tcp", "53/udp"])),
            true,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                PortRequest {
                    proto: Proto::Udp,
                    container_port: 53,
                    host_ip: None,
                    host_ports: (0, 0)
                },
                PortRequest {
                    proto: Proto::Tcp,
                    container_port: 80,
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_ports: (8080, 8080)
                },
                PortRequest {
                    proto: Proto::Tcp,
                    container_port: 90,
                    host_ip: None,
                    host_ports: (0, 0)
                },
            ]
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut bindings = PortMap::new();
        bindings.insert("80/sctpx".into(), None);
        assert!(requests(Some(&bindings), None, false).is_err());
        let mut bindings = PortMap::new();
        bindings.insert(
            "80/tcp".into(),
            Some(vec![PortBinding {
                host_ip: String::new(),
                host_port: "90-80".into(),
            }]),
        );
        assert_eq!(
            requests(Some(&bindings), None, false),
            Err(PortError::HostPort("90-80".into()))
        );
    }

    #[test]
    fn the_port_map_lists_exposed_ports_as_null_and_round_trips() {
        let published = vec![
            PublishedPort {
                proto: Proto::Tcp,
                container_port: 80,
                host_ip: "0.0.0.0".parse().unwrap(),
                host_port: 8080,
            },
            PublishedPort {
                proto: Proto::Tcp,
                container_port: 80,
                host_ip: "::".parse().unwrap(),
                host_port: 8080,
            },
        ];
        let map = port_map(Some(&exposed(&["80/tcp", "90/tcp"])), &published);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"90/tcp":null}"#
        );
        assert_eq!(published_in(&map), published);
    }
}
