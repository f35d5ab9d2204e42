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
