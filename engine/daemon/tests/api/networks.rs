//! `POST /networks/create` and `DELETE /networks/{id}`: Docker's refusals (subnets with no room
//! for a gateway, bad subnets, gateways, ranges, auxiliary addresses and options, overlaps),
//! bridges berthd did not make (used, never deleted) or another network's (refused), options and
//! IPAM config in inspect, `CheckDuplicate`.

use serde_json::json;

use berth_testkit::Answer;

use crate::support::{
    Docker, Engine, HostBridge, OnDocker, Pair, TestDaemon, assert_alike, assert_alive, berth, create,
    docker, docker_has_stand_in_images, link_exists, refused_alike, unique_name,
};

/// A /24 of the shared address space (RFC 6598, 100.64.0.0/10, routed nowhere here), new to
/// this run: `100.A.B.` (its first three bytes and a dot). Docker keeps the pool of a create
/// it refuses after taking the pool (a gateway out of range, an auxiliary address outside it)
/// until dockerd restarts, so a subnet used for such a refusal can't be used again on the
/// same dockerd.
pub(crate) fn fresh_prefix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let r = nanos ^ (std::process::id() << 8) ^ (N.fetch_add(1, Ordering::Relaxed) << 12);
    format!("100.{}.{}.", 64 + (r >> 8) % 64, r % 256)
}

