//! `pause`/`resume` against runc: the state says paused, the processes are frozen, and kill and
//! delete treat a paused container as runc does.

use crate::common::*;

/// The `State:` letter of a process (`D` for a task stopped in the freezer, `S` sleeping).
fn proc_state(pid: i64) -> char {
    read_trimmed(format!("/proc/{pid}/status"))
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .and_then(|s| s.trim().chars().next())
        .expect("State line")
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
