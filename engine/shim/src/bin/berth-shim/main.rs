//! `berth-shim`: the per-container supervisor. The contract it keeps is documented in the
//! library (`berth_shim`); this binary is its implementation.
//!
//! Code map: `cli` (flags) → `daemonize` (fork, detach, readiness) → `container_create`
//! (stdio, runtime create, socket) → `supervisor` (the poll loop: reap, output, input, clients)
//! with `requests` (each protocol request) and `container_exit` (OOM check, exit.json, delete).
//! `process`, `conn`, `stdio`, `runtime`, `cgroup` and `explain` are the pieces they use.

mod cgroup;
mod cli;
mod conn;
mod container_create;
mod container_exit;
mod daemonize;
mod explain;
mod process;
mod requests;
mod runtime;
mod stdio;
mod supervisor;

use std::process::ExitCode;

use clap::Parser;

use crate::daemonize::{ReadyNotifier, Role};
use crate::supervisor::Supervisor;

fn main() -> ExitCode {
    // A panic aborts: the shim forks and holds a container's stdio; there is nothing safe to
    // unwind into (the workspace builds with unwinding for berthd's sake).
    berth_api::abort_on_panic();
    daemonize::close_inherited_fds();
    let args = cli::Args::parse();
    match daemonize::fork_shim() {
        Err(e) => {
            eprintln!("berth-shim: {e:#}");
            ExitCode::FAILURE
        }
        Ok(Role::Invoker(waiter)) => match waiter.wait() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("{message}");
                ExitCode::FAILURE
            }
        },
        Ok(Role::Shim(notifier)) => run_shim(&args, notifier),
    }
}

/// The forked shim: detach, create the container, tell the invoker, serve until init is done.
fn run_shim(args: &cli::Args, notifier: ReadyNotifier) -> ExitCode {
    let setup = daemonize::detach()
        .and_then(|()| daemonize::reset_inherited_signals())
        .and_then(|()| Supervisor::create(args));
    let supervisor = match setup {
        Ok(supervisor) => supervisor,
        Err(e) => {
            notifier.failed(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    notifier.ready();
    match supervisor.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
