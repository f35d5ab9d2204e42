//! `berth network create|ls|inspect|rm|connect|disconnect|prune`.

use std::collections::BTreeMap;

use berth_api::client::{Client, query};
use berth_api::types::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest,
};
use http::Method;
use http_body_util::BodyExt;
use serde::Serialize;

use super::{Failure, Outcome, filters_json, not_found_as};
use crate::cli::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkInspectArgs,
    NetworkLsArgs, NetworkPruneArgs, NetworkRmArgs,
};
use crate::format::{self, ListKind, ListOptions};

pub async fn run(client: &Client, command: NetworkCommand) -> Outcome {
    match command {
        NetworkCommand::Create(args) => create(client, args).await,
        NetworkCommand::Ls(args) => list(client, args).await,
        NetworkCommand::Inspect(args) => inspect(client, args).await,
        NetworkCommand::Rm(args) => remove(client, args).await,
        NetworkCommand::Connect(args) => connect(client, args).await,
        NetworkCommand::Disconnect(args) => disconnect(client, args).await,
        NetworkCommand::Prune(args) => prune(client, args).await,
    }
}

/// `key=value` options (`--label`, `--opt`) into a map.
fn key_values(pairs: &[String]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.clone(), String::new()),
        })
        .collect()
}

/// Go's `net.ParseCIDR`: an address of either family with a prefix its family allows (host
/// bits may be set); the network's first address and its prefix, as 128-bit numbers (an IPv4
/// network in the top 32 bits) with the family's width.
fn parse_cidr(text: &str) -> Option<(u128, u32, u32)> {
    let (ip, prefix) = text.split_once('/')?;
    let prefix: u32 = prefix.parse().ok()?;
    let (ip, bits) = match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
        std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    (prefix <= bits).then_some((ip, prefix, bits))
}

/// docker/cli's `subnetMatches`: whether `data` (an address, or an address with a prefix) lies
/// in `subnet`, with its errors for a subnet or a prefixed address that does not parse.
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, Failure> {
    let invalid = |text: &str| format!("invalid CIDR address: {text}");
    let (net, prefix, bits) =
        parse_cidr(subnet).ok_or_else(|| Failure::new(format!("invalid subnet: {}", invalid(subnet))))?;
    let ip = if data.contains('/') {
        let (ip, _, ip_bits) = parse_cidr(data).ok_or_else(|| Failure::new(invalid(data)))?;
        (ip_bits == bits).then_some(ip)
    } else {
        match data.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) if bits == 32 => Some(u128::from(u32::from(v4)) << 96),
            Ok(std::net::IpAddr::V6(v6)) if bits == 128 => Some(u128::from(v6)),
            _ => None,
        }
    };
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    Ok(ip.is_some_and(|ip| ip & mask == net & mask))
}

