//! `GET /containers/{id}/stats` beside Docker 20.10: the same keys for a running container (this
//! host's cgroup v1 shape), the same empty answer for a stopped one, `one-shot` without a
//! previous sample, a stream of one object a second whose `precpu_stats` is the object before,
//! and Docker's refusals.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// Every key path of a JSON value with its kind (`cpu_stats.online_cpus: number`); arrays are
/// not entered, since their lengths follow what each container did.
fn shape(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.insert(format!("{path}: {kind}"));
        if let Value::Object(map) = value {
            for (key, value) in map {
                walk(value, &format!("{path}.{key}"), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// The same container made on both engines, named alike; `start` runs it.
fn made_alike(daemon: &TestDaemon, on_docker: &mut OnDocker, prefix: &str, start: bool) -> (String, String) {
    let body = json!({"Image": "busybox", "Cmd": ["sleep", "1000"]});
    let Pair { ours, theirs, .. } = Pair::create(daemon, on_docker, prefix, &body);
    if start {
        assert_eq!(
            docker("POST", &format!("/containers/{theirs}/start"), b"").status,
            204
        );
        let started = berth(daemon, "POST", &format!("/containers/{ours}/start"), b"");
        assert_eq!(started.status, 204, "{}", started.text());
    }
    (ours, theirs)
}

#[test]
fn a_running_container_has_dockers_keys_and_plausible_figures() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let (ours, theirs) = made_alike(&daemon, &mut on_docker, "berth-api-stats", true);

    let ours_answer = berth(
        &daemon,
        "GET",
        &format!("/containers/{ours}/stats?stream=false"),
        b"",
    );
    let theirs_answer = docker("GET", &format!("/containers/{theirs}/stats?stream=false"), b"");
    assert_eq!(
        (ours_answer.status, theirs_answer.status),
        (200, 200),
        "{}",
        ours_answer.text()
    );
    let (ours_json, theirs_json) = (ours_answer.json(), theirs_answer.json());
    assert_eq!(
        shape(&ours_json),
        shape(&theirs_json),
        "berthd's keys, then Docker's"
    );

    // The figures are this container's: one process, some memory below the host's, eth0.
    assert_eq!(ours_json["id"], json!(ours));
    assert!(
        ours_json["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/berth-api-stats")
    );
    assert_eq!(ours_json["pids_stats"]["current"], 1);
    let usage = ours_json["memory_stats"]["usage"].as_u64().unwrap_or(0);
    let limit = ours_json["memory_stats"]["limit"].as_u64().unwrap_or(0);
    assert!(usage > 0 && usage < limit, "usage {usage}, limit {limit}");
    assert_eq!(
        limit,
        theirs_json["memory_stats"]["limit"].as_u64().unwrap_or(1),
        "the host's memory"
    );
    assert!(ours_json["networks"]["eth0"]["rx_packets"].is_u64());
    // `precpu_stats` is an earlier sample: read before, host CPU time not ahead.
    assert!(ours_json["preread"].as_str() < ours_json["read"].as_str());
    let system = |stats: &Value| stats["system_cpu_usage"].as_u64().unwrap_or(0);
    assert!(system(&ours_json["precpu_stats"]) > 0);
    assert!(system(&ours_json["precpu_stats"]) <= system(&ours_json["cpu_stats"]));

    // one-shot: a sample now, no previous one — alike on both.
    let path = |id: &str| format!("/containers/{id}/stats?stream=false&one-shot=true");
    let ours_once = berth(&daemon, "GET", &path(&ours), b"").json();
    let theirs_once = docker("GET", &path(&theirs), b"").json();
    assert_eq!(shape(&ours_once), shape(&theirs_once));
    assert_eq!(ours_once["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(
        ours_once["precpu_stats"], theirs_once["precpu_stats"],
        "empty on both"
    );
    assert_alive(&mut daemon);
}

#[test]
fn a_stopped_container_gets_dockers_empty_answer_and_refusals_are_dockers() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let (ours, theirs) = made_alike(&daemon, &mut on_docker, "berth-api-stats-idle", false);
    for query in ["stream=false", "stream=0&one-shot=1"] {
        let ours_json = berth(&daemon, "GET", &format!("/containers/{ours}/stats?{query}"), b"").json();
        let theirs_json = docker("GET", &format!("/containers/{theirs}/stats?{query}"), b"").json();
        let without_id = |mut v: Value| {
            v["id"] = Value::Null;
            v
        };
        assert_eq!(without_id(ours_json), without_id(theirs_json), "{query}");
    }
    let missing = unique_name("berth-api-stats-missing");
    refused_alike(
        &mut daemon,
        "GET",
        &format!("/containers/{missing}/stats?stream=0"),
        b"",
    );
    // Checked once the container is found, on both.
    refused_alike(
        &mut daemon,
        "GET",
        &format!("/containers/{missing}/stats?stream=1&one-shot=1"),
        b"",
    );
    let both = |id: &str| format!("/containers/{id}/stats?one-shot=yes");
    let ours_answer = berth(&daemon, "GET", &both(&ours), b"");
    let theirs_answer = docker("GET", &both(&theirs), b"");
    assert_eq!(ours_answer.status, 400);
    assert_alike("stream and one-shot", &ours_answer, &theirs_answer);
    assert_alive(&mut daemon);
}

/// Open `GET path` on a UNIX socket and read JSON lines until `count` arrived (or 10 s).
fn read_stream(socket: &str, path: &str, count: usize) -> (UnixStream, Vec<Value>) {
    let mut stream = UnixStream::connect(socket).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: berth\r\n\r\n").expect("send");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    let mut buf = [0u8; 16384];
    let objects = |text: &str| -> Vec<Value> {
        // Chunked: JSON lines between the chunk-size lines.
        text.split("\r\n")
            .flat_map(|piece| piece.lines())
            .filter(|line| line.starts_with('{'))
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    };
    while objects(&text).len() < count && Instant::now() < deadline {
        if let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    (stream, objects(&text))
}

#[test]
fn a_stream_sends_a_sample_a_second_chained_by_precpu_and_ends_with_the_client() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let ours = create(
        &daemon,
        &unique_name("berth-api-stats-stream"),
        &json!({"Image": "busybox", "Cmd": ["sleep", "1000"]}),
    );
    assert_eq!(
        berth(&daemon, "POST", &format!("/containers/{ours}/start"), b"").status,
        204
    );
    let socket = daemon.host().trim_start_matches("unix://").to_owned();
    let started = Instant::now();
    let (stream, objects) = read_stream(&socket, &format!("/containers/{ours}/stats"), 3);
    assert_eq!(objects.len(), 3, "three samples");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "one a second, not all at once"
    );
    assert_eq!(
        objects[0]["preread"], "0001-01-01T00:00:00Z",
        "the first has no previous one"
    );
    assert_eq!(objects[1]["precpu_stats"], objects[0]["cpu_stats"]);
    assert_eq!(objects[2]["preread"], objects[1]["read"]);
    // A client that goes away ends its stream; the daemon goes on answering.
    drop(stream);
    for _ in 0..5 {
        let (_stream, more) = read_stream(&socket, &format!("/containers/{ours}/stats"), 1);
        assert_eq!(more.len(), 1);
    }
    assert_alive(&mut daemon);
}
