//! OCI hooks, run by runc and by berth-runtime with the same expectations: each kind where and
//! when the runtime spec puts it, the state it gets, and what a failing or slow hook does.
//!
//! The installed runc is 1.1: where it departs from runtime-spec 1.3 (it runs `poststart` during
//! `create`, its `start` succeeds when a `startContainer` hook fails, it stops `poststop` at the
//! first failure) the tests check what both share and berth-runtime alone for the rest.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// A hook that records, one line per run: its kind, the state's status and pid, its mount
/// namespace, working directory, which root it sees and its `HOOK_ENV`. POSIX sh, so it runs
/// with the host's `/bin/sh` and with busybox's inside the container.
const RECORD: &str = r#"kind=$1; out=$2
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
pid=$(echo "$state" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
[ "$pid" = 0 ] && pid=
if [ -e /berth-hook-marker ]; then view=container; else view=host; fi
echo "$kind status=$status pid=${pid:-none} mnt=$(readlink /proc/self/ns/mnt) cwd=$(pwd) view=$view env=$HOOK_ENV" >> "$out"
"#;

/// A bundle whose hooks can record: the script on the host and in the rootfs, and a marker
/// that only the container's root has.
struct HookBundle {
    bundle: Bundle,
    id: String,
    spec: Value,
}

impl HookBundle {
    fn new(label: &str, args: &[&str]) -> Self {
        let bundle = Bundle::new();
        let id = unique_id(label);
        fs::write(bundle.path().join("record.sh"), RECORD).expect("host script");
        fs::write(bundle.rootfs().join("record.sh"), RECORD).expect("container script");
        fs::write(bundle.rootfs().join("berth-hook-marker"), "").expect("marker");
        let mut spec = docker_spec(&bundle, &id, args);
        // runc refuses Docker's NOFILE above this host's hard limit (see compare_runc).
        spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]);
        HookBundle { bundle, id, spec }
    }

    /// The bundle's real path (as runtimes report it).
    fn dir(&self) -> PathBuf {
        fs::canonicalize(self.bundle.path()).expect("bundle path")
    }

    /// Where hooks in the runtime namespace (and createContainer, before pivot_root) write.
    fn host_log(&self) -> PathBuf {
        self.dir().join("hooks.log")
    }

    /// Where startContainer (inside the container) writes: `/hooks.log` there.
    fn container_log(&self) -> PathBuf {
        self.dir().join("rootfs/hooks.log")
    }

    /// A recording hook run with the host's shell.
    fn host_hook(&self, kind: &str) -> Value {
        let script = self.dir().join("record.sh");
        json!({"path": "/bin/sh", "args": ["sh", script, kind, self.host_log()],
               "env": [format!("HOOK_ENV={kind}-env")]})
    }

    /// A recording hook run with the container's shell, writing inside the container.
    fn container_hook(&self, kind: &str) -> Value {
        json!({"path": "/bin/sh", "args": ["sh", "/record.sh", kind, "/hooks.log"],
               "env": [format!("HOOK_ENV={kind}-env")]})
    }

    fn write(&mut self, hooks: Value) {
        self.spec["hooks"] = hooks;
        self.bundle.write_spec(&self.spec);
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn host_lines(&self) -> Vec<String> {
        Self::lines(&self.host_log())
    }

    fn container_lines(&self) -> Vec<String> {
        Self::lines(&self.container_log())
    }
}

/// `create`, returning whether it succeeded and its stderr.
fn try_create(runtime: &Runtime, hb: &HookBundle) -> (bool, String) {
    crate::common::try_create(runtime, &hb.bundle, &hb.id)
}

fn guard<'a>(runtime: &'a Runtime, hb: &HookBundle) -> ContainerGuard<'a> {
    ContainerGuard {
        runtime,
        id: hb.id.clone(),
    }
}

fn is_berth(runtime: &Runtime) -> bool {
    runtime.bin == BERTH
}

fn ns(path: &str) -> String {
    fs::read_link(path)
        .expect("namespace link")
        .to_string_lossy()
        .into_owned()
}

/// Nothing is left of a container: `state` knows none, and its cgroup is gone.
fn assert_nothing_left(runtime: &Runtime, id: &str) {
    let out = runtime.output(&["state", id]);
    assert!(!out.status.success(), "{}: {id} still exists", runtime.bin);
    assert!(
        stderr(&out).contains("does not exist"),
        "{}: {}",
        runtime.bin,
        stderr(&out)
    );
    assert!(
        !runtime.root.path().join(id).exists(),
        "{}: state dir left",
        runtime.bin
    );
    for dir in v1_cgroup_dirs(id) {
        assert!(!dir.exists(), "{}: cgroup left: {}", runtime.bin, dir.display());
    }
}

