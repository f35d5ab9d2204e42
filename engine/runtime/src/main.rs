//! berth-runtime: the OCI runtime binary. Parses runc's command line and runs one lifecycle
//! operation; errors go to stderr and, with `--log`, to the log file.

use std::io::Write as _;

use anyhow::{Result, bail};
use berth_runtime::cli::{Cli, Command, ExecArgs, Format, Rootless};
use berth_runtime::container::{
    self,
    create::CreateOptions,
    exec::{ExecOptions, ProcessFlags},
};
use clap::Parser;
use clap::error::ErrorKind;

fn main() {
    // A panic aborts: between fork and exec, or with a container half made, there is nothing
    // safe to unwind into (the workspace builds with unwinding for berthd's sake).
    berth_api::abort_on_panic();
    let cli = Cli::try_parse().unwrap_or_else(|err| exit_usage(&err));
    // Before anything here opens a file (the log, the sealed copy): see `check_preserved_fds`.
    let listen_fds = if matches!(cli.command, Command::Create(_) | Command::Run { .. }) {
        container::listen_fds()
    } else {
        0
    };
    let refused = check_globals(&cli)
        .and_then(|()| container::check_preserved_fds(listen_fds.saturating_add(cli.command.preserve_fds())));
    // CVE-2019-5736: anything that puts a process in a container runs from a sealed copy.
    let sealed_error = if refused.is_ok() && cli.command.spawns_container_process() {
        berth_runtime::sealed_exe::reexec_sealed().err()
    } else {
        None
    };
    berth_runtime::log::init(
        cli.log.as_deref(),
        cli.log_format,
        cli.command.container_id().map(str::to_string),
        cli.debug,
    );
    // runc exits 255 when an exec fails, so a caller can tell it from the process's own codes.
    let failure_code = if matches!(cli.command, Command::Exec(_)) {
        255
    } else {
        1
    };
    let result = match (refused, sealed_error) {
        (Err(err), _) => Err(err),
        (Ok(()), Some(err)) => Err(err.into()),
        (Ok(()), None) => dispatch(cli, listen_fds),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            failure_code
        }
    };
    std::process::exit(code);
}

/// Print a command-line error (or the help or version asked for) and exit as runc does: 0 for
/// help and version, 3 for an unknown command, 1 for any other usage error.
fn exit_usage(err: &clap::Error) -> ! {
    let code = match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        ErrorKind::InvalidSubcommand => 3,
        _ => 1,
    };
    let _ = err.print();
    std::process::exit(code)
}

/// Global flags runc takes that berth-runtime cannot honour: refused rather than ignored.
fn check_globals(cli: &Cli) -> Result<()> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported: cgroups are managed through cgroupfs");
    }
    if cli.rootless == Rootless::True {
        bail!("--rootless=true is not supported: berth-runtime runs containers as root");
    }
    Ok(())
}

fn create_options(
    cli_root: &std::path::Path,
    args: &berth_runtime::cli::CreateArgs,
    detach: bool,
    listen_fds: u32,
) -> CreateOptions {
    CreateOptions {
        root: cli_root.to_path_buf(),
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        detach,
        preserve_fds: args.preserve_fds,
        listen_fds,
    }
}

fn exec_options(root: &std::path::Path, args: &ExecArgs) -> Result<ExecOptions> {
    if args.process_label.is_some() {
        bail!("--process-label is not supported: berth-runtime has no SELinux support");
    }
    if args.apparmor.is_some() {
        bail!("--apparmor is not supported: berth-runtime has no AppArmor support");
    }
    if !args.cgroup.is_empty() {
        bail!("--cgroup is not supported: an exec process joins the container's own cgroup");
    }
    Ok(ExecOptions {
        root: root.to_path_buf(),
        id: args.id.clone(),
        process: args.process.clone(),
        command: args.command.clone(),
        flags: ProcessFlags {
            cwd: args.cwd.clone(),
            env: args.env.clone(),
            tty: args.tty,
            user: args.user.clone(),
            additional_gids: args.additional_gids.clone(),
            caps: args.cap.clone(),
            no_new_privs: args.no_new_privs,
        },
        detach: args.detach,
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
    })
}

fn dispatch(cli: Cli, listen_fds: u32) -> Result<i32> {
    let root = cli.root.as_path();
    if cli.command.spawns_container_process() {
        berth_runtime::explain!(
            "running from a read-only copy of berth-runtime's binary, so the container cannot overwrite it"
        );
    }
    // Not locked for the whole command: `create` and `exec` clone processes, which must not
    // inherit a held lock.
    let mut out = std::io::stdout();
    match &cli.command {
        Command::Create(args) => {
            container::create::create(&create_options(root, args, true, listen_fds))?;
            Ok(0)
        }
        Command::Start { id } => {
            container::start::start(root, id)?;
            Ok(0)
        }
        Command::State { id } => {
            let state = container::state::state(root, id)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&state)?)?;
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
        Command::Run { create, detach } => {
            container::run::run(&create_options(root, create, *detach, listen_fds), *detach)
        }
        Command::Exec(args) => container::exec::exec(&exec_options(root, args)?),
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
        Command::Ps { format, id, ps_args } => {
            let pids = container::ps::pids(root, id)?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&pids)?)?,
                Format::Table => write!(out, "{}", container::ps::table(&pids, ps_args)?)?,
            }
            Ok(0)
        }
        Command::List { format, quiet } => {
            let containers = container::list::list(root)?;
            if *quiet {
                for c in &containers {
                    writeln!(out, "{}", c.id)?;
                }
            } else {
                match format {
                    Format::Table => write!(out, "{}", container::list::table(&containers))?,
                    Format::Json => writeln!(out, "{}", container::list::json(&containers)?)?,
                }
            }
            Ok(0)
        }
        Command::Features => {
            let features = container::features::features();
            writeln!(out, "{}", serde_json::to_string_pretty(&features)?)?;
            Ok(0)
        }
    }
}
