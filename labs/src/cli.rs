//! `lab`'s command line: the clap definitions, apart from what they do (`main.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::ClientChoice;
use crate::engine::EngineKind;
use crate::guided::ExplainMode;

/// Docker labs you do, checked as you go, on berth or a real Docker daemon
#[derive(Debug, Parser)]
#[command(name = "lab", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The engine: berth (a running berthd, else a private one lab starts) or a Docker daemon;
    /// by default the lab session's, else berth
    #[arg(long, global = true, value_enum)]
    pub engine: Option<EngineKind>,
    /// The engine's socket (unix:///path); by default the lab session's, else found from --engine
    #[arg(long, global = true, value_name = "unix:///PATH")]
    pub host: Option<String>,
    /// The `docker` of the lab's shell: berth (berth's CLI), docker (the docker CLI on PATH) or a
    /// path; by default the engine's own
    #[arg(long, global = true, value_name = "berth|docker|PATH")]
    pub client: Option<ClientChoice>,
    /// The scenario files' directory
    #[arg(long, global = true, env = "BERTH_LAB_SCENARIOS", value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// The lab images archive, loaded when an image a lab needs is missing (or is an older
    /// build or a stand-in of the archive's)
    #[arg(long, global = true, env = "BERTH_LAB_IMAGES", value_name = "FILE")]
    pub images: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the labs
    List,
    /// Show a lab: its steps, commands, checks in words, objectives
    Show(ShowArgs),
    /// Do a lab, guided, in your own shell: each step is checked after every command you type
    Run(RunArgs),
    /// Where you are in a lab: its engine, the current step, the steps done
    Status(StatusArgs),
    /// Replay labs' reference commands and check every step (for CI); exits 1 on any failure
    Check(CheckArgs),
    /// Score a lab's objectives: what your run made, on the engine your run used
    Grade(GradeArgs),
    /// Show the next hint of the step you are on
    Hint(HintArgs),
    /// Remove what a lab created (everything carrying its label, and what its commands made),
    /// and end its session
    Reset(ResetArgs),
    /// Answer a chapter's quiz, scored (without a chapter: list the quizzes)
    Quiz(QuizArgs),
    /// Who does the labs on this machine: the name reports carry
    Whoami(WhoamiArgs),
    /// Merge grade reports from many machines into one class sheet (CSV)
    Roster(RosterArgs),
    /// The private berthd lab starts when none is running
    Daemon(DaemonArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    /// As JSON (for the book's preprocessor)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub id: String,
    /// Start over: remove what the earlier run made and begin at step 1
    #[arg(long)]
    pub restart: bool,
    /// Play the reference commands yourself, as a demo (starts over)
    #[arg(long)]
    pub auto: bool,
    /// Give things names unique to this run (as `lab check` does), not the guide's
    #[arg(long)]
    pub unique: bool,
    /// Remove what stands in the lab's way without asking
    #[arg(short, long)]
    pub yes: bool,
    /// How much of what the engine did shows after each command
    #[arg(long, value_enum, default_value_t = ExplainMode::Short)]
    pub explain: ExplainMode,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The lab (by default the one you ran last)
    pub id: Option<String>,
    /// As JSON: lab, engine, host, step, steps, done…
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The labs to check
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Check every lab
    #[arg(long)]
    pub all: bool,
    /// Write a JUnit XML report (one testcase per step and objective)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Show every command, its output and the checks as they run
    #[arg(short, long)]
    pub verbose: bool,
    /// Leave what the labs created (and their session directories) for a look afterwards
    #[arg(long)]
    pub keep: bool,
    /// Use the guide's names and ports instead of names unique to the run
    #[arg(long)]
    pub guide_names: bool,
    /// Go on after a step fails instead of skipping the lab's remaining steps
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GradeFormat {
    Text,
    /// Gradescope's results.json shape, plus who and where
    Json,
    /// One row per objective, for a class sheet
    Csv,
}

#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The lab
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub id: Option<String>,
    /// Every lab this machine has a session for
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = GradeFormat::Text)]
    pub format: GradeFormat,
    /// Write the grade to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HintArgs {
    /// The lab (by default the one you ran last)
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    pub id: String,
    /// Only what this run created (`lab check --keep` prints run ids)
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// The chapter: a lab's id (`volumes`), or a concept chapter (`concepts/volumes`)
    pub chapter: Option<String>,
    /// The quiz files' directory (by default `quizzes/` beside the scenarios' directory)
    #[arg(long, env = "BERTH_LAB_QUIZZES", value_name = "DIR")]
    pub quizzes: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Your name, as reports should carry it (without it: print the name reports carry now)
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct RosterArgs {
    /// Reports written by `lab grade --format json` (one lab, or `--all`) on each machine
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Write the sheet to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub action: DaemonAction,
    /// The private berthd's data root
    #[arg(long, global = true, value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// The private berthd's exec root (its socket, by default, and pid file live there)
    #[arg(long, global = true, value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DaemonAction {
    /// Start it (unless it runs); the global --host names its socket
    Start,
    /// Say whether it runs, and where
    Status,
    /// Stop it (`lab reset` the labs first: their containers outlive the daemon)
    Stop,
}
