//! What a process inside must not be able to do.

use std::fs;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::common::*;

#[test]
fn no_kcore_no_proc_sys_writes_no_host_fds() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("inside");
    let script = r#"
echo "kcore=$(cat /proc/kcore | wc -c)"
if echo 1 > /proc/sys/vm/overcommit_memory 2>/dev/null; then echo procsys=writable; else echo procsys=readonly; fi
if echo x > /sys/kernel/x 2>/dev/null; then echo sys=writable; else echo sys=readonly; fi
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
"#;
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/sh", "-c", script]));
    // A host file deliberately left open without close-on-exec, as a careless caller might.
    let secret = bundle.path().join("host-secret");
    fs::write(&secret, "host").expect("secret");
    let leaked = fs::File::open(&secret).expect("open secret");
    let leaked_fd = leaked.as_raw_fd();
    let _guard = ContainerGuard {
        runtime: &berth,
        id: id.clone(),
    };
    let mut cmd = berth.command();
    cmd.args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null());
    // SAFETY: between fork and exec the closure only calls dup2 and fcntl.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(leaked_fd, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::fcntl(9, libc::F_SETFD, 0);
            Ok(())
        });
    }
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kcore=0\n"), "{text}");
    assert!(text.contains("procsys=readonly\n"), "{text}");
    assert!(text.contains("sys=readonly\n"), "{text}");
    // 0-2, and 3 is ls's own handle on the directory it lists.
    assert!(text.contains("fds=0 1 2 3 \n"), "{text}");
}

#[test]
fn the_runtime_binary_cannot_be_written_from_the_container() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("exe");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/sleep", "1000"]));
    let before = fs::read(BERTH).expect("runtime binary");
    let _guard = berth.create(&bundle, &id);
    let pid = berth.state(&id).expect("state")["pid"].as_i64().expect("pid");

    // While the init waits for start it still runs runtime code: /proc/<pid>/exe is what a
    // container process would reach for (CVE-2019-5736). We hold it as the attack does, as root
    // with every capability (more than the container has).
    let exe = format!("/proc/{pid}/exe");
    let handle = fs::File::open(&exe).expect("open exe for reading");
    let sealed = nix::fcntl::fcntl(handle.as_raw_fd(), nix::fcntl::FcntlArg::F_GET_SEALS)
        .is_ok_and(|seals| seals & libc::F_SEAL_WRITE != 0);
    let read_only_mount = nix::sys::statvfs::fstatvfs(&handle)
        .expect("fstatvfs")
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    assert!(
        sealed || read_only_mount,
        "the init runs from a writable binary: {:?}",
        fs::read_link(&exe)
    );
    // The attack waits until the runtime has exec'd the container's program, then writes.
    let out = berth.output(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    let reopened = fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    match reopened {
        // A read-only clone of the binary's mount: EROFS (or ETXTBSY while another test's
        // runtime process still executes the same file).
        Err(err) => assert!(
            matches!(err.raw_os_error(), Some(libc::EROFS | libc::ETXTBSY)),
            "{err}"
        ),
        // A sealed memfd opens, but refuses every write.
        Ok(mut file) => {
            let err = file
                .write_all(b"pwned")
                .expect_err("a sealed copy refuses writes");
            assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        }
    }
    assert_eq!(fs::read(BERTH).expect("runtime binary"), before);
}
