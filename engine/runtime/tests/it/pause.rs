//! `pause`/`resume` against runc: the state says paused, the processes are frozen, and kill and
//! delete treat a paused container as runc does.

use crate::common::*;

/// The `State:` letter of a process (`D` for a task stopped in the freezer, `S` sleeping).
fn proc_state(pid: i64) -> char {
    berth_testkit::process::state_letter(pid)
}

#[test]
fn pause_freezes_and_resume_thaws_like_runc() {
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("pause");
        let spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        let pid = runtime.state(&id).expect("state")["pid"].as_i64().expect("pid");

        let out = runtime.output(&["pause", &id]);
        assert!(out.status.success(), "{} pause: {}", runtime.bin, stderr(&out));
        let state = runtime.state(&id).expect("state");
        assert_eq!(state["status"], "paused", "{}", runtime.bin);
        assert_eq!(state["pid"], pid, "{}", runtime.bin);
        if host_is_v1() {
            assert_eq!(read_trimmed(v1_file("freezer", &id, "freezer.state")), "FROZEN");
        }
        assert_eq!(proc_state(pid), 'D', "{}: the init is not frozen", runtime.bin);

        // Paused twice, resumed while not paused, deleted without --force: refused, as runc.
        let again = runtime.output(&["pause", &id]);
        assert!(!again.status.success(), "{} paused twice", runtime.bin);
        assert!(
            stderr(&again).contains("container not running"),
            "{}",
            stderr(&again)
        );
        let delete = runtime.output(&["delete", &id]);
        assert!(
            !delete.status.success(),
            "{} deleted a paused container",
            runtime.bin
        );
        assert!(
            stderr(&delete).contains(&format!(
                "cannot delete container {id} that is not stopped: paused"
            )),
            "{}: {}",
            runtime.bin,
            stderr(&delete)
        );

        let out = runtime.output(&["resume", &id]);
        assert!(out.status.success(), "{} resume: {}", runtime.bin, stderr(&out));
        assert_eq!(runtime.state(&id).expect("state")["status"], "running");
        assert_eq!(proc_state(pid), 'S', "{}: the init is still frozen", runtime.bin);
        let again = runtime.output(&["resume", &id]);
        assert!(
            !again.status.success(),
            "{} resumed a running container",
            runtime.bin
        );
        assert!(
            stderr(&again).contains("container not paused"),
            "{}",
            stderr(&again)
        );
    }
}

#[test]
fn a_paused_container_dies_of_sigkill_and_delete_force_removes_it() {
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("pause-kill");
        let spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        assert!(runtime.output(&["pause", &id]).status.success());
        let out = runtime.output(&["kill", &id, "KILL"]);
        assert!(out.status.success(), "{} kill: {}", runtime.bin, stderr(&out));
        wait_status(&runtime, &id, "stopped");
        let out = runtime.output(&["delete", &id]);
        assert!(out.status.success(), "{} delete: {}", runtime.bin, stderr(&out));

        let id = unique_id("pause-force");
        let spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        assert!(runtime.output(&["pause", &id]).status.success());
        let out = runtime.output(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "{} delete -f: {}",
            runtime.bin,
            stderr(&out)
        );
        assert!(runtime.state(&id).is_none(), "{} kept the container", runtime.bin);
        if host_is_v1() {
            assert!(
                !v1_file("freezer", &id, "").exists(),
                "{} left its cgroup",
                runtime.bin
            );
        }
    }
}

#[test]
fn kill_all_stops_a_forking_container_and_leaves_its_cgroup_thawed() {
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("killall-fork");
        // A shell that forks (and kills) a sleeper as fast as it can.
        let spec = shared_spec(
            &bundle,
            &id,
            &["/bin/sh", "-c", "while :; do /bin/sleep 1000 & kill $!; done"],
        );
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        std::thread::sleep(std::time::Duration::from_millis(100));

        let out = runtime.output(&["kill", "--all", &id, "KILL"]);
        assert!(
            out.status.success(),
            "{} kill --all: {}",
            runtime.bin,
            stderr(&out)
        );
        wait_status(&runtime, &id, "stopped");
        // Signalled while frozen (no fork between the listing and the signals): none is left.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let ps = runtime.output(&["ps", "--format", "json", &id]);
            let left: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap_or_default();
            if left.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: left after kill --all: {left:?}",
                runtime.bin
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if host_is_v1() {
            assert_eq!(
                read_trimmed(v1_file("freezer", &id, "freezer.state")),
                "THAWED",
                "{}: kill --all left the cgroup frozen",
                runtime.bin
            );
        }
    }
}

#[test]
fn kill_all_leaves_a_paused_container_paused() {
    // runc 1.1 thaws a paused container after `kill --all` (whatever the signal); berth-runtime
    // keeps it as `pause` left it, as it does for `kill` without --all.
    let runtime = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("killall-paused");
    let spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
    let _guard = start_container(&runtime, &bundle, &id, &spec);
    let pid = runtime.state(&id).expect("state")["pid"].as_i64().expect("pid");
    assert!(runtime.output(&["pause", &id]).status.success());
    let out = runtime.output(&["kill", "--all", &id, "WINCH"]);
    assert!(out.status.success(), "kill --all: {}", stderr(&out));
    assert_eq!(runtime.state(&id).expect("state")["status"], "paused");
    assert_eq!(proc_state(pid), 'D', "the init was thawed");
}