fn every_hook_runs_where_and_when_the_spec_says(runtime: &Runtime) {
    let mut hb = HookBundle::new("hooks-all", &["sleep", "30"]);
    hb.write(json!({
        "prestart": [hb.host_hook("prestart")],
        "createRuntime": [hb.host_hook("createRuntime")],
        "createContainer": [hb.host_hook("createContainer")],
        "startContainer": [hb.container_hook("startContainer")],
        "poststart": [hb.host_hook("poststart")],
        "poststop": [hb.host_hook("poststop")],
    }));
    let host_mnt = ns("/proc/self/ns/mnt");
    let bundle = hb.dir();
    let rootfs = bundle.join("rootfs");
    let _guard = guard(runtime, &hb);
    let (ok, err) = try_create(runtime, &hb);
    assert!(ok, "{} create failed: {err}", runtime.bin);
    let pid = runtime.state(&hb.id).expect("state")["pid"].clone();
    let container_mnt = ns(&format!("/proc/{pid}/ns/mnt"));
    assert_ne!(container_mnt, host_mnt);

    // runc 1.1 runs poststart here too; berth-runtime only in `start`, as the spec says.
    let lines = hb.host_lines();
    let (poststart, create): (Vec<_>, Vec<_>) = lines.iter().partition(|l| l.starts_with("poststart "));
    assert_eq!(
        create,
        [
            &format!(
                "prestart status=creating pid={pid} mnt={host_mnt} cwd={} view=host env=prestart-env",
                bundle.display()
            ),
            &format!(
                "createRuntime status=creating pid={pid} mnt={host_mnt} cwd={} view=host env=createRuntime-env",
                bundle.display()
            ),
            // In the container's namespaces (pid 1 of its pid namespace), before pivot_root:
            // the host's tree is still the root.
            &format!(
                "createContainer status=creating pid=1 mnt={container_mnt} cwd={} view=host env=createContainer-env",
                rootfs.display()
            ),
        ],
        "{}",
        runtime.bin
    );
    if is_berth(runtime) {
        assert!(poststart.is_empty(), "poststart ran during create: {lines:?}");
    }
    assert!(
        hb.container_lines().is_empty(),
        "startContainer ran during create"
    );

    let out = runtime.output(&["start", &hb.id]);
    assert!(
        out.status.success(),
        "{} start failed: {}",
        runtime.bin,
        stderr(&out)
    );
    // Inside the container, after pivot_root, in the process's working directory.
    assert_eq!(
        hb.container_lines(),
        [format!(
            "startContainer status=created pid=1 mnt={container_mnt} cwd=/ view=container env=startContainer-env"
        )],
        "{}",
        runtime.bin
    );
    let lines = hb.host_lines();
    let poststart: Vec<_> = lines.iter().filter(|l| l.starts_with("poststart ")).collect();
    assert_eq!(poststart.len(), 1, "{}: {lines:?}", runtime.bin);
    assert!(
        poststart[0].contains(&format!(" pid={pid} mnt={host_mnt} "))
            && poststart[0].ends_with(" view=host env=poststart-env"),
        "{}: {}",
        runtime.bin,
        poststart[0]
    );
    if is_berth(runtime) {
        assert!(
            poststart[0].starts_with("poststart status=running "),
            "{}",
            poststart[0]
        );
    }
    assert_eq!(wait_status(runtime, &hb.id, "running")["pid"], pid);

    let out = runtime.output(&["delete", "--force", &hb.id]);
    assert!(
        out.status.success(),
        "{} delete failed: {}",
        runtime.bin,
        stderr(&out)
    );
    let lines = hb.host_lines();
    let last = lines.last().expect("a line");
    assert!(
        last.starts_with(&format!("poststop status=stopped pid=none mnt={host_mnt} "))
            && last.ends_with(" view=host env=poststop-env"),
        "{}: {last}",
        runtime.bin
    );
    assert_eq!(lines.len(), 5, "{}: {lines:?}", runtime.bin);
    assert_nothing_left(runtime, &hb.id);
}

on_both_runtimes!(every_hook_runs_where_and_when_the_spec_says);

/// A startContainer hook without `env` runs with the process's environment, and the HOME that
/// runc adds to it from the container's /etc/passwd when the process has none.
fn a_start_container_hook_without_env_gets_the_process_env_and_home(runtime: &Runtime) {
    let mut hb = HookBundle::new("hooks-env", &["sleep", "30"]);
    fs::create_dir_all(hb.bundle.rootfs().join("etc")).expect("etc");
    fs::write(
        hb.bundle.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/home/rooty:/bin/sh\n",
    )
    .expect("passwd");
    hb.spec["process"]["env"] = json!(["PATH=/bin", "GREETING=hello"]);
    hb.write(json!({"startContainer": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", "echo \"home=$HOME greeting=$GREETING\" > /hooks.log"],
    }]}));
    let _guard = guard(runtime, &hb);
    let (ok, err) = try_create(runtime, &hb);
    assert!(ok, "{} create failed: {err}", runtime.bin);
    let out = runtime.output(&["start", &hb.id]);
    assert!(out.status.success(), "{} start: {}", runtime.bin, stderr(&out));
    assert_eq!(
        hb.container_lines(),
        ["home=/home/rooty greeting=hello"],
        "{}",
        runtime.bin
    );
}

