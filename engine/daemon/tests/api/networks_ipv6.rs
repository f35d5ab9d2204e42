//! IPv6 networks beside Docker 20.10: `EnableIPv6` and IPv6 subnets at create (refusals with
//! Docker's status and words, inspect in Docker's order and shape), containers' IPv6 endpoints
//! (`GlobalIPv6Address`, `IPv6Gateway`, /etc/hosts, the default route) and `--ip6` at create,
//! start and connect. Subnets are unique local ones made up per run (`fd42:X:Y::/64`), never an
//! address the host uses.

use serde_json::{Value, json};

use crate::networks::{fresh_prefix, network_names, network_on_both, started_pair};
use crate::support::{
    Docker, Engine, OnDocker, Pair, TestDaemon, assert_alike, berth, docker_has_stand_in_images, link_exists,
    output_when_ended, refused_alike, unique_name,
};

/// A /64 of `fd42::/16` new to this run, as `fd42:X:Y:` (so `{p}:/64` is the subnet and `{p}:9`
/// an address). Docker keeps the pool of a create it refuses after taking the pool, so a subnet
/// used for a refusal can't be used again on the same dockerd.
fn fresh6() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let r = nanos ^ (std::process::id() << 7) ^ (N.fetch_add(1, Ordering::Relaxed) << 20);
    format!("fd42:{:x}:{:x}:", (r >> 16) & 0xffff, r & 0xffff)
}

/// `value` with every `from` text written `to` (subnets, addresses and names that differ
/// between the engines).
fn rewritten(value: &Value, replacements: &[(&str, &str)]) -> Value {
    let mut text = value.to_string();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap_or_default()
}

/// Docker's refusals of IPv6 requests: no IPv6 pool without a subnet, one subnet per family,
/// bad subnets, gateways, ranges and auxiliary addresses, overlaps. The same status and words
/// from berthd, and nothing left behind.
#[test]
fn ipv6_create_refusals_match_docker() {
    let mut daemon = TestDaemon::start();
    let networks = network_names(&daemon);
    // Each case a subnet of its own; `P:` in a value stands for its prefix.
    let v6 = |extra: Value| {
        let p = fresh6();
        let mut config = json!({"Subnet": format!("{p}:/64")});
        for (key, value) in extra.as_object().into_iter().flatten() {
            config[key] = rewritten(value, &[("P:", &p)]);
        }
        json!({"EnableIPv6": true, "IPAM": {"Config": [config]}})
    };
    let two_v6 = json!({"EnableIPv6": true, "IPAM": {"Config": [
        {"Subnet": format!("{}:/64", fresh6())}, {"Subnet": format!("{}:/64", fresh6())}]}});
    let two_v4 = json!({"IPAM": {"Config": [
        {"Subnet": format!("{}0/24", fresh_prefix())}, {"Subnet": format!("{}0/24", fresh_prefix())}]}});
    let cases = [
        json!({"EnableIPv6": true}),
        json!({"EnableIPv6": true, "IPAM": {"Config": [{"Subnet": format!("{}0/24", fresh_prefix())}]}}),
        two_v6,
        two_v4,
        v6(json!({"Subnet": "P:/644"})),
        v6(json!({"Subnet": "P:/128"})),
        v6(json!({"Gateway": format!("{}:1", fresh6())})),
        v6(json!({"Gateway": "zz"})),
        v6(json!({"Gateway": "192.0.2.1"})),
        v6(json!({"Gateway": "P:"})),
        v6(json!({"IPRange": "bad"})),
        v6(json!({"AuxiliaryAddresses": {"a": format!("{}:7", fresh6())}})),
        v6(json!({"AuxiliaryAddresses": {"a": "zz"}})),
    ];
    for (n, mut case) in cases.into_iter().enumerate() {
        case["Name"] = json!(unique_name("berth-api-v6-refused"));
        // A bridge name of the case's own, so a half-made one would show (other tests' come
        // and go meanwhile).
        let bridge = format!("berth6r{}x{n}", std::process::id() % 10_000);
        case["Options"] = json!({"com.docker.network.bridge.name": bridge});
        refused_alike(
            &mut daemon,
            "POST",
            "/networks/create",
            case.to_string().as_bytes(),
        );
        assert!(!link_exists(&bridge), "a refused create left {bridge}: {case}");
    }
    assert_eq!(
        network_names(&daemon),
        networks,
        "a refused create left a network"
    );

    // An IPv6 subnet inside another network's: each engine is asked about one of its own.
    let mut made = OnDocker::new();
    let with = |subnet: String| json!({"Name": unique_name("berth-api-v6-overlap"), "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": subnet}]}});
    let (ours, theirs) = (fresh6(), fresh6());
    network_on_both(
        &daemon,
        &mut made,
        with(format!("{ours}:/64")),
        with(format!("{theirs}:/64")),
    );
    let [ours, theirs] = [(&daemon as &dyn Engine, ours), (&Docker, theirs)].map(|(engine, p)| {
        engine.send(
            "POST",
            "/networks/create",
            with(format!("{p}:8000/66")).to_string().as_bytes(),
        )
    });
    assert_alike("an overlapping IPv6 subnet", &ours, &theirs);
    assert_eq!(ours.status, 403);
}

