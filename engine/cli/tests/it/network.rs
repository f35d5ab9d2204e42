//! The default bridge against a real berthd: addresses and reachability, published ports
//! through the userland proxy and DNAT, `-P` with `port` and `ps`, legacy links, a port clash,
//! a daemon restart, `--network host` and `none`, and `NetworkSettings` beside Docker's.
//! Each test ends by checking the daemon left no bridge, veth, namespace or rule behind.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde_json::Value;

use crate::common::{docker, docker_ok, stand_in_images, unique_name};
use crate::network_common::{
    daemon, free_port, http_get, in_container_ok, inspect, links_on, stop_and_check_clean, table_text,
    wait_http, wget_script,
};

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().expect("an address")
}

#[test]
fn containers_on_the_default_bridge_reach_each_other_and_the_host_reaches_them() {
    let mut daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "web1", "httpd:2.4"]);
    daemon.ok(&["run", "-d", "--name", "web2", "httpd:2.4"]);
    let ip1 = inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "web1");
    let ip2 = inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "web2");
    assert_ne!(ip1, ip2);
    let bip = daemon.net.bip();
    let gateway = bip.split('/').next().unwrap();
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.Gateway}}", "web1"), gateway);
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.IPPrefixLen}}", "web1"), "24");
    assert_eq!(
        inspect(&daemon, "{{.NetworkSettings.Networks.bridge.IPAddress}}", "web1"),
        ip1
    );
    assert!(
        ip1.starts_with(&gateway[..gateway.rfind('.').unwrap() + 1]),
        "{ip1} not in {bip}"
    );
    // Docker's MAC for the address, and one veth per container on the daemon's bridge.
    let octets: Vec<u8> = ip1.split('.').map(|o| o.parse().unwrap()).collect();
    let mac = format!(
        "02:42:{:02x}:{:02x}:{:02x}:{:02x}",
        octets[0], octets[1], octets[2], octets[3]
    );
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.MacAddress}}", "web1"), mac);
    assert_eq!(links_on(&daemon.net.bridge()).len(), 2);

    // The host reaches a container's address with nothing published.
    assert!(wait_http(addr(&ip1, 80)).contains("It works!"));
    // A container reaches another by address, across the bridge (and past Docker's FORWARD
    // policy, which drops what berth does not accept in DOCKER-USER).
    let page = in_container_ok(&daemon, None, &wget_script(&format!("http://{ip2}/")));
    assert!(page.contains("It works!"), "{page}");

    // The container's own /etc/hosts line, and resolv.conf without loopback servers.
    let short = inspect(&daemon, "{{.Id}}", "web1")[..12].to_owned();
    let hosts = daemon.ok(&["exec", "web1", "cat", "/etc/hosts"]);
    assert!(hosts.ends_with(&format!("{ip1}\t{short}\n")), "{hosts}");
    let resolv = daemon.ok(&["exec", "web1", "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("nameserver") && !resolv.contains("nameserver 127."),
        "{resolv}"
    );

    // Every kernel step is told: the bridge in the daemon's log, a container's own in its log.
    let daemon_log = std::fs::read_to_string(daemon.root.join("exec/explain.jsonl")).unwrap();
    assert!(
        daemon_log.contains(&format!("created bridge {}", daemon.net.bridge())),
        "{daemon_log}"
    );
    assert!(
        daemon_log.contains("wrote nftables table ip berth-"),
        "{daemon_log}"
    );
    daemon.ok(&["run", "--name", "once", "busybox", "true"]);
    let short = inspect(&daemon, "{{.Id}}", "once")[..12].to_owned();
    let log = std::fs::read_to_string(daemon.root.join(format!("exec/c/{short}/explain.jsonl"))).unwrap();
    for sentence in [
        "created network namespace",
        "brought lo up",
        "created veth pair vb",
        "gave eth0 the address",
        "brought eth0 up",
        &format!("added the default route via {gateway}"),
        "deleting veth vb",
        "removed network namespace",
    ] {
        assert!(log.contains(sentence), "no {sentence:?} in {log}");
    }
    stop_and_check_clean(&mut daemon);
}