on_both_runtimes!(a_start_container_hook_without_env_gets_the_process_env_and_home);

/// A hook that fails loudly, then one that records: the second must never run.
fn failing_then_recording(hb: &HookBundle, kind: &str, in_container: bool) -> Value {
    let fail = json!({"path": "/bin/sh", "args": ["sh", "-c", "echo hook-said-no >&2; exit 3"]});
    let next = if in_container {
        hb.container_hook(kind)
    } else {
        hb.host_hook(kind)
    };
    json!({ kind: [fail, next] })
}

fn a_failing_create_hook_fails_create_and_leaves_nothing(runtime: &Runtime) {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut hb = HookBundle::new("hooks-fail", &["sleep", "30"]);
        let hooks = failing_then_recording(&hb, kind, false);
        hb.write(hooks);
        let _guard = guard(runtime, &hb);
        let (ok, err) = try_create(runtime, &hb);
        assert!(
            !ok,
            "{}: create succeeded despite a failing {kind} hook",
            runtime.bin
        );
        // Both runtimes pass on what the hook said.
        assert!(err.contains("hook-said-no"), "{} {kind}: {err}", runtime.bin);
        if is_berth(runtime) {
            assert!(
                err.contains(&format!("{kind} hook /bin/sh failed: exit status 3")),
                "{err}"
            );
        }
        assert!(
            hb.host_lines().is_empty(),
            "{} {kind}: the next hook ran",
            runtime.bin
        );
        assert_nothing_left(runtime, &hb.id);
    }
}

on_both_runtimes!(a_failing_create_hook_fails_create_and_leaves_nothing);

fn a_failing_start_container_hook_stops_the_container(runtime: &Runtime) {
    let mut hb = HookBundle::new("hooks-sc", &["sh", "-c", "touch /program-ran; sleep 30"]);
    let hooks = failing_then_recording(&hb, "startContainer", true);
    hb.write(hooks);
    let _guard = guard(runtime, &hb);
    let (ok, err) = try_create(runtime, &hb);
    assert!(ok, "{} create failed: {err}", runtime.bin);
    let out = runtime.output(&["start", &hb.id]);
    // runc 1.1's `start` succeeds anyway; the spec asks for an error, which berth-runtime gives.
    if is_berth(runtime) {
        assert!(!out.status.success(), "start succeeded");
        assert!(
            stderr(&out).contains("startContainer hook /bin/sh failed: exit status 3")
                && stderr(&out).contains("hook-said-no"),
            "{}",
            stderr(&out)
        );
    }
    wait_status(runtime, &hb.id, "stopped");
    assert!(
        !hb.bundle.rootfs().join("program-ran").exists(),
        "{}: the program ran",
        runtime.bin
    );
    assert!(
        hb.container_lines().is_empty(),
        "{}: the next hook ran",
        runtime.bin
    );
    let out = runtime.output(&["delete", &hb.id]);
    assert!(
        out.status.success(),
        "{} delete failed: {}",
        runtime.bin,
        stderr(&out)
    );
    assert_nothing_left(runtime, &hb.id);
}

on_both_runtimes!(a_failing_start_container_hook_stops_the_container);

fn a_failing_poststart_hook_stops_the_container(runtime: &Runtime) {
    let mut hb = HookBundle::new("hooks-ps", &["sleep", "30"]);
    let hooks = failing_then_recording(&hb, "poststart", false);
    hb.write(hooks);
    let _guard = guard(runtime, &hb);
    // runc 1.1 runs poststart (and fails) in `create`, later runc and berth-runtime in `start`:
    // either way the lifecycle stops with an error carrying the hook's words, and the
    // container does not run on.
    let (created, create_err) = try_create(runtime, &hb);
    let start = runtime.output(&["start", &hb.id]);
    assert!(
        !(created && start.status.success()),
        "{}: no step failed",
        runtime.bin
    );
    let err = format!("{create_err}{}", stderr(&start));
    assert!(err.contains("hook-said-no"), "{}: {err}", runtime.bin);
    if is_berth(runtime) {
        assert!(created, "create failed: {create_err}");
        assert!(
            stderr(&start).contains("poststart hook /bin/sh failed: exit status 3"),
            "{}",
            stderr(&start)
        );
    }
    if let Some(state) = runtime.state(&hb.id) {
        assert_eq!(state["status"], "stopped", "{}: {state}", runtime.bin);
    }
    assert!(hb.host_lines().is_empty(), "{}: the next hook ran", runtime.bin);
}

