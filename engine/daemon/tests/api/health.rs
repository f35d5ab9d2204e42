//! Healthchecks beside Docker: `starting`, then `unhealthy` after the retries, then `healthy`
//! once the test passes; the same State.Health, events, `ps` status and `health=` filter.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// Wait until each engine's container reports `status`; both `State.Health`s.
fn health_becomes(pair: &Pair, status: &str) -> [Value; 2] {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let [ours, theirs] = pair.states();
        if ours["Health"]["Status"] == status && theirs["Health"]["Status"] == status {
            return [ours["Health"].clone(), theirs["Health"].clone()];
        }
        assert!(
            Instant::now() < deadline,
            "never {status}: berthd {ours}, Docker {theirs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_healthcheck_runs_as_dockers_does() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({
        "Image": "busybox",
        "Cmd": ["sleep", "1000"],
        "Healthcheck": {
            "Test": ["CMD-SHELL", "echo probing; test -e /tmp/ok"],
            "Interval": 200_000_000,
            "Timeout": 2_000_000_000,
            "Retries": 2
        }
    });
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-health", &body);
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 204);
    let [ours, theirs] = pair.states();
    assert_eq!(ours["Health"]["Status"], "starting", "{ours}");
    assert_eq!(theirs["Health"]["Status"], "starting", "{theirs}");

    let [ours, theirs] = health_becomes(&pair, "unhealthy");
    for health in [&ours, &theirs] {
        assert!(health["FailingStreak"].as_i64().unwrap_or(0) >= 2, "{health}");
        let last = &health["Log"]
            .as_array()
            .and_then(|l| l.last().cloned())
            .unwrap_or_default();
        assert_eq!(
            (&last["ExitCode"], &last["Output"]),
            (&json!(1), &json!("probing\n")),
            "{health}"
        );
    }

    for (engine, id) in [(&daemon as &dyn Engine, &pair.ours), (&Docker, &pair.theirs)] {
        let exec = json!({"Cmd": ["touch", "/tmp/ok"]});
        let created = engine.send(
            "POST",
            &format!("/containers/{id}/exec"),
            exec.to_string().as_bytes(),
        );
        let exec_id = created.json()["Id"].as_str().unwrap_or_default().to_owned();
        let started = engine.send("POST", &format!("/exec/{exec_id}/start"), br#"{"Detach":true}"#);
        assert_eq!(started.status, 200, "{}", started.text());
    }
    let [ours, theirs] = health_becomes(&pair, "healthy");
    assert_eq!(ours["FailingStreak"], 0);
    assert_eq!(ours["FailingStreak"], theirs["FailingStreak"]);
    assert!(ours["Log"].as_array().is_some_and(|l| l.len() <= 5), "{ours}");

    // `ps` says so, and its filter finds it.
    let listed = |engine: &dyn Engine, filter: &str| {
        let answer = engine.send("GET", &format!("/containers/json?{}", filters(filter)), b"");
        answer.json().as_array().cloned().unwrap_or_default()
    };
    let healthy = listed(&daemon, r#"{"health":["healthy"]}"#);
    assert_eq!(healthy.len(), 1);
    assert!(
        healthy[0]["Status"]
            .as_str()
            .unwrap_or_default()
            .ends_with(" (healthy)"),
        "{healthy:?}"
    );
    assert!(listed(&daemon, r#"{"health":["none"]}"#).is_empty());
    let bogus = format!("/containers/json?{}", filters(r#"{"health":["bogus"]}"#));
    assert_alike(
        "health=bogus",
        &berth(&daemon, "GET", &bogus, b""),
        &docker("GET", &bogus, b""),
    );

    // One event per change of status.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + 1);
    let changes = |engine: &dyn Engine, id: &str| {
        let filter = filters(&format!(r#"{{"container":["{id}"]}}"#));
        let answer = engine.send("GET", &format!("/events?since=0&until={until}&{filter}"), b"");
        answer
            .text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|event| event["Action"].as_str().map(str::to_owned))
            .filter(|action| action.starts_with("health_status"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        changes(&daemon, &pair.ours),
        ["health_status: unhealthy", "health_status: healthy"]
    );
    assert_eq!(changes(&daemon, &pair.ours), changes(&Docker, &pair.theirs));
    drop(pair);
    assert_alive(&mut daemon);
}
