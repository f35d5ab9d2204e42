//! Benchmarks: berth beside Docker on the same machine, in one run (medians, ratios).
//! Not timed tests: they print figures for the issues' closing notes.

/// issue 18: a cold and a cached `docker build` beside Docker's classic builder.
mod build;
/// `stats --no-stream` over 50 containers, the `/metrics` scrape, RSS with metrics on.
mod container_stats;
/// issue 4: `run --rm`, RSS, 200 containers and `ps`.
mod engine;
/// issue 14: the guided run's prompt-to-verdict latency, and `lab grade`.
mod lab;
/// issue 6: `run --rm` on the default bridge and peer name resolution.
mod network;
/// issue 7: `pull` of a 130 MB image from a local registry.
mod registry;
/// issue 3: `berth-runtime run` beside `runc run`.
mod runtime;
/// Medians and reports.
mod stats;

#[derive(clap::Args)]
pub struct Args {
    /// Which benchmark: runtime, engine, network, registry, lab, stats, build, or all
    #[arg(default_value = "all")]
    which: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.which.as_str() {
        "runtime" => runtime::run(),
        "engine" => engine::run_bench(),
        "network" => network::run(),
        "registry" => registry::run(),
        "lab" => lab::run(),
        "stats" => container_stats::run_bench(),
        "build" => build::run_bench(),
        "all" => {
            runtime::run()?;
            engine::run_bench()?;
            network::run()?;
            registry::run()?;
            lab::run()?;
            container_stats::run_bench()?;
            build::run_bench()
        }
        other => {
            anyhow::bail!(
                "unknown benchmark {other}: runtime, engine, network, registry, lab, stats, build or all"
            )
        }
    }
}