on_both_runtimes!(a_failing_poststart_hook_stops_the_container);

fn a_failing_poststop_hook_only_warns(runtime: &Runtime) {
    let mut hb = HookBundle::new("hooks-pst", &["sleep", "30"]);
    let hooks = failing_then_recording(&hb, "poststop", false);
    hb.write(hooks);
    let _guard = guard(runtime, &hb);
    let (ok, err) = try_create(runtime, &hb);
    assert!(ok, "{} create failed: {err}", runtime.bin);
    assert!(runtime.output(&["start", &hb.id]).status.success());
    let out = runtime.output(&["delete", "--force", &hb.id]);
    assert!(
        out.status.success(),
        "{} delete failed: {}",
        runtime.bin,
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hook-said-no"),
        "{}: {}",
        runtime.bin,
        stderr(&out)
    );
    assert_nothing_left(runtime, &hb.id);
    // The spec: "the remaining hooks and lifecycle continue" (runc 1.1 stops the list).
    if is_berth(runtime) {
        let lines = hb.host_lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("poststop status=stopped "), "{lines:?}");
        assert!(
            stderr(&out).contains("poststop hook /bin/sh failed"),
            "{}",
            stderr(&out)
        );
    }
}

on_both_runtimes!(a_failing_poststop_hook_only_warns);

fn a_hook_past_its_timeout_is_killed_and_fails_create(runtime: &Runtime) {
    for kind in ["createRuntime", "createContainer"] {
        let mut hb = HookBundle::new("hooks-slow", &["sleep", "30"]);
        hb.write(json!({ kind: [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}] }));
        let _guard = guard(runtime, &hb);
        let started = Instant::now();
        let (ok, err) = try_create(runtime, &hb);
        assert!(!ok, "{}: create outlived a {kind} hook's timeout", runtime.bin);
        // Loose: the point is that the hook was killed, not waited for.
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{}: {kind} took {:?}",
            runtime.bin,
            started.elapsed()
        );
        assert!(err.contains("timeout"), "{} {kind}: {err}", runtime.bin);
        if is_berth(runtime) {
            assert!(
                err.contains(&format!("{kind} hook /bin/sleep ran past its timeout of 1 s")),
                "{err}"
            );
        }
        assert_nothing_left(runtime, &hb.id);
    }
}

on_both_runtimes!(a_hook_past_its_timeout_is_killed_and_fails_create);

/// berth-runtime alone: a shell hook whose `sleep` outlives it is killed with it (runc waits
/// for the `sleep`, which holds the hook's output pipes), also inside the container.
#[test]
fn a_slow_start_container_hook_is_killed_with_its_children() {
    let berth = Runtime::berth();
    let mut hb = HookBundle::new("hooks-slowsc", &["sh", "-c", "touch /program-ran; sleep 30"]);
    hb.write(json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 30; true"], "timeout": 1}
    ]}));
    let _guard = guard(&berth, &hb);
    let (ok, err) = try_create(&berth, &hb);
    assert!(ok, "create failed: {err}");
    let started = Instant::now();
    let out = berth.output(&["start", &hb.id]);
    assert!(!out.status.success(), "start succeeded");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("startContainer hook /bin/sh ran past its timeout of 1 s"),
        "{}",
        stderr(&out)
    );
    wait_status(&berth, &hb.id, "stopped");
    assert!(
        !hb.bundle.rootfs().join("program-ran").exists(),
        "the program ran"
    );
}

/// berth-runtime alone (runc 1.1 does not check): the spec wants absolute paths and positive
/// timeouts, and a bundle that breaks that is refused before anything is made.
#[test]
fn an_invalid_hook_fails_create_and_leaves_nothing() {
    let berth = Runtime::berth();
    for (hook, why) in [
        (json!({"path": "record.sh"}), "the path must be absolute"),
        (
            json!({"path": "/bin/true", "timeout": 0}),
            "the timeout must be greater than zero",
        ),
    ] {
        let mut hb = HookBundle::new("hooks-invalid", &["sleep", "30"]);
        hb.write(json!({"poststop": [hook]}));
        let _guard = guard(&berth, &hb);
        let (ok, err) = try_create(&berth, &hb);
        assert!(!ok, "create accepted {hook}");
        assert!(
            err.contains("invalid poststop hook ") && err.contains(why),
            "{err}"
        );
        assert_nothing_left(&berth, &hb.id);
    }
}
