//! runtime.md: the state, and the create / start / state / kill / delete operations.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{base_spec, name, runtimes};
use crate::common::*;

/// A bundle whose program is `script` under `/bin/sh -c`, created (not started) by `runtime`.
fn created<'a>(runtime: &'a Runtime, label: &str, script: &str) -> (Bundle, ContainerGuard<'a>) {
    let bundle = Bundle::new();
    let id = unique_id(label);
    bundle.write_spec(&base_spec(&bundle, &id, &["/bin/sh", "-c", script]));
    let guard = runtime.create(&bundle, &id);
    (bundle, guard)
}

/// `runtime <args…>`, which must succeed.
#[track_caller]
fn ok(runtime: &Runtime, args: &[&str]) {
    let out = runtime.output(args);
    assert!(
        out.status.success(),
        "{}: {args:?} failed: {}",
        name(runtime),
        stderr(&out)
    );
}

/// `runtime <args…>`, which must fail.
#[track_caller]
fn fails(runtime: &Runtime, args: &[&str], must: &str) {
    let out = runtime.output(args);
    assert!(
        !out.status.success(),
        "{}: {must}: {args:?} succeeded",
        name(runtime)
    );
}

/// Wait (bounded) for a file the container writes.
fn wait_for(path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn pid_alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// "`created`: the runtime has finished the create operation … and the container process has
/// neither exited nor executed the user-specified program"; `pid` is REQUIRED when created.
#[test]
fn create_leaves_a_created_container_whose_program_has_not_run() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (bundle, guard) = created(&runtime, "cf-created", "touch /ran; sleep 1000");
        let state = runtime.state(&guard.id).expect("state");
        assert_eq!(state["status"], "created", "{rt}: {state}");
        let pid = state["pid"].as_i64().unwrap_or(0);
        assert!(pid > 0 && pid_alive(pid), "{rt}: no live init pid in {state}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !bundle.rootfs().join("ran").exists(),
            "{rt}: process.args MUST NOT be applied until triggered by the start operation"
        );
    }
}

/// "The state of a container includes … `ociVersion` … `id` … `status` … `bundle` (the
/// absolute path to the container's bundle directory)".
#[test]
fn state_has_the_required_properties() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (bundle, guard) = created(&runtime, "cf-state", "sleep 1000");
        let state = runtime.state(&guard.id).expect("state");
        let version = state["ociVersion"].as_str().unwrap_or("");
        assert!(
            version.split('.').count() >= 3 && version.starts_with('1'),
            "{rt}: ociVersion is not a 1.x SemVer: {state}"
        );
        assert_eq!(state["id"], guard.id.as_str(), "{rt}");
        assert_eq!(state["bundle"], bundle.path().to_str().unwrap(), "{rt}");
        assert!(Path::new(state["bundle"].as_str().unwrap()).is_absolute(), "{rt}");
    }
}

/// "`annotations` (map, OPTIONAL) contains the list of annotations associated with the container."
#[test]
fn annotations_appear_in_the_state() {
    for runtime in runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("cf-annot");
        let mut spec = base_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        // An unknown key too: "Runtimes MUST handle unknown annotation keys like any other
        // unknown property."
        spec["annotations"] = json!({"org.example.lab": "conformance", "x.unknown": ""});
        bundle.write_spec(&spec);
        let _guard = runtime.create(&bundle, &id);
        let state = runtime.state(&id).expect("state");
        assert_eq!(
            state["annotations"],
            json!({"org.example.lab": "conformance", "x.unknown": ""}),
            "{}",
            name(&runtime)
        );
    }
}

/// "This operation MUST run the user-specified program as specified by `process`."
#[test]
fn start_runs_the_program() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (bundle, guard) = created(&runtime, "cf-start", "touch /ran; exec sleep 1000");
        ok(&runtime, &["start", &guard.id]);
        assert!(
            wait_for(&bundle.rootfs().join("ran")),
            "{rt}: the program did not run"
        );
        let state = runtime.state(&guard.id).expect("state");
        assert_eq!(state["status"], "running", "{rt}: {state}");
        assert!(state["pid"].as_i64().is_some_and(pid_alive), "{rt}: {state}");
    }
}

