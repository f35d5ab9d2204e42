//! `berth run`, `create` and `start`: exit codes, streams, `-i`, `-it` on a real pty, names.

use std::io::Write;
use std::process::Stdio;

use crate::common::TestDaemon;
use crate::containers_common::{PtySession, wait_with_patience};

fn daemon() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

#[test]
fn run_exits_with_the_containers_code_or_dockers() {
    let daemon = daemon();

    let ok = daemon.output(&["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&ok.stderr), "err\n");

    let three = daemon.output(&["run", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(three.status.code(), Some(3));

    // Not found: 127, the daemon's message as Docker prints it.
    let (code, stderr) = daemon.fails(&["run", "--name", "missing-cmd", "busybox", "nosuchcmd"]);
    assert_eq!(code, 127);
    assert!(
        stderr.starts_with("berth: Error response from daemon: ")
            && stderr.contains("executable file not found"),
        "{stderr}"
    );
    let recorded = daemon.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "missing-cmd",
    ]);
    assert_eq!(recorded, "created 127\n");

    // Cannot invoke: 126; with --rm the container that could not start is gone too.
    let before = daemon.ok(&["ps", "-aq"]);
    let (code, stderr) = daemon.fails(&["run", "--rm", "busybox", "/etc"]);
    assert_eq!(code, 126, "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_eq!(daemon.ok(&["ps", "-aq"]), before);

    // A daemon refusal: 125.
    let (code, stderr) = daemon.fails(&["run", "--restart", "bogus", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("bogus") && stderr.ends_with("See 'berth run --help'.\n"),
        "{stderr}"
    );

    // Bad flags: 125 too, in Docker's words.
    let (code, stderr) = daemon.fails(&["run", "-p", "99999:80", "busybox"]);
    assert_eq!(
        (code, stderr.as_str()),
        (125, "berth: Invalid hostPort: 99999.\nSee 'berth run --help'.\n")
    );
    let (code, stderr) = daemon.fails(&["run", "--memory", "lots", "busybox"]);
    assert_eq!(code, 125);
    assert_eq!(
        stderr,
        "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'\nSee 'berth run --help'.\n"
    );
    let (code, stderr) = daemon.fails(&["run", "-d", "-a", "stdout", "busybox"]);
    assert_eq!((code, stderr.as_str()), (1, "Conflicting options: -a and -d\n"));

    // A missing image: said, then the pull fails (no registry here) as Docker's does.
    let (code, stderr) = daemon.fails(&["run", "nosuchimage"]);
    assert_eq!(code, 125);
    let mut lines = stderr.lines();
    assert_eq!(
        lines.next(),
        Some("Unable to find image 'nosuchimage:latest' locally")
    );
    assert!(lines.next().is_some_and(|l| l.starts_with("berth: ")), "{stderr}");
    assert_eq!(lines.last(), Some("See 'berth run --help'."));
}

#[test]
fn run_detached_prints_the_full_id_and_rm_removes() {
    let daemon = daemon();
    let id = daemon.ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(daemon.ok(&["ps", "-q"]), format!("{}\n", &id[..12]));
    assert_eq!(daemon.ok(&["ps", "-q", "--no-trunc"]), format!("{id}\n"));

    daemon.ok(&["run", "--rm", "--name", "gone", "busybox", "true"]);
    let (code, stderr) = daemon.fails(&["inspect", "gone"]);
    assert_eq!((code, stderr.as_str()), (1, "Error: No such object: gone\n"));
    assert_eq!(daemon.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn interactive_without_a_tty_forwards_stdin_and_half_closes_at_eof() {
    let daemon = daemon();
    let mut child = daemon
        .berth()
        .args(["run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth run -i");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(b"hello\nworld\n").expect("write stdin");
    drop(stdin);
    let status = wait_with_patience(&mut child);
    let output = child.wait_with_output().expect("collect output");
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\nworld\ndone\n");
}

#[test]
fn interactive_tty_through_a_real_pty() {
    let daemon = daemon();
    let mut command = daemon.berth();
    command.args(["run", "-it", "--name", "tty", "busybox", "sh"]);
    let mut session = PtySession::spawn(command, 40, 100);
    assert!(
        session.output.wait_for("# "),
        "no prompt: {:?}",
        session.output.text
    );
    // The container's pty takes the terminal's size (sent after start, and on every SIGWINCH).
    assert!(session.stty_size_becomes(40, 100), "{:?}", session.output.text);
    session.resize(30, 90);
    assert!(
        session.stty_size_becomes(30, 90),
        "the resize did not reach the container: {:?}",
        session.output.text
    );
    session.type_text("echo hi; exit 3\n");
    assert!(session.output.wait_for("\nhi\r\n"), "{:?}", session.output.text);
    let status = session.wait();
    assert_eq!(status.code(), Some(3), "{:?}", session.output.text);
}

#[test]
fn run_it_refuses_a_stdin_that_is_no_terminal() {
    let daemon = daemon();
    let output = daemon
        .berth()
        .args(["run", "-it", "busybox", "true"])
        .stdin(Stdio::null())
        .output()
        .expect("run berth");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "the input device is not a TTY\n"
    );
}

#[test]
fn detach_keys_leave_the_container_running() {
    let daemon = daemon();
    let mut command = daemon.berth();
    command.args(["run", "-it", "--name", "detached", "busybox", "sh"]);
    let mut session = PtySession::spawn(command, 24, 80);
    assert!(session.output.wait_for("# "), "{:?}", session.output.text);
    session.type_text("echo before > /tmp/mark\n");
    session.type_text("\x10\x11");
    let status = session.wait();
    assert_eq!(status.code(), Some(0), "{:?}", session.output.text);
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Running}}", "detached"]),
        "true\n"
    );

    // Attach again: the same shell, which then exits with its code.
    let mut command = daemon.berth();
    command.args(["attach", "detached"]);
    let mut again = PtySession::spawn(command, 24, 80);
    again.type_text("cat /tmp/mark; exit 7\n");
    assert!(again.output.wait_for("\nbefore\r\n"), "{:?}", again.output.text);
    assert_eq!(again.wait().code(), Some(7), "{:?}", again.output.text);
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.ExitCode}}", "detached"]),
        "7\n"
    );
}

