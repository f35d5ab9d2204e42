//! `--init` (the `org.berth.init` annotation): PID 1 is a tiny init that runs the program as its
//! child, forwards signals and reaps orphans.

use crate::common::*;

#[test]
fn the_tiny_init_runs_the_program_reaps_orphans_and_passes_its_exit_code() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("init");
    // An orphan (the backgrounded sleep's parent sh exits) must be reaped by PID 1: after a
    // moment no zombie is left. Then the program's own exit code comes through.
    let script = "(sh -c 'sleep 0.2 &') ; sleep 0.5; ps -o pid,stat,comm; exit 7";
    let mut spec = docker_spec(&bundle, &id, &["/bin/sh", "-c", script]);
    spec["annotations"] = serde_json::json!({"org.berth.init": "true"});
    bundle.write_spec(&spec);
    let out = berth.run(&bundle, &id);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(7), "{text}\n{}", stderr(&out));
    let pid1 = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_default();
    assert!(pid1.contains("berth-init"), "PID 1 is the tiny init: {text}");
    assert!(text.lines().any(|l| l.contains(" sh")), "{text}");
    assert!(
        !text.lines().any(|l| l.contains(" Z ")),
        "no zombie is left: {text}"
    );
}

#[test]
fn the_tiny_init_forwards_signals_to_the_program() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("initsig");
    let mut spec = docker_spec(&bundle, &id, &["/bin/sleep", "1000"]);
    spec["annotations"] = serde_json::json!({"org.berth.init": "true"});
    bundle.write_spec(&spec);
    let guard = berth.create(&bundle, &id);
    assert!(berth.output(&["start", &id]).status.success());
    wait_status(&berth, &id, "running");
    // Without an init, PID 1 (sleep) would ignore TERM; the init forwards it and sleep dies.
    assert!(berth.output(&["kill", &id, "TERM"]).status.success());
    wait_status(&berth, &id, "stopped");
    drop(guard);
}
