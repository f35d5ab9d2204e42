//! berthd: the Berth engine daemon.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

fn main() -> anyhow::Result<()> {
    let flags = berthd::daemon::Flags::parse();
    let level = if flags.debug {
        "debug"
    } else {
        flags.log_level.as_str()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(berthd::explain::ExplainLayer::new(&flags.exec_root))
        .init();
    // Two workers are plenty: the engine's work is mostly waiting on files and processes.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(berthd::daemon::run(flags))
}
