//! Creating the container: stdio, `runtime create`, the socket and the pid file, in that order.
//! Anything that fails after `runtime create` undoes it, so a failed start leaves nothing.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;

use anyhow::Context;
use berth_api::explain::TARGET;
use berth_shim::atomic::write_atomically;
use berth_shim::json_log::JsonLogWriter;
use berth_shim::paths::StateDir;
use berth_shim::protocol::{INIT, ProcessStatus};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use tracing::info;

use crate::cgroup;
use crate::cli::Args;
use crate::explain;
use crate::process::Process;
use crate::requests::read_pid_file;
use crate::runtime::Runtime;
use crate::stdio::ConsoleSocket;
use crate::supervisor::Supervisor;

impl Supervisor {
    /// Create the container as `args` say; returns when it is created and the socket is bound.
    pub fn create(args: &Args) -> anyhow::Result<Self> {
        let state = StateDir::new(&args.state_dir);
        fs::create_dir_all(state.dir())
            .with_context(|| format!("could not create state dir {}", state.dir().display()))?;
        explain::install(&state.explain_log(), state.shim_log(), &args.id)
            .with_context(|| format!("could not open {}", state.explain_log().display()))?;
        // Leftovers of an earlier run of this container must not be mistaken for this one's.
        for stale in [
            state.exit_file(),
            state.socket(),
            state.shim_pid(),
            state.init_pid(),
        ] {
            remove_if_present(&stale)
                .with_context(|| format!("could not remove stale {}", stale.display()))?;
        }
        // SIGCHLD arrives as a readable fd from now on; blocked before any child exists, so no
        // exit is missed.
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block().context("could not block SIGCHLD")?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("could not make a signalfd for SIGCHLD")?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&args.log_path)
            .with_context(|| format!("could not open container log {}", args.log_path.display()))?;

        let runtime = Runtime::new(
            args.runtime.clone(),
            args.runtime_root.clone(),
            state.explain_log(),
            args.id.clone(),
        );
        let mut init = if args.tty {
            Process::for_pty(INIT, args.stdin, args.stdin_once)
        } else {
            let process = Process::with_pipes(INIT, args.stdin, args.stdin_once)
                .context("could not make the container's pipes")?;
            let which = if args.stdin {
                "stdin, stdout and stderr"
            } else {
                "stdout and stderr (stdin is /dev/null)"
            };
            info!(target: TARGET, "made pipes for the container's {which}");
            process
        };
        let console = if args.tty {
            let console =
                ConsoleSocket::bind(&state.console_socket()).context("could not bind the console socket")?;
            info!(target: TARGET, "bound {} for the runtime to send the pty master", console.path().display());
            Some(console)
        } else {
            None
        };

        let io = init.child_io.take();
        if let Err(e) = runtime.create(
            &args.bundle,
            &state.init_pid(),
            console.as_ref().map(|c| c.path()),
            io,
        ) {
            // The runtime cleans up after a failed create; make sure, without hiding its message.
            let _ = runtime.delete(true);
            let _ = fs::remove_file(state.init_pid());
            return Err(e.into());
        }
        let created = (|| -> anyhow::Result<(Process, UnixListener)> {
            if let Some(console) = &console {
                let (master, name) = console
                    .take_master()
                    .context("could not receive the pty master")?;
                info!(target: TARGET, "received the pty master of {name} from the runtime over the console socket");
                init.attach_pty(master).context("could not use the pty master")?;
            }
            let pid = read_pid_file(&state.init_pid())
                .with_context(|| format!("could not read {}", state.init_pid().display()))?;
            init.pid = Some(pid);
            let listener = UnixListener::bind(state.socket())
                .with_context(|| format!("could not bind the shim socket {}", state.socket().display()))?;
            listener
                .set_nonblocking(true)
                .context("could not make the shim socket nonblocking")?;
            write_atomically(&state.shim_pid(), std::process::id().to_string().as_bytes())
                .with_context(|| format!("could not write {}", state.shim_pid().display()))?;
            info!(target: TARGET, "listening on {}: the container {} is created, pid {pid}", state.socket().display(), args.id);
            Ok((init, listener))
        })();
        let (init, listener) = match created {
            Ok(created) => created,
            Err(e) => {
                let _ = runtime.delete(true);
                for file in [state.socket(), state.shim_pid(), state.init_pid()] {
                    let _ = fs::remove_file(file);
                }
                return Err(e);
            }
        };

        let mut supervisor = Self {
            id: args.id.clone(),
            cgroups_path: cgroup::cgroups_path_of_bundle(&args.bundle),
            state,
            runtime,
            listener,
            signals,
            log: JsonLogWriter::new(log),
            log_failed: false,
            status: ProcessStatus::Created,
            processes: vec![init],
            conns: Vec::new(),
            orphan_exits: HashMap::new(),
            stopping_since: None,
        };
        // Init may already have died (a bad config can make it fail before start).
        supervisor.claim_orphan_exit(crate::supervisor::INIT_INDEX);
        Ok(supervisor)
    }
}

fn remove_if_present(path: &std::path::Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
