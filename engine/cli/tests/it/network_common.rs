//! Helpers of the network tests: HTTP from the host, commands in containers, and the check
//! that a daemon leaves nothing of its network in the kernel.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::TestDaemon;

/// A daemon with the lab images.
pub fn daemon() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

/// A TCP port free on every address right now (the kernel's pick).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind a free port");
    listener.local_addr().expect("a bound address").port()
}

/// `GET /` over HTTP/1.0; the whole answer.
pub fn http_get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET / HTTP/1.0\r\nHost: berth\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::other("empty answer"));
    }
    Ok(answer)
}

/// `GET /` until the server answers (it may still be starting); panics after 20 s.
pub fn wait_http(addr: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match http_get(addr) {
            Ok(answer) => return answer,
            Err(e) if Instant::now() >= deadline => panic!("no HTTP answer from {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// `berth inspect -f FORMAT NAME`, trimmed.
pub fn inspect(daemon: &TestDaemon, format: &str, name: &str) -> String {
    daemon.ok(&["inspect", "-f", format, name]).trim().to_owned()
}

/// `run --rm [--network NET] busybox sh -c SCRIPT`.
pub fn in_container(daemon: &TestDaemon, network: Option<&str>, script: &str) -> Output {
    let mut args = vec!["run", "--rm"];
    if let Some(network) = network {
        args.extend(["--network", network]);
    }
    args.extend(["busybox", "sh", "-c", script]);
    daemon.output(&args)
}

/// Like [`in_container`], expecting success; stdout.
pub fn in_container_ok(daemon: &TestDaemon, network: Option<&str>, script: &str) -> String {
    let output = in_container(daemon, network, script);
    assert!(
        output.status.success(),
        "{script:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `wget` inside a container until the server answers (busybox's wget with `timeout`, as a
/// host name with `wget -T` crashes busybox 1.35).
pub fn wget_script(url: &str) -> String {
    format!("for i in $(seq 50); do timeout 3 wget -qO- {url} && exit 0; sleep 0.1; done; exit 1")
}

/// One `wget` that gives up after 3 s. It must not be the shell's last command: `sh -c` would
/// exec it as the container's PID 1, which ignores timeout's SIGTERM.
pub fn wget_once(url: &str) -> String {
    format!("timeout 3 wget -qO- {url}; exit $?")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .expect("run a host tool")
}

/// The links plugged into `bridge`.
pub fn links_on(bridge: &str) -> Vec<String> {
    let out = run("ip", &["-o", "link", "show", "master", bridge]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect()
}

/// Whether nftables has one of berth's tables for `bridge` (`ip` or `ip6`).
pub fn has_table(bridge: &str) -> bool {
    ["ip", "ip6"].iter().any(|family| {
        run("nft", &["list", "table", family, &format!("berth-{bridge}")])
            .status
            .success()
    })
}

/// The nftables table berthd keeps for `bridge`, as text.
pub fn table_text(bridge: &str) -> String {
    String::from_utf8_lossy(&run("nft", &["list", "table", "ip", &format!("berth-{bridge}")]).stdout)
        .into_owned()
}

/// Docker's DOCKER-USER chain, when Docker runs here.
pub fn docker_user_chain() -> Option<String> {
    let out = run("nft", &["list", "chain", "ip", "filter", "DOCKER-USER"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Remove every container and user network, stop the daemon, and check that nothing of its
/// network is left: no bridge, no veth, no namespace, no nftables table, no DOCKER-USER rule.
/// (The daemon keeps its network slot until it is dropped, so no other test reuses the names.)
pub fn stop_and_check_clean(daemon: &mut TestDaemon) {
    daemon.remove_all_containers();
    let networks = daemon.ok(&["network", "ls", "-q", "--filter", "type=custom"]);
    for id in networks.split_whitespace() {
        daemon.ok(&["network", "rm", id]);
    }
    let bridge = daemon.net.bridge();
    // An exited container's veths go in the background (or with its namespace): soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !links_on(&bridge).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(links_on(&bridge), Vec::<String>::new(), "veths left on {bridge}");
    daemon.stop();
    assert!(
        !run("ip", &["link", "show", &bridge]).status.success(),
        "bridge {bridge} left after the daemon stopped"
    );
    assert!(!has_table(&bridge), "nftables table berth-{bridge} left");
    if let Some(chain) = docker_user_chain() {
        assert!(
            !chain.contains(&format!("\"{bridge}\"")),
            "DOCKER-USER keeps rules for {bridge}: {chain}"
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root = format!("{}/", daemon.root.display());
    assert!(
        !mountinfo.lines().any(|l| l.contains(&root)),
        "mounts left under {root}"
    );
    let netns_dir = daemon.root.join("exec/netns");
    let left: Vec<_> = std::fs::read_dir(&netns_dir)
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(
        left.is_empty(),
        "namespaces left in {}: {left:?}",
        netns_dir.display()
    );
}
