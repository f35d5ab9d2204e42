//! `POST /containers/create` and the start after it: what Docker refuses at create, at start,
//! or not at all — and that a refusal leaves no container behind.

use serde_json::json;

use crate::support::{
    Docker, Engine, OnDocker, TestDaemon, assert_alike, assert_alive, berth, container_ids, create, docker,
    docker_has_stand_in_images, output_when_ended, refused_alike,
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
        json!({"HostConfig": {"Runtime": "nosuch"}}),
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

/// The log driver and its options are checked once the image is found, as dockerd does.
#[test]
fn log_drivers_and_options_are_refused_as_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    // Docker looks for a `nosuch` plugin for some 15 s before it answers, too long to ask it
    // each time: its words, as Docker 20.10 gave them here.
    let body = busybox(json!({"HostConfig": {"LogConfig": {"Type": "nosuch"}}})).to_string();
    let answer = berth(&daemon, "POST", "/containers/create", body.as_bytes());
    assert_eq!(
        (answer.status, answer.message()),
        (
            400,
            "error looking up logging plugin nosuch: plugin \"nosuch\" not found".to_owned()
        )
    );
    let cases = [
        json!({"Type": "json-file", "Config": {"nosuchopt": "1"}}),
        json!({"Type": "", "Config": {"mode": "sometimes"}}),
        json!({"Config": {"max-buffer-size": "4m"}}),
    ];
    for case in cases {
        let body = busybox(json!({"HostConfig": {"LogConfig": case}})).to_string();
        let answer = refused_alike(&mut daemon, "POST", "/containers/create", body.as_bytes());
        assert_eq!(answer.status, 400, "{body}");
    }
    // A driver Docker has and berthd has not: refused, naming it (Docker would create).
    let body = busybox(json!({"HostConfig": {"LogConfig": {"Type": "syslog"}}})).to_string();
    let answer = berth(&daemon, "POST", "/containers/create", body.as_bytes());
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert!(
        answer.message().contains("syslog log driver is not supported"),
        "{}",
        answer.text()
    );
    // json-file with its own options, non-blocking with a buffer: created on both.
    let mut on_docker = OnDocker::new();
    let good = json!({"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3", "mode": "non-blocking", "max-buffer-size": "4m"}});
    let body = busybox(json!({"HostConfig": {"LogConfig": good}})).to_string();
    let theirs = docker("POST", "/containers/create", body.as_bytes());
    assert_eq!(theirs.status, 201, "{}", theirs.text());
    on_docker.container(theirs.json()["Id"].as_str().unwrap_or_default());
    let ours = berth(&daemon, "POST", "/containers/create", body.as_bytes());
    assert_eq!(ours.status, 201, "{}", ours.text());
    assert_eq!(
        container_ids(&daemon).len(),
        1,
        "a refused create left a container"
    );
}

/// Docker 20.10 takes these at create and at start (they only reach the container's own
/// /etc/hosts, resolv.conf and hostname): so does berthd, and it stays well.
#[test]
fn accepted_where_docker_accepts_them() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
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

/// `--volumes-from` a container that does not exist is the request's fault, as dockerd says
/// (400), not a missing image (a 404 from create sends the docker CLI off to pull the image);
/// and nothing is made.
#[test]
fn volumes_from_a_missing_container_is_a_bad_request() {
    let daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    for from in ["berth-no-such-container", "berth-no-such-container:ro"] {
        let body = busybox(json!({"HostConfig": {"VolumesFrom": [from]}})).to_string();
        let theirs = docker("POST", "/containers/create", body.as_bytes());
        let ours = berth(&daemon, "POST", "/containers/create", body.as_bytes());
        assert_eq!(theirs.status, 400, "{body}: {}", theirs.text());
        assert_alike(&body, &ours, &theirs);
        assert!(
            container_ids(&daemon).is_empty(),
            "a refused create left a container"
        );
    }
}

/// A container whose stop signal the kernel lacks can still be stopped (Docker falls back to
/// SIGTERM), and `stop` answers as for any other.
#[test]
fn an_unknown_numeric_stop_signal_still_stops() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
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
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
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

/// Create (expecting 201) and start a container on `engine`; returns its id and the start's
/// answer. The container is removed from Docker when `made` drops.
fn create_and_start(
    engine: &dyn Engine,
    made: &mut OnDocker,
    body: &serde_json::Value,
) -> (String, crate::support::Answer) {
    let created = engine.send("POST", "/containers/create", body.to_string().as_bytes());
    assert_eq!(created.status, 201, "{body}: {}", created.text());
    let id = created.json()["Id"].as_str().unwrap_or_default().to_owned();
    made.container(&id);
    let started = engine.send("POST", &format!("/containers/{id}/start"), b"");
    (id, started)
}

