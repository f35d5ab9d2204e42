//! `POST /containers/{id}/update` beside Docker: the same answers, the same HostConfig after,
//! and the same limits written into each container's cgroup while it runs (or is paused).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A cgroup file of the process `pid`, by controller (`memory`, `cpu`, `pids`), found through
/// `/proc/PID/cgroup` so it reads each engine's container alike; v2 names fall back to the
/// unified hierarchy.
fn cgroup_file(pid: i64, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let line = |wanted: &dyn Fn(&str) -> bool| {
        table.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            wanted(controllers).then(|| path.to_owned())
        })
    };
    let path = if let Some(path) = line(&|c| c.split(',').any(|c| c == controller)) {
        PathBuf::from("/sys/fs/cgroup")
            .join(controller)
            .join(path.trim_start_matches('/'))
            .join(v1_file)
    } else {
        let path = line(&|c| c.is_empty()).unwrap_or_default();
        let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .find(|root| std::path::Path::new(root).join("cgroup.controllers").exists())
            .unwrap_or("/sys/fs/cgroup");
        PathBuf::from(unified)
            .join(path.trim_start_matches('/'))
            .join(v2_file)
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_owned()
}

impl Pair<'_> {
    /// The same cgroup file of each engine's container: berthd's, then Docker's.
    fn cgroup(&self, controller: &str, v1_file: &str, v2_file: &str) -> [String; 2] {
        let [ours, theirs] = self.states();
        [
            cgroup_file(ours["Pid"].as_i64().unwrap_or(0), controller, v1_file, v2_file),
            cgroup_file(theirs["Pid"].as_i64().unwrap_or(0), controller, v1_file, v2_file),
        ]
    }

    /// The same HostConfig fields on both.
    fn assert_host_configs_alike(&self, keys: &[&str]) {
        let host = |engine: &dyn Engine, id: &str| {
            let config =
                engine.send("GET", &format!("/containers/{id}/json"), b"").json()["HostConfig"].clone();
            keys.iter()
                .map(|k| (k.to_string(), config[k].clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            host(self.daemon, &self.ours),
            host(&Docker, &self.theirs),
            "berthd, then Docker"
        );
    }

    /// Both answer an update alike, warnings included; the status.
    fn update_alike(&self, body: Value) -> u16 {
        let send = |engine: &dyn Engine, id: &str| {
            let answer = engine.send(
                "POST",
                &format!("/containers/{id}/update"),
                body.to_string().as_bytes(),
            );
            let warnings = if answer.status == 200 {
                answer.json()["Warnings"].clone()
            } else {
                Value::Null
            };
            (answer.status, answer.message().replace(id, "ID"), warnings)
        };
        let ours = send(self.daemon, &self.ours);
        let theirs = send(&Docker, &self.theirs);
        assert_eq!(ours, theirs, "update {body}: berthd, then Docker");
        ours.0
    }
}

#[test]
fn update_answers_and_limits_as_docker_does() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sleep", "1000"], "HostConfig": {"Memory": 64 << 20}});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-update", &body);
    let keys = [
        "Memory",
        "MemorySwap",
        "NanoCpus",
        "CpuShares",
        "CpuPeriod",
        "CpuQuota",
        "PidsLimit",
        "RestartPolicy",
        "BlkioWeight",
    ];

    // A created container takes the update into its record; its cgroup comes at start.
    assert_eq!(pair.update_alike(json!({"CpuShares": 512})), 200);
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 204);
    let [ours, theirs] = pair.cgroup("cpu", "cpu.shares", "cpu.weight");
    assert_eq!((ours.as_str(), theirs.as_str()), ("512", "512"));

    // Running: within the swap limit it applies at once; above it, Docker's conflict.
    assert_eq!(pair.update_alike(json!({"Memory": 32 << 20})), 200);
    let [ours, theirs] = pair.cgroup("memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!((ours.as_str(), theirs.as_str()), ("33554432", "33554432"));
    assert_eq!(pair.update_alike(json!({"Memory": 256 << 20})), 409);
    assert_eq!(pair.update_alike(json!({"Memory": 1000})), 400);
    assert_eq!(
        pair.update_alike(json!({"Memory": 256 << 20, "MemorySwap": 512 << 20})),
        200
    );
    let [ours, theirs] = pair.cgroup("memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!((ours.as_str(), theirs.as_str()), ("268435456", "268435456"));

    // CPUs, pids and the restart policy together; then what cannot mix with --cpus.
    let body = json!({
        "NanoCpus": 500_000_000,
        "PidsLimit": 50,
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}
    });
    assert_eq!(pair.update_alike(body), 200);
    let [ours, theirs] = pair.cgroup("cpu", "cpu.cfs_quota_us", "cpu.max");
    assert_eq!(ours, theirs);
    let [ours, theirs] = pair.cgroup("pids", "pids.max", "pids.max");
    assert_eq!((ours.as_str(), theirs.as_str()), ("50", "50"));
    assert_eq!(pair.update_alike(json!({"CpuPeriod": 50_000})), 409);
    assert_eq!(pair.update_alike(json!({"PidsLimit": 0})), 200);
    let [ours, theirs] = pair.cgroup("pids", "pids.max", "pids.max");
    assert_eq!((ours.as_str(), theirs.as_str()), ("max", "max"));
    assert_eq!(
        pair.update_alike(json!({"RestartPolicy": {"Name": "bogus"}})),
        400
    );
    let retry_without_failure = json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}});
    assert_eq!(pair.update_alike(retry_without_failure), 400);
    // A weight this host may not support: the same warning (or none) from both.
    assert_eq!(pair.update_alike(json!({"BlkioWeight": 300})), 200);
    pair.assert_host_configs_alike(&keys);

    // Paused: the limits still reach the frozen cgroup.
    assert_eq!(pair.alike("POST", "/containers/{id}/pause", &Value::Null), 204);
    assert_eq!(pair.update_alike(json!({"CpuShares": 256})), 200);
    let [ours, theirs] = pair.cgroup("cpu", "cpu.shares", "cpu.weight");
    assert_eq!((ours.as_str(), theirs.as_str()), ("256", "256"));
    assert_eq!(pair.alike("POST", "/containers/{id}/unpause", &Value::Null), 204);
    pair.assert_host_configs_alike(&keys);

    assert_eq!(
        pair.alike("POST", "/containers/nope-{id}/update", &json!({})),
        404
    );
    let events = berth(
        &daemon,
        "GET",
        &format!(
            "/events?since=0&until={}&{}",
            now(),
            filters(r#"{"event":["update"]}"#)
        ),
        b"",
    );
    // One event per update that succeeded.
    assert_eq!(events.text().lines().count(), 7, "{}", events.text());
    assert_alive(&mut daemon);
}

