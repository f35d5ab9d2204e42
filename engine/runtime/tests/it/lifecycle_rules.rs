//! The init and the lifecycle rules, as runc has them: each scenario runs the same steps against
//! runc and berth-runtime and expects the same outcome (exit status and runc's words).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::common::*;

/// Docker's spec, with a NOFILE limit runc honours on this host (it refuses Docker's 1048576
/// above the host's hard limit, which berth-runtime clamps).
fn spec_for(bundle: &Bundle, id: &str, args: &[&str]) -> Value {
    let mut spec = docker_spec(bundle, id, args);
    spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]);
    spec
}

/// Both runtimes, runc first (so a failure shows what the reference did).
fn runtimes() -> [Runtime; 2] {
    [Runtime::runc(), Runtime::berth()]
}

/// Docker's default profile (defaultAction SCMP_ACT_ERRNO) without `close_range`, like profiles
/// written before it existed (the OCI runtime-tools generator's, for one).
fn seccomp_without_close_range() -> Value {
    let mut profile = docker_seccomp(&DOCKER_CAPS);
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    for rule in profile["syscalls"].as_array_mut().expect("syscalls") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "close_range");
        }
    }
    let text = profile.to_string();
    assert!(!text.contains("close_range"), "close_range left in the profile");
    profile
}

#[test]
fn a_profile_without_close_range_still_runs_the_program() {
    for runtime in runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("noclrange");
        let mut spec = spec_for(&bundle, &id, &["/bin/echo", "hello from the container"]);
        spec["linux"]["seccomp"] = seccomp_without_close_range();
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        assert!(out.status.success(), "{}: {}", runtime.bin, stderr(&out));
        assert_eq!(stdout(&out), "hello from the container\n", "{}", runtime.bin);
        assert_eq!(stderr(&out), "", "{}", runtime.bin);
    }
}

/// The `msg` of every JSON line of a `--log` file.
fn log_messages(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| v["msg"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_missing_program_fails_create_on_stderr_and_in_the_log_like_runc() {
    let mut codes = Vec::new();
    for runtime in runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("nobin");
        bundle.write_spec(&spec_for(&bundle, &id, &["no-such-program"]));
        let log = bundle.path().join("runtime.log");
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let with_log = |args: &[&str]| {
            runtime
                .command()
                .arg("--log")
                .arg(&log)
                .args(["--log-format", "json"])
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("spawn runtime")
        };
        let bundle_path = bundle.path().to_str().expect("utf-8 bundle path");
        let create = with_log(&["create", "--bundle", bundle_path, &id]);
        let start = with_log(&["start", &id]);
        let want = "exec: \"no-such-program\": executable file not found in $PATH";
        assert!(
            stderr(&create).contains(want),
            "{}: {}",
            runtime.bin,
            stderr(&create)
        );
        let logged = log_messages(&log);
        assert!(
            logged.iter().any(|m| m.contains(want)),
            "{}: not in the log: {logged:?}",
            runtime.bin
        );
        // Nothing was left to start.
        assert!(
            stderr(&start).contains("container does not exist"),
            "{}: {}",
            runtime.bin,
            stderr(&start)
        );
        assert!(
            runtime.state(&id).is_none(),
            "{}: a failed create left state",
            runtime.bin
        );
        for dir in v1_cgroup_dirs(&id) {
            assert!(
                !dir.exists(),
                "{}: cgroup left behind: {}",
                runtime.bin,
                dir.display()
            );
        }
        codes.push((create.status.code(), start.status.code()));
    }
    assert_eq!(
        codes[1], codes[0],
        "exit codes of create and start (berth vs runc)"
    );
    assert_eq!(codes[0], (Some(1), Some(1)));
}

/// A program that exists and is executable, but whose exec fails (its interpreter is missing):
/// only `execve` can tell, after `start` opened the gate. runc 1.1 says nothing here (`start`
/// exits 0, the container is just stopped); berth-runtime's `start` reports it.
#[test]
fn an_exec_failure_after_start_is_reported_by_start() {
    let berth = Runtime::berth();
    for tiny_init in [false, true] {
        let bundle = Bundle::new();
        let bad = bundle.rootfs().join("bin/bad");
        std::fs::write(&bad, "#!/no/such/interpreter\n").expect("write script");
        std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod script");
        let id = unique_id("badexec");
        let mut spec = spec_for(&bundle, &id, &["/bin/bad"]);
        if tiny_init {
            spec["annotations"] = json!({"org.berth.init": "true"});
        }
        bundle.write_spec(&spec);
        let _guard = berth.create(&bundle, &id);
        let log = bundle.path().join("start.log");
        let start = berth
            .command()
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "start", &id])
            .stdin(Stdio::null())
            .output()
            .expect("spawn start");
        assert!(!start.status.success(), "start succeeded (init {tiny_init})");
        assert!(
            stderr(&start).contains("exec /bin/bad: ENOENT"),
            "init {tiny_init}: {}",
            stderr(&start)
        );
        let logged = log_messages(&log);
        assert!(
            logged.iter().any(|m| m.contains("exec /bin/bad: ENOENT")),
            "init {tiny_init}: not in the log: {logged:?}"
        );
        wait_status(&berth, &id, "stopped");
    }
}