#[test]
fn published_ports_answer_through_the_proxy_and_dnat_and_survive_a_daemon_restart() {
    let mut daemon = daemon();
    let port = free_port();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{port}:80"),
        "httpd:2.4",
    ]);
    let ip = inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "web");
    let gateway = inspect(&daemon, "{{.NetworkSettings.Gateway}}", "web");

    // Loopback: the userland proxy. The host's other addresses: berth's DNAT rule.
    assert!(wait_http(addr("127.0.0.1", port)).contains("It works!"));
    assert!(
        table_text(&daemon.net.bridge()).contains(&format!("tcp dport {port} dnat to {ip}:80")),
        "{}",
        table_text(&daemon.net.bridge())
    );
    assert!(wait_http(addr(&gateway, port)).contains("It works!"));
    // Another container reaches the published port through the host.
    let page = in_container_ok(&daemon, None, &wget_script(&format!("http://{gateway}:{port}/")));
    assert!(page.contains("It works!"), "{page}");

    let mapping = daemon.ok(&["port", "web"]);
    assert_eq!(
        mapping.lines().next(),
        Some(format!("80/tcp -> 0.0.0.0:{port}").as_str()),
        "{mapping}"
    );
    let ps = daemon.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    let short = inspect(&daemon, "{{.Id}}", "web")[..12].to_owned();
    let log = std::fs::read_to_string(daemon.root.join(format!("exec/c/{short}/explain.jsonl"))).unwrap();
    assert!(
        log.contains(&format!(
            "userland proxy listens on 0.0.0.0:{port}/tcp for {ip}:80"
        )),
        "{log}"
    );
    assert!(log.contains("DNAT for 1 published port(s)"), "{log}");

    // berthd killed: its proxy is gone, the kernel's DNAT still serves.
    daemon.kill9();
    assert!(
        http_get(addr("127.0.0.1", port)).is_err(),
        "the proxy outlived berthd"
    );
    assert!(http_get(addr(&gateway, port)).unwrap().contains("It works!"));

    // Back: the same address and mapping, and the proxy again.
    daemon.restart();
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "web"), ip);
    assert_eq!(daemon.ok(&["port", "web"]), mapping);
    assert!(wait_http(addr("127.0.0.1", port)).contains("It works!"));
    // A new container does not get the running one's address.
    let other = in_container_ok(&daemon, None, "ip -o -4 addr show eth0");
    assert!(!other.contains(&format!(" {ip}/")), "{other} took {ip}");

    // A clean stop with the container running keeps its network; after it, all goes.
    daemon.stop();
    assert!(http_get(addr(&gateway, port)).unwrap().contains("It works!"));
    daemon.restart();
    assert!(wait_http(addr("127.0.0.1", port)).contains("It works!"));
    stop_and_check_clean(&mut daemon);
}

