//! What every case needs: a berthd of its own, the real Docker, and comparisons of answers.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

pub use berth_testkit::{Answer, TestDaemon, docker_host, unique_name};

/// A request to the real Docker daemon (10 s to answer).
pub fn docker(method: &str, path: &str, body: &[u8]) -> Answer {
    berth_testkit::request(&docker_host(), method, path, body, Duration::from_secs(10)).unwrap_or_else(|e| {
        panic!("Docker did not answer {method} {path} ({e}): is dockerd running? CI starts it")
    })
}

/// A request to `daemon` (10 s to answer).
pub fn berth(daemon: &TestDaemon, method: &str, path: &str, body: &[u8]) -> Answer {
    daemon
        .request(method, path, body)
        .unwrap_or_else(|e| panic!("berthd did not answer {method} {path} ({e}): {}", daemon.log()))
}

/// The same request to both engines: the same status and message (Docker's words), and berthd
/// still alive and answering. Returns berthd's answer.
pub fn refused_alike(daemon: &mut TestDaemon, method: &str, path: &str, body: &[u8]) -> Answer {
    let theirs = docker(method, path, body);
    let ours = berth(daemon, method, path, body);
    assert_eq!(
        (ours.status, ours.message()),
        (theirs.status, theirs.message()),
        "{method} {path}: berthd answered {} {:?}, Docker {} {:?}",
        ours.status,
        ours.text(),
        theirs.status,
        theirs.text()
    );
    assert_alive(daemon);
    ours
}

/// berthd's process lives and answers `_ping`.
pub fn assert_alive(daemon: &mut TestDaemon) {
    assert!(daemon.alive(), "berthd died: {}", daemon.log());
    assert!(
        daemon.answers(),
        "berthd no longer answers _ping: {}",
        daemon.log()
    );
}

/// A query string value, percent-encoded as a client sends it.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Two answers alike: the same status and message (Docker's words). For requests whose paths
/// differ between the engines (an exec id, a container id), sent by the caller.
pub fn assert_alike(what: &str, ours: &Answer, theirs: &Answer) {
    assert_eq!(
        (ours.status, ours.message()),
        (theirs.status, theirs.message()),
        "{what}: berthd answered {} {:?}, Docker {} {:?}",
        ours.status,
        ours.text(),
        theirs.status,
        theirs.text()
    );
}

/// `filters={…}` as a client sends it.
pub fn filters(json: &str) -> String {
    format!("filters={}", encode(json))
}

/// The ids of every container `daemon` has (`ps -a`).
pub fn container_ids(daemon: &TestDaemon) -> Vec<String> {
    let listed = berth(daemon, "GET", "/containers/json?all=1", b"");
    listed
        .json()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Id"].as_str().map(str::to_owned))
        .collect()
}

/// Create a container on `daemon`, expecting success; returns its id.
pub fn create(daemon: &TestDaemon, name: &str, body: &serde_json::Value) -> String {
    let answer = berth(
        daemon,
        "POST",
        &format!("/containers/create?name={name}"),
        body.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 201, "create {name}: {}", answer.text());
    answer.json()["Id"].as_str().unwrap_or_default().to_owned()
}

/// Something made on the shared Docker daemon, removed when dropped (also when a test fails).
pub struct OnDocker {
    /// `DELETE` paths, run in order.
    pub removals: Vec<String>,
}

impl OnDocker {
    pub fn new() -> OnDocker {
        OnDocker { removals: Vec::new() }
    }

    /// Remove the container `id` (with its anonymous volumes) on drop.
    pub fn container(&mut self, id: &str) {
        self.removals.push(format!("/containers/{id}?force=1&v=1"));
    }

    /// Remove the network `id` on drop.
    pub fn network(&mut self, id: &str) {
        self.removals.push(format!("/networks/{id}"));
    }

    /// Remove the volume `name` on drop.
    pub fn volume(&mut self, name: &str) {
        self.removals.push(format!("/volumes/{name}?force=1"));
    }
}

impl Drop for OnDocker {
    fn drop(&mut self) {
        for path in &self.removals {
            let _ = berth_testkit::request(&docker_host(), "DELETE", path, b"", Duration::from_secs(20));
        }
    }
}

/// A bridge the test makes with `ip link` — someone else's, as far as berthd knows — deleted
/// when dropped. Its name starts with `berth` so the leak check knows it.
pub struct HostBridge(pub String);

