//! IPv6 against a real berthd: dual-stack networks whose containers reach each other by IPv6
//! address and by name (AAAA) and reach their gateway, networks that can't reach each other,
//! `icc` off and `--internal` for IPv6 too, published ports on `[::1]`, dockerd's `--ipv6
//! --fixed-cidr-v6` for the default bridge, and the `network create --ipv6`, `run --ip6` and
//! `network connect --ip6` commands beside the docker CLI's. Subnets are unique local ones of
//! the test's network slot (`fd42:bNN:M::/64`), never an address the host uses.

use std::net::SocketAddr;

use crate::common::{TestDaemon, bin_dir, docker, docker_ok, unique_name};
use crate::network_common::{daemon, free_port, inspect, stop_and_check_clean, wait_http, wget_script};

/// The IPv6 prefix `n` of the daemon's slot, as `fd42:bNN:n:` (`{p}:/64` the subnet, `{p}:9`
/// an address).
fn prefix6(daemon: &TestDaemon, n: u8) -> String {
    format!("fd42:b{:02x}:{n:x}:", daemon.net.index)
}

/// A dual-stack network of the slot (IPv4 subnet `n`, IPv6 prefix `n`), with extra flags.
fn create_dual_stack(daemon: &TestDaemon, n: u8, name: &str, extra: &[&str]) -> String {
    let (v4, v6) = (daemon.net.subnet(n), format!("{}:/64", prefix6(daemon, n)));
    let mut args = vec!["network", "create", "--ipv6", "--subnet", &v4, "--subnet", &v6];
    args.extend_from_slice(extra);
    args.push(name);
    daemon.ok(&args);
    prefix6(daemon, n)
}

/// `berth run -d --name NAME --network NET busybox sleep 600`.
fn sleeper(daemon: &TestDaemon, name: &str, network: &str) {
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        "busybox",
        "sleep",
        "600",
    ]);
}

/// A container's IPv6 address on `network`.
fn address6(daemon: &TestDaemon, name: &str, network: &str) -> String {
    inspect(
        daemon,
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").GlobalIPv6Address}}}}"),
        name,
    )
}

/// Whether `ping -6` from container `from` reaches `to` (an address or a name).
fn pings(daemon: &TestDaemon, from: &str, to: &str) -> bool {
    daemon
        .output(&["exec", from, "ping", "-6", "-c", "1", "-W", "2", to])
        .status
        .success()
}

#[test]
fn dual_stack_containers_reach_each_other_by_ipv6_address_and_name_and_networks_stay_apart() {
    let mut daemon = daemon();
    let a = create_dual_stack(&daemon, 1, "v6-a", &[]);
    create_dual_stack(&daemon, 2, "v6-b", &[]);
    sleeper(&daemon, "a1", "v6-a");
    sleeper(&daemon, "a2", "v6-a");
    sleeper(&daemon, "b1", "v6-b");
    let a2 = address6(&daemon, "a2", "v6-a");
    assert_eq!(a2, format!("{a}:3"), "addresses come in order after the gateway");
    assert_eq!(
        inspect(
            &daemon,
            "{{(index .NetworkSettings.Networks \"v6-a\").IPv6Gateway}}",
            "a2"
        ),
        format!("{a}:1")
    );

    // At once (no duplicate address detection to wait for): by address, by name, the gateway.
    assert!(pings(&daemon, "a1", &a2), "a1 can't reach {a2}");
    assert!(pings(&daemon, "a1", "a2"), "a1 can't reach a2 by name");
    assert!(
        pings(&daemon, "a1", &format!("{a}:1")),
        "a1 can't reach its gateway"
    );
    let looked_up = daemon.ok(&["exec", "a1", "nslookup", "-type=AAAA", "a2"]);
    assert!(looked_up.contains(&a2), "{looked_up}");
    let reverse = daemon.ok(&["exec", "a1", "nslookup", &a2]);
    assert!(reverse.contains("a2.v6-a"), "{reverse}");
    let hosts = daemon.ok(&["exec", "a2", "cat", "/etc/hosts"]);
    let short = inspect(&daemon, "{{.Id}}", "a2")[..12].to_owned();
    assert!(hosts.ends_with(&format!("\t{short}\n{a2}\t{short}\n")), "{hosts}");

    // HTTP over IPv6 between the two.
    daemon.ok(&["exec", "-d", "a2", "httpd", "-f", "-p", "[::]:80", "-h", "/etc"]);
    let page = daemon.ok(&[
        "exec",
        "a1",
        "sh",
        "-c",
        &wget_script(&format!("http://[{a2}]/hostname")),
    ]);
    assert_eq!(page.trim(), short);

    // Another network can't reach it (Docker 20.10's IPv6 would: berth isolates both families).
    assert!(!pings(&daemon, "b1", &a2), "v6-b reached {a2}");
    let table = nft(&["list", "table", "ip6", &format!("berth-{}", daemon.net.bridge())]);
    assert!(table.contains("brb-"), "{table}");
    stop_and_check_clean(&mut daemon);
}

