//! The Debian-built images at work, each test on its own private berthd (and one on a private
//! Docker 20.10). They need root, the engine's binaries and the archive, which CI builds before
//! the tests:
//!
//! ```text
//! cargo build -p berthd -p berth -p berth-shim -p berth-runtime
//! cargo xtask images
//! cargo test -p xtask debian
//! ```
//!
//! `debian_builds_are_reproducible` builds the whole set twice more (about twice the build time)
//! and is ignored: `cargo test -p xtask -- --ignored debian_builds_are_reproducible`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::daemon::{Daemon, Network};

/// One network per test (they run in parallel), apart from the build daemon's and the labs':
/// tests may run while either does.
const NETWORKS: [Network; 4] = [
    Network {
        bridge: "berth-imgt0",
        bip: "10.75.0.1/24",
        pool: "base=10.75.128.0/20,size=24",
    },
    Network {
        bridge: "berth-imgt1",
        bip: "10.75.1.1/24",
        pool: "base=10.75.144.0/20,size=24",
    },
    Network {
        bridge: "berth-imgt2",
        bip: "10.75.2.1/24",
        pool: "base=10.75.160.0/20,size=24",
    },
    Network {
        bridge: "berth-imgt3",
        bip: "10.75.3.1/24",
        pool: "base=10.75.176.0/20,size=24",
    },
];

/// target/debug, where cargo put berthd and berth beside this test binary's deps/ directory.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("berthd").exists() && dir.join("berth").exists(),
        "build the engine first: cargo build -p berthd -p berth -p berth-shim -p berth-runtime"
    );
    dir
}

fn archive() -> PathBuf {
    let path = crate::util::target_dir().unwrap().join(super::ARCHIVE);
    assert!(path.exists(), "build the images first: cargo xtask images");
    path
}

/// A private daemon on `network` with the archive loaded.
fn daemon_with_images(name: &str, network: Network) -> Daemon {
    let daemon = Daemon::start(&bin_dir(), name, network).unwrap();
    daemon
        .output(&["load", "-i", archive().to_str().unwrap()])
        .unwrap();
    daemon
}

/// A free TCP port on 127.0.0.1 (the kernel's pick, released at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` on 127.0.0.1:port, retried until it answers or `limit` passes: status line and body.
fn get(port: u16, limit: Duration) -> Option<String> {
    get_path(port, "/", limit)
}

/// `GET path` on 127.0.0.1:port, retried until it answers or `limit` passes.
fn get_path(port: u16, path: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
                && !response.is_empty()
            {
                return Some(response);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// A site directory with one page whose text is `marker`.
fn site(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), format!("<h1>{marker}</h1>\n")).unwrap();
    // The servers' workers run as www-data: the page must be readable by others.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Run `image` detached with a site mounted at `docroot`, published on a free port, check that
/// it serves the page and logs the request on its output, and that its stop signal stops it.
fn serves_mounted_site(daemon: &Daemon, image: &str, docroot: &str) {
    let marker = format!("served by {image}");
    let site = site(&marker);
    let port = free_port();
    let mount = format!("{}:{docroot}:ro", site.path().display());
    let publish = format!("127.0.0.1:{port}:80");
    let id = daemon
        .output(&["run", "-d", "-p", &publish, "-v", &mount, image])
        .unwrap();
    let id = id.trim();
    let response = get(port, Duration::from_secs(30));
    // The access log line may follow the response by a moment.
    std::thread::sleep(Duration::from_millis(300));
    let logs = daemon.output(&["logs", id]).unwrap_or_default();
    let response = response.unwrap_or_else(|| panic!("{image} did not answer on {port}; logs:\n{logs}"));
    assert!(response.starts_with("HTTP/1.1 200"), "{image}: {response}");
    assert!(
        response.contains(&marker),
        "{image} did not serve the mounted page: {response}"
    );
    assert!(
        logs.contains("\"GET / HTTP/1.0\" 200"),
        "{image} logs requests to stdout: {logs}"
    );
    // Its stop signal stops it gracefully, well before berthd's 10 s kill.
    let stopping = Instant::now();
    daemon.output(&["stop", id]).unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{image} ignored its stop signal"
    );
}

