//! `create`: everything up to the user's program.
//!
//! The runtime (parent) makes the exec FIFO and clones the init into a new pid (and user)
//! namespace (from an intermediate process that first joins the user namespace when the spec gives
//! one by path). The init joins or makes the other namespaces and waits for the parent's `Go`; the
//! parent writes the id maps and says `Go`, then makes the cgroup, writes its limits, moves the
//! init into it and says `InCgroup`; meanwhile the init builds its root filesystem (waiting for
//! `InCgroup` before a cgroup mount or namespace, the hooks and `Ready`), says `Ready` and blocks
//! opening the FIFO. The parent records the state and exits; the init stays, waiting for `start`.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::capabilities::CapabilitySets;
use crate::cgroups::{self, Cgroup, Layout};
use crate::hooks::Kind;
use crate::namespaces::Plan;
use crate::state::{ContainerDir, OciState, ProcStat, Record, Status};
use crate::sync::{self, ChildMessage, ParentMessage};

use super::init::{self, InitArgs};
use super::spawn::{clone_from_intermediate, clone_process};
use super::{wait, write_pid_file};

/// What `create` is asked to do.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// `--root`.
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// Whether the caller returns once the container runs (`create`, `run -d`).
    pub detach: bool,
    /// `--preserve-fds`: fds 3 up to 3+N-1 stay open in the init (after any socket-activation
    /// fds, see `listen_fds`).
    pub preserve_fds: u32,
    /// Socket activation (systemd's `LISTEN_FDS` given to us): fds 3 up to 3+N-1 go to the
    /// init first, with `LISTEN_FDS=N` and `LISTEN_PID=1` added to its environment, as runc does.
    pub listen_fds: u32,
}

/// A created container.
#[derive(Debug)]
pub struct Created {
    /// Its state folder.
    pub dir: ContainerDir,
    /// Its record.
    pub record: Record,
}

/// Undo a half-made container if `create` fails.
struct Undo {
    dir: ContainerDir,
    cgroup_dirs: Vec<PathBuf>,
    child: Option<Pid>,
    armed: bool,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(child) = self.child {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
        }
        let _ = cgroups::remove(&self.cgroup_dirs);
        let _ = self.dir.remove();
    }
}

/// Create the container.
pub fn create(options: &CreateOptions) -> Result<Created> {
    let dir = ContainerDir::new(&options.root, &options.id)?;
    let bundle = fs::canonicalize(&options.bundle)
        .with_context(|| format!("no such bundle: {}", options.bundle.display()))?;
    let config = bundle.join("config.json");
    let mut spec = Spec::load(&config).with_context(|| format!("cannot load {}", config.display()))?;
    if options.listen_fds > 0 {
        if let Some(process) = spec.process_mut() {
            let mut env = process.env().clone().unwrap_or_default();
            env.push(format!("LISTEN_FDS={}", options.listen_fds));
            env.push("LISTEN_PID=1".to_string());
            process.set_env(Some(env));
        }
    }
    dir.create()?;
    let mut undo = Undo {
        dir: dir.clone(),
        cgroup_dirs: Vec::new(),
        child: None,
        armed: true,
    };
    let record = create_in(&dir, &bundle, &spec, options, &mut undo)?;
    undo.armed = false;
    Ok(Created { dir, record })
}