#[test]
fn create_then_start_attached() {
    let daemon = daemon();
    let id = daemon.ok(&[
        "create",
        "--name",
        "later",
        "-e",
        "GREETING=hello",
        "busybox",
        "sh",
        "-c",
        "echo $GREETING; exit 4",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        daemon.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "later Created\n"
    );
    let output = daemon.output(&["start", "-a", "later"]);
    assert_eq!(output.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    // Started without -a: the name is printed; a second start of a running one is fine.
    daemon.ok(&["create", "--name", "bg", "busybox", "sleep", "1000"]);
    assert_eq!(daemon.ok(&["start", "bg"]), "bg\n");
    assert_eq!(daemon.ok(&["start", "bg"]), "bg\n");
    let (code, stderr) = daemon.fails(&["start", "nosuch"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: No such container: nosuch\nError: failed to start containers: nosuch\n"
    );
}

#[test]
fn names_conflict_and_running_containers_are_not_removed() {
    let daemon = daemon();
    let id = daemon.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "1000"]);
    let id = id.trim();
    let conflict = format!(
        "Error response from daemon: Conflict. The container name \"/web\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    );
    let (code, stderr) = daemon.fails(&["run", "--name", "web", "busybox", "true"]);
    assert_eq!(code, 125);
    assert_eq!(stderr, format!("berth: {conflict}\nSee 'berth run --help'.\n"));
    let (code, stderr) = daemon.fails(&["create", "--name", "web", "busybox", "true"]);
    assert_eq!((code, stderr), (1, format!("{conflict}\n")));

    let (code, stderr) = daemon.fails(&["rm", "web"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "Error response from daemon: You cannot remove a running container {id}. Stop the container before attempting removal or force remove\n"
        )
    );
    let (code, stderr) = daemon.fails(&["rm", "nosuch", "web"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("Error: No such container: nosuch\n"),
        "{stderr}"
    );
    // -f removes it, and only reports names that do not exist.
    let output = daemon.output(&["rm", "-f", "web", "nosuch"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "web\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: No such container: nosuch\n"
    );
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
}

#[test]
fn detach_keys_come_from_the_config_file_too() {
    let daemon = daemon();
    let config = crate::common::TempDir::new("berth-detach-config");
    std::fs::write(config.0.join("config.json"), r#"{"detachKeys": "ctrl-a,x"}"#).expect("write config.json");
    let mut command = daemon.berth();
    command
        .env("BERTH_CONFIG", &config.0)
        .args(["run", "-it", "--name", "configured", "busybox", "sh"]);
    let mut session = PtySession::spawn(command, 24, 80);
    assert!(session.output.wait_for("# "), "{:?}", session.output.text);
    // The default keys are ordinary input now; the configured ones detach.
    session.type_text("\x10\x11echo typed\n");
    assert!(session.output.wait_for("typed\r\n"), "{:?}", session.output.text);
    session.type_text("\x01x");
    assert_eq!(session.wait().code(), Some(0), "{:?}", session.output.text);
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Running}}", "configured"]),
        "true\n"
    );

    // The real docker CLI's --detach-keys, which berthd watches for as dockerd does.
    let mut command = std::process::Command::new(crate::common::docker_cli());
    command
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", config.0.join("docker"))
        .args(["attach", "--detach-keys", "ctrl-a,y", "configured"]);
    let mut attached = PtySession::spawn(command, 24, 80);
    attached.type_text("echo again\n");
    assert!(
        attached.output.wait_for("again\r\n"),
        "{:?}",
        attached.output.text
    );
    attached.type_text("\x01y");
    attached.wait();
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Running}}", "configured"]),
        "true\n"
    );
}