/// What the container printed on both engines, when both start it.
fn outputs(daemon: &TestDaemon, made: &mut OnDocker, body: &serde_json::Value) -> (String, String) {
    let mut both = Vec::new();
    for engine in [daemon as &dyn Engine, &Docker] {
        let (id, started) = create_and_start(engine, made, body);
        assert_eq!(started.status, 204, "{body}: {}", started.text());
        both.push(output_when_ended(engine, &id));
    }
    (both.remove(0), both.remove(0))
}

/// Both engines take the container and refuse to start it: 500, and berthd's message says what
/// Docker's does (which adds its runtime's wrapping).
fn refused_at_start(daemon: &mut TestDaemon, made: &mut OnDocker, body: &serde_json::Value, words: &str) {
    for engine in [&*daemon as &dyn Engine, &Docker] {
        let (id, started) = create_and_start(engine, made, body);
        assert_eq!(started.status, 500, "{body}: {}", started.text());
        assert!(started.message().contains(words), "{body}: {}", started.text());
        let state = engine.send("GET", &format!("/containers/{id}/json"), b"").json();
        assert_eq!(state["State"]["Running"], false, "{body}");
    }
    assert_alive(daemon);
}

fn sh(script: &str, host_config: serde_json::Value) -> serde_json::Value {
    json!({"Image": "busybox", "Cmd": ["sh", "-c", script], "HostConfig": host_config})
}

#[test]
fn sysctls_reach_the_container_or_are_refused_at_start() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    let mut made = OnDocker::new();
    let body = sh(
        "cat /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_unprivileged_port_start",
        json!({"NetworkMode": "none", "Sysctls": {"kernel.msgmax": "65536", "net.ipv4.ip_unprivileged_port_start": "1024"}}),
    );
    let (ours, theirs) = outputs(&daemon, &mut made, &body);
    assert_eq!(ours, "65536\n1024\n");
    assert_eq!(ours, theirs);

    let refused = [
        (
            json!({"NetworkMode": "none", "IpcMode": "host", "Sysctls": {"kernel.msgmax": "65536"}}),
            "sysctl \"kernel.msgmax\" is not allowed in the hosts ipc namespace",
        ),
        (
            json!({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}}),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
        ),
        (
            json!({"NetworkMode": "none", "Sysctls": {"vm.swappiness": "10"}}),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        ),
    ];
    for (host_config, words) in refused {
        refused_at_start(&mut daemon, &mut made, &sh("true", host_config), words);
    }
    // Nothing reached the host's kernel.
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap_or_default(),
        "65536\n"
    );
}

#[test]
fn devices_are_made_in_the_container_or_refused_at_start() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    let mut made = OnDocker::new();
    let body = sh(
        "stat -c '%F %t:%T %a' /dev/mynull && echo written > /dev/mynull && echo usable",
        json!({"NetworkMode": "none", "Devices": [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rwm"}
        ]}),
    );
    let (ours, theirs) = outputs(&daemon, &mut made, &body);
    assert_eq!(ours, "character special file 1:3 666\nusable\n");
    assert_eq!(ours, theirs);

    let missing = sh(
        "true",
        json!({"NetworkMode": "none", "Devices": [
            {"PathOnHost": "/dev/berth-no-such-device", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}
        ]}),
    );
    refused_at_start(
        &mut daemon,
        &mut made,
        &missing,
        "error gathering device information while adding custom device \"/dev/berth-no-such-device\": no such file or directory",
    );
}

#[test]
fn seccomp_profiles_of_the_request_are_used() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    let mut made = OnDocker::new();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    })
    .to_string();
    let mkdir = "mkdir /tmp/made 2>&1; echo $?";
    let body = sh(
        mkdir,
        json!({"NetworkMode": "none", "SecurityOpt": [format!("seccomp={profile}")]}),
    );
    let (ours, theirs) = outputs(&daemon, &mut made, &body);
    assert!(ours.contains("Operation not permitted"), "{ours}");
    assert_eq!(ours, theirs);
    let body = sh(
        mkdir,
        json!({"NetworkMode": "none", "SecurityOpt": ["seccomp=unconfined"]}),
    );
    let (ours, theirs) = outputs(&daemon, &mut made, &body);
    assert_eq!((ours.as_str(), theirs.as_str()), ("0\n", "0\n"));

    let bad = sh(
        "true",
        json!({"NetworkMode": "none", "SecurityOpt": ["seccomp={bad"]}),
    );
    refused_at_start(
        &mut daemon,
        &mut made,
        &bad,
        "Decoding seccomp profile failed: invalid character 'b' looking for beginning of object key string",
    );
    // An option dockerd does not know is refused at create (a 500, as dockerd answers).
    let before = container_ids(&daemon);
    for option in ["bogus", "bogus=1", "no-new-privileges=maybe"] {
        let body = sh("true", json!({"NetworkMode": "none", "SecurityOpt": [option]})).to_string();
        let answer = refused_alike(&mut daemon, "POST", "/containers/create", body.as_bytes());
        assert_eq!(answer.status, 500, "{option}");
    }
    assert_eq!(
        container_ids(&daemon),
        before,
        "a refused create left a container"
    );
}