#[test]
fn an_updated_restart_policy_governs_the_next_exit() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; exit 3"], "HostConfig": {"AutoRemove": true}});
    let removed = Pair::create(&daemon, &mut on_docker, "berth-api-update-rm", &body);
    let always = json!({"RestartPolicy": {"Name": "always"}});
    assert_eq!(removed.update_alike(always), 409);

    let body = json!({"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; exit 3"]});
    let id = create(&daemon, &unique_name("berth-api-update-restart"), &body);
    assert_eq!(
        berth(&daemon, "POST", &format!("/containers/{id}/start"), b"").status,
        204
    );
    let policy = json!({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}});
    let answer = berth(
        &daemon,
        "POST",
        &format!("/containers/{id}/update"),
        policy.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    // Two restarts, then it stays exited with its code.
    let deadline = Instant::now() + Duration::from_secs(30);
    let state = loop {
        let inspect = berth(&daemon, "GET", &format!("/containers/{id}/json"), b"").json();
        if inspect["RestartCount"] == 2 && inspect["State"]["Status"] == "exited" {
            break inspect;
        }
        assert!(Instant::now() < deadline, "never restarted twice: {inspect}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state["State"]["ExitCode"], 3, "{state}");
    assert_alive(&mut daemon);
}

/// Seconds since the epoch, for `until`.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + 1)
}