#[test]
fn debian_httpd_and_nginx_serve_a_mounted_site() {
    let daemon = daemon_with_images("berth-imgtest-web", NETWORKS[0]);
    serves_mounted_site(&daemon, "httpd:2.4", "/usr/local/apache2/htdocs");
    let version = daemon
        .output(&["run", "--rm", "httpd:2.4", "bash", "-c", "httpd -v"])
        .unwrap();
    assert!(
        version.contains("Apache/2.4."),
        "bash and Apache's httpd -v: {version}"
    );

    serves_mounted_site(&daemon, "nginx:latest", "/usr/share/nginx/html");
    let conf = daemon
        .output(&["run", "--rm", "nginx", "cat", "/etc/nginx/conf.d/default.conf"])
        .unwrap();
    assert!(conf.contains("root   /usr/share/nginx/html;"), "{conf}");
}

/// `psql -c sql` in the container, as user postgres over the local socket.
/// `exec <container> psql … -c <sql>`: one query as the superuser, bare output, stop on error.
fn psql_args<'a>(container: &'a str, sql: &'a str) -> [&'a str; 10] {
    [
        "exec",
        container,
        "psql",
        "-U",
        "postgres",
        "-tA",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
    ]
}

fn psql(daemon: &Daemon, container: &str, sql: &str) -> anyhow::Result<String> {
    daemon.output(&psql_args(container, sql))
}

