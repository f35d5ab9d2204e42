//! The shim's own life: detached from its caller, cleaning up a failed create, small.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use berth_shim::{ProcessStatus, ShimError};

use crate::support::{alive, container, processes_naming, read_pipe_to_end, read_to_end, wait_for_exit};

#[test]
fn state_follows_the_lifecycle() {
    let c = container("state", &["sleep", "100000"]).create();
    let client = c.client();
    let created = client.state().unwrap();
    assert_eq!(created.status, ProcessStatus::Created);
    assert_eq!(
        fs::read_to_string(c.state().init_pid()).unwrap().trim(),
        created.pid.to_string()
    );
    assert_eq!(client.start().unwrap(), created.pid);
    assert_eq!(client.state().unwrap().status, ProcessStatus::Running);
    let err = client.start().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot start container {}: it is running, not created", c.id)
    );
    client.kill(9, false).unwrap();
    client.wait_init().unwrap();
    let err = client.kill(9, false).err();
    // Either the shim still answers (the container is not running) or it has already left.
    match err {
        Some(ShimError::Refused(message)) => {
            assert_eq!(message, format!("container {} is not running", c.id))
        }
        Some(ShimError::Connect { .. }) => {}
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn a_failed_create_leaves_nothing() {
    let (c, result) = container("badcreate", &["/bin/no-such-binary"]).try_create();
    let Err(ShimError::Create(message)) = result else {
        panic!("create should fail: {result:?}")
    };
    // The runtime's own message reaches the caller.
    assert!(message.contains("no-such-binary"), "{message}");
    let state = c.state();
    for file in [
        state.socket(),
        state.shim_pid(),
        state.init_pid(),
        state.console_socket(),
    ] {
        assert!(!file.exists(), "{} left behind", file.display());
    }
    assert!(!c.runtime_knows_it());
    assert_eq!(processes_naming(&c.id), Vec::<i32>::new());
    assert_eq!(c.cgroup_dirs(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn the_container_outlives_its_killed_parent() {
    let c = container("orphan", &["sleep", "100000"]).prepare();
    // A parent that starts the shim, says so, then lives on holding its stdout, like berthd would.
    let shim = c.options.command();
    let mut parent = Command::new("/bin/sh")
        .arg("-c")
        .arg("\"$@\" && echo created && exec sleep 100000")
        .arg("sh")
        .arg(shim.get_program())
        .args(shim.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "created\n");
    let client = c.client();
    let init_pid = client.start().unwrap();
    let shim_pid = c.shim_pid();

    parent.kill().unwrap();
    parent.wait().unwrap();
    // The parent's stdout reaches its end: the shim holds none of its caller's pipes.
    let fd = stdout.get_ref().as_fd().try_clone_to_owned().unwrap();
    read_pipe_to_end(&mut stdout, fd.as_fd());

    assert!(alive(shim_pid), "the shim died with its parent");
    assert!(alive(init_pid), "the container died with its parent");
    let state = client.state().unwrap();
    assert_eq!((state.status, state.pid), (ProcessStatus::Running, init_pid));
    // The shim is in its own session, not its parent's.
    let stat = fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    assert_eq!(
        fields[3],
        shim_pid.to_string(),
        "session id is the shim's own pid"
    );

    client.kill(9, false).unwrap();
    assert_eq!(client.wait_init().unwrap().exit_code, 137);
    wait_for_exit(shim_pid);
}

#[test]
fn the_shim_is_small() {
    let c = container("rss", &["cat"]).stdin().create();
    let client = c.client();
    let mut stream = client.attach("init", true, true, true).unwrap();
    client.start().unwrap();
    // Exercise the paths: input, output, log, a second client.
    std::io::Write::write_all(&mut stream, b"some input\n").unwrap();
    crate::support::read_until(&mut stream, b"some input\n");
    client.state().unwrap();
    let status = fs::read_to_string(format!("/proc/{}/status", c.shim_pid())).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    eprintln!("berth-shim VmRSS: {rss_kib} kB");
    assert!(
        rss_kib <= 3 * 1024,
        "the shim uses {rss_kib} KiB, more than 3 MiB"
    );
    client.kill(9, false).unwrap();
    client.wait_init().unwrap();
    read_to_end(&mut stream);
}

#[test]
fn a_caller_that_ignores_sigchld_does_not_blind_the_shim() {
    let c = container("sigign", &["sh", "-c", "exit 3"]).prepare();
    // An ignored SIGCHLD survives exec: without a reset the kernel would reap init itself.
    let shim = c.options.command();
    // (bash passes an ignored CHLD on to what it execs; dash does not.)
    let status = Command::new("/bin/bash")
        .arg("-c")
        .arg("trap '' CHLD; exec \"$@\"")
        .arg("sh")
        .arg(shim.get_program())
        .args(shim.get_args())
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let client = c.client();
    let waiter = crate::support::start_wait(&client, "init");
    client.start().unwrap();
    let exit = crate::support::finish_wait(waiter);
    assert_eq!(exit.exit_code, 3);
}