/// "Any updates to `config.json` after this step MUST NOT affect the container."
#[test]
fn config_changes_after_create_do_not_affect_the_container() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (bundle, guard) = created(&runtime, "cf-frozen", "touch /first");
        let changed = base_spec(&bundle, &guard.id, &["/bin/sh", "-c", "touch /second"]);
        bundle.write_spec(&changed);
        ok(&runtime, &["start", &guard.id]);
        wait_status(&runtime, &guard.id, "stopped");
        assert!(
            bundle.rootfs().join("first").exists(),
            "{rt}: the created program did not run"
        );
        assert!(
            !bundle.rootfs().join("second").exists(),
            "{rt}: the edited config.json was used"
        );
    }
}

/// "`stopped`: the container process has exited".
#[test]
fn state_is_stopped_after_the_program_exits() {
    for runtime in runtimes() {
        let (_bundle, guard) = created(&runtime, "cf-exit", "exit 3");
        ok(&runtime, &["start", &guard.id]);
        // wait_status fails the test if the state never says stopped.
        wait_status(&runtime, &guard.id, "stopped");
    }
}

/// "Attempting to `start` a container that is not `created` MUST have no effect on the container
/// and MUST generate an error."
#[test]
fn start_of_a_started_container_errors_without_effect() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (bundle, guard) = created(&runtime, "cf-restart", "echo x >> /runs; exec sleep 1000");
        ok(&runtime, &["start", &guard.id]);
        assert!(
            wait_for(&bundle.rootfs().join("runs")),
            "{rt}: the program did not run"
        );
        let pid = runtime.state(&guard.id).expect("state")["pid"].clone();
        fails(&runtime, &["start", &guard.id], "start of a running container");
        let state = runtime.state(&guard.id).expect("state");
        assert_eq!(state["status"], "running", "{rt}: {state}");
        assert_eq!(state["pid"], pid, "{rt}: {state}");
        ok(&runtime, &["kill", &guard.id, "KILL"]);
        wait_status(&runtime, &guard.id, "stopped");
        fails(&runtime, &["start", &guard.id], "start of a stopped container");
        assert_eq!(
            runtime.state(&guard.id).expect("state")["status"],
            "stopped",
            "{rt}"
        );
        let runs = std::fs::read_to_string(bundle.rootfs().join("runs")).unwrap_or_default();
        assert_eq!(runs, "x\n", "{rt}: the program ran again");
    }
}

/// "This operation MUST send the specified signal to the container process."
#[test]
fn kill_sends_the_signal() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let script = "trap 'touch /got-usr1; exit 0' USR1; touch /ready; while :; do sleep 0.05; done";
        let (bundle, guard) = created(&runtime, "cf-kill", script);
        ok(&runtime, &["start", &guard.id]);
        assert!(
            wait_for(&bundle.rootfs().join("ready")),
            "{rt}: the program did not run"
        );
        ok(&runtime, &["kill", &guard.id, "USR1"]);
        assert!(
            wait_for(&bundle.rootfs().join("got-usr1")),
            "{rt}: SIGUSR1 never arrived"
        );
        wait_status(&runtime, &guard.id, "stopped");
    }
}

/// "Attempting to send a signal to a container that is neither `created` nor `running` MUST have
/// no effect on the container and MUST generate an error."
#[test]
fn kill_of_a_stopped_container_errors() {
    for runtime in runtimes() {
        let (_bundle, guard) = created(&runtime, "cf-kill-stopped", "true");
        ok(&runtime, &["start", &guard.id]);
        wait_status(&runtime, &guard.id, "stopped");
        fails(
            &runtime,
            &["kill", &guard.id, "KILL"],
            "kill of a stopped container",
        );
        assert_eq!(
            runtime.state(&guard.id).expect("state")["status"],
            "stopped",
            "{}",
            name(&runtime)
        );
    }
}

/// "Attempting to `delete` a container that is not `stopped` MUST have no effect on the container
/// and MUST generate an error." (runc deletes a `created` one, so a running one is checked.)
#[test]
fn delete_of_a_running_container_errors_without_effect() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (_bundle, guard) = created(&runtime, "cf-del-running", "exec sleep 1000");
        ok(&runtime, &["start", &guard.id]);
        fails(&runtime, &["delete", &guard.id], "delete of a running container");
        let state = runtime.state(&guard.id).expect("the container is still there");
        assert_eq!(state["status"], "running", "{rt}: {state}");
        assert!(state["pid"].as_i64().is_some_and(pid_alive), "{rt}: {state}");
    }
}

