//! User-defined networks against a real berthd: names, aliases and short ids through the
//! embedded DNS server, isolation between networks, `--internal`, `network connect` and
//! `disconnect` of a running container, and the `network` commands beside Docker's.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{docker, docker_ok, unique_name};
use crate::network_common::{
    daemon, in_container, in_container_ok, inspect, stop_and_check_clean, wget_once, wget_script,
};

#[test]
fn containers_on_a_user_network_find_each_other_by_name_alias_and_short_id() {
    let mut daemon = daemon();
    daemon.ok(&["network", "create", "--subnet", &daemon.net.subnet(1), "front"]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web1",
        "--network",
        "front",
        "--network-alias",
        "www",
        "httpd:2.4",
    ]);
    daemon.ok(&["run", "-d", "--name", "web2", "--network", "front", "httpd:2.4"]);
    let ip1 = inspect(&daemon, "{{.NetworkSettings.Networks.front.IPAddress}}", "web1");
    let short1 = inspect(&daemon, "{{.Id}}", "web1")[..12].to_owned();
    assert!(
        ip1.starts_with(&format!("10.{}.1.", 100 + daemon.net.index)),
        "{ip1}"
    );
    assert_eq!(
        inspect(
            &daemon,
            "{{json .NetworkSettings.Networks.front.Aliases}}",
            "web1"
        ),
        format!(r#"["www","{short1}"]"#)
    );
    // On a user-defined network the top-level fields stay empty, as Docker's.
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "web1"), "");

    // web2 reaches web1 by name, alias and short id, and by address.
    for name in ["web1", "www", short1.as_str(), ip1.as_str()] {
        let page = daemon.ok(&[
            "exec",
            "web2",
            "sh",
            "-c",
            &wget_script(&format!("http://{name}/")),
        ]);
        assert!(page.contains("It works!"), "{name}: {page}");
    }
    let looked_up = in_container_ok(&daemon, Some("front"), "cat /etc/resolv.conf; nslookup www");
    assert!(looked_up.contains("nameserver 127.0.0.11\n"), "{looked_up}");
    assert!(looked_up.contains("options ndots:0"), "{looked_up}");
    assert!(looked_up.contains(&format!("Address: {ip1}")), "{looked_up}");

    // The network lists its running containers.
    let containers: Value = serde_json::from_str(
        daemon
            .ok(&["network", "inspect", "-f", "{{json .Containers}}", "front"])
            .trim(),
    )
    .unwrap();
    let names: BTreeSet<&str> = containers
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["web1", "web2"]));
    let (_, stderr) = daemon.fails(&["network", "rm", "front"]);
    assert!(stderr.contains("has active endpoints"), "{stderr}");
    stop_and_check_clean(&mut daemon);
}

#[test]
fn different_networks_are_isolated_and_names_do_not_cross() {
    let mut daemon = daemon();
    daemon.ok(&["network", "create", "--subnet", &daemon.net.subnet(1), "net-a"]);
    daemon.ok(&["network", "create", "--subnet", &daemon.net.subnet(2), "net-b"]);
    daemon.ok(&["run", "-d", "--name", "app", "--network", "net-a", "httpd:2.4"]);
    let ip = inspect(
        &daemon,
        r#"{{(index .NetworkSettings.Networks "net-a").IPAddress}}"#,
        "app",
    );
    // Same network: found and reached.
    let page = in_container_ok(&daemon, Some("net-a"), &wget_script("http://app/"));
    assert!(page.contains("It works!"), "{page}");
    // Another network: the name is unknown and the address unreachable.
    let lookup = in_container(&daemon, Some("net-b"), "nslookup app");
    assert!(
        !String::from_utf8_lossy(&lookup.stdout).contains(&format!("Address: {ip}")),
        "net-b resolved app"
    );
    let reach = in_container(&daemon, Some("net-b"), &wget_once(&format!("http://{ip}/")));
    assert!(!reach.status.success(), "net-b reached {ip}");
    // The default bridge can't reach it either.
    let reach = in_container(&daemon, None, &wget_once(&format!("http://{ip}/")));
    assert!(!reach.status.success(), "the default bridge reached {ip}");
    stop_and_check_clean(&mut daemon);
}

#[test]
fn an_internal_network_has_no_way_out() {
    let mut daemon = daemon();
    daemon.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        &daemon.net.subnet(3),
        "inside",
    ]);
    daemon.ok(&["run", "-d", "--name", "vault", "--network", "inside", "httpd:2.4"]);
    let out = in_container_ok(
        &daemon,
        Some("inside"),
        &format!("ip route; {}", wget_script("http://vault/")),
    );
    assert!(!out.contains("default"), "{out}");
    assert!(out.contains("It works!"), "{out}");
    assert_eq!(
        daemon
            .ok(&["network", "inspect", "-f", "{{.Internal}}", "inside"])
            .trim(),
        "true"
    );
    stop_and_check_clean(&mut daemon);
}

