//! `pause`/`unpause` beside Docker: the same answers in every state, the processes frozen,
//! `paused` in inspect, ps and info, and what a paused container refuses (start, exec, rm).

use serde_json::{Value, json};

use crate::support::*;

#[test]
fn pause_and_unpause_answer_as_docker_does_in_every_state() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sleep", "1000"]});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-pause", &body);

    // Created: not running. Then started.
    assert_eq!(pair.alike("POST", "/containers/{id}/pause", &Value::Null), 409);
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 204);
    // Running: unpause refused (Docker gives it a 500), pause frozen, a second pause refused.
    assert_eq!(pair.alike("POST", "/containers/{id}/unpause", &Value::Null), 500);
    assert_eq!(pair.alike("POST", "/containers/{id}/pause", &Value::Null), 204);
    assert_eq!(pair.alike("POST", "/containers/{id}/pause", &Value::Null), 409);
    for state in pair.states() {
        assert_eq!(
            (&state["Status"], &state["Paused"], &state["Running"]),
            (&json!("paused"), &json!(true), &json!(true)),
            "{state}"
        );
    }
    let pid = pair.states()[0]["Pid"].as_i64().unwrap_or_default();
    assert_eq!(
        berth_testkit::process::state_letter(pid),
        'D',
        "the paused container's process is not frozen"
    );
    let info = berth(&daemon, "GET", "/info", b"").json();
    assert_eq!(
        [
            &info["Containers"],
            &info["ContainersRunning"],
            &info["ContainersPaused"],
            &info["ContainersStopped"]
        ],
        [&json!(1), &json!(0), &json!(1), &json!(0)],
        "{info}"
    );
    // The one runtime a create may name.
    assert_eq!(info["DefaultRuntime"], "berth-runtime", "{info}");
    assert!(info["Runtimes"]["berth-runtime"].is_object(), "{info}");
    let listed = berth(&daemon, "GET", "/containers/json", b"").json();
    let status = listed[0]["Status"].as_str().unwrap_or_default().to_owned();
    assert!(
        status.starts_with("Up ") && status.ends_with(" (Paused)"),
        "{status}"
    );
    assert_eq!(listed[0]["State"], "paused");

    // What a paused container refuses.
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 409);
    let exec = json!({"Cmd": ["true"]});
    assert_eq!(pair.alike("POST", "/containers/{id}/exec", &exec), 409);
    assert_eq!(pair.alike("DELETE", "/containers/{id}", &Value::Null), 409);

    // Thawed, running on; paused again and killed: SIGKILL reaches a frozen process.
    assert_eq!(pair.alike("POST", "/containers/{id}/unpause", &Value::Null), 204);
    assert_eq!(
        berth_testkit::process::state_letter(pid),
        'S',
        "the unpaused container's process is still frozen"
    );
    for state in pair.states() {
        assert_eq!(
            (&state["Status"], &state["Paused"]),
            (&json!("running"), &json!(false)),
            "{state}"
        );
    }
    assert_eq!(pair.alike("POST", "/containers/{id}/pause", &Value::Null), 204);
    assert_eq!(pair.alike("POST", "/containers/{id}/kill", &Value::Null), 204);
    for state in pair.states() {
        assert_eq!(
            (&state["Status"], &state["Paused"]),
            (&json!("exited"), &json!(false)),
            "{state}"
        );
    }
    let info = berth(&daemon, "GET", "/info", b"").json();
    assert_eq!(
        [
            &info["Containers"],
            &info["ContainersPaused"],
            &info["ContainersStopped"]
        ],
        [&json!(1), &json!(0), &json!(1)],
        "{info}"
    );
    assert_eq!(pair.alike("POST", "/containers/{id}/unpause", &Value::Null), 500);
    assert_eq!(
        pair.alike("POST", "/containers/nope-{id}/pause", &Value::Null),
        404
    );
    assert_alive(&mut daemon);
}