/// The names of the networks `daemon` has.
pub(crate) fn network_names(daemon: &TestDaemon) -> Vec<String> {
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
pub(crate) fn berth_links() -> Vec<String> {
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

/// Give a create body a bridge name of its own (unless it names one), so that what a refused
/// create might leave is found by name: other tests make and remove bridges meanwhile, so a
/// before-and-after listing of every bridge can't tell.
pub(crate) fn with_own_bridge(body: &mut serde_json::Value, n: usize) -> Option<String> {
    if !body["Options"].is_null() && !body["Options"].is_object() {
        return None;
    }
    if body["Options"]["com.docker.network.bridge.name"].is_string() {
        return None;
    }
    let bridge = format!("brb-rf{:05x}{n:02}", std::process::id() & 0xfffff);
    if body["Options"].is_null() {
        body["Options"] = serde_json::json!({});
    }
    body["Options"]["com.docker.network.bridge.name"] = serde_json::json!(bridge);
    Some(bridge)
}

/// Which of `bridges` exist.
pub(crate) fn existing(bridges: &[String]) -> Vec<String> {
    berth_links()
        .into_iter()
        .filter(|l| bridges.contains(l))
        .collect()
}

#[test]
fn subnets_without_room_for_a_gateway_are_refused_as_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    let networks = network_names(&daemon);
    let mut bridges = Vec::new();
    let p = fresh_prefix();
    let configs = [
        json!({"Subnet": format!("{p}0/31")}),
        json!({"Subnet": format!("{p}0/32")}),
        json!({"Subnet": format!("{p}0/31"), "Gateway": format!("{p}1")}),
        json!({"Subnet": format!("{p}0/32"), "Gateway": format!("{p}0")}),
        json!({"Subnet": format!("{p}0/30"), "Gateway": format!("{p}3")}),
        json!({"Subnet": format!("{p}0/30"), "Gateway": format!("{p}0")}),
    ];
    for (n, config) in configs.into_iter().enumerate() {
        let name = unique_name("berth-api-net");
        let mut body = json!({"Name": name, "IPAM": {"Config": [config]}});
        bridges.extend(with_own_bridge(&mut body, 20 + n));
        let body = body.to_string();
        let answer = refused_alike(&mut daemon, "POST", "/networks/create", body.as_bytes());
        assert_eq!(answer.status, 500, "{body}");
    }
    assert_eq!(
        network_names(&daemon),
        networks,
        "a refused create left a network"
    );
    assert_eq!(
        existing(&bridges),
        Vec::<String>::new(),
        "a refused create left a bridge"
    );
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

/// Create `body` on Docker (removed with `made`) and on berthd: both answers.
pub(crate) fn create_on_both(
    daemon: &TestDaemon,
    made: &mut OnDocker,
    body: &serde_json::Value,
) -> (Answer, Answer) {
    let theirs = docker("POST", "/networks/create", body.to_string().as_bytes());
    if let Some(id) = theirs.json()["Id"].as_str() {
        made.network(id);
    }
    let ours = berth(daemon, "POST", "/networks/create", body.to_string().as_bytes());
    (ours, theirs)
}

/// Requests Docker's IPAM and bridge driver refuse: the same status and words from berthd, and
/// nothing left behind. Subnets are fresh ones ([`fresh_prefix`]).
#[test]
fn create_refusals_match_docker() {
    let mut daemon = TestDaemon::start();
    let networks = network_names(&daemon);
    let options = |key: &str, value: &str| json!({ key: value });
    // Each case a subnet of its own: Docker may keep the pool of one it refused.
    let net = |extra: serde_json::Value| {
        let p = fresh_prefix();
        let mut config = json!({"Subnet": format!("{p}0/24")});
        for (key, value) in extra.as_object().into_iter().flatten() {
            config[key] = json!(value.as_str().unwrap_or_default().replace("P.", &p));
        }
        json!({"IPAM": {"Config": [config]}})
    };
    let cases = [
        net(json!({"Gateway": "192.0.2.1"})),
        net(json!({"Subnet": "P.0/33"})),
        net(json!({"Subnet": "bad"})),
        json!({"IPAM": {"Config": [{"Gateway": "192.0.2.1"}]}}),
        json!({"IPAM": {"Config": [{}]}}),
        net(json!({"IPRange": "bad"})),
        net(json!({"Gateway": "bad"})),
        json!({"IPAM": {"Config": [{"Subnet": format!("{}0/24", fresh_prefix()), "AuxiliaryAddresses": {"a": "bad"}}]}}),
        json!({"Driver": "host"}),
        json!({"Driver": "null"}),
        json!({"Options": options("com.docker.network.driver.mtu", "abc")}),
        json!({"Options": options("com.docker.network.driver.mtu", "-5")}),
        json!({"Options": options("com.docker.network.bridge.enable_icc", "maybe")}),
        json!({"Options": options("com.docker.network.bridge.enable_ip_masquerade", "yes")}),
        json!({"IPAM": {"Config": [{"Subnet": format!("{}0/24", fresh_prefix()), "AuxiliaryAddresses": {"a": "192.0.2.5"}}]}}),
    ];
    // Each case names its bridge, so that what a refusal might leave is looked for by name
    // (other tests make and remove bridges meanwhile).
    let mut bridges = Vec::new();
    for (n, mut case) in cases.into_iter().enumerate() {
        case["Name"] = json!(unique_name("berth-api-refused"));
        bridges.extend(with_own_bridge(&mut case, n));
        refused_alike(
            &mut daemon,
            "POST",
            "/networks/create",
            case.to_string().as_bytes(),
        );
    }
    // Docker looks for an IPAM plugin for longer than a test waits (its plugin discovery
    // retries), then answers this; berthd has no plugins and answers at once.
    let body = json!({"Name": unique_name("berth-api-refused"), "IPAM": {"Driver": "nosuchipam"}});
    let ours = berth(&daemon, "POST", "/networks/create", body.to_string().as_bytes());
    assert_eq!(
        (ours.status, ours.message()),
        (404, "plugin \"nosuchipam\" not found".to_owned())
    );
    assert_eq!(
        network_names(&daemon),
        networks,
        "a refused create left a network"
    );
    assert_eq!(
        existing(&bridges),
        Vec::<String>::new(),
        "a refused create left a bridge"
    );
}

/// A subnet another network has is refused with Docker's words (each engine is asked about a
/// subnet of its own: berthd also refuses subnets the host routes elsewhere, such as Docker's).
#[test]
fn an_overlapping_subnet_is_refused_as_docker_refuses_it() {
    let daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    let create = |engine: &dyn Engine, subnet: &str| {
        let body =
            json!({"Name": unique_name("berth-api-overlap"), "IPAM": {"Config": [{"Subnet": subnet}]}});
        engine.send("POST", "/networks/create", body.to_string().as_bytes())
    };
    let p = fresh_prefix();
    let theirs = create(&Docker, &format!("{p}0/24"));
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    made.network(theirs.json()["Id"].as_str().unwrap_or_default());
    let ours = create(&daemon, &daemon.net.subnet(30));
    assert_eq!(ours.status, 201, "{}", ours.text());
    let theirs = create(&Docker, &format!("{p}128/25"));
    let ours = create(&daemon, &daemon.net.subnet(30).replace(".0/24", ".128/25"));
    assert_alike("overlap", &ours, &theirs);
    assert_eq!(ours.status, 403);
}

/// What a network's inspect shows that does not depend on the engine: the id, name, time and
/// addresses written alike.
pub(crate) fn inspect_shape(engine: &dyn Engine, id: &str, subnet_prefix: &str) -> serde_json::Value {
    let mut network = engine.send("GET", &format!("/networks/{id}"), b"").json();
    for key in ["Id", "Name", "Created"] {
        network[key] = json!(key);
    }
    let text = network.to_string().replace(subnet_prefix, "SUBNET.");
    serde_json::from_str(&text).unwrap_or_default()
}

/// Labels, IPAM options and config (range, gateway, auxiliary addresses), the bridge driver's
/// options and `Internal` show in inspect as Docker shows them; null fields of the body are
/// Go's zero values.
#[test]
fn create_options_show_in_inspect_as_docker_shows_them() {
    let daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    let ours_prefix = daemon.net.subnet(31).trim_end_matches("0/24").to_owned();
    let body = |prefix: &str| {
        json!({
            "Name": unique_name("berth-api-opts"),
            "CheckDuplicate": true,
            "Internal": true,
            "Labels": {"course": "networking", "empty": ""},
            "Options": {
                "com.docker.network.driver.mtu": "1400",
                "com.docker.network.bridge.enable_icc": "false",
                "com.docker.network.bridge.enable_ip_masquerade": "false",
                "anything": "kept",
            },
            "IPAM": {
                "Driver": "default",
                "Options": {"x": "y"},
                "Config": [{
                    "Subnet": format!("{prefix}0/24"),
                    "IPRange": format!("{prefix}128/25"),
                    "Gateway": format!("{prefix}7"),
                    "AuxiliaryAddresses": {"printer": format!("{prefix}9")},
                }],
            },
        })
    };
    let their_prefix = fresh_prefix();
    let theirs = docker(
        "POST",
        "/networks/create",
        body(&their_prefix).to_string().as_bytes(),
    );
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    let their_id = theirs.json()["Id"].as_str().unwrap_or_default().to_owned();
    made.network(&their_id);
    let ours = berth(
        &daemon,
        "POST",
        "/networks/create",
        body(&ours_prefix).to_string().as_bytes(),
    );
    assert_eq!(ours.status, 201, "{}", ours.text());
    let our_id = ours.json()["Id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        inspect_shape(&daemon, &our_id, &ours_prefix),
        inspect_shape(&Docker, &their_id, &their_prefix)
    );

    // Null fields, and no IPAM at all: `Options` null in IPAM, `{}` elsewhere.
    let nulls = json!({"Name": unique_name("berth-api-null"), "IPAM": null, "Labels": null, "Options": null, "Driver": null});
    let (ours, theirs) = create_on_both(&daemon, &mut made, &nulls);
    assert_eq!((ours.status, theirs.status), (201, 201), "{}", ours.text());
    let pick = |engine: &dyn Engine, id: &str| {
        let n = engine.send("GET", &format!("/networks/{id}"), b"").json();
        (
            n["IPAM"]["Options"].clone(),
            n["Labels"].clone(),
            n["Options"].clone(),
            n["Driver"].clone(),
        )
    };
    assert_eq!(
        pick(&daemon, ours.json()["Id"].as_str().unwrap_or_default()),
        pick(&Docker, theirs.json()["Id"].as_str().unwrap_or_default())
    );
}

/// Without `CheckDuplicate` Docker makes a second network of a taken name (with a warning),
/// and the name then refers to neither; with it, the name is refused.
#[test]
fn check_duplicate_decides_whether_a_name_may_be_taken_twice() {
    let daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    let name = unique_name("berth-api-dup");
    let first = json!({"Name": name});
    let (ours, theirs) = create_on_both(&daemon, &mut made, &first);
    assert_eq!((ours.status, theirs.status), (201, 201), "{}", ours.text());
    let (first_ours, first_theirs) = (
        ours.json()["Id"].as_str().unwrap_or_default().to_owned(),
        theirs.json()["Id"].as_str().unwrap_or_default().to_owned(),
    );
    let (ours, theirs) = create_on_both(&daemon, &mut made, &json!({"Name": name, "CheckDuplicate": true}));
    assert_alike("CheckDuplicate", &ours, &theirs);
    assert_eq!(ours.status, 409);
    let (ours, theirs) = create_on_both(&daemon, &mut made, &first);
    assert_eq!((ours.status, theirs.status), (201, 201), "{}", ours.text());
    assert_eq!(
        ours.json()["Warning"]
            .as_str()
            .map(|w| w.replace(&first_ours, "ID")),
        theirs.json()["Warning"]
            .as_str()
            .map(|w| w.replace(&first_theirs, "ID")),
    );
    let path = format!("/networks/{name}");
    assert_alike(
        "GET by a shared name",
        &berth(&daemon, "GET", &path, b""),
        &docker("GET", &path, b""),
    );
    assert_alike(
        "DELETE by a shared name",
        &berth(&daemon, "DELETE", &path, b""),
        &docker("DELETE", &path, b""),
    );
    // By id, each is still there to remove.
    let second = ours.json()["Id"].as_str().unwrap_or_default().to_owned();
    for id in [&first_ours, &second] {
        assert_eq!(
            berth(&daemon, "DELETE", &format!("/networks/{id}"), b"").status,
            204
        );
    }
}

/// A network on both engines (Docker's removed with `made`): berthd's id, then Docker's.
pub(crate) fn network_on_both(
    daemon: &TestDaemon,
    made: &mut OnDocker,
    ours: serde_json::Value,
    theirs: serde_json::Value,
) -> (String, String) {
    let mut ids = Vec::new();
    for (engine, body) in [(daemon as &dyn Engine, ours), (&Docker as &dyn Engine, theirs)] {
        let answer = engine.send("POST", "/networks/create", body.to_string().as_bytes());
        assert_eq!(answer.status, 201, "{}", answer.text());
        ids.push(answer.json()["Id"].as_str().unwrap_or_default().to_owned());
    }
    made.network(&ids[1]);
    (ids[0].clone(), ids[1].clone())
}

/// A started container on each engine from `body`.
pub(crate) fn started_pair<'a>(
    daemon: &'a TestDaemon,
    made: &mut OnDocker,
    body: &serde_json::Value,
) -> Pair<'a> {
    let pair = Pair::create(daemon, made, "berth-api-ep", body);
    assert_eq!(
        pair.alike("POST", "/containers/{id}/start", &serde_json::Value::Null),
        204
    );
    pair
}