#[test]
fn a_daemon_restart_keeps_ipv6_addresses_and_aaaa_answers() {
    let mut daemon = daemon();
    let p = create_dual_stack(&daemon, 6, "v6-keep", &[]);
    sleeper(&daemon, "kept", "v6-keep");
    sleeper(&daemon, "asker", "v6-keep");
    let kept = address6(&daemon, "kept", "v6-keep");
    assert_eq!(kept, format!("{p}:2"));

    daemon.restart();
    assert_eq!(address6(&daemon, "kept", "v6-keep"), kept);
    let looked_up = daemon.ok(&["exec", "asker", "nslookup", "-type=AAAA", "kept"]);
    assert!(looked_up.contains(&kept), "{looked_up}");
    // A new container does not get a running one's address.
    sleeper(&daemon, "newcomer", "v6-keep");
    assert_eq!(address6(&daemon, "newcomer", "v6-keep"), format!("{p}:4"));
    stop_and_check_clean(&mut daemon);
}

#[test]
fn icc_off_and_internal_hold_for_ipv6() {
    let mut daemon = daemon();
    let inside = create_dual_stack(&daemon, 3, "v6-inside", &["--internal"]);
    create_dual_stack(&daemon, 4, "v6-out", &[]);
    sleeper(&daemon, "vault", "v6-inside");
    sleeper(&daemon, "peer", "v6-inside");
    sleeper(&daemon, "outsider", "v6-out");
    let routes = daemon.ok(&["exec", "vault", "ip", "-6", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    assert!(
        pings(&daemon, "vault", "peer"),
        "an internal network's own containers meet"
    );
    let outsider = address6(&daemon, "outsider", "v6-out");
    assert!(
        !pings(&daemon, "vault", &outsider),
        "an internal network reached {outsider}"
    );
    assert!(
        !pings(&daemon, "outsider", &format!("{inside}:2")),
        "reached into an internal network"
    );

    // Bridged traffic meets the forward chain only while br_netfilter is loaded (dockerd loads it).
    if std::path::Path::new("/proc/sys/net/bridge/bridge-nf-call-ip6tables").exists() {
        create_dual_stack(
            &daemon,
            5,
            "v6-apart",
            &["-o", "com.docker.network.bridge.enable_icc=false"],
        );
        sleeper(&daemon, "apart1", "v6-apart");
        sleeper(&daemon, "apart2", "v6-apart");
        let apart2 = address6(&daemon, "apart2", "v6-apart");
        assert!(
            !pings(&daemon, "apart1", &apart2),
            "icc=false let {apart2} through"
        );
    }
    stop_and_check_clean(&mut daemon);
}

/// `nft ARGS`: its stdout.
fn nft(args: &[&str]) -> String {
    let out = std::process::Command::new("nft")
        .args(args)
        .output()
        .expect("run nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A container on the shared Docker, removed on drop (also when the test fails).
struct DockerContainer(String);

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.0]).output();
    }
}

/// A network on the shared Docker, removed on drop.
struct DockerNetwork(String);

impl Drop for DockerNetwork {
    fn drop(&mut self) {
        let _ = docker().args(["network", "rm", &self.0]).output();
    }
}

