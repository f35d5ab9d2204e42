//! Lifecycle: stop (SIGTERM, then SIGKILL after -t), logs -f, limits in cgroup files, default
//! capabilities, what rm leaves (nothing), and the kill -9 of berthd that containers survive.

use std::process::Stdio;

use crate::common::TestDaemon;
use crate::containers_common::{
    ChildGuard, Gathered, cgroup_dirs, mounts_mentioning, processes_mentioning, wait_with_patience,
};

fn daemon() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

fn state(daemon: &TestDaemon, name: &str) -> String {
    daemon
        .ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name])
        .trim()
        .to_owned()
}

/// Wait until the container's log shows `needle` (it was printed after the setup it names).
fn wait_for_log(daemon: &TestDaemon, name: &str, needle: &str) {
    let mut child = daemon
        .berth()
        .args(["logs", "-f", name])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start berth logs -f");
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = ChildGuard(child);
    let mut output = Gathered::new(stdout);
    assert!(
        output.wait_for(needle),
        "{name} never logged {needle:?}: {:?}",
        output.text
    );
}

#[test]
fn stop_sends_sigterm_and_kills_after_the_timeout() {
    let daemon = daemon();
    // A process that handles TERM stops with its own code.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo ready; sleep 1000 & wait",
    ]);
    wait_for_log(&daemon, "polite", "ready");
    assert_eq!(daemon.ok(&["stop", "polite"]), "polite\n");
    assert_eq!(state(&daemon, "polite"), "exited 42");

    // PID 1 without a TERM handler ignores it: SIGKILL after -t.
    daemon.ok(&["run", "-d", "--name", "deaf", "busybox", "sleep", "1000"]);
    assert_eq!(daemon.ok(&["stop", "-t", "1", "deaf"]), "deaf\n");
    assert_eq!(state(&daemon, "deaf"), "exited 137");

    // With --init, the init passes TERM on to the command, which dies of it.
    daemon.ok(&[
        "run", "-d", "--init", "--name", "inited", "busybox", "sleep", "1000",
    ]);
    assert_ne!(daemon.ok(&["exec", "inited", "cat", "/proc/1/comm"]), "sleep\n");
    daemon.ok(&["stop", "inited"]);
    assert_eq!(state(&daemon, "inited"), "exited 143");

    // Stopping a stopped container is no error; kill of one is.
    assert_eq!(daemon.ok(&["stop", "deaf"]), "deaf\n");
    let (code, stderr) = daemon.fails(&["kill", "deaf"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("Error response from daemon: Cannot kill container: deaf: Container ")
            && stderr.ends_with(" is not running\n"),
        "{stderr}"
    );
    let (code, stderr) = daemon.fails(&["kill", "nosuch"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "Error response from daemon: Cannot kill container: nosuch: No such container: nosuch\n"
        )
    );
    let (code, stderr) = daemon.fails(&["kill", "-s", "BOGUS", "deaf"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "Error response from daemon: Invalid signal: BOGUS\n")
    );
    let (code, stderr) = daemon.fails(&["stop", "nosuch"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "Error response from daemon: No such container: nosuch\n")
    );

    // kill -s, restart and wait.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "target",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 10' USR1; sleep 1000 & wait",
    ]);
    daemon.ok(&["restart", "-t", "1", "target"]);
    assert_eq!(state(&daemon, "target"), "running 0");
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.RestartCount}}", "target"]),
        "0\n"
    );
    assert_eq!(daemon.ok(&["kill", "-s", "USR1", "target"]), "target\n");
    assert_eq!(daemon.ok(&["wait", "target"]), "10\n");
}