/// Static addresses (`IPAMConfig`), `Config.MacAddress`, the network's MTU and aliases reach
/// the container's interfaces; Docker's refusals of addresses in use, outside the subnet or on a
/// network whose subnet the pool picked come with its status and words; a forced disconnect.
#[test]
fn endpoints_take_static_addresses_macs_and_aliases_as_docker_gives_them() {
    docker_has_stand_in_images();
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    // Dropped last, after the containers on them (locals drop in reverse order).
    let mut nets = OnDocker::new();
    let mut made = OnDocker::new();
    let prefix = daemon.net.subnet(33).trim_end_matches("0/24").to_owned();
    let fixed = |prefix: &str| {
        json!({
            "Name": unique_name("berth-api-fixed"),
            "Options": {"com.docker.network.driver.mtu": "1400"},
            "IPAM": {"Config": [{"Subnet": format!("{prefix}0/24")}]},
        })
    };
    let their_prefix = fresh_prefix();
    let (ours_net, theirs_net) = network_on_both(&daemon, &mut nets, fixed(&prefix), fixed(&their_prefix));
    let auto = || json!({"Name": unique_name("berth-api-auto")});
    let (ours_auto, theirs_auto) = network_on_both(&daemon, &mut nets, auto(), auto());

    // The same body on each engine but for the network and its addresses.
    let on = |net: &str, prefix: &str, ip: &str| {
        json!({
            "Image": "busybox", "Cmd": ["sleep", "60"], "MacAddress": "02:aa:bb:cc:dd:01",
            "HostConfig": {"NetworkMode": net},
            "NetworkingConfig": {"EndpointsConfig": {net: {"IPAMConfig": {"IPv4Address": format!("{prefix}{ip}")}}}},
        })
    };
    let name = unique_name("berth-api-ep");
    let theirs_first = docker(
        "POST",
        &format!("/containers/create?name={name}"),
        on(&theirs_net, &their_prefix, "9").to_string().as_bytes(),
    );
    assert_eq!(theirs_first.status, 201, "{}", theirs_first.text());
    let theirs_first = theirs_first.json()["Id"].as_str().unwrap_or_default().to_owned();
    made.container(&theirs_first);
    let first = create(&daemon, &name, &on(&ours_net, &prefix, "9"));
    for (engine, id) in [
        (&daemon as &dyn Engine, &first),
        (&Docker as &dyn Engine, &theirs_first),
    ] {
        let started = engine.send("POST", &format!("/containers/{id}/start"), b"");
        assert_eq!(started.status, 204, "{}", started.text());
    }
    let inspect = berth(&daemon, "GET", &format!("/containers/{first}/json"), b"").json();
    let endpoint = inspect["NetworkSettings"]["Networks"]
        .as_object()
        .and_then(|n| n.values().next().cloned())
        .unwrap_or_default();
    assert_eq!(endpoint["IPAddress"], json!(format!("{prefix}9")), "{endpoint}");
    assert_eq!(endpoint["MacAddress"], json!("02:aa:bb:cc:dd:01"), "{endpoint}");
    let link = daemon.ok(&["exec", &first, "ip", "link", "show", "eth0"]);
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains("link/ether 02:aa:bb:cc:dd:01"), "{link}");

    // A second container, on the default bridge, connected to the network in several ways.
    let plain = json!({"Image": "busybox", "Cmd": ["sleep", "60"]});
    let second = started_pair(&daemon, &mut made, &plain);
    let connect = |ip: &str| {
        let [ours, theirs] = [(&daemon as &dyn Engine, &second.ours, &ours_net, prefix.as_str()), (&Docker, &second.theirs, &theirs_net, their_prefix.as_str())]
            .map(|(engine, id, net, prefix)| {
                let body = json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv4Address": ip.replace("P.", prefix)}}});
                engine.send("POST", &format!("/networks/{net}/connect"), body.to_string().as_bytes())
            });
        assert_alike(&format!("connect with {ip}"), &ours, &theirs);
        ours.status
    };
    assert_eq!(connect("P.9"), 403, "an address in use");
    assert_eq!(connect("P.1"), 403, "the gateway's address");
    assert_eq!(connect("192.0.2.9"), 500, "an address outside the subnet");
    let to_auto = [
        (&daemon as &dyn Engine, &second.ours, &ours_auto),
        (&Docker, &second.theirs, &theirs_auto),
    ]
    .map(|(engine, id, net)| {
        let body = json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.255.0.9"}}});
        engine.send(
            "POST",
            &format!("/networks/{net}/connect"),
            body.to_string().as_bytes(),
        )
    });
    assert_alike(
        "a static address on a pool-picked subnet",
        &to_auto[0],
        &to_auto[1],
    );
    assert_eq!(to_auto[0].status, 400);

    // --ip6 on a network without an IPv6 subnet: refused with Docker's words.
    let [ours, theirs] = [
        (&daemon as &dyn Engine, &second.ours, &ours_net),
        (&Docker, &second.theirs, &theirs_net),
    ]
    .map(|(engine, id, net)| {
        let body = json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv6Address": "fd42:b::9"}}});
        engine.send(
            "POST",
            &format!("/networks/{net}/connect"),
            body.to_string().as_bytes(),
        )
    });
    assert_alike("--ip6 on a network without IPv6", &ours, &theirs);
    assert_eq!(ours.status, 400);

    // Connected with an alias and an address: the first container finds it by the alias.
    let body = json!({"Container": second.ours, "EndpointConfig": {"Aliases": ["late"], "IPAMConfig": {"IPv4Address": format!("{prefix}10")}}});
    let connected = berth(
        &daemon,
        "POST",
        &format!("/networks/{ours_net}/connect"),
        body.to_string().as_bytes(),
    );
    assert_eq!(connected.status, 200, "{}", connected.text());
    let found = daemon.ok(&["exec", &first, "nslookup", "late"]);
    assert!(found.contains(&format!("{prefix}10")), "{found}");

    // Forced disconnects: of a container the engine doesn't know, and of a connected one.
    let [ours, theirs] =
        [(&daemon as &dyn Engine, &ours_net), (&Docker, &theirs_net)].map(|(engine, net)| {
            let body = json!({"Container": "berth-no-such-container", "Force": true});
            engine.send(
                "POST",
                &format!("/networks/{net}/disconnect"),
                body.to_string().as_bytes(),
            )
        });
    assert_alike("forced disconnect of no container", &ours, &theirs);
    let body = json!({"Container": second.ours, "Force": true});
    let gone = berth(
        &daemon,
        "POST",
        &format!("/networks/{ours_net}/disconnect"),
        body.to_string().as_bytes(),
    );
    assert_eq!(gone.status, 200, "{}", gone.text());
    // Not connected (any more): Docker's 500, with each engine's container id and network.
    let [ours, theirs] = [
        (&daemon as &dyn Engine, &second.ours, &ours_net),
        (&Docker, &second.theirs, &theirs_net),
    ]
    .map(|(engine, id, net)| {
        let body = json!({"Container": id});
        let answer = engine.send(
            "POST",
            &format!("/networks/{net}/disconnect"),
            body.to_string().as_bytes(),
        );
        let name = engine.send("GET", &format!("/networks/{net}"), b"").json()["Name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (
            answer.status,
            answer.message().replace(id.as_str(), "ID").replace(&name, "NET"),
        )
    });
    assert_eq!(ours, theirs, "disconnect when not connected: berthd, then Docker");
    let link = daemon.output(&["exec", &second.ours, "ip", "link", "show", "eth1"]);
    assert!(!link.status.success(), "eth1 is still there after the disconnect");
}

