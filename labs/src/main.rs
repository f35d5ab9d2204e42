//! `lab`: what each command does. The flags are in `cli.rs`; the work in the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use berth_lab::api::Api;
use berth_lab::cli::{CheckArgs, Cli, Command, DaemonAction, Global, GradeArgs, GradeFormat, RunArgs};
use berth_lab::client::{self, ClientChoice};
use berth_lab::engine::{self, EngineKind, PrivateDaemon};
use berth_lab::grade::Grade;
use berth_lab::replay::{Quiet, ReplayOptions, replay};
use berth_lab::report::{CheckReport, Status};
use berth_lab::run::{LabRun, RunOptions};
use berth_lab::scenario::vars::{LAB_LABEL, RUN_LABEL};
use berth_lab::scenario::{self, Scenario};
use berth_lab::session::{Session, state_root};
use berth_lab::{checks, guided, screen, show};
use clap::Parser;

fn main() -> ExitCode {
    if client::started_as_docker() {
        let error = client::exec_as_docker();
        eprintln!("lab's docker: {error}");
        return ExitCode::from(127);
    }
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::List => list(global),
        Command::Show(args) => {
            let scenario = find(global, &args.id)?;
            let text = if args.json {
                show::to_json(&scenario)
            } else {
                show::to_text(&scenario)
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run(global, args),
        Command::Check(args) => check(global, args),
        Command::Grade(args) => grade(global, args),
        Command::Hint(args) => hint(global, args.id.as_deref()),
        Command::Reset(args) => {
            let (_, api) = connect(global)?;
            let label = match &args.run {
                Some(run) => format!("{RUN_LABEL}={run}"),
                None => format!("{LAB_LABEL}={}", args.id),
            };
            let removed = berth_lab::reset::reset(&api, &label);
            if removed.is_empty() {
                println!("nothing to remove: no container, image, network or volume carries {label}");
            }
            for line in &removed {
                println!("{line}");
            }
            Ok(if removed.iter().any(|l| l.starts_with("could not")) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Daemon(args) => {
            match args.action {
                DaemonAction::Status => match PrivateDaemon::pid() {
                    Some(pid) => println!(
                        "the private berthd runs (pid {pid}) at {}; data in {}, log {}",
                        PrivateDaemon::host(),
                        PrivateDaemon::DATA_ROOT,
                        PrivateDaemon::log().display()
                    ),
                    None => println!("the private berthd is not running"),
                },
                DaemonAction::Stop => {
                    if PrivateDaemon::stop() {
                        println!("stopped the private berthd");
                    } else {
                        println!("the private berthd is not running");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The scenarios' directory: `--scenarios`, else `scenarios/` beside the workspace lab was built
/// in, else `./scenarios`.
fn scenarios_dir(global: &Global) -> PathBuf {
    if let Some(dir) = &global.scenarios {
        return dir.clone();
    }
    let built_beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    if built_beside.is_dir() {
        return built_beside.canonicalize().unwrap_or(built_beside);
    }
    PathBuf::from("scenarios")
}

fn find(global: &Global, id: &str) -> anyhow::Result<Scenario> {
    Ok(scenario::find(&scenarios_dir(global), id)?)
}

fn list(global: &Global) -> anyhow::Result<ExitCode> {
    let scenarios = scenario::load_all(&scenarios_dir(global))?;
    let width = scenarios.iter().map(|s| s.id.len()).max().unwrap_or(2).max(2);
    println!("{:<width$}  {:>7}  {:>5}  TITLE", "ID", "MINUTES", "STEPS");
    for s in &scenarios {
        println!(
            "{:<width$}  {:>7}  {:>5}  {}",
            s.id,
            s.minutes,
            s.steps.len(),
            s.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine's address and a handle on it.
fn connect(global: &Global) -> anyhow::Result<(String, Api)> {
    let host = engine::resolve_host(global.engine, global.host.as_deref())?;
    let api = Api::new(&host)?;
    Ok((host, api))
}

/// The client for the lab's shell: `--client`, else the engine's own CLI.
fn client_path(global: &Global) -> anyhow::Result<PathBuf> {
    let choice = global.client.clone().unwrap_or(match global.engine {
        EngineKind::Berth => ClientChoice::Berth,
        EngineKind::Docker => ClientChoice::Docker,
    });
    Ok(choice.resolve()?)
}

fn run(global: &Global, args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = find(global, &args.id)?;
    let (host, api) = connect(global)?;
    let client = client_path(global)?;
    let mut out = screen::out();
    // A lab starts from nothing of its own: an earlier run's leftovers would be in the way.
    for line in berth_lab::reset::reset(&api, &format!("{LAB_LABEL}={}", scenario.id)) {
        writeln!(out, "earlier run: {line}")?;
    }
    if engine::ensure_images(&api, &scenario.images, global.images.as_deref())? {
        writeln!(out, "loaded the lab images into the engine")?;
    }
    let session_dir = state_root().join(&scenario.id);
    if args.auto {
        let options = ReplayOptions {
            host,
            client,
            unique: args.unique,
            keep: true,
            session_dir: Some(session_dir),
            images: global.images.clone(),
            keep_going: false,
        };
        let mut live = screen::Live { out };
        let report = replay(&scenario, &api, &options, &mut live);
        let mut out = live.out;
        return finish_auto(&scenario, &report, &mut out);
    }
    let options = RunOptions {
        unique: args.unique,
        session_dir,
        host,
        client,
    };
    let mut lab = LabRun::start(&scenario, &api, &options)?;
    guided::intro(&scenario, &api, &lab, &mut out)?;
    guided::survive_interrupts();
    let stdin = std::io::stdin();
    let ending = guided::guide(&mut lab, &mut stdin.lock(), &mut out)?;
    match ending {
        guided::Ending::Finished => writeln!(
            out,
            "\nYou finished {}. `lab grade {id}` scores it; `lab reset {id}` removes what it created.",
            scenario.title,
            id = scenario.id
        )?,
        guided::Ending::Left => writeln!(
            out,
            "Left at step {}. `lab run {id}` starts over; `lab grade {id}` scores what is done; \
             `lab reset {id}` removes what it created.",
            lab.session.info.step + 1,
            id = scenario.id
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

fn finish_auto(
    scenario: &Scenario,
    report: &berth_lab::report::LabReport,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if let Some(error) = &report.error {
        bail!("{error}");
    }
    writeln!(out)?;
    for step in report.steps.iter().filter(|s| s.status == Status::Failed) {
        writeln!(
            out,
            "step {} failed: {}",
            step.number,
            step.failure().unwrap_or_default()
        )?;
    }
    let points: u32 = report.objectives.iter().map(|o| o.points).sum();
    writeln!(
        out,
        "{} {}: objectives {points}/{} in {:.1} s. `lab reset {}` removes what it created.",
        if report.passed { "✓" } else { "✗" },
        scenario.id,
        scenario.max_points(),
        report.seconds,
        scenario.id
    )?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check(global: &Global, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let dir = scenarios_dir(global);
    let scenarios = if args.all {
        scenario::load_all(&dir)?
    } else {
        args.ids
            .iter()
            .map(|id| scenario::find(&dir, id))
            .collect::<Result<Vec<_>, _>>()?
    };
    let (host, api) = connect(global)?;
    let client = client_path(global)?;
    let clock = Instant::now();
    let options = ReplayOptions {
        host: host.clone(),
        client: client.clone(),
        unique: !args.guide_names,
        keep: args.keep,
        session_dir: None,
        images: global.images.clone(),
        keep_going: args.keep_going,
    };
    let mut out = screen::out();
    let mut labs = Vec::new();
    for scenario in &scenarios {
        let report = if args.verbose {
            let mut live = screen::Live { out: screen::out() };
            replay(scenario, &api, &options, &mut live)
        } else {
            replay(scenario, &api, &options, &mut Quiet)
        };
        print_lab(&mut out, &report, args.keep)?;
        labs.push(report);
    }
    let report = CheckReport {
        engine: global.engine.to_string(),
        engine_version: engine::describe(&api),
        host,
        client: client.display().to_string(),
        passed: labs.iter().all(|l| l.passed),
        seconds: clock.elapsed().as_secs_f64(),
        labs,
    };
    let passed = report.labs.iter().filter(|l| l.passed).count();
    writeln!(
        out,
        "\n{passed} of {} labs passed on {} ({}) in {:.1} s",
        report.labs.len(),
        report.engine,
        report.engine_version,
        report.seconds
    )?;
    if let Some(path) = &args.junit {
        write_file(path, &report.to_junit())?;
    }
    if let Some(path) = &args.json {
        write_file(path, &report.to_json())?;
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_lab(out: &mut dyn Write, lab: &berth_lab::report::LabReport, kept: bool) -> std::io::Result<()> {
    let mark = if lab.passed { "✓" } else { "✗" };
    writeln!(out, "{mark} {} ({:.1} s)", lab.id, lab.seconds)?;
    if let Some(error) = &lab.error {
        writeln!(out, "    {error}")?;
    }
    for step in &lab.steps {
        match step.status {
            Status::Passed => {}
            Status::Skipped => writeln!(out, "    - step {} skipped: {}", step.number, step.title)?,
            Status::Failed => {
                let why = step.failure().unwrap_or_default().replace('\n', "\n      ");
                writeln!(out, "    ✗ step {}: {}\n      {why}", step.number, step.title)?;
            }
        }
    }
    for objective in lab.objectives.iter().filter(|o| !o.passed()) {
        writeln!(out, "    ✗ objective: {}", objective.title)?;
        for failed in objective.checks.iter().filter(|c| !c.holds) {
            writeln!(out, "      {}", failed.explain())?;
        }
    }
    for line in lab.cleanup.iter().filter(|l| l.starts_with("could not")) {
        writeln!(out, "    cleanup: {line}")?;
    }
    if kept {
        writeln!(
            out,
            "    kept: `lab reset {} --run {}` removes it",
            lab.id, lab.run
        )?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

fn grade(global: &Global, args: GradeArgs) -> anyhow::Result<ExitCode> {
    let scenario = find(global, &args.id)?;
    let (_, api) = connect(global)?;
    let session_dir = state_root().join(&scenario.id);
    // The names the trainee's run used, and what they typed; the guide's names without a session.
    let session = Session::open(&session_dir).ok();
    let (vars, transcript, shell, evidence) = match &session {
        Some(session) => {
            let transcript = session.transcript();
            let evidence = format!(
                "run {} started {}, commands typed: {}",
                session.info.run,
                session.info.started,
                transcript.len()
            );
            (session.info.vars.clone(), transcript, session.shell(), evidence)
        }
        None => (
            scenario.vars(&scenario.id, false, || 0),
            Vec::new(),
            berth_lab::shell::Shell::new(&std::env::current_dir()?, Vec::new()),
            "no session: graded with the guide's names, no transcript".to_owned(),
        ),
    };
    let run_label = match &session {
        Some(s) => format!("{RUN_LABEL}={}", s.info.run),
        None => format!("{LAB_LABEL}={}", scenario.id),
    };
    let cx = checks::Context {
        api: &api,
        shell: &shell,
        run_label: &run_label,
        transcript: &transcript,
    };
    let objectives = berth_lab::grade::evaluate_objectives(&scenario, &vars, &cx);
    let grade = Grade::new(&scenario, &objectives, &evidence);
    let text = match args.format {
        GradeFormat::Text => grade.to_text(),
        GradeFormat::Json => grade.to_json() + "\n",
        GradeFormat::Csv => grade.to_csv(&scenario.id),
    };
    match &args.output {
        Some(path) => write_file(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn hint(global: &Global, id: Option<&str>) -> anyhow::Result<ExitCode> {
    let root = state_root();
    let dir = match id {
        Some(id) => root.join(id),
        None => latest_session(&root).context("no lab session: start one with `lab run <id>`")?,
    };
    let mut session = Session::open(&dir)?;
    let scenario = find(global, &session.info.lab)?;
    let index = session.info.step;
    let Some(step) = scenario.steps.get(index) else {
        println!("{}: every step is done", scenario.id);
        return Ok(ExitCode::SUCCESS);
    };
    let step = session.info.vars.render_all(step);
    if step.hints.is_empty() {
        println!("no hint for step {}: its text says what to type", index + 1);
        return Ok(ExitCode::SUCCESS);
    }
    let shown = session.info.hints_shown.min(step.hints.len() - 1);
    println!(
        "step {} hint {} of {}: {}",
        index + 1,
        shown + 1,
        step.hints.len(),
        screen::markdown(&step.hints[shown])
    );
    session.info.hints_shown = shown + 1;
    session.save()?;
    Ok(ExitCode::SUCCESS)
}

/// The session directory changed last.
fn latest_session(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("session.json").is_file())
        .max_by_key(|e| {
            std::fs::metadata(e.path().join("session.json"))
                .and_then(|m| m.modified())
                .ok()
        })
        .map(|e| e.path())
}
