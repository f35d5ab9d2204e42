//! `POST /exec/{id}/start` with a body Docker's decoder refuses: refused in Go's words, and the
//! command never runs (it used to run with default options).

use serde_json::json;

use crate::support::{
    OnDocker, TestDaemon, assert_alike, assert_alive, berth, create, docker, docker_has_stand_in_images,
};

/// A running `sleep` on each engine, and an exec of `touch /ran` made in it.
struct Both {
    ours: String,
    theirs: String,
}

fn exec_in(daemon: &TestDaemon, ours: &str, theirs: &str) -> Both {
    let body = json!({"Cmd": ["touch", "/ran"], "AttachStdout": true}).to_string();
    let made = |answer: crate::support::Answer| {
        assert_eq!(answer.status, 201, "exec create: {}", answer.text());
        answer.json()["Id"].as_str().unwrap_or_default().to_owned()
    };
    Both {
        ours: made(berth(
            daemon,
            "POST",
            &format!("/containers/{ours}/exec"),
            body.as_bytes(),
        )),
        theirs: made(docker(
            "POST",
            &format!("/containers/{theirs}/exec"),
            body.as_bytes(),
        )),
    }
}

#[test]
fn exec_start_with_a_body_docker_refuses_runs_nothing() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    let mut made = OnDocker::new();
    let container =
        json!({"Image": "busybox", "Cmd": ["sleep", "60"], "HostConfig": {"NetworkMode": "none"}});
    let ours = create(&daemon, "exec-target", &container);
    let created = docker("POST", "/containers/create", container.to_string().as_bytes());
    let theirs = created.json()["Id"].as_str().unwrap_or_default().to_owned();
    assert!(!theirs.is_empty(), "Docker create: {}", created.text());
    made.container(&theirs);
    assert_eq!(
        berth(&daemon, "POST", &format!("/containers/{ours}/start"), b"").status,
        204
    );
    assert_eq!(
        docker("POST", &format!("/containers/{theirs}/start"), b"").status,
        204
    );

    let bodies: [&[u8]; 7] = [
        b"{bad",
        b"{\"Detach\":true",
        b"[]",
        b"\"x\"",
        b"{\"Detach\":\"yes\"}",
        b"{\"Detach\":true,\"Tty\":1}",
        b"",
    ];
    for body in bodies {
        let exec = exec_in(&daemon, &ours, &theirs);
        let what = String::from_utf8_lossy(body).into_owned();
        let their_answer = docker("POST", &format!("/exec/{}/start", exec.theirs), body);
        let our_answer = berth(&daemon, "POST", &format!("/exec/{}/start", exec.ours), body);
        assert_alike(&format!("exec start {what:?}"), &our_answer, &their_answer);
        assert_eq!(our_answer.status, 400, "{what:?}");
        let inspect = berth(&daemon, "GET", &format!("/exec/{}/json", exec.ours), b"").json();
        assert_eq!(inspect["Running"], false, "{what:?}");
        assert_eq!(
            inspect["ExitCode"],
            serde_json::Value::Null,
            "{what:?}: the exec ran"
        );
        assert_alive(&mut daemon);
    }
    // Nothing ran: /ran is not there.
    let check = json!({"Cmd": ["test", "-e", "/ran"]}).to_string();
    let exec = berth(
        &daemon,
        "POST",
        &format!("/containers/{ours}/exec"),
        check.as_bytes(),
    );
    let id = exec.json()["Id"].as_str().unwrap_or_default().to_owned();
    let started = berth(
        &daemon,
        "POST",
        &format!("/exec/{id}/start"),
        br#"{"Detach":true}"#,
    );
    assert_eq!(started.status, 200, "{}", started.text());
    let mut exit = serde_json::Value::Null;
    for _ in 0..50 {
        exit = berth(&daemon, "GET", &format!("/exec/{id}/json"), b"").json()["ExitCode"].clone();
        if !exit.is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(exit, 1, "a refused exec start ran its command");

    // `null` and `{}` are Docker's defaults: the exec runs.
    let exec = exec_in(&daemon, &ours, &theirs);
    let answer = berth(&daemon, "POST", &format!("/exec/{}/start", exec.ours), b"null");
    assert!(answer.status < 300, "{} {}", answer.status, answer.text());
}