#[test]
fn a_running_container_is_connected_and_disconnected() {
    let mut daemon = daemon();
    daemon.ok(&["network", "create", "--subnet", &daemon.net.subnet(4), "late"]);
    daemon.ok(&["run", "-d", "--name", "web", "httpd:2.4"]);
    daemon.ok(&["network", "connect", "--alias", "legacy", "late", "web"]);
    let ip = inspect(&daemon, "{{.NetworkSettings.Networks.late.IPAddress}}", "web");
    assert!(!ip.is_empty());
    let addresses = daemon.ok(&["exec", "web", "ip", "-o", "-4", "addr"]);
    assert!(
        addresses.contains(&format!("eth1    inet {ip}/24")),
        "{addresses}"
    );
    let page = in_container_ok(&daemon, Some("late"), &wget_script("http://legacy/"));
    assert!(page.contains("It works!"), "{page}");
    let (_, stderr) = daemon.fails(&["network", "connect", "late", "web"]);
    assert!(stderr.contains("already exists in network late"), "{stderr}");

    daemon.ok(&["network", "disconnect", "late", "web"]);
    let networks = inspect(
        &daemon,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        "web",
    );
    assert_eq!(networks, "bridge");
    let addresses = daemon.ok(&["exec", "web", "ip", "-o", "-4", "addr"]);
    assert!(!addresses.contains("eth1"), "{addresses}");
    let lookup = in_container(&daemon, Some("late"), "nslookup legacy");
    assert!(
        !String::from_utf8_lossy(&lookup.stdout).contains(&ip),
        "legacy still resolves"
    );
    let (_, stderr) = daemon.fails(&["network", "disconnect", "late", "web"]);
    assert!(stderr.contains("is not connected to network late"), "{stderr}");

    // A stopped container joins at its next start.
    daemon.ok(&["create", "--name", "later", "httpd:2.4"]);
    daemon.ok(&["network", "connect", "late", "later"]);
    daemon.ok(&["start", "later"]);
    assert!(!inspect(&daemon, "{{.NetworkSettings.Networks.late.IPAddress}}", "later").is_empty());
    stop_and_check_clean(&mut daemon);
}

/// Removes a Docker network on drop, even when an assertion fails.
struct DockerNetwork(String);

impl Drop for DockerNetwork {
    fn drop(&mut self) {
        let _ = docker().args(["network", "rm", &self.0]).output();
    }
}

/// The JSON keys of a value, recursively (`IPAM/Config[]/Subnet`).
fn keys(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{prefix}/{k}");
                out.insert(path.clone());
                keys(v, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                keys(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn network_commands_answer_like_docker() {
    let mut daemon = daemon();
    let name = unique_name("berth-net-cmp");
    let _guard = DockerNetwork(name.clone());
    let ours = daemon.ok(&["network", "create", "--label", "team=a", &name]);
    let theirs = docker_ok(&["network", "create", "--label", "team=a", &name]);
    assert_eq!(ours.trim().len(), 64);
    assert_eq!(theirs.trim().len(), 64);

    // inspect: the same keys, options and labels.
    let inspected = |json: &str| -> Value {
        let all: Value = serde_json::from_str(json).unwrap();
        all[0].clone()
    };
    let berth = inspected(&daemon.ok(&["network", "inspect", &name]));
    let real = inspected(&docker_ok(&["network", "inspect", &name]));
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    keys(&berth, "", &mut a);
    keys(&real, "", &mut b);
    assert_eq!(a, b);
    for key in ["Scope", "Driver", "Labels", "Options", "Internal", "EnableIPv6"] {
        assert_eq!(berth[key], real[key], "{key}");
    }
    assert_eq!(berth["IPAM"]["Options"], real["IPAM"]["Options"]);

    // The same errors, word for word.
    let docker_fails = |args: &[&str]| -> String {
        let out = docker().args(args).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let (_, ours) = daemon.fails(&["network", "create", &name]);
    assert_eq!(
        ours.trim_start_matches("berth: "),
        docker_fails(&["network", "create", &name])
    );
    let (_, ours) = daemon.fails(&["network", "rm", "bridge"]);
    assert_eq!(
        ours.trim_start_matches("berth: "),
        docker_fails(&["network", "rm", "bridge"])
    );
    let missing = unique_name("berth-no-net");
    let out = daemon.output(&["network", "inspect", &missing]);
    let real = docker().args(["network", "inspect", &missing]).output().unwrap();
    assert_eq!(out.stdout, real.stdout);
    assert_eq!(out.stderr, real.stderr);
    assert_eq!(out.status.code(), real.status.code());

    // ls: Docker's columns; prune: Docker's report.
    let table = daemon.ok(&["network", "ls"]);
    assert!(table.starts_with("NETWORK ID     NAME"), "{table}");
    for builtin in ["bridge", "host", "none"] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(builtin)),
            "{table}"
        );
    }
    assert_eq!(
        daemon.ok(&["network", "prune", "-f"]),
        format!("Deleted Networks:\n{name}\n\n")
    );
    assert_eq!(daemon.ok(&["network", "ls", "-q", "--filter", "type=custom"]), "");
    stop_and_check_clean(&mut daemon);
}

#[test]
fn a_daemon_restart_keeps_user_network_addresses_and_names() {
    let mut daemon = daemon();
    daemon.ok(&["network", "create", "--subnet", &daemon.net.subnet(5), "keep"]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "keep",
        "--network-alias",
        "site",
        "httpd:2.4",
    ]);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "keep",
        "busybox",
        "sleep",
        "600",
    ]);
    let ip = inspect(&daemon, "{{.NetworkSettings.Networks.keep.IPAddress}}", "web");

    daemon.restart();
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.Networks.keep.IPAddress}}", "web"),
        ip
    );
    // The running client's embedded DNS server answers again, names and aliases.
    for name in ["web", "site"] {
        let page = daemon.ok(&[
            "exec",
            "client",
            "sh",
            "-c",
            &wget_script(&format!("http://{name}/")),
        ]);
        assert!(page.contains("It works!"), "{name}: {page}");
    }
    // A new container on the network does not get a running one's address.
    let other = in_container_ok(&daemon, Some("keep"), "ip -o -4 addr show eth0");
    assert!(!other.contains(&format!(" {ip}/")), "{other} took {ip}");
    stop_and_check_clean(&mut daemon);
}

