//! `clone` with fork semantics, optionally into new namespaces.
//!
//! nix's `clone` wants a separate stack; a raw `clone` syscall without CLONE_VM instead behaves
//! like `fork`: the child returns from the call with a copy of our memory. That is what the
//! runtime needs, because it is single-threaded, and it lets CLONE_NEWPID/CLONE_NEWUSER make the
//! init directly, without an intermediate process.

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
