//! Where a registry is: the host a reference names, the URL its API answers on, and whether
//! berth may talk to it without verified TLS (Docker's "insecure registries").

use std::net::IpAddr;

use ipnet::IpNet;

use crate::reference::DEFAULT_DOMAIN;

/// Docker Hub's API host: `docker.io` names it in references, this host serves it.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker (and berth) file Docker Hub credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Registries berth talks to without verified TLS: plain HTTP is tried after HTTPS fails.
/// As dockerd: `127.0.0.0/8` always, plus `--insecure-registry` entries (a `host[:port]` or a CIDR).
#[derive(Debug, Clone)]
pub struct InsecureRegistries {
    hosts: Vec<String>,
    networks: Vec<IpNet>,
}

impl InsecureRegistries {
    /// Parse the `--insecure-registry` values; each is a CIDR or a host with an optional port.
    pub fn new(entries: &[String]) -> Result<InsecureRegistries, String> {
        let mut networks: Vec<IpNet> = vec!["127.0.0.0/8".parse().expect("a valid CIDR")];
        let mut hosts = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            let bare = entry
                .strip_prefix("http://")
                .or_else(|| entry.strip_prefix("https://"))
                .unwrap_or(entry)
                .trim_end_matches('/');
            if bare.is_empty() || bare.contains('/') && bare.parse::<IpNet>().is_err() {
                return Err(format!("insecure registry {entry} is not valid"));
            }
            match bare.parse::<IpNet>() {
                Ok(network) => networks.push(network),
                Err(_) => hosts.push(bare.to_lowercase()),
            }
        }
        Ok(InsecureRegistries { hosts, networks })
    }

    /// Whether `domain` (`host[:port]`) is insecure: named, or an address (or a name that
    /// resolves to one) inside an insecure network.
    pub async fn contains(&self, domain: &str) -> bool {
        let domain = domain.to_lowercase();
        if domain == DEFAULT_DOMAIN {
            // Docker Hub is always secure, and never looked up for it.
            return false;
        }
        let host = host_of(&domain);
        if self.hosts.iter().any(|h| *h == domain || *h == host) {
            return true;
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return self.networks.iter().any(|n| n.contains(&ip));
        }
        // A name is looked up, as Docker does: `localhost` is insecure because it is 127.0.0.1.
        match tokio::net::lookup_host((host, 0)).await {
            Ok(addresses) => addresses
                .map(|a| a.ip())
                .any(|ip| self.networks.iter().any(|n| n.contains(&ip))),
            Err(_) => false,
        }
    }
}

/// `host` of `host:port` (and of `[v6]:port`).
fn host_of(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    domain.rsplit_once(':').map_or(domain, |(host, _)| host)
}

/// One way to reach a registry's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    pub base: String,
    /// HTTPS without certificate verification (an insecure registry's first try).
    pub skip_verify: bool,
}

/// The key credentials for a registry host are filed under (Docker Hub's is a URL, for history).
pub fn auth_key(domain: &str) -> String {
    if domain == DEFAULT_DOMAIN {
        DOCKER_HUB_AUTH_KEY.to_owned()
    } else {
        domain.to_owned()
    }
}

/// The endpoints to try for `domain`, in order: HTTPS; for an insecure registry, HTTPS without
/// verification and then plain HTTP (dockerd's order).
pub async fn endpoints(domain: &str, insecure: &InsecureRegistries) -> Vec<Endpoint> {
    let api_host = if domain == DEFAULT_DOMAIN {
        DOCKER_HUB_API
    } else {
        domain
    };
    if insecure.contains(domain).await {
        vec![
            Endpoint {
                base: format!("https://{api_host}"),
                skip_verify: true,
            },
            Endpoint {
                base: format!("http://{api_host}"),
                skip_verify: false,
            },
        ]
    } else {
        vec![Endpoint {
            base: format!("https://{api_host}"),
            skip_verify: false,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insecure(entries: &[&str]) -> InsecureRegistries {
        InsecureRegistries::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[tokio::test]
    async fn loopback_is_insecure_by_default_and_flags_add_more() {
        let none = insecure(&[]);
        assert!(none.contains("127.0.0.1:5000").await);
        assert!(none.contains("127.1.2.3").await);
        assert!(none.contains("localhost:5000").await);
        assert!(!none.contains("10.1.2.3:5000").await);
        let some = insecure(&["10.0.0.0/8", "registry.example:5000", "http://other.example/"]);
        assert!(some.contains("10.1.2.3:5000").await);
        assert!(!some.contains("11.1.2.3:5000").await);
        assert!(some.contains("registry.example:5000").await);
        assert!(some.contains("other.example:443").await);
        assert!(!some.contains("docker.io").await);
        assert!(InsecureRegistries::new(&["a/b".to_string()]).is_err());
    }

    #[tokio::test]
    async fn docker_hub_is_reached_at_its_api_host() {
        let none = insecure(&[]);
        assert_eq!(
            endpoints("docker.io", &none).await,
            vec![Endpoint {
                base: "https://registry-1.docker.io".into(),
                skip_verify: false
            }]
        );
        let local = endpoints("127.0.0.1:5000", &none).await;
        assert_eq!(local.len(), 2);
        assert_eq!(local[0].base, "https://127.0.0.1:5000");
        assert!(local[0].skip_verify);
        assert_eq!(local[1].base, "http://127.0.0.1:5000");
        assert_eq!(auth_key("docker.io"), DOCKER_HUB_AUTH_KEY);
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