/// `enable_icc=false` keeps a network's containers apart and `enable_ip_masquerade=false` leaves
/// its traffic out of the table's masquerade, as Docker's bridge driver does; the defaults
/// (both on) let them talk.
#[test]
fn icc_and_masquerade_options_reach_the_table() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let make = |n: u8, icc: &str, masquerade: &str| {
        let body = json!({
            "Name": unique_name("berth-api-icc"),
            "Options": {
                "com.docker.network.bridge.enable_icc": icc,
                "com.docker.network.bridge.enable_ip_masquerade": masquerade,
            },
            "IPAM": {"Config": [{"Subnet": daemon.net.subnet(n)}]},
        });
        let answer = berth(&daemon, "POST", "/networks/create", body.to_string().as_bytes());
        assert_eq!(answer.status, 201, "{}", answer.text());
        answer.json()["Id"].as_str().unwrap_or_default().to_owned()
    };
    let (apart, together) = (make(34, "false", "false"), make(35, "true", "true"));
    let table = std::process::Command::new("nft")
        .args(["list", "table", "ip", &format!("berth-{}", daemon.net.bridge())])
        .output()
        .expect("run nft");
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let bridge = |id: &str| format!("brb-{}", &id[..11]);
    let rule = |id: &str, verdict: &str| {
        let b = bridge(id);
        format!("iifname \"{b}\" oifname \"{b}\" {verdict}")
    };
    assert!(table.contains(&rule(&apart, "drop")), "{table}");
    assert!(table.contains(&rule(&together, "accept")), "{table}");
    assert!(
        !table.contains(&daemon.net.subnet(34)),
        "masquerade for {}: {table}",
        daemon.net.subnet(34)
    );
    assert!(table.contains(&daemon.net.subnet(35)), "{table}");

    // Two containers on each: only the default network's reach each other. Bridged traffic
    // meets the forward chain only while br_netfilter is loaded (dockerd loads it here).
    if !std::path::Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists() {
        eprintln!("br_netfilter is not loaded: the ping between containers is not tried");
        return;
    }
    for (network, reaches) in [(&together, true), (&apart, false)] {
        let run = |name: &str| {
            let body =
                json!({"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": network}});
            let id = create(&daemon, &unique_name(name), &body);
            assert_eq!(
                berth(&daemon, "POST", &format!("/containers/{id}/start"), b"").status,
                204
            );
            id
        };
        let (one, two) = (run("berth-api-icc-a"), run("berth-api-icc-b"));
        let address = berth(&daemon, "GET", &format!("/containers/{two}/json"), b"").json()["NetworkSettings"]
            ["Networks"]
            .as_object()
            .and_then(|n| n.values().next()?["IPAddress"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let ping = daemon.output(&["exec", &one, "ping", "-c", "1", "-W", "2", &address]);
        assert_eq!(
            ping.status.success(),
            reaches,
            "ping {address} on {network}: {ping:?}"
        );
    }
}