impl HostBridge {
    pub fn new(prefix: &str) -> HostBridge {
        // A kernel link name has at most 15 bytes: `berth`, a letter, the pid, a counter.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("berth{prefix}{}x{n}", std::process::id() % 1_000_000);
        let status = std::process::Command::new("ip")
            .args(["link", "add", "name", &name, "type", "bridge"])
            .status()
            .expect("run ip");
        assert!(status.success(), "ip link add {name} failed");
        HostBridge(name)
    }

    /// Whether the link is still there.
    pub fn exists(&self) -> bool {
        link_exists(&self.0)
    }
}

impl Drop for HostBridge {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

/// Whether a network link of that name exists.
pub fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// An engine to send requests to: berthd or Docker, so one flow runs on both.
pub trait Engine {
    fn send(&self, method: &str, path: &str, body: &[u8]) -> Answer;
}

impl Engine for TestDaemon {
    fn send(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        berth(self, method, path, body)
    }
}

/// The shared Docker daemon.
pub struct Docker;

impl Engine for Docker {
    fn send(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        docker(method, path, body)
    }
}

/// What a container printed to stdout and stderr, once it has ended (Docker's multiplexed
/// log stream, frames unwrapped).
pub fn output_when_ended(engine: &dyn Engine, id: &str) -> String {
    engine.send("POST", &format!("/containers/{id}/wait"), b"");
    let logs = engine.send("GET", &format!("/containers/{id}/logs?stdout=1&stderr=1"), b"");
    let mut rest = logs.body.as_slice();
    let mut text = Vec::new();
    // Each frame: a stream byte, three zeros, a big-endian length, then the bytes.
    while let Some(Ok(length)) = rest.get(4..8).map(<[u8; 4]>::try_from) {
        let size = u32::from_be_bytes(length) as usize;
        let end = (8 + size).min(rest.len());
        text.extend_from_slice(rest.get(8..end).unwrap_or_default());
        rest = rest.get(end..).unwrap_or_default();
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Load the stand-in lab images into the shared Docker (once per test process): cases that make
/// containers there need its `busybox` (a CI's Docker starts empty).
pub fn docker_has_stand_in_images() {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        let archive = berth_testkit::stand_in_images();
        let out = berth_testkit::docker_ok(&["load", "-i", &archive.display().to_string()]);
        assert!(out.contains("busybox:latest"), "{out}");
    });
}

/// One container on each engine, made alike.
pub struct Pair<'a> {
    pub daemon: &'a TestDaemon,
    pub ours: String,
    pub theirs: String,
    /// The name both were given.
    pub name: String,
}

impl Pair<'_> {
    /// A container made from `body` on `daemon` and on Docker (removed there on drop of
    /// `on_docker`), both named `<prefix>-<unique>`.
    pub fn create<'a>(
        daemon: &'a TestDaemon,
        on_docker: &mut OnDocker,
        prefix: &str,
        body: &serde_json::Value,
    ) -> Pair<'a> {
        let name = unique_name(prefix);
        let theirs = docker(
            "POST",
            &format!("/containers/create?name={name}"),
            body.to_string().as_bytes(),
        );
        assert_eq!(theirs.status, 201, "{}", theirs.text());
        let theirs = theirs.json()["Id"].as_str().unwrap_or_default().to_owned();
        on_docker.container(&theirs);
        let ours = create(daemon, &name, body);
        Pair {
            daemon,
            ours,
            theirs,
            name,
        }
    }

    /// The same request to both (`{id}` in `path` is each engine's container id): the status
    /// and message of each, with the id written `ID`.
    pub fn send(&self, method: &str, path: &str, body: &serde_json::Value) -> [(u16, String); 2] {
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let answer = |engine: &dyn Engine, id: &str| {
            let answer = engine.send(method, &path.replace("{id}", id), &body);
            (answer.status, answer.message().replace(id, "ID"))
        };
        [answer(self.daemon, &self.ours), answer(&Docker, &self.theirs)]
    }

    /// Both answer `method path` alike; the status.
    pub fn alike(&self, method: &str, path: &str, body: &serde_json::Value) -> u16 {
        let [ours, theirs] = self.send(method, path, body);
        assert_eq!(ours, theirs, "{method} {path}: berthd, then Docker");
        ours.0
    }

    /// `State` of each container, as inspect shows it.
    pub fn states(&self) -> [serde_json::Value; 2] {
        let state = |engine: &dyn Engine, id: &str| {
            engine.send("GET", &format!("/containers/{id}/json"), b"").json()["State"].clone()
        };
        [state(self.daemon, &self.ours), state(&Docker, &self.theirs)]
    }
}