#[test]
fn published_ports_answer_on_ipv6_loopback_as_dockers_do() {
    let mut daemon = daemon();
    let port = free_port();
    daemon.ok(&["run", "-d", "-p", &format!("{port}:80"), "httpd:2.4"]);
    let page = wait_http(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)));
    assert!(page.contains("It works!"), "{page}");
    // And on the host's own IPv6 addresses (those of its real interfaces), as on `::`.
    if let Some(host) = host_address6() {
        let page = wait_http(SocketAddr::from((host, port)));
        assert!(page.contains("It works!"), "[{host}]:{port}: {page}");
    }
    let published = daemon.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(published.contains(&format!(":::{port}->80/tcp")), "{published}");

    // Docker's docker-proxy listens on `::` too.
    let name = unique_name("berth-v6-port");
    let _theirs = DockerContainer(name.clone());
    let their_port = free_port();
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        &format!("{their_port}:80"),
        "httpd:2.4",
    ]);
    let page = wait_http(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, their_port)));
    assert!(page.contains("It works!"), "{page}");
    stop_and_check_clean(&mut daemon);
}

/// A global IPv6 address of one of the host's own interfaces (not a bridge or veth of berth's or
/// Docker's), if it has one.
fn host_address6() -> Option<std::net::Ipv6Addr> {
    let out = std::process::Command::new("ip")
        .args(["-6", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let interface = fields.get(1)?;
        let ours = ["br-", "brb-", "berth", "docker", "veth", "vb"]
            .iter()
            .any(|p| interface.starts_with(p));
        if ours {
            return None;
        }
        fields.get(3)?.split('/').next()?.parse().ok()
    })
}

#[test]
fn the_default_bridge_gets_ipv6_from_the_daemons_flags() {
    // Without a subnet, dockerd's refusal.
    let root = crate::common::TempDir::new("berth-v6-flags");
    let out = std::process::Command::new(bin_dir().join("berthd"))
        .args(["--ipv6", "--data-root"])
        .arg(root.path().join("data"))
        .arg("--exec-root")
        .arg(root.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", root.path().join("s.sock").display()))
        .output()
        .expect("run berthd");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("IPv6 is enabled for the default bridge, but no subnet is configured. Specify an IPv6 subnet using --fixed-cidr-v6"),
        "{stderr}"
    );
    assert!(
        !root.path().join("data").exists(),
        "a refused start made its data root"
    );

    // One such daemon per test process: the pid makes the subnet its own.
    let subnet = format!("fd42:d:{:x}::/64", std::process::id() & 0xffff);
    let mut daemon = TestDaemon::start_with(&["--ipv6", "--fixed-cidr-v6", &subnet]);
    daemon.load_stand_in_images();
    let config = daemon.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{json .IPAM.Config}}",
        "bridge",
    ]);
    let v4 = daemon.net.bip().replace(".1/24", ".0/24");
    let gateway = daemon.net.bip().replace("/24", "");
    assert_eq!(
        config.trim(),
        format!(r#"true [{{"Subnet":"{v4}","Gateway":"{gateway}"}},{{"Subnet":"{subnet}"}}]"#)
    );
    daemon.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "600"]);
    // As dockerd with 48 host bits or more: the subnet's prefix, then the MAC.
    let mac = inspect(&daemon, "{{.NetworkSettings.MacAddress}}", "plain");
    let mut octets = subnet
        .trim_end_matches("/64")
        .parse::<std::net::Ipv6Addr>()
        .expect("an IPv6 subnet")
        .octets();
    for (octet, byte) in octets[10..].iter_mut().zip(mac.split(':')) {
        *octet = u8::from_str_radix(byte, 16).expect("a MAC byte");
    }
    let expected = std::net::Ipv6Addr::from(octets).to_string();
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.GlobalIPv6Address}}", "plain"),
        expected
    );
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.GlobalIPv6PrefixLen}}", "plain"),
        "64"
    );
    let gateway6 = subnet.replace("::/64", "::1");
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.IPv6Gateway}}", "plain"),
        gateway6
    );
    assert!(
        pings(&daemon, "plain", &gateway6),
        "the default bridge's IPv6 gateway"
    );
    stop_and_check_clean(&mut daemon);
}

