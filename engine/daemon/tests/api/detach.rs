//! Detach keys beside Docker: typed on an attached terminal (attach or exec), they end the
//! attach while the process runs on (Docker's exec dies instead: see below), and the event stream says `detach`/`exec_detach`; keys
//! that do not parse are refused alike.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// A hijacked request on `host`'s socket: once answered, `command` is typed and its output
/// awaited (`expect`), then `keys`; returns whether the daemon then closed the connection
/// within five seconds.
fn typed_then_detached(
    host: &str,
    method_path: &str,
    body: &str,
    command: &[u8],
    expect: &str,
    keys: &[u8],
) -> bool {
    let socket = host.trim_start_matches("unix://");
    let mut stream = UnixStream::connect(socket).expect("connect to the daemon");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!(
        "{method_path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send the request");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => panic!("{host}: no answer to {method_path}"),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    stream.write_all(command).expect("type");
    while !String::from_utf8_lossy(&seen).contains(expect) {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => panic!(
                "{host}: {expect:?} never came: {}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    stream.write_all(keys).expect("type the keys");
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(_) => return false,
        }
    }
}

/// Each engine's events named `action` for its container since the test began.
fn events(engine: &dyn Engine, id: &str, action: &str) -> usize {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + 1);
    let filter = filters(&format!(r#"{{"container":["{id}"],"event":["{action}"]}}"#));
    let answer = engine.send("GET", &format!("/events?since=0&until={until}&{filter}"), b"");
    answer.text().lines().count()
}

#[test]
fn detach_keys_end_an_attach_and_the_process_runs_on() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sh"], "Tty": true, "OpenStdin": true});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-detach", &body);
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 204);
    let (ours, theirs) = (pair.ours.clone(), pair.theirs.clone());
    let engines: [(&dyn Engine, String, &str); 2] =
        [(&daemon, daemon.host(), &ours), (&Docker, docker_host(), &theirs)];

    for (engine, host, id) in engines {
        // ctrl-a then x: the attach ends, the shell does not see the keys and runs on.
        let path =
            format!("POST /v1.41/containers/{id}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x");
        // The command is typed so that its echo differs from its output.
        assert!(
            typed_then_detached(&host, &path, "", b"echo o''n''e\n", "one", b"\x01x"),
            "{host}: the attach did not end on the detach keys"
        );
        let state = engine.send("GET", &format!("/containers/{id}/json"), b"").json();
        assert_eq!(state["State"]["Running"], true, "{host}");
        assert_eq!(events(engine, id, "detach"), 1, "{host}");

        // An exec's terminal, with the keys given at exec create.
        let exec = json!({"Cmd": ["sh"], "Tty": true, "AttachStdin": true, "AttachStdout": true, "DetachKeys": "ctrl-a,x"});
        let created = engine.send(
            "POST",
            &format!("/containers/{id}/exec"),
            exec.to_string().as_bytes(),
        );
        assert_eq!(created.status, 201, "{host}: {}", created.text());
        let exec_id = created.json()["Id"].as_str().unwrap_or_default().to_owned();
        let start = json!({"Detach": false, "Tty": true}).to_string();
        let path = format!("POST /v1.41/exec/{exec_id}/start");
        assert!(
            typed_then_detached(&host, &path, &start, b"echo t''w''o\n", "two", b"\x01x"),
            "{host}: the exec's attach did not end on the detach keys"
        );
        // berthd keeps the exec running, as a detach promises; Docker 20.10 closes the exec's
        // terminal and its shell ends (exit 126) — a difference the book lists.
        let inspect = engine.send("GET", &format!("/exec/{exec_id}/json"), b"").json();
        let runs_on = host == daemon.host();
        assert_eq!(inspect["Running"], runs_on, "{host}: {inspect}");
        // So Docker logs the exec's death where berthd logs its detach (dockerd's own code
        // names the event `exec_detach`).
        assert_eq!(events(engine, id, "exec_detach"), usize::from(runs_on), "{host}");
    }

    // Keys that do not parse: refused before anything is attached or made.
    let bad_attach = |engine: &dyn Engine, id: &str| {
        let answer = engine.send(
            "POST",
            &format!("/containers/{id}/attach?stream=1&detachKeys=ctrl-1"),
            b"",
        );
        (
            answer.status,
            String::from_utf8_lossy(&answer.body).contains("Invalid detach keys (ctrl-1) provided"),
        )
    };
    assert_eq!(bad_attach(&daemon, &ours), bad_attach(&Docker, &theirs));
    assert_eq!(bad_attach(&daemon, &ours), (400, true));
    let bad_exec = json!({"Cmd": ["true"], "DetachKeys": "ctrl-1"});
    let [ours_refused, theirs_refused] = pair.send("POST", "/containers/{id}/exec", &bad_exec);
    assert_eq!(ours_refused, theirs_refused);
    assert_eq!(ours_refused.0, 500);
    assert_alive(&mut daemon);
}