/// docker/cli's pairing of `--subnet` with the `--ip-range`, `--gateway` and `--aux-address`
/// inside it, with its checks and words (`consolidateIpam`).
fn ipam_configs(args: &NetworkCreateArgs) -> Result<Vec<IpamConfig>, Failure> {
    let subnets = &args.subnet;
    if subnets.len() < args.ip_range.len() || subnets.len() < args.gateway.len() {
        return Err(Failure::new(
            "every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let mut configs: Vec<IpamConfig> = Vec::new();
    for subnet in subnets {
        for earlier in &configs {
            if subnet_matches(subnet, &earlier.subnet)? || subnet_matches(&earlier.subnet, subnet)? {
                return Err(Failure::new(
                    "multiple overlapping subnet configuration is not supported",
                ));
            }
        }
        configs.push(IpamConfig {
            subnet: subnet.clone(),
            ..IpamConfig::default()
        });
    }
    for range in &args.ip_range {
        let mut matched = false;
        for config in configs.iter_mut() {
            if !subnet_matches(&config.subnet, range)? {
                continue;
            }
            if !config.ip_range.is_empty() {
                return Err(Failure::new(format!(
                    "cannot configure multiple ranges ({range}, {}) on the same subnet ({})",
                    config.ip_range, config.subnet
                )));
            }
            config.ip_range = range.clone();
            matched = true;
        }
        if !matched {
            return Err(Failure::new(format!("no matching subnet for range {range}")));
        }
    }
    for gateway in &args.gateway {
        let mut matched = false;
        for config in configs.iter_mut() {
            if !subnet_matches(&config.subnet, gateway)? {
                continue;
            }
            if !config.gateway.is_empty() {
                return Err(Failure::new(format!(
                    "cannot configure multiple gateways ({gateway}, {}) for the same subnet ({})",
                    config.gateway, config.subnet
                )));
            }
            config.gateway = gateway.clone();
            matched = true;
        }
        if !matched {
            return Err(Failure::new(format!("no matching subnet for gateway {gateway}")));
        }
    }
    for (host, address) in key_values(&args.aux_address) {
        let mut matched = false;
        // docker/cli puts an auxiliary address in every subnet that holds it.
        for config in configs.iter_mut() {
            if subnet_matches(&config.subnet, &address)? {
                config
                    .auxiliary_addresses
                    .get_or_insert_with(BTreeMap::new)
                    .insert(host.clone(), address.clone());
                matched = true;
            }
        }
        if !matched {
            return Err(Failure::new(format!(
                "no matching subnet for aux-address {address}"
            )));
        }
    }
    Ok(configs)
}

async fn create(client: &Client, args: NetworkCreateArgs) -> Outcome {
    let request = NetworkCreateRequest {
        name: args.name.clone(),
        check_duplicate: true,
        driver: args.driver.clone(),
        internal: args.internal,
        attachable: args.attachable,
        ingress: false,
        ipam: Some(Ipam {
            driver: args.ipam_driver.clone(),
            options: Some(key_values(&args.ipam_opt)),
            config: ipam_configs(&args)?,
        }),
        enable_ipv6: args.ipv6,
        options: Some(key_values(&args.opt)),
        labels: Some(key_values(&args.label)),
    };
    let created: NetworkCreateResponse = client
        .send_json(Method::POST, "/networks/create", &request)
        .await?;
    println!("{}", created.id);
    Ok(())
}

async fn list(client: &Client, args: NetworkLsArgs) -> Outcome {
    #[derive(Serialize)]
    struct Query {
        #[serde(skip_serializing_if = "Option::is_none")]
        filters: Option<String>,
    }
    let path = format!(
        "/networks{}",
        query(&Query {
            filters: filters_json(&args.filter)?
        })?
    );
    let networks: Vec<serde_json::Value> = client.get(&path).await?;
    let mut rows: Vec<serde_json::Value> = networks
        .iter()
        .map(|n| format::rows::network_row(n, !args.no_trunc))
        .collect();
    format::rows::sort_by_name(&mut rows);
    let template = ListKind::Networks.format(
        args.format.as_deref(),
        ListOptions {
            quiet: args.quiet,
            ..ListOptions::default()
        },
    );
    print!(
        "{}",
        format::render_list(&template, ListKind::Networks, &rows).map_err(Failure::new)?
    );
    Ok(())
}

async fn inspect(client: &Client, args: NetworkInspectArgs) -> Outcome {
    let mut bodies = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match client
            .request(Method::GET, &format!("/networks/{name}"), None, Client::empty())
            .await
        {
            Ok(response) => {
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| Failure::new(e.to_string()))?
                    .to_bytes();
                bodies.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => missing.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    match &args.format {
        Some(template) => {
            for body in &bodies {
                let value = format::Value::from_json_str(body).map_err(|e| Failure::new(e.to_string()))?;
                println!(
                    "{}",
                    format::render_template(template, value).map_err(Failure::new)?
                );
            }
        }
        None => print!(
            "{}",
            format::inspect_json(&bodies.iter().map(String::as_str).collect::<Vec<_>>())
        ),
    }
    if missing.is_empty() {
        return Ok(());
    }
    for name in missing {
        eprintln!("Error: No such network: {name}");
    }
    Err(Failure::silent(1))
}

async fn remove(client: &Client, args: NetworkRmArgs) -> Outcome {
    let mut failed = false;
    for name in &args.names {
        match client
            .call(Method::DELETE, &format!("/networks/{name}"))
            .await
            .map_err(not_found_as("network", name))
        {
            Ok(()) => println!("{name}"),
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
            }
        }
    }
    if failed { Err(Failure::silent(1)) } else { Ok(()) }
}

/// POST a JSON body whose answer carries nothing.
async fn post(client: &Client, path: &str, body: &impl Serialize) -> Outcome {
    let bytes = serde_json::to_vec(body).map_err(|e| Failure::new(e.to_string()))?;
    let response = client
        .request(Method::POST, path, Some("application/json"), Client::bytes(bytes))
        .await?;
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok(())
}

async fn connect(client: &Client, args: NetworkConnectArgs) -> Outcome {
    let request = NetworkConnectRequest {
        container: args.container.clone(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: (args.ip.is_some() || args.ip6.is_some()).then(|| EndpointIpamConfig {
                ipv4_address: args.ip.clone().unwrap_or_default(),
                ipv6_address: args.ip6.clone().unwrap_or_default(),
            }),
            links: (!args.link.is_empty()).then(|| args.link.clone()),
            aliases: (!args.alias.is_empty()).then(|| args.alias.clone()),
            ..EndpointSettings::default()
        }),
    };
    post(client, &format!("/networks/{}/connect", args.network), &request).await
}

async fn disconnect(client: &Client, args: NetworkDisconnectArgs) -> Outcome {
    let request = NetworkDisconnectRequest {
        container: args.container.clone(),
        force: args.force,
    };
    post(
        client,
        &format!("/networks/{}/disconnect", args.network),
        &request,
    )
    .await
}

async fn prune(client: &Client, args: NetworkPruneArgs) -> Outcome {
    if !args.force
        && !super::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(());
    }
    // Networks take no space: docker/cli prints no total for them.
    let pruned = super::prune::networks(client, &args.filter).await?;
    if !pruned.report.is_empty() {
        println!("{}", pruned.report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn create_args(extra: &[&str]) -> NetworkCreateArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: NetworkCreateArgs,
        }
        let mut argv = vec!["network-create"];
        argv.extend_from_slice(extra);
        argv.push("front");
        Wrapper::parse_from(argv).args
    }

    #[test]
    fn gateways_and_ranges_go_to_their_subnet() {
        let args = create_args(&[
            "--subnet",
            "10.1.0.0/24",
            "--subnet",
            "10.2.0.0/24",
            "--gateway",
            "10.2.0.254",
            "--ip-range",
            "10.1.0.128/25",
        ]);
        let configs = ipam_configs(&args).unwrap();
        assert_eq!(configs[0].ip_range, "10.1.0.128/25");
        assert_eq!(configs[1].gateway, "10.2.0.254");
        assert!(configs[0].gateway.is_empty());
    }

    #[test]
    fn a_gateway_without_its_subnet_is_refused() {
        let args = create_args(&["--gateway", "10.9.0.1"]);
        assert_eq!(
            ipam_configs(&args).unwrap_err().message,
            "every ip-range or gateway must have a corresponding subnet"
        );
    }

    #[test]
    fn a_dual_stack_network_pairs_each_flag_with_its_family() {
        let args = create_args(&[
            "--ipv6",
            "--subnet",
            "10.1.0.0/24",
            "--subnet",
            "fd42:1::/64",
            "--gateway",
            "fd42:1::99",
            "--ip-range",
            "fd42:1::/80",
        ]);
        let configs = ipam_configs(&args).unwrap();
        assert_eq!(configs[1].gateway, "fd42:1::99");
        assert_eq!(configs[1].ip_range, "fd42:1::/80");
        assert!(configs[0].gateway.is_empty() && configs[0].ip_range.is_empty());
    }

    #[test]
    fn ipv6_gateways_and_ranges_go_to_the_ipv6_subnet() {
        let matches = |subnet: &str, data: &str| subnet_matches(subnet, data).unwrap();
        assert!(matches("fd42:1::/64", "fd42:1::99"));
        assert!(matches("fd42:1::/64", "fd42:1::/80"));
        assert!(!matches("fd42:1::/64", "fd42:2::1"));
        assert!(!matches("10.1.0.0/16", "fd42:1::1"));
        assert!(!matches("fd42:1::/64", "10.1.0.1"));
        assert!(matches("10.1.0.0/16", "10.1.200.1"));
        assert!(matches("0.0.0.0/0", "10.1.200.1"));
        assert!(!matches("10.1.0.0/16", "bad"));
        assert_eq!(
            subnet_matches("10.1.0.0/33", "10.1.0.1").unwrap_err().message,
            "invalid subnet: invalid CIDR address: 10.1.0.0/33"
        );
        assert_eq!(
            subnet_matches("10.1.0.0/16", "10.1.0.0/99").unwrap_err().message,
            "invalid CIDR address: 10.1.0.0/99"
        );
    }

    #[test]
    fn pairing_errors_are_docker_clis() {
        let refused = |flags: &[&str]| ipam_configs(&create_args(flags)).unwrap_err().message;
        assert_eq!(
            refused(&["--subnet", "10.1.0.0/16", "--subnet", "10.1.2.0/24"]),
            "multiple overlapping subnet configuration is not supported"
        );
        assert_eq!(
            refused(&["--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1"]),
            "no matching subnet for gateway 10.2.0.1"
        );
        assert_eq!(
            refused(&[
                "--subnet",
                "10.1.0.0/16",
                "--subnet",
                "fd42::/64",
                "--gateway",
                "10.1.0.1",
                "--gateway",
                "10.1.0.2"
            ]),
            "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)"
        );
        assert_eq!(
            refused(&["--subnet", "fd42::/64", "--ip-range", "fd43::/80"]),
            "no matching subnet for range fd43::/80"
        );
    }
}
