//! Benchmarks: berth beside Docker on the same machine, in one run (medians, ratios).

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask bench is not built yet")
}