#[test]
fn ipv6_commands_answer_like_the_docker_cli() {
    let mut daemon = daemon();
    // The same errors, word for word, and the same exit code.
    let alike = |ours: &[&str], theirs: &[&str]| {
        let ours = daemon.output(ours);
        let theirs = docker().args(theirs).output().expect("run docker");
        assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?} / {theirs:?}");
        // `run` names the program first (`docker: …`, `berth: …`).
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr).trim_start_matches("berth: "),
            String::from_utf8_lossy(&theirs.stderr).trim_start_matches("docker: ")
        );
    };
    let name = unique_name("berth-v6-cli");
    alike(
        &["network", "create", "--ipv6", &name],
        &["network", "create", "--ipv6", &name],
    );
    // docker/cli's own pairing of several --subnet flags with the rest (refused before any
    // request, so nothing is made on either engine).
    let pairings: [&[&str]; 6] = [
        &["--subnet", "10.1.0.0/16", "--subnet", "10.1.2.0/24"],
        &["--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1"],
        &[
            "--subnet",
            "10.1.0.0/16",
            "--subnet",
            "fd42::/64",
            "--gateway",
            "10.1.0.1",
            "--gateway",
            "10.1.0.2",
        ],
        &["--ipv6", "--subnet", "fd42::/64", "--ip-range", "fd43::/80"],
        &["--subnet", "10.1.0.0/16", "--subnet", "10.2.0.0/33"],
        &[
            "--ipv6",
            "--subnet",
            "fd42:9::/64",
            "--aux-address",
            "a=fd42:8::1",
        ],
    ];
    for flags in pairings {
        let mut args = vec!["network", "create"];
        args.extend_from_slice(flags);
        args.push(&name);
        alike(&args, &args);
    }

    // A dual-stack network: inspect's IPAM alike but for the prefixes.
    let ours6 = prefix6(&daemon, 6);
    let theirs6 = format!("fd42:c{:02x}:{:x}:", daemon.net.index, std::process::id() & 0xfff);
    let _their_net = DockerNetwork(name.clone());
    let create = |p6: &str| {
        vec![
            "network".to_owned(),
            "create".to_owned(),
            "--ipv6".to_owned(),
            "--subnet".to_owned(),
            format!("{p6}:/64"),
            "--gateway".to_owned(),
            format!("{p6}:99"),
            "--ip-range".to_owned(),
            format!("{p6}:/80"),
            name.clone(),
        ]
    };
    let (ours_create, theirs_create) = (create(&ours6), create(&theirs6));
    daemon.ok(&ours_create.iter().map(String::as_str).collect::<Vec<_>>());
    docker_ok(&theirs_create.iter().map(String::as_str).collect::<Vec<_>>());
    let format = "{{.EnableIPv6}} {{json (index .IPAM.Config 1)}}";
    let ours = daemon.ok(&["network", "inspect", "-f", format, &name]);
    let theirs = docker_ok(&["network", "inspect", "-f", format, &name]);
    assert_eq!(ours.replace(&ours6, "V6:"), theirs.replace(&theirs6, "V6:"));

    // --ip6 on run and on network connect: taken, and refused alike outside the subnet.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "fixed6",
        "--network",
        &name,
        "--ip6",
        &format!("{ours6}:5"),
        "busybox",
        "sleep",
        "600",
    ]);
    let shown = inspect(
        &daemon,
        &format!("{{{{(index .NetworkSettings.Networks \"{name}\").IPAMConfig.IPv6Address}}}}"),
        "fixed6",
    );
    assert_eq!(shown, format!("{ours6}:5"));
    let outside = "fd42:ffff:ffff::5";
    let run = [
        "run",
        "--rm",
        "--network",
        &name,
        "--ip6",
        outside,
        "busybox",
        "true",
    ];
    alike(&run, &run);
    daemon.ok(&["run", "-d", "--name", "late6", "busybox", "sleep", "600"]);
    daemon.ok(&[
        "network",
        "connect",
        "--ip6",
        &format!("{ours6}:6"),
        &name,
        "late6",
    ]);
    assert_eq!(address6(&daemon, "late6", &name), format!("{ours6}:6"));
    let (_, refused) = daemon.fails(&[
        "network",
        "connect",
        "--ip6",
        &format!("{ours6}:7"),
        "bridge",
        "late6",
    ]);
    assert!(
        refused.contains("user specified IP address is supported on user defined networks only"),
        "{refused}"
    );
    stop_and_check_clean(&mut daemon);
}