/// A network's inspect with the engine-specific parts written alike: id, name, time, the
/// subnets' prefixes, and (for a pool-picked IPv4 subnet) the pool's choice.
fn network_shape(engine: &dyn Engine, id: &str, p4: &str, p6: &str, pool_picked: bool) -> Value {
    let mut network = engine.send("GET", &format!("/networks/{id}"), b"").json();
    for key in ["Id", "Name", "Created"] {
        network[key] = json!(key);
    }
    if pool_picked {
        network["IPAM"]["Config"][0] = json!({"Subnet": "POOL", "Gateway": "POOL"});
    }
    rewritten(&network, &[(p4, "V4."), (p6, "V6:")])
}

/// `EnableIPv6` with an IPv6 subnet (given before or without the IPv4 one), its gateway, range
/// and auxiliary addresses: inspect as Docker's, IPv4 first. The bridge holds the IPv6 gateway;
/// an IPv6 subnet without `EnableIPv6` is shown but given no address.
#[test]
fn dual_stack_networks_inspect_as_docker_shows_them() {
    let daemon = TestDaemon::start();
    let mut made = OnDocker::new();
    let bridge_addresses = |id: &str| {
        let out = std::process::Command::new("ip")
            .args(["-6", "addr", "show", "dev", &format!("brb-{}", &id[..11])])
            .output()
            .expect("run ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ours4 = daemon.net.subnet(40).trim_end_matches("0/24").to_owned();
    let (theirs4, ours6, theirs6) = (fresh_prefix(), fresh6(), fresh6());
    let full = |p4: &str, p6: &str| {
        json!({
            "Name": unique_name("berth-api-v6"),
            "EnableIPv6": true,
            "IPAM": {"Config": [
                {"Subnet": format!("{p6}:/64"), "Gateway": format!("{p6}:99"), "IPRange": format!("{p6}:/80"),
                 "AuxiliaryAddresses": {"router": format!("{p6}:7")}},
                {"Subnet": format!("{p4}0/24")},
            ]},
        })
    };
    let (ours, theirs) = network_on_both(&daemon, &mut made, full(&ours4, &ours6), full(&theirs4, &theirs6));
    let shapes = [
        network_shape(&daemon, &ours, &ours4, &ours6, false),
        network_shape(&Docker, &theirs, &theirs4, &theirs6, false),
    ];
    assert_eq!(shapes[0], shapes[1], "berthd, then Docker");
    assert_eq!(shapes[0]["EnableIPv6"], json!(true));
    let addresses = bridge_addresses(&ours);
    assert!(addresses.contains(&format!("{ours6}:99/64")), "{addresses}");

    // An IPv6 subnet alone: the IPv4 one comes from the default pool.
    for enable in [true, false] {
        let (ours6, theirs6) = (fresh6(), fresh6());
        let only = |p6: &str| {
            json!({"Name": unique_name("berth-api-v6"), "EnableIPv6": enable,
                   "IPAM": {"Config": [{"Subnet": format!("{p6}:/64")}]}})
        };
        let (ours, theirs) = network_on_both(&daemon, &mut made, only(&ours6), only(&theirs6));
        let shapes = [
            network_shape(&daemon, &ours, "-", &ours6, true),
            network_shape(&Docker, &theirs, "-", &theirs6, true),
        ];
        assert_eq!(shapes[0], shapes[1], "EnableIPv6 {enable}: berthd, then Docker");
        let addresses = bridge_addresses(&ours);
        assert_eq!(
            addresses.contains(&format!("{ours6}:1/64")),
            enable,
            "EnableIPv6 {enable}: {addresses}"
        );
    }
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").unwrap_or_default();
    assert_eq!(
        forwarding.trim(),
        "1",
        "IPv6 forwarding is off with an IPv6 network"
    );
}

/// The IPv6 fields of a container's one endpoint, with the subnet's prefix written alike.
fn endpoint6(engine: &dyn Engine, id: &str, p6: &str) -> Value {
    let inspect = engine.send("GET", &format!("/containers/{id}/json"), b"").json();
    let endpoint = inspect["NetworkSettings"]["Networks"]
        .as_object()
        .and_then(|n| n.values().next().cloned())
        .unwrap_or_default();
    let fields = json!({
        "IPAMConfig": endpoint["IPAMConfig"],
        "GlobalIPv6Address": endpoint["GlobalIPv6Address"],
        "GlobalIPv6PrefixLen": endpoint["GlobalIPv6PrefixLen"],
        "IPv6Gateway": endpoint["IPv6Gateway"],
    });
    rewritten(&fields, &[(p6, "V6:")])
}

/// Containers on a dual-stack network: addresses in order from `::2`, `--ip6` taken, each shown
/// in inspect, network inspect, /etc/hosts and with a default route as Docker shows them;
/// `--ip6` refused where Docker refuses it (the default bridge, outside the subnet, in use, not
/// an IPv6 address), and given on `network connect`.
#[test]
fn containers_get_ipv6_endpoints_as_docker_gives_them() {
    docker_has_stand_in_images();
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    // Dropped last, after the containers on them.
    let mut nets = OnDocker::new();
    let mut made = OnDocker::new();
    let ours4 = daemon.net.subnet(41).trim_end_matches("0/24").to_owned();
    let (theirs4, ours6, theirs6) = (fresh_prefix(), fresh6(), fresh6());
    let net = |p4: &str, p6: &str| {
        json!({"Name": unique_name("berth-api-v6ep"), "EnableIPv6": true,
               "IPAM": {"Config": [{"Subnet": format!("{p4}0/24")}, {"Subnet": format!("{p6}:/64")}]}})
    };
    let (ours_net, theirs_net) =
        network_on_both(&daemon, &mut nets, net(&ours4, &ours6), net(&theirs4, &theirs6));
    // The same body on each engine but for the network and its prefix (`P:` in `ip6`).
    let on = |net: &str, p6: &str, cmd: &[&str], ip6: &str| {
        let mut body = json!({"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": net}});
        if !ip6.is_empty() {
            body["NetworkingConfig"] =
                json!({"EndpointsConfig": {net: {"IPAMConfig": {"IPv6Address": ip6.replace("P:", p6)}}}});
        }
        body
    };
    let pair = |made: &mut OnDocker, cmd: &[&str], ip6: &str| {
        let name = unique_name("berth-api-v6ep");
        let theirs = crate::support::docker(
            "POST",
            &format!("/containers/create?name={name}"),
            on(&theirs_net, &theirs6, cmd, ip6).to_string().as_bytes(),
        );
        assert_eq!(theirs.status, 201, "{}", theirs.text());
        let theirs = theirs.json()["Id"].as_str().unwrap_or_default().to_owned();
        made.container(&theirs);
        let ours = crate::support::create(&daemon, &name, &on(&ours_net, &ours6, cmd, ip6));
        Pair {
            daemon: &daemon,
            ours,
            theirs,
            name,
        }
    };
    let start = "/containers/{id}/start";
    let first = pair(&mut made, &["sleep", "60"], "");
    assert_eq!(first.alike("POST", start, &Value::Null), 204);
    let shapes = [
        endpoint6(&daemon, &first.ours, &ours6),
        endpoint6(&Docker, &first.theirs, &theirs6),
    ];
    assert_eq!(shapes[0], shapes[1], "berthd, then Docker");
    assert_eq!(shapes[0]["GlobalIPv6Address"], json!("V6::2"));
    let listed = |engine: &dyn Engine, net: &str, id: &str, p6: &str| {
        let network = engine.send("GET", &format!("/networks/{net}"), b"").json();
        rewritten(&network["Containers"][id]["IPv6Address"], &[(p6, "V6:")])
    };
    assert_eq!(
        listed(&daemon, &ours_net, &first.ours, &ours6),
        listed(&Docker, &theirs_net, &first.theirs, &theirs6)
    );

    // A static address: its hosts file and routes, written alike (the hostname is the id).
    let second = pair(&mut made, &["sh", "-c", "cat /etc/hosts; ip -6 route"], "P::99");
    assert_eq!(second.alike("POST", start, &Value::Null), 204);
    let outputs = [
        (&daemon as &dyn Engine, &second.ours, &ours4, &ours6),
        (&Docker, &second.theirs, &theirs4, &theirs6),
    ]
    .map(|(engine, id, p4, p6)| {
        let text = output_when_ended(engine, id);
        text.replace(&id[..12], "ID")
            .replace(p4.as_str(), "V4.")
            .replace(p6.as_str(), "V6:")
    });
    assert_eq!(outputs[0], outputs[1], "berthd, then Docker");
    assert!(outputs[0].contains("V6::99\tID\n"), "{}", outputs[0]);
    assert!(
        outputs[0].contains("default via V6::1 dev eth0"),
        "{}",
        outputs[0]
    );

    // Refused at start: in use, outside the subnet.
    for ip6 in ["P::2", "fd42:ffff:ffff::9"] {
        let refused = pair(&mut made, &["true"], ip6);
        let [ours, theirs] = refused.send("POST", start, &Value::Null);
        assert_eq!(ours, theirs, "--ip6 {ip6}: berthd, then Docker");
        assert_ne!(ours.0, 204);
    }
    // Refused at create: not an IPv6 address; refused at start: the default bridge.
    for (network, ip6) in [
        (None, "zz"),
        (None, "10.0.0.9"),
        (Some("bridge"), "fd42:ffff:ffff::9"),
    ] {
        let body = |net: &str| {
            let net = network.unwrap_or(net);
            json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": net},
                   "NetworkingConfig": {"EndpointsConfig": {net: {"IPAMConfig": {"IPv6Address": ip6}}}}})
        };
        let name = unique_name("berth-api-v6ep");
        let path = format!("/containers/create?name={name}");
        let theirs = crate::support::docker("POST", &path, body(&theirs_net).to_string().as_bytes());
        let ours = berth(&daemon, "POST", &path, body(&ours_net).to_string().as_bytes());
        if let Some(id) = theirs.json()["Id"].as_str() {
            made.container(id);
        }
        if theirs.status != 201 {
            assert_alike(&format!("create with --ip6 {ip6}"), &ours, &theirs);
            continue;
        }
        assert_eq!(ours.status, 201, "{}", ours.text());
        let refused = Pair {
            daemon: &daemon,
            ours: ours.json()["Id"].as_str().unwrap_or_default().to_owned(),
            theirs: theirs.json()["Id"].as_str().unwrap_or_default().to_owned(),
            name,
        };
        assert_eq!(
            refused.alike("POST", start, &Value::Null),
            400,
            "--ip6 on {network:?}"
        );
    }

    // Connected with --ip6: the address shows as asked.
    let plain = json!({"Image": "busybox", "Cmd": ["sleep", "60"]});
    let third = started_pair(&daemon, &mut made, &plain);
    for (engine, id, net, p6) in [
        (&daemon as &dyn Engine, &third.ours, &ours_net, &ours6),
        (&Docker, &third.theirs, &theirs_net, &theirs6),
    ] {
        let body =
            json!({"Container": id, "EndpointConfig": {"IPAMConfig": {"IPv6Address": format!("{p6}:77")}}});
        let answer = engine.send(
            "POST",
            &format!("/networks/{net}/connect"),
            body.to_string().as_bytes(),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let connected = |engine: &dyn Engine, id: &str, net_name: &str, p6: &str| {
        let inspect = engine.send("GET", &format!("/containers/{id}/json"), b"").json();
        let endpoint = &inspect["NetworkSettings"]["Networks"][net_name];
        rewritten(
            &json!([
                endpoint["IPAMConfig"],
                endpoint["GlobalIPv6Address"],
                endpoint["IPv6Gateway"]
            ]),
            &[(p6, "V6:")],
        )
    };
    let name_of = |engine: &dyn Engine, net: &str| {
        engine.send("GET", &format!("/networks/{net}"), b"").json()["Name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let ours = connected(&daemon, &third.ours, &name_of(&daemon, &ours_net), &ours6);
    let theirs = connected(&Docker, &third.theirs, &name_of(&Docker, &theirs_net), &theirs6);
    assert_eq!(ours, theirs, "berthd, then Docker");
    assert_eq!(ours[1], json!("V6::77"));
}
