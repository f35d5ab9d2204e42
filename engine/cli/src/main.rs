//! berth: Docker's command line for the Berth engine.

use std::process::ExitCode;

use berth::cli;
use clap::Parser;

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

fn main() -> ExitCode {
    // Mistakes on the command line are reported in Docker's words, with its exit codes.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_errors::exit_for(error),
    };
    if cli.version {
        println!("Berth version {}", commands::system::CLI_VERSION);
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        let _ = cli::Cli::command().print_help();
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