/// "Deleting a container MUST delete the resources that were created during the `create` step."
#[test]
fn delete_removes_the_container_and_its_resources() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (_bundle, guard) = created(&runtime, "cf-delete", "exec sleep 1000");
        let pid = runtime.state(&guard.id).expect("state")["pid"]
            .as_i64()
            .expect("pid");
        ok(&runtime, &["start", &guard.id]);
        ok(&runtime, &["kill", &guard.id, "KILL"]);
        wait_status(&runtime, &guard.id, "stopped");
        ok(&runtime, &["delete", &guard.id]);
        assert!(runtime.state(&guard.id).is_none(), "{rt}: state still answers");
        assert!(!pid_alive(pid), "{rt}: the container process is still alive");
        for dir in v1_cgroup_dirs(&guard.id) {
            assert!(!dir.exists(), "{rt}: cgroup left behind: {}", dir.display());
        }
    }
}

/// "Attempting to query a container that does not exist MUST generate an error" (and likewise
/// start, kill and delete: each MUST generate an error without a container's ID).
#[test]
fn operations_on_an_unknown_id_error() {
    for runtime in runtimes() {
        let id = unique_id("cf-nobody");
        fails(&runtime, &["state", &id], "state of an unknown id");
        fails(&runtime, &["start", &id], "start of an unknown id");
        fails(&runtime, &["kill", &id, "KILL"], "kill of an unknown id");
        fails(&runtime, &["delete", &id], "delete of an unknown id");
    }
}

/// "If the ID provided is not unique … the implementation MUST generate an error and a new
/// container MUST NOT be created."
#[test]
fn create_with_an_id_in_use_errors_and_keeps_the_first() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let (first, guard) = created(&runtime, "cf-dup", "exec sleep 1000");
        let before = runtime.state(&guard.id).expect("state");
        let second = Bundle::new();
        second.write_spec(&base_spec(&second, &guard.id, &["/bin/true"]));
        let out = runtime
            .command()
            .args(["create", "--bundle"])
            .arg(second.path())
            .arg(&guard.id)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("spawn create");
        assert!(
            !out.status.success(),
            "{rt}: a second create with the same id succeeded"
        );
        let after = runtime.state(&guard.id).expect("state");
        assert_eq!(after["pid"], before["pid"], "{rt}: {after}");
        assert_eq!(after["status"], "created", "{rt}: {after}");
        assert_eq!(after["bundle"], first.path().to_str().unwrap(), "{rt}: {after}");
    }
}

/// "This operation MUST generate an error if it is not provided a path to the bundle and the
/// container ID to associate with the container."
#[test]
fn create_without_an_id_or_a_bundle_errors() {
    for runtime in runtimes() {
        let bundle = Bundle::new();
        bundle.write_spec(&base_spec(&bundle, "unused", &["/bin/true"]));
        let bundle_dir = bundle.path().to_str().unwrap();
        fails(
            &runtime,
            &["create", "--bundle", bundle_dir],
            "create without an id",
        );
        let empty = tempfile::tempdir().expect("empty dir");
        let id = unique_id("cf-nobundle");
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let no_config = empty.path().to_str().unwrap();
        fails(
            &runtime,
            &["create", "--bundle", no_config, &id],
            "create from a dir without config.json",
        );
        assert!(
            runtime.state(&id).is_none(),
            "{}: a container was made",
            name(&runtime)
        );
    }
}

/// "If the runtime cannot apply a property as specified in the configuration, it MUST generate an
/// error and a new container MUST NOT be created."
#[test]
fn a_property_that_cannot_be_applied_fails_create_and_leaves_nothing() {
    for runtime in runtimes() {
        super::expect_create_error(
            &runtime,
            "cf-badmount",
            "an unknown filesystem type",
            |_, spec| {
                spec["mounts"]
                    .as_array_mut()
                    .expect("mounts")
                    .push(json!({"destination": "/x", "type": "no-such-fs", "source": "none"}));
            },
        );
    }
}

/// "Runtimes MAY log unknown properties but MUST otherwise ignore them."
#[test]
fn unknown_properties_are_ignored() {
    for runtime in runtimes() {
        let probe = super::probe(&runtime, "cf-unknown", "echo ok=yes", |_, spec| {
            spec["org.example.future"] = json!({"anything": [1, 2]});
            spec["process"]["x-unknown"] = json!(true);
            spec["linux"]["x-unknown"] = json!("value");
        });
        probe.expect("ok", "yes", "unknown properties MUST be ignored");
    }
}
