//! `exec`: a new process in a running container's namespaces and cgroup, set up with the same
//! last steps as an init (capabilities, user, seccomp from the container's config).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{Process, Spec};

use crate::capabilities::CapabilitySets;
use crate::cgroups;
use crate::namespaces::Plan;
use crate::process::Finish;
use crate::state::ContainerDir;
use crate::sync::{self, ChildMessage, ParentMessage};

use super::init::set_non_dumpable;
use super::spawn::clone_process;
use super::wait::{forward_signals_to, wait_child};
use super::write_pid_file;

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
    /// `--tty`.
    pub tty: bool,
    /// `--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
}

fn load_process(options: &ExecOptions, spec: &Spec) -> Result<Process> {
    if let Some(path) = &options.process {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()));
    }
    if options.command.is_empty() {
        bail!("exec needs --process or a command");
    }
    // Like runc: the container's process, with the new args.
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(options.command.clone()));
    process.set_terminal(Some(options.tty));
    Ok(process)
}

/// Run the process; returns the exit code to exit with (0 once started, with --detach).
pub fn exec(options: &ExecOptions) -> Result<i32> {
    let dir = ContainerDir::new(&options.root, &options.id)?;
    let record = dir.load()?;
    let status = dir.status(&record);
    if !status.can_exec() {
        bail!("cannot exec in a {} container: {}", status.as_str(), options.id);
    }
    let config = record.bundle.join("config.json");
    let spec = Spec::load(&config).with_context(|| format!("cannot load {}", config.display()))?;
    let process = load_process(options, &spec)?;
    if process.terminal() == Some(true) && options.console_socket.is_none() {
        bail!("process.terminal needs --console-socket");
    }
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
        plan.join_all_but_pid()?;
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
