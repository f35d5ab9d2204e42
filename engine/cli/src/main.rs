//! berth: Docker's command line for the Berth engine.

use std::process::ExitCode;

use berth::cli;
use clap::FromArgMatches;

mod commands;
mod format;
mod usage_errors;

/// Docker's name for this machine's architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `berth ps | head -n1`: when the reader of stdout goes away, stop quietly with the status a
/// shell shows for Docker's CLI (which dies of SIGPIPE), instead of panicking in `println!`.
/// Rust ignores SIGPIPE so that broken sockets are errors; only stdout's is the end.
fn stop_quietly_on_broken_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(128 + libc::SIGPIPE);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    stop_quietly_on_broken_stdout();
    // Mistakes on the command line are reported in Docker's words, with its exit codes; help
    // and usage name the program as it was called (`docker` through a symlink of that name).
    let parsed = cli::command()
        .try_get_matches()
        .and_then(|matches| cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => return usage_errors::exit_for(error),
    };
    if cli.version {
        println!("Berth version {}", commands::system::CLI_VERSION);
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        let _ = cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    let host = cli
        .host
        .unwrap_or_else(|| berth_api::client::DEFAULT_HOST.to_owned());
    let client = match berth_api::client::Client::from_host(&host) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    // One thread is enough for a command line: it waits on one socket at a time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(commands::run(&client, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{failure}");
            }
            ExitCode::from(failure.status.clamp(0, 255) as u8)
        }
    }
}
