//! The container's init, from the `clone` to the user's program.
//!
//! Runs in the child of `create`, already in its new pid (and user) namespace. Order matters and
//! follows runc: namespaces, then (after the parent's `Go`) the cgroup namespace, hostname, root
//! filesystem, terminal, masked and read-only paths, sysctls and rlimits, and
//! finally the process steps shared with `exec` ([`crate::process::Finish`]).

use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::capabilities::CapabilitySets;
use crate::cgroups::Layout;
use crate::hooks::{self, Kind};
use crate::namespaces::Plan;
use crate::process::Finish;
use crate::rootfs::{self, RootfsSetup};
use crate::seccomp::Filter;
use crate::sync::{Channel, ChildMessage, ParentMessage};

/// What the init inherits from `create`.
pub struct InitArgs<'a> {
    /// The container's spec.
    pub spec: &'a Spec,
    /// The bundle (absolute).
    pub bundle: &'a Path,
    /// The rootfs (absolute, on the host).
    pub rootfs: &'a Path,
    /// Namespaces to make and join.
    pub plan: &'a Plan,
    /// The host's cgroup layout.
    pub cgroups: &'a Layout,
    /// The container's cgroup path.
    pub cgroup_path: &'a Path,
    /// The compiled seccomp filter.
    pub seccomp: Option<&'a Filter>,
    /// The capability sets.
    pub capabilities: &'a CapabilitySets,
    /// The console socket, when the process wants a terminal.
    pub console: Option<&'a UnixStream>,
    /// `O_PATH` handle on the exec FIFO.
    pub exec_fifo: &'a OwnedFd,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--preserve-fds`: fds 3 up to 3+N-1 stay open in the program.
    pub preserve_fds: u32,
    /// Whether the parent has prestart/createRuntime hooks to run before the root is entered.
    pub creation_hooks: bool,
    /// The createContainer and startContainer hooks, which the init runs itself.
    pub container_hooks: &'a hooks::InContainer,
}

/// The init's body: never returns on success (it becomes the user's program); on failure it
/// tells the parent why and exits 1.
pub fn run(args: &InitArgs<'_>, channel: &Channel) -> i32 {
    let err = match setup(args, channel) {
        Ok(never) => match never {},
        Err(err) => err,
    };
    // Already on its way to `start`, which reports it.
    if let Some(crate::process::ProcessError::Reported(_)) = err.downcast_ref() {
        return 1;
    }
    let msg = format!("{err:#}");
    // After `Ready` the parent is gone: the log (and the container's stderr) is all that is left.
    if channel.send_child(&ChildMessage::Failed(msg.clone())).is_err() {
        tracing::error!("{msg}");
    }
    1
}

/// berthd's `--init`: the annotation that asks for a tiny init as PID 1 (see `process::Finish`).
pub const INIT_ANNOTATION: &str = "org.berth.init";

fn wants_tiny_init(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(INIT_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// Become uid and gid 0 of the user namespace just made or joined (runc does it on both).
pub fn become_root() -> Result<()> {
    let root_id = nix::unistd::Uid::from_raw(0);
    let root_gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)
        .context("cannot become root in the user namespace")?;
    nix::unistd::setresuid(root_id, root_id, root_id).context("cannot become root in the user namespace")?;
    Ok(())
}

/// Make this process non-dumpable: other processes in the container can then not open
/// /proc/<pid>/exe or /proc/<pid>/fd while we still run runtime code.
pub fn set_non_dumpable() {
    // SAFETY: plain prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Waiting for the parent's `InCgroup`. The parent makes the container's cgroup, writes its
/// limits and moves the init into it while the init already makes its namespaces and mounts
/// (each cgroup directory costs the kernel a few dozen files; a first move into a cgroup v1
/// hierarchy may wait out an RCU grace period): the init waits only where it needs the cgroup.
struct CgroupJoin<'a> {
    channel: &'a Channel,
    joined: std::cell::Cell<bool>,
}

impl CgroupJoin<'_> {
    fn wait(&self) -> Result<(), crate::sync::SyncError> {
        if !self.joined.get() {
            self.channel.expect_parent(ParentMessage::InCgroup)?;
            self.joined.set(true);
        }
        Ok(())
    }
}

