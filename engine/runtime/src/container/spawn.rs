//! `clone` with fork semantics, optionally into new namespaces.
//!
//! nix's `clone` wants a separate stack; a raw `clone` syscall without CLONE_VM instead behaves
//! like `fork`: the child returns from the call with a copy of our memory. That is what the
//! runtime needs, because it is single-threaded, and it lets CLONE_NEWPID/CLONE_NEWUSER make the
//! init directly, without an intermediate process. The one exception is a user namespace given
//! by path: the runtime must not join it itself, so `clone_from_intermediate` does.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// Start `child` in a new process made with `flags`; the child exits with its return value.
pub fn clone_process(flags: CloneFlags, child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    let flags = (flags.bits() | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: without CLONE_VM the child gets its own copy of the address space, exactly as
    // with fork(2). The runtime never starts threads, so no lock can be held by a thread that
    // does not exist in the child.
    let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match rc {
        -1 => Err(nix::Error::last()),
        0 => {
            let code = child();
            // SAFETY: leaves the child without running the parent's atexit handlers or
            // destructors, which belong to the parent.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Pid::from_raw(pid as i32)),
    }
}

/// Start `child` from an intermediate process, as runc's nsexec does for a joined user
/// namespace: the intermediate runs `prepare` (setns calls that must come before the `clone`,
/// such as joining the user namespace a new pid namespace is to belong to, which the runtime
/// itself must not join), clones `child` with `flags` and `CLONE_PARENT` (so that it is our
/// child, which we wait for), tells us its pid and exits.
pub fn clone_from_intermediate(
    prepare: impl FnOnce() -> anyhow::Result<()>,
    flags: CloneFlags,
    child: impl FnOnce() -> i32,
) -> anyhow::Result<Pid> {
    use anyhow::{Context, bail};
    use std::io::{Read, Write};

    let (mut reader, mut writer) =
        std::os::unix::net::UnixStream::pair().context("cannot make a socket pair")?;
    let intermediate = clone_process(CloneFlags::empty(), || {
        super::init::set_non_dumpable();
        let report = match prepare()
            .and_then(|()| clone_process(flags | CloneFlags::CLONE_PARENT, child).context("cannot clone"))
        {
            // Tag, then the pid or the length of the message that follows.
            Ok(pid) => [b"P".as_slice(), &pid.as_raw().to_le_bytes()].concat(),
            Err(err) => {
                let msg = format!("{err:#}");
                [b"E".as_slice(), &(msg.len() as u32).to_le_bytes(), msg.as_bytes()].concat()
            }
        };
        match writer.write_all(&report) {
            Ok(()) if report[0] == b'P' => 0,
            _ => 1,
        }
    })
    .context("cannot clone the intermediate process")?;
    drop(writer);
    // Reaped first: the init holds the other end too, so the end of the stream comes only
    // when it execs; the report is small enough to wait in the socket's buffer.
    let status =
        nix::sys::wait::waitpid(intermediate, None).context("cannot wait for the intermediate process")?;
    let mut head = [0u8; 5];
    if reader.read_exact(&mut head).is_err() {
        bail!("the intermediate process ended without a word: {status:?}");
    }
    let value = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    if head[0] == b'P' {
        return Ok(Pid::from_raw(value as i32));
    }
    let mut msg = vec![0u8; value as usize];
    reader
        .read_exact(&mut msg)
        .context("cannot read the intermediate process's error")?;
    bail!("{}", String::from_utf8_lossy(&msg))
}
