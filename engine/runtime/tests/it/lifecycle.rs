//! create → created, start → running, kill → stopped, delete → no trace.

use std::path::Path;

use crate::common::*;

#[test]
fn states_follow_the_lifecycle_and_delete_leaves_no_trace() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("life");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/sleep", "1000"]));
    let pid_file = bundle.path().join("init.pid");
    let guard = berth.create(&bundle, &id);
    let _ = &guard;

    let state = berth.state(&id).expect("state after create");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], id.as_str());
    // The config's version, as runc reports it.
    assert_eq!(state["ociVersion"], "1.0.2-dev");
    assert_eq!(state["bundle"], bundle.path().to_str().unwrap());
    assert_eq!(state["rootfs"], bundle.rootfs().to_str().unwrap());
    let pid = state["pid"].as_i64().expect("pid");
    assert!(pid > 0);
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(!pid_file.exists());

    // A second create with the same id is refused.
    let again = berth
        .command()
        .args(["create", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .output()
        .expect("create again");
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("container with id exists"),
        "{}",
        stderr(&again)
    );

    let out = berth.output(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(berth.state(&id).expect("state")["status"], "running");
    // Starting twice is an error, like runc's.
    assert!(!berth.output(&["start", &id]).status.success());
    // A running container is not deleted without --force.
    let out = berth.output(&["delete", &id]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not stopped"), "{}", stderr(&out));

    let ps = berth.output(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).expect("ps json");
    assert_eq!(pids, vec![pid]);

    let out = berth.output(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", stderr(&out));
    let state = wait_status(&berth, &id, "stopped");
    assert_eq!(state["pid"], 0);
    assert!(!berth.output(&["kill", &id, "TERM"]).status.success());

    let out = berth.output(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    assert!(berth.state(&id).is_none());
    assert!(!berth.root.path().join(&id).exists(), "state dir left behind");
    for dir in v1_cgroup_dirs(&id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
    // Deleting again: an error, unless forced.
    assert!(!berth.output(&["delete", &id]).status.success());
    assert!(berth.output(&["delete", "--force", &id]).status.success());
}

#[test]
fn deleting_a_created_container_kills_its_init() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("created-del");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/true"]));
    let _guard = berth.create(&bundle, &id);
    let pid = berth.state(&id).expect("state")["pid"].as_i64().expect("pid");
    let out = berth.output(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", stderr(&out));
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    assert!(!alive, "the init survived delete");
    for dir in v1_cgroup_dirs(&id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
}

#[test]
fn run_exits_with_the_container_code_and_cleans_up() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("code");
    bundle.write_spec(&docker_spec(
        &bundle,
        &id,
        &["/bin/sh", "-c", "echo out; echo err >&2; exit 7"],
    ));
    let out = berth.run(&bundle, &id);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
    assert!(!berth.root.path().join(&id).exists());
    for dir in v1_cgroup_dirs(&id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
}

#[test]
fn a_missing_program_fails_create_with_runc_wording() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("noprog");
    bundle.write_spec(&docker_spec(&bundle, &id, &["no-such-program"]));
    let out = berth.run(&bundle, &id);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("exec: \"no-such-program\": executable file not found in $PATH"),
        "{}",
        stderr(&out)
    );
    assert!(!berth.root.path().join(&id).exists(), "failed create left state");
    for dir in v1_cgroup_dirs(&id) {
        assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
    }
}

#[test]
fn json_log_carries_explain_events_and_errors() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("log");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/true"]));
    let log = bundle.path().join("explain.log");
    let out = berth
        .command()
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("log");
    let events: Vec<berth_api::explain::ExplainEvent> = text
        .lines()
        .map(|l| berth_api::explain::ExplainEvent::from_json_line(l).expect("explain line"))
        .collect();
    assert!(events.iter().all(|e| e.source == "berth-runtime"));
    assert!(events.iter().all(|e| e.container.as_deref() == Some(id.as_str())));
    let said = |needle: &str| events.iter().any(|e| e.msg.contains(needle));
    assert!(said("mounted proc at /proc"), "{text}");
    assert!(said("pivoted the root"), "{text}");
    assert!(said("loaded a seccomp filter"), "{text}");
    assert!(said("in the bounding set"), "{text}");
    assert!(said("created new namespaces"), "{text}");
    assert!(said("read-only copy of berth-runtime's binary"), "{text}");
    assert!(said("RLIMIT_NOFILE"), "{text}");

    // An error becomes a {"level":"error"} line too.
    let out = berth
        .command()
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "state", "no-such-container"])
        .output()
        .expect("state");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("container does not exist: no-such-container"));
    let last = std::fs::read_to_string(&log).expect("log");
    let last: serde_json::Value = serde_json::from_str(last.lines().last().expect("a line")).expect("json");
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container does not exist: no-such-container");
    assert!(last["time"].is_string());
}

#[test]
fn hooks_run_with_the_state_at_their_points() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("hooks");
    let out = bundle.path().join("hook");
    let record = |name: &str| {
        // Saves the state it is given and, for prestart, the net namespace the init is in.
        let script = format!(
            "s=$(cat); echo \"$s\" > {out}.{name}; \
             pid=$(echo \"$s\" | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); \
             readlink /proc/$pid/ns/net > {out}.{name}.net 2>/dev/null; true",
            out = out.display()
        );
        serde_json::json!([{"path": "/bin/sh", "args": ["sh", "-c", script]}])
    };
    let mut spec = docker_spec(&bundle, &id, &["/bin/sleep", "1000"]);
    spec["hooks"] = serde_json::json!({
        "prestart": record("prestart"),
        "poststart": record("poststart"),
        "poststop": record("poststop"),
    });
    bundle.write_spec(&spec);
    let read = |suffix: &str| std::fs::read_to_string(format!("{}.{suffix}", out.display()));
    let guard = berth.create(&bundle, &id);
    let prestart: serde_json::Value =
        serde_json::from_str(&read("prestart").expect("prestart ran")).expect("state json");
    assert_eq!(prestart["status"], "creating");
    assert_eq!(prestart["id"], id.as_str());
    let init_net = read("prestart.net").expect("net ns");
    let host_net = std::fs::read_link("/proc/self/ns/net").expect("host net ns");
    assert!(init_net.starts_with("net:["), "{init_net}");
    assert_ne!(
        init_net.trim(),
        host_net.to_string_lossy(),
        "prestart ran before the net namespace existed"
    );
    assert!(read("poststart").is_err());

    assert!(berth.output(&["start", &id]).status.success());
    let poststart: serde_json::Value =
        serde_json::from_str(&read("poststart").expect("poststart ran")).expect("state json");
    assert_eq!(poststart["status"], "running");
    assert!(read("poststop").is_err());

    assert!(berth.output(&["delete", "--force", &id]).status.success());
    drop(guard);
    let poststop: serde_json::Value =
        serde_json::from_str(&read("poststop").expect("poststop ran")).expect("state json");
    assert_eq!(poststop["status"], "stopped");
}
