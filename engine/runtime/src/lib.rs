//! berth-runtime: an OCI runtime with runc's command line.
//!
//! `berth-runtime create` reads a bundle's `config.json`, clones the container's init into new
//! namespaces, builds its root filesystem, places it in its cgroup and leaves it waiting on a FIFO;
//! `start` releases it into the user's program. The modules follow the steps a container goes
//! through, so each one can be read on its own beside the book's chapter of the same name.

/// Emit an explain event: one plain sentence about a step the kernel was asked to do.
#[macro_export]
macro_rules! explain {
    ($($arg:tt)*) => {
        ::tracing::info!(target: "explain", $($arg)*)
    };
}

/// Capabilities: bounding, effective, permitted, inheritable and ambient sets.
pub mod capabilities;
/// cgroups v1 and v2: creating the container's cgroup, writing its limits, removing it.
pub mod cgroups;
/// Command-line definitions (runc's flags and commands), kept apart from what they do.
pub mod cli;
/// A pseudo-terminal whose master goes to the caller over `--console-socket`.
pub mod console;
/// The lifecycle operations, one file each: create, start, state, kill, delete, run, exec, ps.
pub mod container;
/// OCI hooks run at points of the lifecycle: prestart, createRuntime, createContainer,
/// startContainer, poststart, poststop.
pub mod hooks;
/// Explain events and errors written to `--log` as JSON lines or text.
pub mod log;
/// Parsing OCI mount options into mount flags, propagation and filesystem data.
pub mod mount_options;
/// Namespaces: which to create, which to join by path.
pub mod namespaces;
/// The last steps every container process takes before `execve`.
pub mod process;
/// Resource limits (`setrlimit`), clamped to the host's hard limit.
pub mod rlimits;
/// The root filesystem: mounts, devices, pivot_root, masked and read-only paths.
pub mod rootfs;
/// CVE-2019-5736: run from a read-only copy of the binary before touching a container.
pub mod sealed_exe;
/// Seccomp: compiling an OCI seccomp section to a BPF program and loading it.
pub mod seccomp;
/// Resolving paths inside the rootfs without following symlinks out of it (CVE-2021-30465).
pub mod secure_path;
/// The state directory: one folder per container with its record and exec FIFO.
pub mod state;
/// The parent/child channel used while a container process is being set up.
pub mod sync;
/// Which sysctls a container may set: only those of its own namespaces (runc's checks).
pub mod sysctl;
/// `--init`: the container's PID 1 stays on as a tiny init (reaps zombies, forwards signals).
pub mod tiny_init;
/// The user and groups a process runs as, and its HOME.
pub mod user;