#[test]
fn logs_follow_shows_new_lines_and_ends_with_the_container() {
    let daemon = daemon();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "mkfifo /go; echo first; read x < /go; echo second >&2; read x < /go; echo third",
    ]);
    let mut child = daemon
        .berth()
        .args(["logs", "-f", "talker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth logs -f");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut following = ChildGuard(child);
    let mut out = Gathered::new(stdout);
    let mut err = Gathered::new(stderr);
    assert!(out.wait_for("first\n"), "{:?}", out.text);
    daemon.ok(&["exec", "talker", "sh", "-c", "echo > /go"]);
    assert!(err.wait_for("second\n"), "{:?}", err.text);
    daemon.ok(&["exec", "talker", "sh", "-c", "echo > /go"]);
    // The container ends, and so does the follow.
    let status = wait_with_patience(&mut following.0);
    assert_eq!(status.code(), Some(0));
    assert_eq!(out.rest(), "first\nthird\n");

    assert_eq!(daemon.ok(&["logs", "--tail", "1", "talker"]), "third\n");
    let stamped = daemon.ok(&["logs", "-t", "talker"]);
    let first = stamped.lines().next().unwrap_or_default();
    // RFC 3339 with nine fraction digits always, as Docker prints them.
    assert!(first.ends_with("Z first"), "{stamped}");
    assert_eq!(
        first.len(),
        "2026-11-28T05:22:55.608517380Z first".len(),
        "{stamped}"
    );
    assert_eq!(daemon.ok(&["logs", "--since", "1h", "talker"]), "first\nthird\n");
    assert_eq!(daemon.ok(&["logs", "--until", "1h", "talker"]), "");
    let (code, stderr) = daemon.fails(&["logs", "--since", "yesterday", "talker"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "invalid value for \"since\": failed to parse value as time or duration: \"yesterday\"\n"
    );
}

#[test]
fn limits_are_written_to_the_cgroup_files() {
    let daemon = daemon();
    let id = daemon.ok(&[
        "run",
        "-d",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim();
    let read = |controller: &str, file: &str| {
        let path = format!("/sys/fs/cgroup/{controller}/berth/{id}/{file}");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
            .trim()
            .to_owned()
    };
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("pids", "pids.max"), "50");
    // The container's process is in them.
    let pid = daemon.ok(&["inspect", "-f", "{{.State.Pid}}", id]);
    let procs = read("pids", "cgroup.procs");
    assert!(procs.lines().any(|p| p == pid.trim()), "{procs}");
    assert_eq!(
        daemon.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
            id
        ]),
        "67108864 500000000 50\n"
    );
}

#[test]
fn dockers_default_capabilities_seen_from_inside() {
    let daemon = daemon();
    let status = daemon.ok(&["run", "--rm", "busybox", "grep", "^Cap", "/proc/self/status"]);
    assert!(status.contains("CapEff:\t00000000a80425fb\n"), "{status}");
    assert!(status.contains("CapBnd:\t00000000a80425fb\n"), "{status}");
    let privileged = daemon.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(privileged, "CapEff:\t00000000a80435fb\n");
}

#[test]
fn rm_leaves_no_mount_cgroup_state_or_process() {
    let daemon = daemon();
    let id = daemon.ok(&["run", "-d", "--name", "doomed", "busybox", "sleep", "1000"]);
    let id = id.trim().to_owned();
    assert!(!cgroup_dirs(&id).is_empty(), "a running container has cgroups");
    assert!(!mounts_mentioning(&id[..12]).is_empty() || !mounts_mentioning(&id).is_empty());
    assert!(!processes_mentioning(&id).is_empty(), "its shim runs");

    assert_eq!(daemon.ok(&["rm", "-f", "doomed"]), "doomed\n");
    assert_eq!(cgroup_dirs(&id), Vec::<std::path::PathBuf>::new());
    assert_eq!(mounts_mentioning(&id[..12]), Vec::<String>::new());
    assert_eq!(mounts_mentioning(&id), Vec::<String>::new());
    assert_eq!(processes_mentioning(&id), Vec::<String>::new());
    let data_root = daemon.data_root();
    assert!(!data_root.join("containers").join(&id).exists());
    let exec_root = daemon.root.join("exec");
    assert!(!exec_root.join("c").join(&id[..12]).exists());
    assert!(!exec_root.join("c").join(&id).exists());
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
}

#[test]
fn containers_survive_a_kill_9_of_berthd() {
    let mut daemon = daemon();
    daemon.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "survivor",
        "busybox",
        "sh",
        "-c",
        "echo started; while read l; do echo got $l; done",
    ]);
    let output = daemon.output(&["run", "--name", "finished", "busybox", "sh", "-c", "exit 5"]);
    assert_eq!(output.status.code(), Some(5));
    wait_for_log(&daemon, "survivor", "started");

    daemon.kill9();
    daemon.restart();

    // Listed, logged, attachable, stoppable; the exited one keeps its code.
    assert_eq!(
        daemon.ok(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "survivor running\n"
    );
    assert_eq!(state(&daemon, "finished"), "exited 5");
    assert_eq!(daemon.ok(&["logs", "survivor"]), "started\n");
    let mut child = daemon
        .berth()
        .args(["attach", "survivor"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start berth attach");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut attached = ChildGuard(child);
    let mut output = Gathered::new(stdout);
    std::io::Write::write_all(&mut stdin, b"after restart\n").expect("write stdin");
    assert!(output.wait_for("got after restart\n"), "{:?}", output.text);
    assert_eq!(daemon.ok(&["stop", "-t", "1", "survivor"]), "survivor\n");
    assert_eq!(wait_with_patience(&mut attached.0).code(), Some(137));
    assert_eq!(state(&daemon, "survivor"), "exited 137");
    assert_eq!(daemon.ok(&["logs", "survivor"]), "started\ngot after restart\n");
}