/// The host's veths berthd made (`vb…`).
pub(crate) fn berth_veths() -> Vec<String> {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("vb"))
        .collect();
    links.sort();
    links
}

/// An MTU the kernel refuses is taken at create, as Docker takes it, and fails the start with
/// nothing left: no veth, the address free again for the next container. The network's events
/// (create, connect, disconnect, destroy) are published along the way.
#[test]
fn an_mtu_the_kernel_refuses_fails_the_start_and_leaves_nothing() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let since = now() - 1;
    let body = json!({
        "Name": "huge",
        "Options": {"com.docker.network.driver.mtu": "70000"},
        "IPAM": {"Config": [{"Subnet": daemon.net.subnet(36)}]},
    });
    let created = berth(&daemon, "POST", "/networks/create", body.to_string().as_bytes());
    assert_eq!(created.status, 201, "{}", created.text());
    let veths = berth_veths();
    let on = json!({"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "huge"}});
    let id = create(&daemon, &unique_name("berth-api-mtu"), &on);
    let started = berth(&daemon, "POST", &format!("/containers/{id}/start"), b"");
    assert_eq!(started.status, 500, "{}", started.text());
    assert_eq!(berth_veths(), veths, "a failed start left a veth");
    let inspected = berth(&daemon, "GET", "/networks/huge", b"").json();
    assert_eq!(inspected["Containers"], json!({}), "{inspected}");

    // The address went back: a container connected later gets the first one.
    let plain = create(
        &daemon,
        &unique_name("berth-api-mtu"),
        &json!({"Image": "busybox", "Cmd": ["sleep", "60"]}),
    );
    assert_eq!(
        berth(&daemon, "POST", &format!("/containers/{plain}/start"), b"").status,
        204
    );
    let ok = json!({"Name": "fine", "IPAM": {"Config": [{"Subnet": daemon.net.subnet(37)}]}});
    assert_eq!(
        berth(&daemon, "POST", "/networks/create", ok.to_string().as_bytes()).status,
        201
    );
    let body = json!({"Container": plain});
    for action in ["connect", "disconnect"] {
        let answer = berth(
            &daemon,
            "POST",
            &format!("/networks/fine/{action}"),
            body.to_string().as_bytes(),
        );
        assert_eq!(answer.status, 200, "{action}: {}", answer.text());
    }
    assert_eq!(berth(&daemon, "DELETE", "/networks/fine", b"").status, 204);
    let query = format!(
        "/events?since={since}&until={}&{}",
        now() + 1,
        crate::support::filters(r#"{"type":["network"]}"#)
    );
    let events = berth(&daemon, "GET", &query, b"").text();
    let actions: Vec<String> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["Actor"]["Attributes"]["name"] == "fine")
        .filter_map(|e| e["Action"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        actions,
        ["create", "connect", "disconnect", "destroy"],
        "{events}"
    );
}

/// Bodies no engine can make a network of: berthd refuses each (never a panic) and keeps
/// nothing of it — no record, no bridge.
#[test]
fn hostile_create_bodies_leave_nothing_behind() {
    let mut daemon = TestDaemon::start();
    let networks = network_names(&daemon);
    let mut bridges = Vec::new();
    let subnet = daemon.net.subnet(38);
    let bodies = [
        json!({"Name": "h1", "Options": {"com.docker.network.bridge.name": "brb-a-name-far-too-long-for-a-link"}}),
        json!({"Name": "h2", "Options": {"com.docker.network.bridge.name": "brb/slash"}}),
        json!({"Name": "h3", "Options": {"com.docker.network.driver.mtu": 1400}}),
        json!({"Name": "h4", "IPAM": {"Config": [{"Subnet": subnet, "AuxiliaryAddresses": {"a": 7}}]}}),
        json!({"Name": "h5", "IPAM": {"Config": "not a list"}}),
        json!({"Name": "h6", "IPAM": {"Config": [{"Subnet": subnet, "IPRange": "0.0.0.0/0", "Gateway": "255.255.255.255"}]}}),
        json!({"Name": "h7", "Labels": {"a": null}, "IPAM": {"Config": [null]}}),
    ];
    for (n, mut body) in bodies.into_iter().enumerate() {
        bridges.extend(with_own_bridge(&mut body, 40 + n));
        let answer = berth(&daemon, "POST", "/networks/create", body.to_string().as_bytes());
        assert!(
            answer.status >= 400,
            "{body}: {} {}",
            answer.status,
            answer.text()
        );
        assert_alive(&mut daemon);
    }
    assert_eq!(
        network_names(&daemon),
        networks,
        "a refused create left a network"
    );
    assert_eq!(
        existing(&bridges),
        Vec::<String>::new(),
        "a refused create left a bridge"
    );
}