fn create_in(
    dir: &ContainerDir,
    bundle: &Path,
    spec: &Spec,
    options: &CreateOptions,
    undo: &mut Undo,
) -> Result<Record> {
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| "rootfs".into());
    let rootfs = fs::canonicalize(bundle.join(&root_path))
        .with_context(|| format!("no such rootfs: {}", bundle.join(&root_path).display()))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let process = spec.process().as_ref().context("the spec has no process")?;
    super::check_terminal(
        process.terminal() == Some(true),
        options.detach,
        options.console_socket.is_some(),
    )?;
    // The spec: "`cwd` … This value MUST be an absolute path."
    if !process.cwd().is_absolute() {
        bail!("cwd {:?} is not an absolute path", process.cwd());
    }

    crate::hooks::validate(spec.hooks().as_ref().unwrap_or(&Default::default()))?;
    let plan = Plan::from_spec(linux.namespaces().as_deref().unwrap_or(&[]))?;
    if let Some(sysctls) = linux.sysctl() {
        crate::sysctl::validate(sysctls, &plan)?;
    }
    let layout = Layout::detect()?;
    let cgroup_path = cgroups::container_path(linux.cgroups_path().as_deref(), &options.id);
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(crate::seccomp::compile)
        .transpose()?;
    let capabilities = CapabilitySets::from_spec(process.capabilities().as_ref())?;

    let fifo_path = dir.exec_fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .with_context(|| format!("cannot make {}", fifo_path.display()))?;
    // Writable by anyone (whatever our umask), so an init running as an unprivileged or
    // user-namespaced uid can still signal that it is ready to start.
    fs::set_permissions(&fifo_path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .with_context(|| format!("cannot make {} writable", fifo_path.display()))?;
    let fifo = open_path(&fifo_path)?;
    let console = options
        .console_socket
        .as_deref()
        .map(crate::console::connect)
        .transpose()?;

    let hooks = spec.hooks().clone().unwrap_or_default();
    #[allow(deprecated)]
    let prestart = hooks.prestart().clone().unwrap_or_default();
    let create_runtime = hooks.create_runtime().clone().unwrap_or_default();
    let container_hooks = crate::hooks::InContainer {
        create_container: hooks.create_container().clone().unwrap_or_default(),
        start_container: hooks.start_container().clone().unwrap_or_default(),
        state: OciState {
            oci_version: crate::state::OCI_VERSION.to_string(),
            id: options.id.clone(),
            pid: 0,
            status: Status::Creating,
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.clone(),
            created: String::new(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
        },
    };

    let (parent, child) = sync::channel()?;
    let args = InitArgs {
        spec,
        bundle,
        rootfs: &rootfs,
        plan: &plan,
        cgroups: &layout,
        cgroup_path: &cgroup_path,
        seccomp: seccomp.as_ref(),
        capabilities: &capabilities,
        console: console.as_ref(),
        exec_fifo: &fifo,
        no_pivot: options.no_pivot,
        creation_hooks: !prestart.is_empty() || !create_runtime.is_empty(),
        container_hooks: &container_hooks,
        preserve_fds: options.listen_fds.saturating_add(options.preserve_fds),
    };
    let pid = if plan.joins(LinuxNamespaceType::User) {
        // The new pid namespace (and, made by the init, the others) must belong to the joined
        // user namespace: an intermediate process joins it, then clones the init.
        let prepare = || -> Result<()> {
            plan.join_user()?;
            init::become_root()?;
            plan.join_pid_for_children()?;
            Ok(())
        };
        clone_from_intermediate(prepare, plan.clone_flags(), || init::run(&args, &child))
            .context("cannot clone the container's init")?
    } else {
        plan.join_pid_for_children()?;
        clone_process(plan.clone_flags(), || init::run(&args, &child))
            .context("cannot clone the container's init")?
    };
    drop(child);
    undo.child = Some(pid);
    // Only the namespaces the clone made: the init joins and unshares the others itself, and
    // says so (a list of all of them here would read as if they were made twice).
    let cloned = plan.cloned();
    if cloned.is_empty() {
        crate::explain!("cloned the container's init as pid {pid} in the host's pid namespace");
    } else {
        crate::explain!(
            "cloned the container's init as pid {pid} in new namespaces: {}",
            crate::namespaces::names(&cloned)
        );
    }

    if plan.makes(LinuxNamespaceType::User) {
        write_id_map(pid, "uid_map", linux.uid_mappings().as_deref().unwrap_or(&[]))?;
        write_id_map(pid, "gid_map", linux.gid_mappings().as_deref().unwrap_or(&[]))?;
    }
    // `Go` first: the init makes its namespaces and mounts while we make its cgroup and move it
    // in (see `init::CgroupJoin`); it waits for `InCgroup` where it needs the cgroup.
    parent.send_parent(&ParentMessage::Go)?;
    let cgroup = Cgroup::create(&layout, &cgroup_path)?;
    undo.cgroup_dirs = cgroup.dirs();
    if let Some(resources) = linux.resources() {
        cgroup.apply(resources)?;
    }
    cgroup.add_process(pid.as_raw())?;
    if let Some(adj) = process.oom_score_adj() {
        // From the host, as runc does: inside a user namespace the init may not write its own
        // (root-owned, since it is non-dumpable) proc files.
        let path = format!("/proc/{pid}/oom_score_adj");
        fs::write(&path, adj.to_string()).with_context(|| format!("cannot write {path}"))?;
        crate::explain!("wrote {adj} to {path}");
    }
    parent.send_parent(&ParentMessage::InCgroup)?;
    let mut message = parent.recv_child();
    if let Ok(ChildMessage::RunHooks) = message {
        // The init's mounts are made and it waits before pivot_root. As runc: the bundle as the
        // working directory, the init's pid as we see it.
        let mut state = container_hooks.state.clone();
        state.pid = pid.as_raw();
        let context = crate::hooks::Context {
            cwd: Some(bundle),
            env: None,
        };
        crate::hooks::run(Kind::Prestart, &prestart, &state, context)?;
        crate::hooks::run(Kind::CreateRuntime, &create_runtime, &state, context)?;
        parent.send_parent(&ParentMessage::Go)?;
        message = parent.recv_child();
    }
    match message {
        Ok(ChildMessage::Ready) => {}
        Ok(ChildMessage::RunHooks) => bail!("the container's init asked for hooks twice"),
        Ok(ChildMessage::Failed(msg)) => bail!("{msg}"),
        Err(crate::sync::SyncError::Closed) => {
            let code = wait::wait_child(pid).unwrap_or(-1);
            undo.child = None;
            bail!("the container's init exited during setup with code {code}")
        }
        Err(err) => return Err(err.into()),
    }

    let start_time = ProcStat::read(pid.as_raw())
        .map(|s| s.start_time)
        .context("the container's init vanished")?;
    let record = Record {
        id: options.id.clone(),
        pid: pid.as_raw(),
        pid_start_time: start_time,
        oci_version: spec.version().clone(),
        bundle: bundle.to_path_buf(),
        rootfs,
        created: crate::log::now_rfc3339(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup_dirs: cgroup.dirs(),
        poststart: hooks.poststart().clone().unwrap_or_default(),
        poststop: hooks.poststop().clone().unwrap_or_default(),
    };
    dir.save(&record)?;
    if let Some(pid_file) = &options.pid_file {
        write_pid_file(pid_file, pid.as_raw())?;
    }
    Ok(record)
}

/// An `O_PATH` handle on the FIFO: the init reopens it for writing after pivot_root, through
/// `/proc/self/fd`, when the host path is no longer visible.
fn open_path(path: &Path) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: the fd was just opened and is owned by nobody else.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

fn write_id_map(pid: Pid, file: &str, mappings: &[LinuxIdMapping]) -> Result<()> {
    let text: String = mappings
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = format!("/proc/{pid}/{file}");
    fs::write(&path, &text).with_context(|| format!("cannot write {path}"))?;
    crate::explain!("wrote {} to {path}", text.trim().replace('\n', "; "));
    Ok(())
}

/// The raw fd number of an owned fd (for messages and `/proc/self/fd` paths).
pub fn fd_number(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
