//! `update` against runc: limits from flags, from a resources file and from stdin land in the
//! cgroup files; a stopped container cannot be updated.

use std::io::Write as _;
use std::process::Stdio;

use crate::common::*;

#[test]
fn update_changes_memory_and_pids_like_runc() {
    if !host_is_v1() {
        eprintln!("skipped: the expectations read cgroup v1 files");
        return;
    }
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("update");
        let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864, "swap": 134217728});
        spec["linux"]["resources"]["pids"] = serde_json::json!({"limit": 32});
        let _guard = start_container(&runtime, &bundle, &id, &spec);
        let memory = || read_trimmed(v1_file("memory", &id, "memory.limit_in_bytes"));
        let pids = || read_trimmed(v1_file("pids", &id, "pids.max"));

        // Flags, with memory + swap growing past the old swap limit (written in the right order).
        let out = runtime.output(&[
            "update",
            "--memory",
            "300m",
            "--memory-swap",
            "400m",
            "--pids-limit",
            "77",
            &id,
        ]);
        assert!(out.status.success(), "{} update: {}", runtime.bin, stderr(&out));
        assert_eq!(
            (memory(), pids()),
            ("314572800".to_string(), "77".to_string()),
            "{}",
            runtime.bin
        );

        // Only what is given changes.
        let out = runtime.output(&["update", "--memory", "100m", &id]);
        assert!(out.status.success(), "{} update: {}", runtime.bin, stderr(&out));
        assert_eq!(
            (memory(), pids()),
            ("104857600".to_string(), "77".to_string()),
            "{}",
            runtime.bin
        );

        // A resources file, in the OCI JSON form.
        let file = bundle.path().join("resources.json");
        std::fs::write(&file, r#"{"memory":{"limit":209715200},"pids":{"limit":55}}"#).expect("write");
        let out = runtime.output(&["update", "-r", &file.to_string_lossy(), &id]);
        assert!(
            out.status.success(),
            "{} update -r: {}",
            runtime.bin,
            stderr(&out)
        );
        assert_eq!(
            (memory(), pids()),
            ("209715200".to_string(), "55".to_string()),
            "{}",
            runtime.bin
        );

        // The same from stdin.
        let mut child = runtime
            .command()
            .args(["update", "-r", "-", &id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn update");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(br#"{"pids":{"limit":44}}"#)
            .expect("write stdin");
        let out = child.wait_with_output().expect("update");
        assert!(
            out.status.success(),
            "{} update -r -: {}",
            runtime.bin,
            stderr(&out)
        );
        assert_eq!(
            (memory(), pids()),
            ("209715200".to_string(), "44".to_string()),
            "{}",
            runtime.bin
        );

        let out = runtime.output(&["kill", &id, "KILL"]);
        assert!(out.status.success(), "{} kill: {}", runtime.bin, stderr(&out));
        wait_status(&runtime, &id, "stopped");
        let out = runtime.output(&["update", "--pids-limit", "10", &id]);
        assert!(
            !out.status.success(),
            "{} updated a stopped container",
            runtime.bin
        );
        assert!(
            stderr(&out).contains("container not running"),
            "{}: {}",
            runtime.bin,
            stderr(&out)
        );
    }
}
