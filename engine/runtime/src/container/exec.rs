//! `exec`: a new process in a running container's namespaces and cgroup, set up with the same
//! last steps as an init (capabilities, user, seccomp from the container's config).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};

use crate::capabilities::CapabilitySets;
use crate::cgroups;
use crate::namespaces::Plan;
use crate::process::Finish;
use crate::state::{ContainerDir, Status};
use crate::sync::{self, ChildMessage, ParentMessage};

use super::init::set_non_dumpable;
use super::spawn::clone_process;
use super::wait::{forward_signals_to, wait_child};
use super::{check_terminal, write_pid_file};

/// What `exec` is asked to do.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// `--root`.
    pub root: PathBuf,
    /// The container id.
    pub id: String,
    /// `--process`: a process.json.
    pub process: Option<PathBuf>,
    /// The command when there is no process.json.
    pub command: Vec<String>,
    /// Changes to the container's process when there is no process.json.
    pub flags: ProcessFlags,
    /// `--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds`: fds 3 up to 3+N-1 stay open in the process.
    pub preserve_fds: u32,
    /// `--ignore-paused`: run in a paused container too (the process starts frozen).
    pub ignore_paused: bool,
}

/// runc's exec flags that change the container's process (`--cwd`, `--env`, `--user` …).
#[derive(Debug, Clone, Default)]
pub struct ProcessFlags {
    /// `--cwd`.
    pub cwd: Option<String>,
    /// `--env`, appended to the process's environment.
    pub env: Vec<String>,
    /// `--tty`.
    pub tty: bool,
    /// `--user uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`, appended.
    pub additional_gids: Vec<i64>,
    /// `--cap`, added to the bounding, effective, permitted and ambient sets.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
}

fn load_process(options: &ExecOptions, spec: &Spec) -> Result<Process> {
    let process = match &options.process {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?
        }
        None => {
            if options.command.is_empty() {
                bail!("process args cannot be empty");
            }
            // Like runc: the container's process, with the new args and the flags' changes.
            let base = spec.process().clone().unwrap_or_default();
            apply_flags(base, &options.command, &options.flags)?
        }
    };
    validate(&process)?;
    Ok(process)
}

/// runc's checks of a process before it is started.
fn validate(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    if cwd.as_os_str().is_empty() {
        bail!("the process's cwd must not be empty");
    }
    if !cwd.is_absolute() {
        bail!("the process's cwd must be an absolute path: {}", cwd.display());
    }
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("the process's args must not be empty");
    }
    Ok(())
}

/// The container's process changed as runc's exec flags say.
pub fn apply_flags(mut process: Process, command: &[String], flags: &ProcessFlags) -> Result<Process> {
    process.set_args(Some(command.to_vec()));
    if let Some(cwd) = &flags.cwd {
        process.set_cwd(cwd.into());
    }
    if !flags.caps.is_empty() {
        // No capabilities section means none (oci-spec's default would be Docker's few).
        let mut caps = process.capabilities().clone().unwrap_or_else(|| {
            let mut none = LinuxCapabilities::default();
            none.set_bounding(None)
                .set_effective(None)
                .set_inheritable(None)
                .set_permitted(None)
                .set_ambient(None);
            none
        });
        for name in &flags.caps {
            // As runc: a capability nobody knows is left out with a warning.
            let Ok(cap) = serde_json::from_value::<Capability>(name.as_str().into()) else {
                tracing::warn!("ignoring unknown capability: {name}");
                continue;
            };
            // Not inheritable, like runc: the ambient raise then quietly fails, as under runc.
            let add = |set: &Option<Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            let (bounding, effective) = (add(caps.bounding()), add(caps.effective()));
            let (permitted, ambient) = (add(caps.permitted()), add(caps.ambient()));
            caps.set_bounding(bounding)
                .set_effective(effective)
                .set_permitted(permitted)
                .set_ambient(ambient);
        }
        process.set_capabilities(Some(caps));
    }
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(flags.env.iter().cloned());
    process.set_env(Some(env));
    process.set_terminal(Some(flags.tty));
    if flags.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    let mut user = process.user().clone();
    if let Some(spec) = &flags.user {
        let (uid, gid) = match spec.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (spec.as_str(), None),
        };
        if let Some(gid) = gid {
            user.set_gid(
                gid.parse()
                    .with_context(|| format!("invalid gid in --user {spec}: {gid}"))?,
            );
        }
        user.set_uid(
            uid.parse()
                .with_context(|| format!("invalid uid in --user {spec}: {uid}"))?,
        );
    }
    if !flags.additional_gids.is_empty() {
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        for &gid in &flags.additional_gids {
            let gid = u32::try_from(gid)
                .map_err(|_| anyhow::anyhow!("additional gid must be a positive number: {gid}"))?;
            gids.push(gid);
        }
        user.set_additional_gids(Some(gids));
    }
    process.set_user(user);
    Ok(process)
}