/// Wait until the final server in `container` answers. The first start runs a private server
/// for initdb's follow-up (socket only) and stops it: only the final one listens on TCP, so
/// readiness is asked over 127.0.0.1.
fn wait_for_postgres(daemon: &Daemon, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ready = daemon.output(&["exec", container, "pg_isready", "-q", "-h", "127.0.0.1"]);
        match ready {
            Ok(_) => break,
            Err(error) if Instant::now() > deadline => {
                let logs = daemon.output(&["logs", container]).unwrap_or_default();
                panic!("postgres did not answer: {error}\n{logs}");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
    assert_eq!(psql(daemon, container, "select 1").unwrap().trim(), "1");
}

#[test]
fn debian_postgres_initialises_its_volume_and_keeps_data() {
    let daemon = daemon_with_images("berth-imgtest-pg", NETWORKS[1]);
    let start = |name: &str| {
        daemon
            .output(&[
                "run",
                "-d",
                "--name",
                name,
                "-e",
                "POSTGRES_PASSWORD=secret",
                "-e",
                "POSTGRES_DB=shop",
                "-v",
                "pgdata:/var/lib/postgresql/data",
                "postgres:12.1",
            ])
            .unwrap();
        wait_for_postgres(&daemon, name);
    };

    start("pg1");
    let status = daemon.output(&["exec", "pg1", "cat", "/proc/1/status"]).unwrap();
    assert!(
        status.lines().any(|line| line.starts_with("Uid:\t999\t")),
        "the server runs as postgres (999): {status}"
    );
    let databases = psql(&daemon, "pg1", "select datname from pg_database order by 1").unwrap();
    assert!(
        databases.lines().any(|db| db == "shop"),
        "POSTGRES_DB made: {databases}"
    );
    psql(
        &daemon,
        "pg1",
        "create table kept (v text); insert into kept values ('across containers')",
    )
    .unwrap();
    daemon.output(&["rm", "-f", "pg1"]).unwrap();

    // The replacement finds an initialised volume: no initdb, the row is there.
    start("pg2");
    let row = psql(&daemon, "pg2", "select v from kept").unwrap();
    assert_eq!(row.trim(), "across containers");
    let logs = daemon.output(&["logs", "pg2"]).unwrap();
    assert!(
        !logs.contains("initialising"),
        "the second container ran initdb again: {logs}"
    );
    // A password is required over the network, as the official image sets pg_hba.conf up.
    let hba = daemon
        .output(&[
            "exec",
            "pg2",
            "tail",
            "-n",
            "1",
            "/var/lib/postgresql/data/pg_hba.conf",
        ])
        .unwrap();
    assert_eq!(hba.trim(), "host all all all scram-sha-256");
    daemon.output(&["rm", "-f", "pg2"]).unwrap();

    // Without a password it starts as postgres:12.1 did (the course's `docker run -d --name db1
    // postgres:12.1`): trusting every connection, after a warning on its output.
    daemon
        .output(&["run", "-d", "--name", "pg3", "postgres:12.1"])
        .unwrap();
    wait_for_postgres(&daemon, "pg3");
    let over_tcp = daemon
        .output(&[
            "exec",
            "pg3",
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-At",
            "-c",
            "select 42",
        ])
        .unwrap();
    assert_eq!(over_tcp.trim(), "42", "no password asked");
    let logs = daemon.berth().args(["logs", "pg3"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&logs.stderr).contains("No password has been set"),
        "{logs:?}"
    );
    daemon.output(&["rm", "-f", "pg3"]).unwrap();
}

/// The image ids of an archive, by name.
fn ids(archive: &Path) -> Vec<(String, String)> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            let manifest: serde_json::Value = serde_json::from_reader(&mut entry).unwrap();
            let mut ids: Vec<(String, String)> = manifest
                .as_array()
                .unwrap()
                .iter()
                .map(|image| {
                    (
                        image["RepoTags"][0].as_str().unwrap().to_owned(),
                        image["Config"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            ids.sort();
            return ids;
        }
    }
    panic!("no manifest.json in {}", archive.display());
}

#[test]
#[ignore = "needs root, mmdebstrap, Debian's mirror; builds every image twice"]
fn debian_builds_are_reproducible() {
    let busybox =
        crate::images::busybox::Busybox::locate(&crate::images::busybox::Busybox::default_path()).unwrap();
    let dir = tempfile::tempdir_in(crate::util::target_dir().unwrap()).unwrap();
    let build = |name: &str| {
        let output = dir.path().join(name);
        super::run(super::Options {
            output: Some(output.clone()),
            rebuild: true,
            source_date_epoch: None,
            busybox: &busybox,
            repository_prefix: "",
            bin: Some(bin_dir()),
        })
        .unwrap();
        output
    };
    let first = build("first.tar");
    let second = build("second.tar");
    assert_eq!(ids(&first), ids(&second));
    let digest = |path: &Path| crate::images::digest::Digest::of(&std::fs::read(path).unwrap());
    assert_eq!(
        digest(&first),
        digest(&second),
        "the archives are byte for byte the same"
    );
}

#[test]
fn debian_python_and_redis_work() {
    let daemon = daemon_with_images("berth-imgtest-py", NETWORKS[2]);
    let version = daemon
        .output(&[
            "run",
            "--rm",
            "python:3",
            "python",
            "-c",
            "import sys; print(sys.version_info[0])",
        ])
        .unwrap();
    assert_eq!(version.trim(), "3");
    // pip is there and may install system-wide (no PEP 668 marker), as in Docker Hub's image.
    let pip = daemon
        .output(&["run", "--rm", "python:3", "pip", "--version"])
        .unwrap();
    assert!(pip.starts_with("pip "), "{pip}");
    let marker = daemon
        .output(&[
            "run",
            "--rm",
            "python:3",
            "sh",
            "-c",
            "ls /usr/lib/python3.*/EXTERNALLY-MANAGED 2>/dev/null | wc -l",
        ])
        .unwrap();
    assert_eq!(marker.trim(), "0", "pip would refuse to install");

    // redis answers PING from another container, over the daemon's bridge.
    daemon.output(&["network", "create", "cache-net"]).unwrap();
    daemon
        .output(&["run", "-d", "--name", "cache", "--network", "cache-net", "redis"])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pong = daemon.output(&[
            "run",
            "--rm",
            "--network",
            "cache-net",
            "redis",
            "redis-cli",
            "-h",
            "cache",
            "ping",
        ]);
        match pong {
            Ok(out) if out.trim() == "PONG" => break,
            other if Instant::now() > deadline => panic!("redis did not answer: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
    let status = daemon
        .output(&["exec", "cache", "cat", "/proc/1/status"])
        .unwrap();
    assert!(
        status.lines().any(|line| line.starts_with("Uid:\t999\t")),
        "the server runs as redis (999): {status}"
    );
    daemon.output(&["rm", "-f", "cache"]).unwrap();
    daemon.output(&["network", "rm", "cache-net"]).unwrap();
}

/// The private dockerd's bridge (berth's prefix: the leak check looks for it).
const PRIVATE_DOCKER_BRIDGE: &str = "berth-imgdk0";

/// A private Docker 20.10 daemon on its own roots and socket, and on a bridge of its own, so it
/// never meets the machine's docker0 or a CI dockerd; stopped and removed when dropped.
///
/// Not `--bridge none`: a dockerd started so deletes the host's `docker0` link, the one the
/// machine's Docker (CI's, which the other tests compare with) has its containers on.
struct PrivateDockerd {
    child: std::process::Child,
    root: PathBuf,
    exec_root: PathBuf,
    host: String,
}

impl PrivateDockerd {
    fn start() -> PrivateDockerd {
        // An empty bridge: dockerd's `--bridge` takes one that exists; its containers here run
        // with `--network none` and never join it.
        let _ = std::process::Command::new("ip")
            .args(["link", "del", PRIVATE_DOCKER_BRIDGE])
            .stderr(std::process::Stdio::null())
            .status();
        let added = std::process::Command::new("ip")
            .args(["link", "add", PRIVATE_DOCKER_BRIDGE, "type", "bridge"])
            .status()
            .expect("run ip (apt-get install iproute2)");
        assert!(added.success(), "ip link add {PRIVATE_DOCKER_BRIDGE} type bridge");
        let id = std::process::id();
        let root = PathBuf::from(format!("/var/lib/berth-imgtest-docker-{id}"));
        let exec_root = PathBuf::from(format!("/run/berth-imgtest-docker-{id}"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&exec_root).unwrap();
        let socket = exec_root.join("docker.sock");
        let host = format!("unix://{}", socket.display());
        let child = std::process::Command::new("dockerd")
            .arg("--data-root")
            .arg(&root)
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(exec_root.join("docker.pid"))
            .args([
                "-H",
                &host,
                "--bridge",
                PRIVATE_DOCKER_BRIDGE,
                "--iptables=false",
                "--ip6tables=false",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start dockerd (apt-get install docker.io)");
        let daemon = PrivateDockerd {
            child,
            root,
            exec_root,
            host,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while daemon.docker(&["version"]).is_err() {
            assert!(Instant::now() < deadline, "dockerd did not answer within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        daemon
    }

    fn docker(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = std::process::Command::new("docker")
            .args(["-H", &self.host])
            .args(args)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if let Ok(ids) = self.docker(&["ps", "-aq"]) {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = self.docker(&[&["rm", "-f"], ids.as_slice()].concat());
            }
        }
        // SAFETY: kill with our own child's pid and a valid signal number.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", PRIVATE_DOCKER_BRIDGE])
            .status();
        let _ = std::fs::remove_dir_all(&self.exec_root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn debian_images_work_on_docker() {
    let docker = PrivateDockerd::start();
    docker
        .docker(&["load", "-i", archive().to_str().unwrap()])
        .unwrap();
    // No bridge: each server is asked from inside its own container (bash's /dev/tcp).
    let site = site("served on docker");
    for (name, image, docroot) in [
        ("web", "httpd:2.4", "/usr/local/apache2/htdocs"),
        ("proxy", "nginx", "/usr/share/nginx/html"),
    ] {
        let mount = format!("{}:{docroot}:ro", site.path().display());
        docker
            .docker(&[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "none",
                "-v",
                &mount,
                image,
            ])
            .unwrap();
        let get = "exec 3<>/dev/tcp/127.0.0.1/80 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3";
        let deadline = Instant::now() + Duration::from_secs(30);
        let response = loop {
            match docker.docker(&["exec", name, "bash", "-c", get]) {
                Ok(response) if response.starts_with("HTTP/1.1 200") => break response,
                other if Instant::now() > deadline => panic!("{image} on docker: {other:?}"),
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        };
        assert!(response.contains("served on docker"), "{image}: {response}");
    }

    let start = |name: &str| {
        docker
            .docker(&[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "none",
                "-e",
                "POSTGRES_PASSWORD=secret",
                "-v",
                "pgdata:/var/lib/postgresql/data",
                "postgres:12.1",
            ])
            .unwrap();
    };
    let psql = |name: &str, sql: &str| {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match docker.docker(&psql_args(name, sql)) {
                Ok(out) => break out,
                Err(error) if Instant::now() > deadline => panic!("postgres on docker: {error}"),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    };
    let ready = |name: &str| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while docker
            .docker(&["exec", name, "pg_isready", "-q", "-h", "127.0.0.1"])
            .is_err()
        {
            assert!(Instant::now() < deadline, "postgres on docker did not get ready");
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    start("pg1");
    ready("pg1");
    psql(
        "pg1",
        "create table kept (v text); insert into kept values ('on docker')",
    );
    docker.docker(&["rm", "-f", "pg1"]).unwrap();
    start("pg2");
    ready("pg2");
    assert_eq!(psql("pg2", "select v from kept").trim(), "on docker");

    docker
        .docker(&["run", "-d", "--name", "cache", "--network", "none", "redis"])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while docker
        .docker(&["exec", "cache", "redis-cli", "ping"])
        .map(|out| out.trim().to_owned())
        .ok()
        != Some("PONG".to_owned())
    {
        assert!(Instant::now() < deadline, "redis on docker did not answer PING");
        std::thread::sleep(Duration::from_millis(300));
    }

    let python = docker
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "python:3",
            "python",
            "-c",
            "print(6 * 7)",
        ])
        .unwrap();
    assert_eq!(python.trim(), "42");

    // Prometheus scrapes itself: asked from inside with the image's own promtool.
    docker
        .docker(&[
            "run",
            "-d",
            "--name",
            "prom",
            "--network",
            "none",
            "prom/prometheus",
        ])
        .unwrap();
    let query = [
        "exec",
        "prom",
        "promtool",
        "query",
        "instant",
        "http://127.0.0.1:9090",
        "up{job=\"prometheus\"}",
    ];
    eventually(
        Duration::from_secs(60),
        "prometheus on docker scraping itself",
        || {
            docker
                .docker(&query)
                .ok()
                .filter(|answer| answer.contains("=> 1 @"))
        },
    );
}

/// `curl` on the host: the method, URL and JSON body, answering the response body.
fn curl(method: &str, url: &str, body: Option<&str>) -> anyhow::Result<String> {
    let mut command = std::process::Command::new("curl");
    command.args([
        "--fail",
        "--silent",
        "--show-error",
        "--max-time",
        "5",
        "-X",
        method,
    ]);
    if let Some(body) = body {
        command.args(["-H", "Content-Type: application/json", "--data", body]);
    }
    let out = command.arg(url).output()?;
    anyhow::ensure!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Retry `probe` until it answers `Some` or `limit` passes.
fn eventually<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn debian_prometheus_scrapes_itself_and_alertmanager_takes_alerts() {
    let daemon = daemon_with_images("berth-imgtest-prom", NETWORKS[3]);

    let port = free_port();
    let publish = format!("127.0.0.1:{port}:9090");
    let prometheus = daemon
        .output(&["run", "-d", "-p", &publish, "prom/prometheus"])
        .unwrap();
    let user = daemon.output(&["exec", prometheus.trim(), "id", "-un"]).unwrap();
    assert_eq!(user.trim(), "nobody", "runs as the official image's user");
    // Its first scrape of itself (within one 15 s interval of the start) sets up{job="prometheus"} to 1.
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=up%7Bjob%3D%22prometheus%22%7D");
    eventually(Duration::from_secs(60), "prometheus scraping itself", || {
        let answer: serde_json::Value = serde_json::from_str(&curl("GET", &query, None).ok()?).ok()?;
        let value = answer.pointer("/data/result/0/value/1")?.as_str()?.to_owned();
        (value == "1").then_some(())
    });
    let targets = curl("GET", &format!("http://127.0.0.1:{port}/api/v1/targets"), None).unwrap();
    assert!(targets.contains("\"health\":\"up\""), "{targets}");

    let port = free_port();
    let publish = format!("127.0.0.1:{port}:9093");
    daemon
        .output(&["run", "-d", "-p", &publish, "prom/alertmanager"])
        .unwrap();
    let ready = eventually(Duration::from_secs(30), "alertmanager ready", || {
        get_path(port, "/-/ready", Duration::from_secs(1))
    });
    assert!(ready.starts_with("HTTP/1.0 200"), "{ready}");
    let alerts = format!("http://127.0.0.1:{port}/api/v2/alerts");
    curl(
        "POST",
        &alerts,
        Some(r#"[{"labels":{"alertname":"ContainerDown","severity":"critical"}}]"#),
    )
    .unwrap();
    let listed = eventually(Duration::from_secs(10), "the alert listed", || {
        curl("GET", &alerts, None)
            .ok()
            .filter(|listed| listed.contains("ContainerDown"))
    });
    assert!(listed.contains("\"state\":\"active\""), "{listed}");
}
