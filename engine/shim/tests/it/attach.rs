//! Attach: a pty driven through the socket, and Docker's frames without a tty.

use std::io::Write;
use std::net::Shutdown;

use berth_shim::ProcessStatus;
use berth_shim::frame::FrameReader;

use crate::support::{container, read_to_end, read_until};

#[test]
fn attach_with_a_pty() {
    let c = container("pty", &["sh"]).tty().stdin().create();
    let client = c.client();
    // Attach first, then start: nothing the shell prints is missed.
    let mut stream = client.attach("init", true, true, true).unwrap();
    client.start().unwrap();
    read_until(&mut stream, b"/ # ");
    stream.write_all(b"echo hi\r").unwrap();
    // The pty echoes the command line, then the shell prints its output.
    read_until(&mut stream, b"echo hi\r\nhi\r\n");
    client.resize("init", 100, 40).unwrap();
    stream.write_all(b"stty size\r").unwrap();
    read_until(&mut stream, b"\r\n40 100\r\n");
    stream.write_all(b"exit 5\r").unwrap();
    // The stream ends when the shell has exited and its output is flushed.
    let rest = read_to_end(&mut stream);
    assert!(
        String::from_utf8_lossy(&rest).contains("exit 5"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(client.wait_init().unwrap().exit_code, 5);
    let logged: String = c.log_lines().into_iter().map(|(line, _)| line).collect();
    assert!(logged.contains("\r\nhi\r\n"), "{logged:?}");
    assert!(c.log_lines().iter().all(|(_, stream)| stream == "stdout"));
}

#[test]
fn attach_without_a_tty_sends_frames() {
    let c = container("frames", &["sh", "-c", "cat; echo done >&2; exit 0"])
        .stdin()
        .stdin_once()
        .create();
    let client = c.client();
    let mut stream = client.attach("init", true, true, true).unwrap();
    client.start().unwrap();
    stream.write_all(b"hello\n").unwrap();
    // stdin-once: shutting our side down closes the container's stdin, so cat ends.
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(crate::support::PATIENCE)).unwrap();
    let (stdout, stderr) = FrameReader::new(&mut stream).read_to_end().unwrap();
    assert_eq!(
        (stdout.as_slice(), stderr.as_slice()),
        (&b"hello\n"[..], &b"done\n"[..])
    );
    assert_eq!(client.wait_init().unwrap().exit_code, 0);
    assert_eq!(
        c.log_lines(),
        vec![
            ("hello\n".to_string(), "stdout".to_string()),
            ("done\n".to_string(), "stderr".to_string())
        ]
    );
}

#[test]
fn without_stdin_once_stdin_stays_open_after_a_client_detaches() {
    let c = container("detach", &["cat"]).stdin().create();
    let client = c.client();
    let mut first = client.attach("init", true, true, false).unwrap();
    client.start().unwrap();
    first.write_all(b"one\n").unwrap();
    read_until(&mut first, b"one\n");
    first.shutdown(Shutdown::Write).unwrap();
    // cat still has its stdin: a second client's input comes back.
    let mut second = client.attach("init", true, true, false).unwrap();
    second.write_all(b"two\n").unwrap();
    read_until(&mut second, b"two\n");
    assert_eq!(client.state().unwrap().status, ProcessStatus::Running);
    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
    // Both streams end with the process.
    read_to_end(&mut first);
    read_to_end(&mut second);
}

#[test]
fn only_the_requested_streams_are_sent() {
    let c = container("onlyerr", &["sh", "-c", "echo out; echo err >&2"]).create();
    let client = c.client();
    let mut stream = client.attach("init", false, false, true).unwrap();
    client.start().unwrap();
    stream.set_read_timeout(Some(crate::support::PATIENCE)).unwrap();
    let (stdout, stderr) = FrameReader::new(&mut stream).read_to_end().unwrap();
    assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b""[..], &b"err\n"[..]));
}

#[test]
fn unknown_processes_and_bad_requests_are_refused() {
    let c = container("refuse", &["sleep", "100000"]).create();
    let client = c.client();
    let err = client.attach("nope", false, true, true).unwrap_err();
    assert_eq!(err.to_string(), "no such process: nope");
    let err = client.resize("init", 80, 24).unwrap_err();
    assert_eq!(err.to_string(), "process init has no tty");
    let err = client.exec_start("nope").unwrap_err();
    assert_eq!(err.to_string(), "no such process: nope");
    // A line that is not a request gets an error reply, and the shim keeps serving.
    let mut raw = std::os::unix::net::UnixStream::connect(client.socket()).unwrap();
    raw.write_all(b"{\"op\":\"checkpoint\"}\n").unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&read_to_end(&mut raw)).unwrap();
    assert_eq!(reply["ok"], false);
    assert!(
        reply["error"].as_str().unwrap().starts_with("bad request: "),
        "{reply}"
    );
    assert_eq!(client.state().unwrap().status, ProcessStatus::Created);
    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
}