/// Run the process; returns the exit code to exit with (0 once started, with --detach).
pub fn exec(options: &ExecOptions) -> Result<i32> {
    let dir = ContainerDir::new(&options.root, &options.id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    let paused_but_allowed = status == Status::Paused && options.ignore_paused;
    if !status.can_exec() && !paused_but_allowed {
        bail!("cannot exec in a {} container: {}", status.as_str(), options.id);
    }
    let config = record.bundle.join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("cannot load {}", config.display()))?;
    let process = load_process(options, &spec)?;
    check_terminal(
        process.terminal() == Some(true),
        options.detach,
        options.console_socket.is_some(),
    )?;
    let linux = spec.linux().clone().unwrap_or_default();
    let types: Vec<_> = linux.namespaces().iter().flatten().map(|ns| ns.typ()).collect();
    let plan = Plan::join_process(record.pid, &types)?;
    let seccomp = linux
        .seccomp()
        .as_ref()
        .map(crate::seccomp::compile)
        .transpose()?;
    let capabilities = CapabilitySets::from_spec(process.capabilities().as_ref())?;
    let console = options
        .console_socket
        .as_deref()
        .map(crate::console::connect)
        .transpose()?;

    let (parent, child) = sync::channel()?;
    plan.join_pid_for_children()?;
    let body = || -> Result<std::convert::Infallible> {
        set_non_dumpable();
        plan.join_user()?;
        plan.join_others()?;
        child.expect_parent(ParentMessage::Go)?;
        nix::unistd::setsid().context("cannot start a session")?;
        if let Some(console) = &console {
            let size = process
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16));
            crate::console::setup(console, size, false)?;
        }
        crate::rlimits::apply(process.rlimits().as_deref().unwrap_or(&[]))?;
        Finish {
            process: &process,
            seccomp: seccomp.as_ref(),
            capabilities: &capabilities,
            setgroups_allowed: true,
            as_init: false,
            preserve_fds: options.preserve_fds,
        }
        // The setup channel is close-on-exec: after `Ready` it carries an exec failure too.
        .exec(|| child.send_child(&ChildMessage::Ready).map(|()| None))
        .map_err(Into::into)
    };
    let pid = clone_process(nix::sched::CloneFlags::empty(), || {
        let err = match body() {
            Ok(never) => match never {},
            Err(err) => err,
        };
        let _ = child.send_child(&ChildMessage::Failed(format!("{err:#}")));
        1
    })
    .context("cannot clone the exec process")?;
    drop(child);
    for dir in &record.cgroup_dirs {
        cgroups::write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    parent.send_parent(&ParentMessage::Go)?;
    match parent.recv_child() {
        // Then the end of the channel (the exec closed it), or why the exec failed.
        Ok(ChildMessage::Ready) => match parent.recv_child() {
            Err(crate::sync::SyncError::Closed) => {}
            Ok(ChildMessage::Failed(msg)) => {
                let _ = wait_child(pid);
                bail!("{msg}")
            }
            Ok(other) => bail!("unexpected message from the exec process: {other:?}"),
            Err(err) => return Err(err).context("cannot hear from the exec process"),
        },
        Ok(ChildMessage::Failed(msg)) => {
            let _ = wait_child(pid);
            bail!("{msg}")
        }
        Ok(ChildMessage::RunHooks) => bail!("the exec process asked for hooks"),
        Err(err) => {
            let code = wait_child(pid).unwrap_or(-1);
            return Err(err).context(format!("the exec process exited during setup with code {code}"));
        }
    }
    crate::explain!("started process {pid} in container {}", options.id);
    if let Some(pid_file) = &options.pid_file {
        write_pid_file(pid_file, pid.as_raw())?;
    }
    if options.detach {
        return Ok(0);
    }
    forward_signals_to(pid);
    Ok(wait_child(pid)?)
}
