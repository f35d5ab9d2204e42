//! `exec` runs a process in a running container's namespaces and cgroup; a terminal's master
//! goes over the console socket.

use std::io::{Read as _, Write as _};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Stdio;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

use crate::common::*;

#[test]
fn exec_joins_the_container() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("exec");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/sleep", "1000"]));
    let _guard = berth.create(&bundle, &id);
    assert!(berth.output(&["start", &id]).status.success());

    let process = serde_json::json!({
        "terminal": false,
        "user": {"uid": 65534, "gid": 65534},
        "args": ["/bin/sh", "-c", "echo \"$(hostname) $(id -u) $(cat /proc/1/cmdline | tr '\\0' ' ')\"; grep Seccomp: /proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "permitted": [], "inheritable": []}
    });
    let process_file = bundle.path().join("process.json");
    std::fs::write(&process_file, process.to_string()).expect("process.json");
    let out = berth
        .command()
        .args(["exec", "--process"])
        .arg(&process_file)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("exec");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "berthtest 65534 /bin/sleep 1000 \nSeccomp:\t2\n");

    let out = berth.output(&["exec", &id, "/bin/sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn a_terminal_master_arrives_over_the_console_socket() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("tty");
    let mut spec = docker_spec(&bundle, &id, &["/bin/sh", "-c", "tty; read line; echo got:$line"]);
    spec["process"]["terminal"] = serde_json::json!(true);
    bundle.write_spec(&spec);
    let socket_path = bundle.path().join("console.sock");
    let listener = UnixListener::bind(&socket_path).expect("bind console socket");
    let _guard = ContainerGuard {
        runtime: &berth,
        id: id.clone(),
    };
    let create = berth
        .command()
        .args(["create", "--console-socket"])
        .arg(&socket_path)
        .arg("--bundle")
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("create");
    let (conn, _) = listener.accept().expect("accept");
    let mut buf = [0u8; 64];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        std::os::fd::AsRawFd::as_raw_fd(&conn),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    let fd = msg
        .cmsgs()
        .expect("cmsgs")
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("an fd over the socket");
    // SAFETY: the fd just arrived over SCM_RIGHTS and belongs to us alone.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let status = create.wait_with_output().expect("create").status;
    assert!(status.success(), "create failed");
    assert!(berth.output(&["start", &id]).status.success());

    let mut master = std::fs::File::from(master);
    master.write_all(b"hello\n").expect("type");
    let mut seen = String::new();
    let mut chunk = [0u8; 256];
    while !seen.contains("got:hello") {
        let n = master.read(&mut chunk).expect("read the terminal");
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    assert!(seen.contains("got:hello"), "{seen}");
}

#[test]
fn kill_all_reaches_exec_processes_and_ps_lists_them() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("killall");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/sleep", "1000"]));
    let _guard = berth.create(&bundle, &id);
    assert!(berth.output(&["start", &id]).status.success());
    let pid_file = bundle.path().join("exec.pid");
    let out = berth
        .command()
        .args(["exec", "--detach", "--pid-file"])
        .arg(&pid_file)
        .args([&id, "/bin/sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("exec -d");
    assert!(out.success());
    let exec_pid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .parse()
        .expect("pid");
    let init_pid = berth.state(&id).expect("state")["pid"].as_i64().expect("pid");
    let ps = berth.output(&["ps", "--format", "json", &id]);
    let mut pids: Vec<i64> = serde_json::from_slice(&ps.stdout).expect("ps json");
    pids.sort();
    let mut want = vec![init_pid, exec_pid];
    want.sort();
    assert_eq!(pids, want);

    assert!(berth.output(&["kill", "--all", &id, "KILL"]).status.success());
    wait_status(&berth, &id, "stopped");
    let ps = berth.output(&["ps", "--format", "json", &id]);
    let left: Vec<i64> = serde_json::from_slice(&ps.stdout).expect("ps json");
    assert!(left.is_empty(), "left after kill --all: {left:?}");
}
