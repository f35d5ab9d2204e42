//! Bounded work per request: headers that never finish, bodies too big to hold, patterns that
//! would take a lifetime. berthd closes, refuses or answers — and keeps answering others.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::support::{TestDaemon, assert_alive, berth, encode};

#[test]
fn requests_whose_headers_never_end_are_closed() {
    let mut daemon = TestDaemon::start();
    // Hundreds of clients that start a request and never finish its headers.
    let mut half_sent: Vec<UnixStream> = (0..300)
        .map(|_| {
            let mut stream = UnixStream::connect(&daemon.socket).expect("connect");
            stream
                .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n")
                .expect("write");
            stream
        })
        .collect();
    // Others are served meanwhile.
    assert_alive(&mut daemon);
    // Each is closed once its time for headers is up (10 s), without an answer.
    for stream in &mut half_sent {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut answer = Vec::new();
        let closed = stream.read_to_end(&mut answer).is_ok();
        assert!(closed, "a half-sent request was kept open");
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_alive(&mut daemon);
}

#[test]
fn a_json_body_too_big_to_hold_is_refused() {
    let mut daemon = TestDaemon::start();
    let huge = format!(r#"{{"Image": "busybox", "Env": ["A={}"]}}"#, "x".repeat(64 << 20));
    let answer = berth(&daemon, "POST", "/containers/create", huge.as_bytes());
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(
        answer.message(),
        "invalid JSON: the request body is larger than 8 MiB"
    );
    // Nothing half made.
    let listed = berth(&daemon, "GET", "/containers/json?all=1", b"");
    assert_eq!(listed.json(), serde_json::json!([]));
    assert_alive(&mut daemon);
}

#[test]
fn a_pattern_with_many_stars_is_answered_at_once() {
    let mut daemon = TestDaemon::start();
    let name = "a".repeat(200);
    let made = berth(
        &daemon,
        "POST",
        "/volumes/create",
        format!(r#"{{"Name": "{name}"}}"#).as_bytes(),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let filters = encode(r#"{"name":["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"]}"#);
    // Within the harness's 10 s, where trying every way to place the stars never ends.
    let listed = berth(&daemon, "GET", &format!("/volumes?filters={filters}"), b"");
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(
        listed.json()["Volumes"],
        serde_json::json!([]),
        "{}",
        listed.text()
    );
    assert_alive(&mut daemon);
}

#[test]
fn execs_that_ended_are_not_kept_without_bound() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "600"]);
    let mut first = None;
    for _ in 0..300 {
        let made = berth(&daemon, "POST", "/containers/busy/exec", br#"{"Cmd": ["true"]}"#);
        assert_eq!(made.status, 201, "{}", made.text());
        let id = made.json()["Id"].as_str().unwrap_or_default().to_owned();
        let started = berth(
            &daemon,
            "POST",
            &format!("/exec/{id}/start"),
            br#"{"Detach": true}"#,
        );
        assert_eq!(started.status, 200, "{}", started.text());
        // Ended before the next one is made.
        for _ in 0..100 {
            if berth(&daemon, "GET", &format!("/exec/{id}/json"), b"").json()["Running"] == false {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        first.get_or_insert(id);
    }
    let kept = berth(&daemon, "GET", "/containers/busy/json", b"").json()["ExecIDs"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(kept <= 256, "{kept} execs kept");
    let oldest = berth(
        &daemon,
        "GET",
        &format!("/exec/{}/json", first.unwrap_or_default()),
        b"",
    );
    assert_eq!(oldest.status, 404, "{}", oldest.text());
    assert_alive(&mut daemon);
}
