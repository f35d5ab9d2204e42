//! `berth exec` into a running container (with and without a tty), and `attach`.

use std::io::Write;
use std::process::Stdio;

use crate::common::TestDaemon;
use crate::containers_common::{ChildGuard, Gathered, PtySession, wait_with_patience};

fn daemon_with_sleeper(name: &str) -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["run", "-d", "--name", name, "busybox", "sleep", "1000"]);
    daemon
}

#[test]
fn exec_runs_in_the_container_with_its_options() {
    let daemon = daemon_with_sleeper("box");
    assert_eq!(daemon.ok(&["exec", "box", "echo", "hi"]), "hi\n");
    let output = daemon.output(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "err\n");
    // PID 1 is the container's own process: exec joined its namespaces.
    assert_eq!(
        daemon.ok(&["exec", "box", "cat", "/proc/1/cmdline"]),
        "sleep\x001000\x00"
    );
    assert_eq!(
        daemon.ok(&[
            "exec",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "box",
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u):$(id -g)"
        ]),
        "1 /tmp 1000:1000\n"
    );
    // A command that cannot start: the message on stdout and 126, as Docker.
    let output = daemon.output(&["exec", "box", "nosuchcmd"]);
    assert_eq!(output.status.code(), Some(126));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("executable file not found"), "{stdout}");
    // -d: started, not waited for.
    assert_eq!(
        daemon.ok(&["exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d"]),
        ""
    );
    let mut seen = String::new();
    for _ in 0..100 {
        seen = daemon.ok(&["exec", "box", "sh", "-c", "cat /tmp/d 2>/dev/null || true"]);
        if !seen.is_empty() {
            break;
        }
    }
    assert_eq!(seen, "detached\n");

    let (code, stderr) = daemon.fails(&["exec", "nosuch", "true"]);
    assert_eq!((code, stderr.as_str()), (1, "Error: No such container: nosuch\n"));
    daemon.ok(&["stop", "-t", "0", "box"]);
    let (code, stderr) = daemon.fails(&["exec", "box", "true"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("Error response from daemon: Container ") && stderr.ends_with(" is not running\n"),
        "{stderr}"
    );
}

#[test]
fn exec_interactive_reads_stdin() {
    let daemon = daemon_with_sleeper("box");
    let mut child = daemon
        .berth()
        .args(["exec", "-i", "box", "sh", "-c", "tr a-z A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start berth exec -i");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(b"shout\n").expect("write stdin");
    drop(stdin);
    let status = wait_with_patience(&mut child);
    let output = child.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "SHOUT\n");
}

#[test]
fn exec_with_a_tty_through_a_real_pty() {
    let daemon = daemon_with_sleeper("box");
    let mut command = daemon.berth();
    command.args(["exec", "-it", "box", "sh"]);
    let mut session = PtySession::spawn(command, 33, 77);
    assert!(session.output.wait_for("# "), "{:?}", session.output.text);
    assert!(session.stty_size_becomes(33, 77), "{:?}", session.output.text);
    session.type_text("tty; echo hi; exit 5\n");
    assert!(session.output.wait_for("/dev/pts/"), "{:?}", session.output.text);
    assert!(session.output.wait_for("\nhi\r\n"), "{:?}", session.output.text);
    assert_eq!(session.wait().code(), Some(5), "{:?}", session.output.text);
}

#[test]
fn attach_follows_a_running_container_until_it_stops() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "echoer",
        "busybox",
        "sh",
        "-c",
        "echo started; while read l; do echo got $l; done",
    ]);
    let mut child = daemon
        .berth()
        .args(["attach", "echoer"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth attach");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut attached = ChildGuard(child);
    let mut output = Gathered::new(stdout);
    stdin.write_all(b"ping\n").expect("write stdin");
    assert!(output.wait_for("got ping\n"), "{:?}", output.text);
    daemon.ok(&["kill", "echoer"]);
    let status = wait_with_patience(&mut attached.0);
    assert_eq!(status.code(), Some(137));

    let (code, stderr) = daemon.fails(&["attach", "echoer"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "You cannot attach to a stopped container, start it first\n")
    );
    let (code, stderr) = daemon.fails(&["attach", "nosuch"]);
    assert_eq!((code, stderr.as_str()), (1, "Error: No such container: nosuch\n"));
}
