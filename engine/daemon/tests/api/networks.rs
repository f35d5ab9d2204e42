//! `POST /networks/create` and `DELETE /networks/{id}`: subnets with no room for a gateway, and
//! bridges berthd did not make (used, never deleted) or another network's (refused).

use serde_json::json;

use crate::support::{
    HostBridge, OnDocker, TestDaemon, assert_alive, berth, docker, link_exists, refused_alike, unique_name,
};

/// The names of the networks `daemon` has.
fn network_names(daemon: &TestDaemon) -> Vec<String> {
    let mut names: Vec<String> = berth(daemon, "GET", "/networks", b"")
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["Name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The host's links whose names start with `berth` or `brb-` (what berthd makes).
fn berth_links() -> Vec<String> {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("brb-"))
        .collect();
    links.sort();
    links
}

#[test]
fn subnets_without_room_for_a_gateway_are_refused_as_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    let (networks, links) = (network_names(&daemon), berth_links());
    // TEST-NET-2 (RFC 5737): routed nowhere, so neither engine finds an overlap first.
    let configs = [
        json!({"Subnet": "198.51.100.0/31"}),
        json!({"Subnet": "198.51.100.0/32"}),
        json!({"Subnet": "198.51.100.0/31", "Gateway": "198.51.100.1"}),
        json!({"Subnet": "198.51.100.0/32", "Gateway": "198.51.100.0"}),
        json!({"Subnet": "198.51.100.0/30", "Gateway": "198.51.100.3"}),
        json!({"Subnet": "198.51.100.0/30", "Gateway": "198.51.100.0"}),
    ];
    for config in configs {
        let name = unique_name("berth-api-net");
        let body = json!({"Name": name, "IPAM": {"Config": [config]}}).to_string();
        let answer = refused_alike(&mut daemon, "POST", "/networks/create", body.as_bytes());
        assert_eq!(answer.status, 500, "{body}");
    }
    assert_eq!(
        network_names(&daemon),
        networks,
        "a refused create left a network"
    );
    assert_eq!(berth_links(), links, "a refused create left a bridge");
}

/// Docker uses a bridge that is already there and leaves it when the network goes; berthd does
/// the same, where it used to delete it.
#[test]
fn a_bridge_someone_else_made_is_used_and_never_deleted() {
    let mut daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    let (ours, theirs) = (HostBridge::new("o"), HostBridge::new("d"));
    let create = |bridge: &str| {
        json!({
            "Name": unique_name("berth-api-adopt"),
            "Options": {"com.docker.network.bridge.name": bridge},
            "IPAM": {"Config": [{"Subnet": daemon.net.subnet(7)}]},
        })
        .to_string()
    };
    let docker_body = json!({
        "Name": unique_name("berth-api-adopt"),
        "Options": {"com.docker.network.bridge.name": theirs.0},
    })
    .to_string();
    let their_answer = docker("POST", "/networks/create", docker_body.as_bytes());
    if let Some(id) = their_answer.json()["Id"].as_str() {
        made.network(id);
    }
    let our_answer = berth(&daemon, "POST", "/networks/create", create(&ours.0).as_bytes());
    assert_eq!(
        (our_answer.status, their_answer.status),
        (201, 201),
        "{}",
        our_answer.text()
    );
    let id = our_answer.json()["Id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        berth(&daemon, "DELETE", &format!("/networks/{id}"), b"").status,
        204
    );
    assert!(ours.exists(), "network rm deleted a bridge berthd did not make");
    // A network on a bridge it made itself still takes it away.
    let fresh = format!("berthn{}", std::process::id() % 1_000_000);
    let own = berth(&daemon, "POST", "/networks/create", create(&fresh).as_bytes());
    assert_eq!(own.status, 201, "{}", own.text());
    assert!(link_exists(&fresh));
    let own_id = own.json()["Id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        berth(&daemon, "DELETE", &format!("/networks/{own_id}"), b"").status,
        204
    );
    assert!(!link_exists(&fresh), "berthd left the bridge it made");
    assert_alive(&mut daemon);
}

/// Another network's bridge — berthd's default bridge among them — is refused with Docker's
/// conflict, and nothing is made or deleted.
#[test]
fn another_networks_bridge_is_refused_as_a_conflict() {
    let mut daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    // On Docker: two user networks on one bridge (never its default bridge's: dockerd takes
    // that for a stale default network and drops its own).
    let first_theirs = docker(
        "POST",
        "/networks/create",
        json!({"Name": unique_name("berth-api-first")})
            .to_string()
            .as_bytes(),
    );
    let first_theirs_id = first_theirs.json()["Id"].as_str().unwrap_or_default().to_owned();
    made.network(&first_theirs_id);
    let their_bridge = format!("br-{}", first_theirs_id.get(..12).unwrap_or_default());
    let their_answer = docker(
        "POST",
        "/networks/create",
        json!({"Name": unique_name("berth-api-second"), "Options": {"com.docker.network.bridge.name": their_bridge}})
            .to_string()
            .as_bytes(),
    );
    if let Some(id) = their_answer.json()["Id"].as_str() {
        made.network(id);
    }

    let first = berth(
        &daemon,
        "POST",
        "/networks/create",
        json!({"Name": "first", "IPAM": {"Config": [{"Subnet": daemon.net.subnet(8)}]}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let first_bridge = berth(&daemon, "GET", "/networks/first", b"").json()["Id"]
        .as_str()
        .map(|id| format!("brb-{}", id.get(..11).unwrap_or_default()))
        .unwrap_or_default();
    assert!(link_exists(&first_bridge), "{first_bridge}");
    let before = network_names(&daemon);
    for bridge in [first_bridge.clone(), daemon.net.bridge()] {
        let body = json!({
            "Name": "second",
            "Options": {"com.docker.network.bridge.name": bridge},
            "IPAM": {"Config": [{"Subnet": daemon.net.subnet(9)}]},
        })
        .to_string();
        let ours = berth(&daemon, "POST", "/networks/create", body.as_bytes());
        assert_eq!(
            (ours.status, their_answer.status),
            (403, 403),
            "{bridge}: berthd {}, Docker {}",
            ours.text(),
            their_answer.text()
        );
        // The same sentence, with each engine's ids.
        let shape = |message: String| {
            message
                .split(' ')
                .map(|w| match w {
                    _ if w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()) => "ID",
                    _ if w.starts_with('(') && w.ends_with(':') => "(BRIDGE):",
                    _ if w.starts_with('(') => "(BRIDGE)",
                    _ => w,
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(shape(ours.message()), shape(their_answer.message()));
        assert_eq!(network_names(&daemon), before, "a refused create left a network");
        assert!(link_exists(&bridge), "a refused create took {bridge} away");
    }
    assert_alive(&mut daemon);
}
