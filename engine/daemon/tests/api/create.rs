//! `POST /containers/create` and the start after it: what Docker refuses at create, at start,
//! or not at all — and that a refusal leaves no container behind.

use serde_json::json;

use crate::support::{
    OnDocker, TestDaemon, assert_alike, assert_alive, berth, container_ids, create, docker, refused_alike,
};

fn busybox(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"Image": "busybox", "Cmd": ["sleep", "30"]});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            body.insert(key.clone(), value.clone());
        }
    }
    body
}

#[test]
fn refused_at_create_with_dockers_words_and_nothing_made() {
    let mut daemon = TestDaemon::start();
    let cases = [
        json!({"StopSignal": "SIGBOGUS"}),
        json!({"StopSignal": "0"}),
        json!({"HostConfig": {"Memory": -5}}),
        json!({"HostConfig": {"CpuPeriod": -3}}),
        json!({"HostConfig": {"CpuQuota": 500}}),
        json!({"HostConfig": {"ShmSize": -1}}),
        json!({"HostConfig": {"MemorySwappiness": 1000}}),
        json!({"HostConfig": {"MemorySwap": 100_000_000}}),
        json!({"HostConfig": {"OomScoreAdj": 5000}}),
        json!({"WorkingDir": "rel/dir"}),
        json!({"HostConfig": {"ExtraHosts": ["nocolon"]}}),
        json!({"HostConfig": {"ExtraHosts": ["evil:1.2.3.4\n6.6.6.6 bank"]}}),
        json!({"HostConfig": {"ExtraHosts": [":1.2.3.4"]}}),
        json!({"Env": ["=foo"]}),
        json!({"HostConfig": {"AutoRemove": true, "RestartPolicy": {"Name": "always"}}}),
        json!({"HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 2}}}),
        // Several mistakes: Docker reports the first it checks.
        json!({"WorkingDir": "rel", "StopSignal": "SIGBOGUS", "HostConfig": {"Memory": -5}}),
        // The request is checked before its image is looked for.
        json!({"Image": "berth-no-such-image", "WorkingDir": "rel"}),
    ];
    for case in cases {
        let body = busybox(case).to_string();
        let answer = refused_alike(&mut daemon, "POST", "/containers/create", body.as_bytes());
        assert_eq!(answer.status, 400, "{body}");
    }
    assert_eq!(
        container_ids(&daemon),
        Vec::<String>::new(),
        "a refused create left a container"
    );
}

/// Docker 20.10 takes these at create and at start (they only reach the container's own
/// /etc/hosts, resolv.conf and hostname): so does berthd, and it stays well.
#[test]
fn accepted_where_docker_accepts_them() {
    let mut daemon = TestDaemon::start();
    daemon.load_lab_images();
    let mut made = OnDocker::new();
    let cases = [
        json!({"HostConfig": {"Dns": ["not-an-ip"], "NetworkMode": "none"}}),
        json!({"HostConfig": {"DnsOptions": ["a\nb"], "NetworkMode": "none"}}),
        json!({"Hostname": "a\nb", "HostConfig": {"NetworkMode": "none"}}),
        json!({"HostConfig": {"ExtraHosts": ["a:::1", "b:host-gateway"], "NetworkMode": "none"}}),
        json!({"StopSignal": "RTMIN+3", "HostConfig": {"NetworkMode": "none"}}),
    ];
    for case in cases {
        let body = busybox(case).to_string();
        let theirs = docker("POST", "/containers/create", body.as_bytes());
        if let Some(id) = theirs.json()["Id"].as_str() {
            made.container(id);
        }
        let ours = berth(&daemon, "POST", "/containers/create", body.as_bytes());
        assert_alike(&body, &ours, &theirs);
        assert_eq!(ours.status, 201, "{body}");
        let id = ours.json()["Id"].as_str().unwrap_or_default().to_owned();
        let started = berth(&daemon, "POST", &format!("/containers/{id}/start"), b"");
        assert_eq!(started.status, 204, "{body}: {}", started.text());
        assert_alive(&mut daemon);
    }
}

/// A container whose stop signal the kernel lacks can still be stopped (Docker falls back to
/// SIGTERM), and `stop` answers as for any other.
#[test]
fn an_unknown_numeric_stop_signal_still_stops() {
    let mut daemon = TestDaemon::start();
    daemon.load_lab_images();
    let body = busybox(json!({"StopSignal": "999", "HostConfig": {"NetworkMode": "none"}}));
    let id = create(&daemon, "odd-signal", &body);
    assert_eq!(
        berth(&daemon, "POST", &format!("/containers/{id}/start"), b"").status,
        204
    );
    let stopped = berth(&daemon, "POST", &format!("/containers/{id}/stop?t=1"), b"");
    assert_eq!(stopped.status, 204, "{}", stopped.text());
    let state = berth(&daemon, "GET", &format!("/containers/{id}/json"), b"").json();
    assert_eq!(state["State"]["Running"], false);
    assert_alive(&mut daemon);
}

/// `Memory: i64::MAX` has no double for its swap: Docker accepts it (and shows Go's wrapped
/// -2); berthd accepts it without overflowing, keeps the swap at the most there is, and runs it.
#[test]
fn the_largest_memory_limit_does_not_overflow() {
    let mut daemon = TestDaemon::start();
    daemon.load_lab_images();
    let mut made = OnDocker::new();
    let body = busybox(json!({"HostConfig": {"Memory": i64::MAX, "NetworkMode": "none"}})).to_string();
    let theirs = docker("POST", "/containers/create", body.as_bytes());
    if let Some(id) = theirs.json()["Id"].as_str() {
        made.container(id);
    }
    let ours = berth(&daemon, "POST", "/containers/create", body.as_bytes());
    assert_alike("create", &ours, &theirs);
    let id = ours.json()["Id"].as_str().unwrap_or_default().to_owned();
    let inspect = berth(&daemon, "GET", &format!("/containers/{id}/json"), b"").json();
    assert_eq!(inspect["HostConfig"]["Memory"], i64::MAX);
    assert_eq!(inspect["HostConfig"]["MemorySwap"], i64::MAX);
    let started = berth(&daemon, "POST", &format!("/containers/{id}/start"), b"");
    assert_eq!(started.status, 204, "{}", started.text());
    assert_alive(&mut daemon);
}