/// `network create --aux-address`, `run --ip --mac-address`, `network connect --alias --ip`
/// and `network disconnect -f` reach the container; docker/cli's refusals of an auxiliary
/// address outside every subnet and of a MAC address that doesn't parse come in its words.
#[test]
fn addresses_macs_and_aliases_from_the_command_line() {
    let mut daemon = daemon();
    let subnet = daemon.net.subnet(6);
    let prefix = subnet.trim_end_matches("0/24").to_owned();
    let aux = format!("printer={prefix}2");
    daemon.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--aux-address",
        &aux,
        "-o",
        "com.docker.network.driver.mtu=1400",
        "fixed",
    ]);
    assert_eq!(
        daemon
            .ok(&[
                "network",
                "inspect",
                "-f",
                "{{json (index .IPAM.Config 0).AuxiliaryAddresses}}",
                "fixed"
            ])
            .trim(),
        format!(r#"{{"printer":"{prefix}2"}}"#)
    );
    // The auxiliary address is never handed out: the first container gets .3.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "fixed",
        "--mac-address",
        "02:aa:bb:cc:dd:02",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.Networks.fixed.IPAddress}}", "first"),
        format!("{prefix}3")
    );
    let link = daemon.ok(&["exec", "first", "ip", "link", "show", "eth0"]);
    assert!(
        link.contains("link/ether 02:aa:bb:cc:dd:02") && link.contains("mtu 1400"),
        "{link}"
    );
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "second",
        "--network",
        "fixed",
        "--ip",
        &format!("{prefix}50"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.Networks.fixed.IPAddress}}", "second"),
        format!("{prefix}50")
    );

    daemon.ok(&["run", "-d", "--name", "late", "busybox", "sleep", "60"]);
    daemon.ok(&[
        "network",
        "connect",
        "--alias",
        "printer-queue",
        "--ip",
        &format!("{prefix}60"),
        "fixed",
        "late",
    ]);
    let found = daemon.ok(&["exec", "first", "nslookup", "printer-queue"]);
    assert!(found.contains(&format!("{prefix}60")), "{found}");
    daemon.ok(&["network", "disconnect", "-f", "fixed", "late"]);
    assert_eq!(
        inspect(&daemon, "{{json .NetworkSettings.Networks.fixed}}", "late"),
        "null"
    );

    let last_line = |stderr: &str| {
        stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_owned()
    };
    for args in [
        vec![
            "network",
            "create",
            "--subnet",
            "192.0.2.0/24",
            "--aux-address",
            "a=198.51.100.1",
            "berth-aux-refused",
        ],
        vec!["create", "--mac-address", "02:aa:bb", "busybox"],
    ] {
        let (_, ours) = daemon.fails(&args);
        let theirs = docker().args(&args).output().unwrap();
        assert!(!theirs.status.success(), "{args:?}");
        let theirs = String::from_utf8_lossy(&theirs.stderr).into_owned();
        let words = |line: String| {
            line.trim_start_matches("docker: ")
                .trim_start_matches("berth: ")
                .to_owned()
        };
        assert_eq!(words(last_line(&ours)), words(last_line(&theirs)), "{args:?}");
    }
    stop_and_check_clean(&mut daemon);
}