fn setup(args: &InitArgs<'_>, channel: &Channel) -> Result<std::convert::Infallible> {
    set_non_dumpable();
    let spec = args.spec;
    let linux = spec.linux().clone().unwrap_or_default();
    let process = spec.process().as_ref().context("the spec has no process")?;
    let plan = args.plan;

    // A user namespace given by path was joined before the clone (see `create`).
    plan.join_others()?;
    channel.expect_parent(ParentMessage::Go)?;
    let cgroup = CgroupJoin {
        channel,
        joined: std::cell::Cell::new(false),
    };
    if plan.makes(LinuxNamespaceType::User) {
        // Mapped by the parent before its `Go`.
        become_root()?;
    }
    let userns = plan.has(LinuxNamespaceType::User);
    plan.unshare_rest()?;
    if plan.makes(LinuxNamespaceType::Cgroup) {
        // The namespace's root is the cgroup we are in when it is made.
        cgroup.wait()?;
    }
    plan.unshare_cgroup()?;
    // A session of its own, as runc's init has; also needed for a controlling terminal.
    nix::unistd::setsid().context("cannot start a session")?;

    if plan.makes(LinuxNamespaceType::Uts) {
        if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(hostname).context("cannot set the hostname")?;
            crate::explain!("set the hostname to {hostname}");
        }
        if let Some(domain) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
            // SAFETY: the pointer and length describe `domain`'s bytes.
            if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } != 0 {
                return Err(nix::Error::last()).context("cannot set the domain name");
            }
        }
    }

    // A joined mount namespace (`path` set) gets the root filesystem built in it all the same,
    // as runc does: the pivot moves the root of every process in that namespace.
    if !plan.has(LinuxNamespaceType::Mount) {
        bail!("a container needs a mount namespace");
    }
    let root = {
        let setup = RootfsSetup {
            rootfs: args.rootfs,
            bundle: args.bundle,
            mounts: spec.mounts().as_deref().unwrap_or(&[]),
            devices: linux.devices().as_deref().unwrap_or(&[]),
            propagation: linux.rootfs_propagation().as_deref(),
            cgroups: args.cgroups,
            cgroup_path: args.cgroup_path,
            cgroupns: plan.makes(LinuxNamespaceType::Cgroup),
            cgroup_ready: &|| cgroup.wait(),
            userns,
            no_pivot: args.no_pivot,
        };
        rootfs::prepare(&setup)?
    };

    // Hooks, and everything after, see the init in its cgroup, as with runc.
    cgroup.wait()?;
    // Mounts made, root not yet entered: where runc runs the "before pivot_root" hooks.
    if args.creation_hooks {
        channel.send_child(&ChildMessage::RunHooks)?;
        channel.expect_parent(ParentMessage::Go)?;
    }
    let in_container = args.container_hooks;
    if !in_container.create_container.is_empty() {
        let mut state = in_container.state.clone();
        state.pid = nix::unistd::getpid().as_raw();
        let context = hooks::Context {
            cwd: Some(args.rootfs),
            env: None,
        };
        hooks::run(
            Kind::CreateContainer,
            &in_container.create_container,
            &state,
            context,
        )?;
    }
    rootfs::enter(&root, args.no_pivot)?;

    if let Some(console) = args.console {
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup(console, size, true)?;
    }

    // Sysctls go in while /proc/sys is still writable: finalize makes it read-only (runc's order).
    for (key, value) in linux.sysctl().iter().flatten() {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).with_context(|| format!("cannot set sysctl {key}"))?;
        crate::explain!("set sysctl {key} to {value}");
    }
    rootfs::finalize(
        linux.readonly_paths().as_deref().unwrap_or(&[]),
        linux.masked_paths().as_deref().unwrap_or(&[]),
        spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
    )?;

    crate::rlimits::apply(process.rlimits().as_deref().unwrap_or(&[]))?;

    let fifo = args.exec_fifo.as_raw_fd();
    // A startContainer hook without `env` gets the process's, with the HOME runc adds to it.
    let start_hook_env = (!args.container_hooks.start_container.is_empty()).then(|| {
        let mut env = process.env().clone().unwrap_or_default();
        crate::user::ensure_home(&mut env, process.user().uid());
        env
    });
    let never = Finish {
        process,
        seccomp: args.seccomp,
        capabilities: args.capabilities,
        setgroups_allowed: true,
        as_init: wants_tiny_init(spec),
        preserve_fds: args.preserve_fds,
    }
    .exec(|| {
        channel.send_child(&ChildMessage::Ready)?;
        // Blocks until `start` opens the FIFO for reading.
        let mut gate = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/self/fd/{fifo}"))
            .context("cannot open the exec fifo")?;
        gate.write_all(&[0]).context("cannot write the exec fifo")?;
        // `start` reads on until the FIFO closes, so it learns how these end.
        if !in_container.start_container.is_empty() {
            let mut state = in_container.state.clone();
            state.pid = nix::unistd::getpid().as_raw();
            state.status = crate::state::Status::Created;
            let context = hooks::Context {
                cwd: None,
                env: start_hook_env.as_deref(),
            };
            if let Err(err) = hooks::run(
                Kind::StartContainer,
                &in_container.start_container,
                &state,
                context,
            ) {
                let _ = gate.write_all(err.to_string().as_bytes());
                return Err(err.into());
            }
        }
        // Kept open (close-on-exec) as the failure pipe: `start` reads on until it closes.
        Ok::<_, anyhow::Error>(Some(gate))
    })?;
    Ok(never)
}