#[test]
fn publish_all_maps_every_exposed_port_and_port_and_ps_show_them() {
    let mut daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "web", "-P", "--expose", "90", "httpd:2.4"]);
    let mapping = daemon.ok(&["port", "web"]);
    let host_port = |container: &str| -> u16 {
        mapping
            .lines()
            .find(|l| l.starts_with(&format!("{container}/tcp -> 0.0.0.0:")))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no mapping of {container}/tcp in {mapping}"))
    };
    let (p80, p90) = (host_port("80"), host_port("90"));
    assert_ne!(p80, p90);
    assert!(wait_http(addr("127.0.0.1", p80)).contains("It works!"));
    let ports: Value =
        serde_json::from_str(&inspect(&daemon, "{{json .NetworkSettings.Ports}}", "web")).unwrap();
    assert_eq!(ports["80/tcp"][0]["HostIp"], "0.0.0.0");
    assert_eq!(ports["80/tcp"][0]["HostPort"], p80.to_string());
    assert_eq!(ports["90/tcp"][0]["HostPort"], p90.to_string());
    let ps = daemon.ok(&["ps", "--format", "{{.Ports}}"]);
    assert!(ps.contains(&format!("0.0.0.0:{p80}->80/tcp")), "{ps}");
    assert_eq!(
        daemon.ok(&["port", "web", "80/tcp"]).lines().next(),
        Some(format!("0.0.0.0:{p80}").as_str())
    );

    // --expose alone documents a port; nothing is published.
    daemon.ok(&["run", "-d", "--name", "quiet", "--expose", "90", "httpd:2.4"]);
    assert_eq!(
        inspect(&daemon, "{{json .NetworkSettings.Ports}}", "quiet"),
        r#"{"80/tcp":null,"90/tcp":null}"#
    );
    assert_eq!(daemon.ok(&["port", "quiet"]), "");

    // UDP: the proxy holds the host port and the table forwards it.
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    drop(udp);
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "dns",
        "-p",
        &format!("{port}:53/udp"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        daemon.ok(&["port", "dns"]).lines().next(),
        Some(format!("53/udp -> 0.0.0.0:{port}").as_str())
    );
    assert!(
        std::net::UdpSocket::bind(("0.0.0.0", port)).is_err(),
        "udp {port} is not held"
    );
    let ip = inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "dns");
    let table = table_text(&daemon.net.bridge());
    assert!(
        table.contains(&format!("udp dport {port} dnat to {ip}:53")),
        "{table}"
    );
    stop_and_check_clean(&mut daemon);
}

#[test]
fn legacy_links_give_hosts_entries_and_variables() {
    let mut daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "db", "-e", "SECRET=x", "httpd:2.4"]);
    let ip = inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "db");
    let short = inspect(&daemon, "{{.Id}}", "db")[..12].to_owned();
    let out = daemon.ok(&[
        "run",
        "--rm",
        "--link",
        "db:database",
        "busybox",
        "sh",
        "-c",
        &format!("cat /etc/hosts; env; {}", wget_script("http://database/")),
    ]);
    assert!(out.contains(&format!("{ip}\tdatabase {short} db\n")), "{out}");
    for line in [
        format!("DATABASE_PORT=tcp://{ip}:80"),
        format!("DATABASE_PORT_80_TCP_ADDR={ip}"),
        "DATABASE_PORT_80_TCP_PROTO=tcp".to_owned(),
        "DATABASE_ENV_SECRET=x".to_owned(),
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing in {out}");
    }
    assert!(out.contains("It works!"), "{out}");
    // An exec process gets the link's variables too, as Docker's do.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--link",
        "db:database",
        "busybox",
        "sleep",
        "60",
    ]);
    let env = daemon.ok(&["exec", "client", "env"]);
    assert!(
        env.lines()
            .any(|l| l == format!("DATABASE_PORT_80_TCP_ADDR={ip}")),
        "{env}"
    );

    // Stored as Docker stores links; a missing target fails create.
    daemon.ok(&[
        "create",
        "--name",
        "linker",
        "--link",
        "db:database",
        "busybox",
        "true",
    ]);
    assert_eq!(
        inspect(&daemon, "{{json .HostConfig.Links}}", "linker"),
        r#"["/db:/linker/database"]"#
    );
    let (_, stderr) = daemon.fails(&["create", "--link", "nosuch:x", "busybox", "true"]);
    assert!(stderr.contains("nosuch"), "{stderr}");
    stop_and_check_clean(&mut daemon);
}

#[test]
fn a_host_port_in_use_fails_the_start_and_leaves_nothing_behind() {
    let mut daemon = daemon();
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let (code, stderr) = daemon.fails(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{taken}:80"),
        "httpd:2.4",
    ]);
    assert_eq!(code, 125, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Error starting userland proxy: listen tcp4 0.0.0.0:{taken}: bind: address already in use"
        )),
        "{stderr}"
    );
    assert_eq!(inspect(&daemon, "{{.State.Status}}", "clash"), "created");
    assert_eq!(links_on(&daemon.net.bridge()), Vec::<String>::new());
    assert!(!table_text(&daemon.net.bridge()).contains(&format!("dport {taken}")));
    let netns: Vec<_> = std::fs::read_dir(daemon.root.join("exec/netns"))
        .unwrap()
        .collect();
    assert!(netns.is_empty(), "{netns:?}");
    drop(holder);

    // A port another container publishes: Docker's "already allocated".
    let port = free_port();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "-p",
        &format!("{port}:80"),
        "httpd:2.4",
    ]);
    let (_, stderr) = daemon.fails(&[
        "run",
        "-d",
        "--name",
        "second",
        "-p",
        &format!("{port}:80"),
        "httpd:2.4",
    ]);
    assert!(
        stderr.contains(&format!(
            "Bind for 0.0.0.0:{port} failed: port is already allocated"
        )),
        "{stderr}"
    );
    assert!(wait_http(addr("127.0.0.1", port)).contains("It works!"));
    assert_eq!(links_on(&daemon.net.bridge()).len(), 1);
    stop_and_check_clean(&mut daemon);
}

