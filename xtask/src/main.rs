//! `cargo xtask`: the project's own tasks, in Rust so they run wherever cargo does.

use clap::{Parser, Subcommand};

/// Bench: berth beside Docker on the same machine, in one run.
mod bench;
/// Book: the mdBook in book/, built into target/book/ (and checked).
mod book;
/// CI: install what the tests need, start it, run every check, then the leak check.
mod ci;
/// Demo: build, start a private berthd, play the first lab on it.
mod demo;
/// Lab images: the real software from Debian's packages, built by berth's builder, or (--stand-ins) reproducible busybox stand-ins.
pub(crate) mod images;
/// Small helpers shared by the tasks.
mod util;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Berth's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the lab images from Debian's packages into target/lab-images.tar (--stand-ins: the offline busybox stand-ins, into target/stand-in-images.tar)
    Images(images::Args),
    /// Install test dependencies, start them, run fmt, clippy, every test and the leak check
    Ci(ci::Args),
    /// Measure berth beside Docker (medians, ratios)
    Bench(bench::Args),
    /// Install what berth needs, build it and the lab images, play a lab on a private berthd
    Demo(demo::Args),
    /// Build the book into target/book/ (--check: fail on a broken link or a lab without its chapter)
    Book(book::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Images(args) => images::run(args),
        Task::Ci(args) => ci::run_ci(args),
        Task::Bench(args) => bench::run(args),
        Task::Demo(args) => demo::run_demo(args),
        Task::Book(args) => book::run(args),
    }
}
