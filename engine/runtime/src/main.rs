//! berth-runtime: the OCI runtime binary. Parses runc's command line and runs one lifecycle
//! operation; errors go to stderr and, with `--log`, to the log file.

use std::io::Write as _;

use anyhow::Result;
use berth_runtime::cli::{Cli, Command};
use berth_runtime::container::{self, create::CreateOptions, exec::ExecOptions};
use clap::Parser;

fn main() {
    // A panic aborts: between fork and exec, or with a container half made, there is nothing
    // safe to unwind into (the workspace builds with unwinding for berthd's sake).
    berth_api::abort_on_panic();
    let cli = Cli::parse();
    // CVE-2019-5736: anything that puts a process in a container runs from a sealed copy.
    let sealed_error = if cli.command.spawns_container_process() {
        berth_runtime::sealed_exe::reexec_sealed().err()
    } else {
        None
    };
    berth_runtime::log::init(
        cli.log.as_deref(),
        cli.log_format,
        Some(cli.command.container_id().to_string()),
        cli.debug,
    );
    let code = match sealed_error {
        Some(err) => {
            tracing::error!("{err}");
            1
        }
        None => match dispatch(cli) {
            Ok(code) => code,
            Err(err) => {
                tracing::error!("{err:#}");
                1
            }
        },
    };
    std::process::exit(code);
}

fn create_options(cli_root: &std::path::Path, args: &berth_runtime::cli::CreateArgs) -> CreateOptions {
    CreateOptions {
        root: cli_root.to_path_buf(),
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let root = cli.root.as_path();
    if cli.command.spawns_container_process() {
        berth_runtime::explain!(
            "running from a sealed in-memory copy of berth-runtime, so the container cannot overwrite it"
        );
    }
    match &cli.command {
        Command::Create(args) => {
            container::create::create(&create_options(root, args))?;
            Ok(0)
        }
        Command::Start { id } => {
            container::start::start(root, id)?;
            Ok(0)
        }
        Command::State { id } => {
            let state = container::state::state(root, id)?;
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&state)?)?;
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            container::kill::kill(root, id, signal, *all)?;
            Ok(0)
        }
        Command::Delete { force, id } => {
            container::delete::delete(root, id, *force)?;
            Ok(0)
        }
        Command::Run { create, detach } => container::run::run(&create_options(root, create), *detach),
        Command::Exec {
            process,
            detach,
            pid_file,
            console_socket,
            tty,
            id,
            command,
        } => container::exec::exec(&ExecOptions {
            root: root.to_path_buf(),
            id: id.clone(),
            process: process.clone(),
            command: command.clone(),
            tty: *tty,
            detach: *detach,
            pid_file: pid_file.clone(),
            console_socket: console_socket.clone(),
        }),
        Command::Pause { id } => {
            container::pause::pause(root, id)?;
            Ok(0)
        }
        Command::Resume { id } => {
            container::pause::resume(root, id)?;
            Ok(0)
        }
        Command::Update(args) => {
            container::update::update(root, args)?;
            Ok(0)
        }
        Command::Events { stats, interval, id } => {
            container::events::events(root, id, *stats, interval)?;
            Ok(0)
        }
        Command::Ps { format, id } => {
            let pids = container::ps::pids(root, id)?;
            let mut out = std::io::stdout().lock();
            if format == "json" {
                writeln!(out, "{}", serde_json::to_string(&pids)?)?;
            } else {
                writeln!(out, "PID")?;
                for pid in pids {
                    writeln!(out, "{pid}")?;
                }
            }
            Ok(0)
        }
    }
}