#[test]
fn none_has_only_loopback_and_host_shares_the_hosts_network() {
    let mut daemon = daemon();
    let links = in_container_ok(&daemon, Some("none"), "ip -o link");
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains(": lo:"), "{links}");
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "alone",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(
        inspect(
            &daemon,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            "alone"
        ),
        "none"
    );
    assert_eq!(inspect(&daemon, "{{.NetworkSettings.IPAddress}}", "alone"), "");

    // The host's namespace: the daemon's bridge is one of its links.
    let host_links = in_container_ok(&daemon, Some("host"), "ip -o link");
    assert!(
        host_links.contains(&format!(": {}:", daemon.net.bridge())),
        "{host_links}"
    );
    stop_and_check_clean(&mut daemon);
}

/// Every JSON path of a value, with the kind of its leaf (`Ports/80/tcp[]/HostIp: string`).
fn shape(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if map.is_empty() {
                out.insert(format!("{prefix}: {{}}"));
            }
            for (k, v) in map {
                shape(v, &format!("{prefix}/{k}"), out);
            }
        }
        Value::Array(items) => match items.first() {
            Some(first) => shape(first, &format!("{prefix}[]"), out),
            None => {
                out.insert(format!("{prefix}: []"));
            }
        },
        Value::String(s) => {
            out.insert(format!(
                "{prefix}: {}",
                if s.is_empty() { "\"\"" } else { "string" }
            ));
        }
        Value::Number(n) => {
            out.insert(format!(
                "{prefix}: {}",
                if n.as_i64() == Some(0) { "0" } else { "number" }
            ));
        }
        Value::Bool(b) => {
            out.insert(format!("{prefix}: {b}"));
        }
        Value::Null => {
            out.insert(format!("{prefix}: null"));
        }
    }
}

/// Removes the Docker container on drop, even when an assertion fails.
struct DockerContainer(String);

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn network_settings_have_dockers_shape_while_running_and_after_exit() {
    let mut daemon = daemon();
    docker_ok(&["load", "-i", stand_in_images().to_str().unwrap()]);
    let name = unique_name("berth-net-shape");
    let _guard = DockerContainer(name.clone());
    let (ours, theirs) = (free_port().to_string(), free_port().to_string());
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &format!("{ours}:80"),
        "httpd:2.4",
    ]);
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        &format!("{theirs}:80"),
        "httpd:2.4",
    ]);
    let settings = |json: &str| -> BTreeSet<String> {
        let value: Value = serde_json::from_str(json).unwrap();
        let mut out = BTreeSet::new();
        shape(&value, "", &mut out);
        out
    };
    let berth = settings(&inspect(&daemon, "{{json .NetworkSettings}}", "web"));
    let docker_running = docker_ok(&["inspect", "-f", "{{json .NetworkSettings}}", &name]);
    assert_eq!(berth, settings(docker_running.trim()));

    daemon.ok(&["stop", "-t", "1", "web"]);
    docker_ok(&["stop", "-t", "1", &name]);
    let berth = settings(&inspect(&daemon, "{{json .NetworkSettings}}", "web"));
    let docker_stopped = docker_ok(&["inspect", "-f", "{{json .NetworkSettings}}", &name]);
    assert_eq!(berth, settings(docker_stopped.trim()));
    stop_and_check_clean(&mut daemon);
}
