//! `events` against runc: `--stats` prints the same keys; a container running out of memory
//! yields an `oom` event in the stream.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

#[test]
fn events_stats_has_runcs_keys() {
    let events: Vec<Value> = both_runtimes()
        .iter()
        .map(|runtime| {
            let bundle = Bundle::new();
            let id = unique_id("stats");
            let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
            spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
            spec["linux"]["resources"]["pids"] = serde_json::json!({"limit": 32});
            let _guard = start_container(runtime, &bundle, &id, &spec);
            let out = runtime.output(&["events", "--stats", &id]);
            assert!(out.status.success(), "{} events: {}", runtime.bin, stderr(&out));
            let text = stdout(&out);
            assert_eq!(text.lines().count(), 1, "{}: {text}", runtime.bin);
            let event: Value = serde_json::from_str(&text).expect("event json");
            assert_eq!(event["type"], "stats");
            assert_eq!(event["id"], id.as_str());
            assert_eq!(
                event["data"]["memory"]["usage"]["limit"], 67108864,
                "{}",
                runtime.bin
            );
            assert_eq!(event["data"]["pids"]["limit"], 32, "{}", runtime.bin);
            assert!(event["data"]["pids"]["current"].as_u64().is_some_and(|n| n >= 1));
            event
        })
        .collect();
    let (runc, berth) = (&events[0], &events[1]);
    assert_eq!(keys(berth), keys(runc));
    assert_eq!(keys(&berth["data"]), keys(&runc["data"]));
    // `cache` is left out when it is 0 (runc's omitempty), and each container's page cache
    // is its own: compare the other keys.
    let without_cache = |v: &Value| -> Vec<String> { keys(v).into_iter().filter(|k| k != "cache").collect() };
    for section in ["cpu", "memory"] {
        assert_eq!(
            without_cache(&berth["data"][section]),
            without_cache(&runc["data"][section]),
            "{section}"
        );
    }
}

#[test]
fn an_oom_in_the_container_is_an_oom_event() {
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("oom-event");
        // The shell lives on; dd, its child, is OOM-killed in a 16 MiB cgroup without swap.
        let mut spec = shared_spec(
            &bundle,
            &id,
            &[
                "/bin/sh",
                "-c",
                "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000",
            ],
        );
        spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 16777216, "swap": 16777216});
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        let mut child = runtime
            .command()
            .args(["events", "--interval", "1s", &id])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn events");
        let stdout = child.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let found = loop {
            match received.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    let event: Value = serde_json::from_str(&line).expect("event json");
                    seen.push(event["type"].as_str().unwrap_or("").to_string());
                    if event["type"] == "oom" {
                        assert_eq!(event["id"], id.as_str());
                        assert!(event.get("data").is_none(), "{line}");
                        break true;
                    }
                }
                Err(_) => break false,
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(found, "{}: no oom event; saw {seen:?}", runtime.bin);
    }
}
