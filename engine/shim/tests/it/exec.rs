//! Exec: extra processes in a running container, with and without a pty.

use std::io::Write;
use std::net::Shutdown;

use berth_shim::frame::FrameReader;

use crate::support::{container, oci_process, read_to_end, read_until};

#[test]
fn exec_without_a_tty() {
    let c = container("exec", &["sleep", "100000"]).create();
    let client = c.client();
    client.start().unwrap();
    client
        .exec_create(
            "e1",
            oci_process(&["sh", "-c", "cat; echo bye >&2; exit 7"]),
            false,
            true,
        )
        .unwrap();
    // Attach before start, as berthd does.
    let mut stream = client.attach("e1", true, true, true).unwrap();
    let pid = client.exec_start("e1").unwrap();
    assert!(pid > 0);
    stream.write_all(b"ping\n").unwrap();
    // An exec's stdin closes when the client closes its side (Docker does the same).
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(crate::support::PATIENCE)).unwrap();
    let (stdout, stderr) = FrameReader::new(&mut stream).read_to_end().unwrap();
    assert_eq!(
        (stdout.as_slice(), stderr.as_slice()),
        (&b"ping\n"[..], &b"bye\n"[..])
    );
    let exit = client.wait("e1").unwrap();
    assert_eq!((exit.exit_code, exit.oom_killed), (7, false));
    // Waiting again answers at once; exec output is not in the container's log.
    assert_eq!(client.wait("e1").unwrap().exit_code, 7);
    assert!(c.log_lines().is_empty(), "{:?}", c.log_lines());
    assert!(!c.state().exec_process("e1").exists() && !c.state().exec_pid("e1").exists());
    // The container is untouched.
    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
}

#[test]
fn exec_with_a_tty() {
    let c = container("exectty", &["sleep", "100000"]).create();
    let client = c.client();
    client.start().unwrap();
    client
        .exec_create("e2", oci_process(&["sh"]), true, true)
        .unwrap();
    let err = client.resize("e2", 120, 30).unwrap_err();
    assert_eq!(err.to_string(), "process e2 has no pty yet: start it first");
    let mut stream = client.attach("e2", true, true, true).unwrap();
    client.exec_start("e2").unwrap();
    read_until(&mut stream, b"/ # ");
    client.resize("e2", 120, 30).unwrap();
    stream.write_all(b"stty size; tty\r").unwrap();
    let seen = read_until(&mut stream, b"\r\n30 120\r\n/dev/pts/");
    assert!(!seen.is_empty());
    stream.write_all(b"exit 4\r").unwrap();
    read_to_end(&mut stream);
    assert_eq!(client.wait("e2").unwrap().exit_code, 4);
    assert!(c.log_lines().is_empty());
    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
}

#[test]
fn an_exec_that_cannot_run_fails_with_the_runtime_message() {
    let c = container("execfail", &["sleep", "100000"]).create();
    let client = c.client();
    client.start().unwrap();
    client
        .exec_create("bad", oci_process(&["/bin/no-such-binary"]), false, false)
        .unwrap();
    let err = client.exec_start("bad").unwrap_err();
    assert!(err.to_string().contains("no-such-binary"), "{err}");
    assert_eq!(client.wait("bad").unwrap().exit_code, 126);
    let err = client
        .exec_create("bad", oci_process(&["true"]), false, false)
        .unwrap_err();
    assert_eq!(err.to_string(), "exec bad already exists");
    let err = client
        .exec_create("../x", oci_process(&["true"]), false, false)
        .unwrap_err();
    assert!(err.to_string().starts_with("bad exec id"), "{err}");
    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
}