#[test]
fn exec_reports_an_exec_failure() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let bad = bundle.rootfs().join("bin/bad");
    std::fs::write(&bad, "#!/no/such/interpreter\n").expect("write script");
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let id = unique_id("badexec2");
    bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
    let _guard = berth.create(&bundle, &id);
    assert!(berth.output(&["start", &id]).status.success());
    let out = berth.output(&["exec", &id, "/bin/bad"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("exec /bin/bad: ENOENT"), "{}", stderr(&out));
}

/// A process in a mount namespace of its own, with a tmpfs over the bundle's `rootfs/tmp`; killed
/// (and with it its namespace and mounts) when dropped.
struct Holder {
    child: Child,
}

impl Holder {
    fn new(rootfs: &Path) -> Self {
        let tmp = rootfs.join("tmp");
        let script = format!(
            "mount -t tmpfs -o size=1m berth-holder {tmp} && echo held > {tmp}/marker && exec sleep 1000",
            tmp = tmp.display()
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "/bin/sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let holder = Holder { child };
        let marker = Path::new(&format!("/proc/{}/root", holder.pid()))
            .join(tmp.strip_prefix("/").expect("absolute"))
            .join("marker");
        for _ in 0..500 {
            if marker.exists() {
                return holder;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the holder never mounted its tmpfs");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn joining_a_mount_namespace_by_path_sees_its_mounts_like_runc() {
    let mut outputs = Vec::new();
    for runtime in runtimes() {
        let bundle = Bundle::new();
        // Its own holder each: building the root pivots the whole namespace, holder included.
        let holder = Holder::new(&bundle.rootfs());
        let ns = format!("/proc/{}/ns/mnt", holder.pid());
        let holder_ns = std::fs::read_link(&ns).expect("holder's mount ns");
        let id = unique_id("joinmnt");
        let mut spec = spec_for(
            &bundle,
            &id,
            &["/bin/sh", "-c", "cat /tmp/marker; readlink /proc/self/ns/mnt"],
        );
        spec["linux"]["namespaces"][0] = json!({"type": "mount", "path": ns});
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        assert!(out.status.success(), "{}: {}", runtime.bin, stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("held\n{}\n", holder_ns.display()),
            "{}: the container is not in the holder's namespace",
            runtime.bin
        );
        // The host never saw the holder's tmpfs.
        assert!(!bundle.rootfs().join("tmp/marker").exists());
        outputs.push(stdout(&out).lines().next().map(str::to_owned));
        drop(holder);
    }
    assert_eq!(outputs[0], outputs[1]);
}

/// Run a step and check its outcome: success, or failure with runc's words in stderr.
fn step(runtime: &Runtime, args: &[&str], expect: Result<(), &str>) {
    let out = runtime.output(args);
    match expect {
        Ok(()) => assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            runtime.bin,
            stderr(&out)
        ),
        Err(words) => {
            // runc's text log quotes its message, escaping the quotes inside.
            let said = stderr(&out).replace("\\\"", "\"");
            assert_eq!(
                out.status.code(),
                Some(1),
                "{} {args:?}: {}",
                runtime.bin,
                stderr(&out)
            );
            assert!(
                said.contains(words),
                "{} {args:?}: wanted {words:?} in {said:?}",
                runtime.bin
            );
        }
    }
}

fn status_and_pid(runtime: &Runtime, id: &str) -> (String, i64) {
    let state = runtime.state(id).expect("state");
    let status = state["status"].as_str().unwrap_or_default().to_owned();
    (status, state["pid"].as_i64().unwrap_or_default())
}

#[test]
fn kill_takes_runc_signals_and_works_on_created_containers() {
    for runtime in runtimes() {
        let r = &runtime;
        let bundle = Bundle::new();
        let id = unique_id("kill");
        bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
        step(
            r,
            &["kill", &unique_id("absent"), "KILL"],
            Err("container does not exist"),
        );
        let _guard = r.create(&bundle, &id);
        let created = status_and_pid(r, &id);
        assert_eq!(created.0, "created");
        step(r, &["kill", &id, "NOPE"], Err("unknown signal \"NOPE\""));
        step(r, &["kill", &id, "SIG9"], Err("unknown signal \"SIG9\""));
        // Signals a created init takes without dying: 0 (a probe) and WINCH, in every spelling.
        for harmless in ["0", "28", "WINCH", "winch", "SIGWINCH", "sigWinch"] {
            step(r, &["kill", &id, harmless], Ok(()));
        }
        step(r, &["kill", "--all", &id, "WINCH"], Ok(()));
        assert_eq!(
            status_and_pid(r, &id),
            created,
            "{}: a harmless signal changed the container",
            r.bin
        );
        // A number the kernel refuses goes as far as the kernel.
        step(r, &["kill", &id, "99"], Err("unable to signal init"));
        step(r, &["kill", &id, "sigkill"], Ok(()));
        wait_status(r, &id, "stopped");
        step(r, &["kill", &id, "TERM"], Err("container not running"));
        step(r, &["kill", &id, "9"], Err("container not running"));
        // With --all a stopped container is fine: there is nothing left to signal.
        step(r, &["kill", "--all", &id, "KILL"], Ok(()));
        step(r, &["delete", &id], Ok(()));

        // --all reaches a created container's init too.
        let id = unique_id("killall");
        bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
        let _guard = r.create(&bundle, &id);
        step(r, &["kill", "--all", &id, "KILL"], Ok(()));
        wait_status(r, &id, "stopped");
        step(r, &["delete", &id], Ok(()));
        for dir in v1_cgroup_dirs(&id) {
            assert!(!dir.exists(), "{}: cgroup left behind: {}", r.bin, dir.display());
        }
    }
}

#[test]
fn delete_and_start_refuse_what_runc_refuses_and_change_nothing() {
    for runtime in runtimes() {
        let r = &runtime;
        let bundle = Bundle::new();
        let absent = unique_id("absent");
        step(r, &["start", &absent], Err("container does not exist"));
        step(r, &["delete", &absent], Err("container does not exist"));
        step(r, &["delete", "--force", &absent], Ok(()));

        // A created container is deleted without --force: runc kills its init.
        let id = unique_id("delcreated");
        bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
        let _guard = r.create(&bundle, &id);
        let (_, pid) = status_and_pid(r, &id);
        step(r, &["delete", &id], Ok(()));
        assert!(r.state(&id).is_none(), "{}: still there after delete", r.bin);
        assert!(gone(pid), "{}: the init survived delete", r.bin);

        // A running one is not, and stays exactly as it was; start again is refused too.
        let id = unique_id("delrunning");
        bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
        let _guard = r.create(&bundle, &id);
        step(r, &["start", &id], Ok(()));
        let running = status_and_pid(r, &id);
        assert_eq!(running.0, "running");
        step(
            r,
            &["start", &id],
            Err("cannot start an already running container"),
        );
        let words = format!("cannot delete container {id} that is not stopped: running");
        step(r, &["delete", &id], Err(&words));
        assert_eq!(
            status_and_pid(r, &id),
            running,
            "{}: refused delete changed the container",
            r.bin
        );
        assert!(alive(running.1), "{}: refused delete killed the init", r.bin);
        step(r, &["delete", "--force", &id], Ok(()));
        assert!(
            r.state(&id).is_none(),
            "{}: still there after delete --force",
            r.bin
        );
        assert!(gone(running.1), "{}: the init survived delete --force", r.bin);
        for dir in v1_cgroup_dirs(&id) {
            assert!(!dir.exists(), "{}: cgroup left behind: {}", r.bin, dir.display());
        }

        // A stopped one cannot be started, and is deleted without --force.
        let id = unique_id("startstopped");
        bundle.write_spec(&spec_for(&bundle, &id, &["/bin/sleep", "1000"]));
        let _guard = r.create(&bundle, &id);
        step(r, &["kill", &id, "KILL"], Ok(()));
        wait_status(r, &id, "stopped");
        step(
            r,
            &["start", &id],
            Err("cannot start a container that has stopped"),
        );
        assert_eq!(status_and_pid(r, &id).0, "stopped");
        step(r, &["delete", &id], Ok(()));
    }
}

/// Whether a pid is a live (not zombie) process.
fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// Whether a pid is gone within a moment (a killed process needs one to be reaped).
fn gone(pid: i64) -> bool {
    (0..200).any(|_| {
        let dead = !alive(pid);
        if !dead {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        dead
    })
}
