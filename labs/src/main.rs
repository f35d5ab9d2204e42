//! `lab`: what each command does. The flags are in `cli.rs`; the work in the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use berth_lab::api::Api;
use berth_lab::checks::{self, RunScope};
use berth_lab::cli::{
    CheckArgs, Cli, Command, DaemonAction, DaemonArgs, Global, GradeArgs, GradeFormat, QuizArgs, RosterArgs,
    RunArgs, StatusArgs,
};
use berth_lab::client::{self, ClientChoice};
use berth_lab::engine::{self, EngineKind, PrivateDaemon};
use berth_lab::grade::{Grade, Graded};
use berth_lab::ledger::Ledger;
use berth_lab::replay::{Quiet, ReplayOptions, replay};
use berth_lab::report::{CheckReport, ObjectiveReport, Status};
use berth_lab::run::{LabRun, RunOptions};
use berth_lab::scenario::vars::{LAB_LABEL, RUN_LABEL};
use berth_lab::scenario::{self, Scenario};
use berth_lab::session::{Session, state_root};
use berth_lab::{class, guided, obstacles, quiz, screen, show};
use clap::Parser;

fn main() -> ExitCode {
    if client::started_as_docker() {
        let error = client::exec_as_docker();
        eprintln!("lab's docker: {error}");
        return ExitCode::from(127);
    }
    // The trainee's shell's hook: kept off clap's path, it runs before every prompt.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__hook") {
        return guided::hook::client_main(&args[2..]);
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
        Command::Status(args) => status(global, args),
        Command::Check(args) => check(global, args),
        Command::Grade(args) => grade(global, args),
        Command::Hint(args) => hint(global, args.id.as_deref()),
        Command::Reset(args) => reset(global, &args.id, args.run.as_deref()),
        Command::Quiz(args) => take_quiz(global, args),
        Command::Whoami(args) => {
            if let Some(name) = &args.name {
                class::set_trainee(name).context("save the trainee's name")?;
            }
            println!("{}", class::trainee());
            Ok(ExitCode::SUCCESS)
        }
        Command::Roster(args) => roster(global, args),
        Command::Daemon(args) => daemon(global, args),
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

/// `lab quiz [CHAPTER]`: list the quizzes (labs' in course order), or ask one.
fn take_quiz(global: &Global, args: QuizArgs) -> anyhow::Result<ExitCode> {
    let scenarios = scenarios_dir(global);
    let dir = args
        .quizzes
        .unwrap_or_else(|| scenarios.parent().unwrap_or(Path::new(".")).join("quizzes"));
    let Some(chapter) = &args.chapter else {
        let mut quizzes = quiz::load_all(&dir)?;
        let order = scenario::load::ids(&scenarios).unwrap_or_default();
        quizzes.sort_by_key(|q| {
            let course = order.iter().position(|id| *id == q.name);
            (q.kind == quiz::Kind::Lab, course.unwrap_or(usize::MAX))
        });
        quiz::ask::list(&mut screen::out(), &quizzes)?;
        println!("\n`lab quiz <QUIZ>` asks one.");
        return Ok(ExitCode::SUCCESS);
    };
    let quiz = quiz::find(&dir, chapter)?;
    let stdin = std::io::stdin();
    let echo = !stdin.is_terminal();
    quiz::ask::take(&quiz, &mut stdin.lock(), &mut screen::out(), echo)?;
    Ok(ExitCode::SUCCESS)
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

/// The engine for a command: `--engine`/`--host` when given, else the session's (the engine the
/// trainee's run used), else berth.
fn engine_for(global: &Global, session: Option<&Session>) -> anyhow::Result<(EngineKind, String, Api)> {
    let (kind, host) = match (global.engine, &global.host, session) {
        (None, None, Some(session)) => (session.info.engine, session.info.host.clone()),
        (kind, host, _) => {
            let kind = kind.unwrap_or(EngineKind::Berth);
            (kind, engine::resolve_host(kind, host.as_deref())?)
        }
    };
    let api = Api::new(&host)?;
    if !api.ping() {
        bail!("no {kind} engine answers at {host}");
    }
    Ok((kind, host, api))
}

/// The client for the lab's shell: `--client`, else the engine's own CLI.
fn client_path(global: &Global, engine: EngineKind) -> anyhow::Result<PathBuf> {
    let choice = global.client.clone().unwrap_or(match engine {
        EngineKind::Berth => ClientChoice::Berth,
        EngineKind::Docker => ClientChoice::Docker,
    });
    Ok(choice.resolve()?)
}

/// A lab's session on this machine, if it has one.
fn session_of(lab: &str) -> Option<Session> {
    Session::open(&state_root().join(lab)).ok()
}

fn run(global: &Global, args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = find(global, &args.id)?;
    let earlier = session_of(&scenario.id);
    let resuming = earlier.is_some() && !args.restart && !args.auto;
    let (engine, host, api) = engine_for(global, earlier.as_ref().filter(|_| resuming))?;
    let client = client_path(global, engine)?;
    let mut out = screen::out();
    if !resuming {
        clear_the_way(&api, &scenario, earlier.as_ref(), args.unique, args.yes, &mut out)?;
    }
    if engine::ensure_images(&api, &scenario.images, global.images.as_deref())? {
        writeln!(out, "loaded the lab images into the engine")?;
    }
    engine::require_real_software(&api, &scenario.real_software)?;
    let session_dir = state_root().join(&scenario.id);
    if args.auto {
        let options = ReplayOptions {
            engine,
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
    let mut lab = match earlier.filter(|_| resuming) {
        Some(session) => LabRun::resume(&scenario, &api, session),
        None => {
            let options = RunOptions {
                unique: args.unique,
                session_dir,
                engine,
                host,
                client,
            };
            LabRun::start(&scenario, &api, &options)?
        }
    };
    guided::intro(&scenario, &lab, &mut out)?;
    if resuming {
        guided::recheck_done(&lab, &mut out)?;
    }
    guided::survive_interrupts();
    let ending = guided::guide(&mut lab, args.explain, &mut out)?;
    let id = &scenario.id;
    match ending {
        guided::Ending::Finished => {
            writeln!(out)?;
            let grade = grade_of(&scenario, Some((&lab.session, &api)))?;
            write!(out, "{}", grade.to_text())?;
            writeln!(out, "\nWhat next: {}", next_steps(global, &scenario))?;
        }
        guided::Ending::Left => writeln!(
            out,
            "\nLeft at step {} of {}. `lab run {id}` resumes there (`--restart` starts over); \
             `lab grade {id}` scores what is done; `lab reset {id}` removes what it created.",
            (lab.session.info.step + 1).min(scenario.steps.len()),
            scenario.steps.len()
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// After a lab: the next one in the course, and how to clear this one away.
fn next_steps(global: &Global, scenario: &Scenario) -> String {
    let next = scenario::load_all(&scenarios_dir(global)).ok().and_then(|all| {
        let at = all.iter().position(|s| s.id == scenario.id)?;
        all.get(at + 1).map(|s| s.id.clone())
    });
    match next {
        Some(next) => format!(
            "`lab run {next}` starts the next lab (it offers to clear what this one left in its way); \
             `lab reset {}` removes what this one created.",
            scenario.id
        ),
        None => format!(
            "that was the last lab; `lab grade --all` scores them all, `lab reset {}` removes what this one created.",
            scenario.id
        ),
    }
}

/// Before a new run: remove the earlier run's work, and what else stands in the lab's way
/// (naming each, and asking unless `--yes`).
fn clear_the_way(
    api: &Api,
    scenario: &Scenario,
    earlier: Option<&Session>,
    unique: bool,
    yes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    // With names unique to the run, nothing of anyone's can be in the way.
    if unique {
        return Ok(());
    }
    let vars = scenario.vars(&scenario.id, false, || 0);
    let ledger = earlier.map(Session::ledger);
    let earlier_run = earlier
        .zip(ledger.as_ref())
        .map(|(s, l)| (s.info.run.as_str(), l));
    let found = obstacles::find(api, scenario, &vars, earlier_run)?;
    if found.is_empty() {
        return Ok(());
    }
    writeln!(out, "These stand in the way of {}:", scenario.id)?;
    for obstacle in &found {
        writeln!(out, "  {obstacle}")?;
    }
    if found.iter().all(|o| o.removal.is_none()) {
        bail!("{} cannot start while they stand in its way", scenario.id);
    }
    let accepted = if yes {
        true
    } else if std::io::stdin().is_terminal() {
        write!(out, "Remove them? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        matches!(answer.trim(), "y" | "Y" | "yes")
    } else {
        false
    };
    if !accepted {
        bail!(
            "{} cannot start while they stand in its way: remove them, or answer yes (`lab run {} --yes`)",
            scenario.id,
            scenario.id
        );
    }
    for line in obstacles::remove(api, &found) {
        writeln!(out, "  {line}")?;
    }
    if found.iter().any(|o| o.removal.is_none()) {
        bail!(
            "{} cannot start: something lab cannot remove is in its way",
            scenario.id
        );
    }
    if let Some(session) = earlier {
        let _ = std::fs::remove_dir_all(&session.dir);
    }
    Ok(())
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

fn status(global: &Global, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let dir = match &args.id {
        Some(id) => state_root().join(id),
        None => latest_session(&state_root()).context("no lab session: start one with `lab run <id>`")?,
    };
    let session = Session::open(&dir).with_context(|| match &args.id {
        Some(id) => format!("no session of {id}: `lab run {id}` starts one"),
        None => "no lab session".to_owned(),
    })?;
    let scenario = find(global, &session.info.lab)?;
    let info = &session.info;
    let total = scenario.steps.len();
    let finished = session.finished(total);
    if args.json {
        let steps: Vec<serde_json::Value> = scenario
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({
                    "number": i + 1,
                    "title": s.title,
                    "done": info.done.contains(&i),
                    "skipped": info.skipped.contains(&i),
                })
            })
            .collect();
        let json = serde_json::json!({
            "lab": info.lab,
            "title": scenario.title,
            "engine": info.engine,
            "host": info.host,
            "run": info.run,
            "started": info.started,
            "step": if finished { serde_json::Value::Null } else { (info.step + 1).into() },
            "steps": total,
            "done": info.done.iter().map(|i| i + 1).collect::<Vec<_>>(),
            "skipped": info.skipped.iter().map(|i| i + 1).collect::<Vec<_>>(),
            "finished": finished,
            "trainee": class::trainee(),
            "step_list": steps,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: {}", info.lab, scenario.title);
    println!("engine: {} at {}", info.engine, info.host);
    println!("run {} started {}", info.run, info.started);
    if finished {
        println!("every step is done ({} of {total})", info.done.len());
    } else {
        println!("on step {} of {total}", info.step + 1);
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let mark = if info.done.contains(&i) {
            "✓"
        } else if info.skipped.contains(&i) {
            "-"
        } else if i == info.step {
            "▸"
        } else {
            " "
        };
        println!("  {mark} {}. {}", i + 1, step.title);
    }
    Ok(ExitCode::SUCCESS)
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
    let (engine, host, api) = engine_for(global, None)?;
    let client = client_path(global, engine)?;
    let clock = Instant::now();
    let options = ReplayOptions {
        engine,
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
        engine: engine.to_string(),
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

/// Grade `scenario`: its session's run on its session's engine; without a session, nothing was
/// done and the score is 0.
fn grade_of(scenario: &Scenario, session: Option<(&Session, &Api)>) -> anyhow::Result<Grade> {
    let mut graded = Graded {
        lab: scenario.id.clone(),
        trainee: class::trainee(),
        machine: class::machine(),
        ..Graded::default()
    };
    let Some((session, api)) = session else {
        // Nothing done, nothing earned: every objective at 0, saying why.
        let objectives: Vec<ObjectiveReport> = scenario
            .objectives
            .iter()
            .map(|o| ObjectiveReport {
                title: scenario.render_readable(&scenario.vars(&scenario.id, false, || 0), &o.title),
                points: 0,
                max_points: o.points,
                checks: vec![checks::Outcome::failed(
                    "the lab was done in a session of this machine".to_owned(),
                    format!("a session of {}", scenario.id),
                    "none",
                )],
            })
            .collect();
        let evidence = format!(
            "no session: {} was never started here (or was reset)",
            scenario.id
        );
        return Ok(Grade::new(scenario, graded, &objectives, &evidence));
    };
    graded.engine = session.info.engine.to_string();
    graded.run = session.info.run.clone();
    let transcript = session.transcript();
    let ledger = session.ledger();
    let shell = session.shell();
    let cx = checks::Context {
        api,
        shell: &shell,
        transcript: &transcript,
        run: Some(RunScope {
            run: &session.info.run,
            ledger: &ledger,
            given: &scenario.images,
        }),
    };
    let objectives = berth_lab::grade::evaluate_objectives(scenario, &session.info.vars, &cx);
    let evidence = format!(
        "run {} on {} started {}, steps done {} of {}, commands typed: {}",
        session.info.run,
        session.info.engine,
        session.info.started,
        session.info.done.len(),
        scenario.steps.len(),
        transcript.len()
    );
    Ok(Grade::new(scenario, graded, &objectives, &evidence))
}

fn grade(global: &Global, args: GradeArgs) -> anyhow::Result<ExitCode> {
    let scenarios: Vec<Scenario> = match &args.id {
        Some(id) => vec![find(global, id)?],
        None => scenario::load_all(&scenarios_dir(global))?
            .into_iter()
            .filter(|s| session_of(&s.id).is_some())
            .collect(),
    };
    if args.all && scenarios.is_empty() {
        bail!("no lab session on this machine: `lab run <id>` starts one");
    }
    let mut grades = Vec::new();
    for scenario in &scenarios {
        let session = session_of(&scenario.id);
        // A lab never started needs no engine to grade 0.
        let api = match &session {
            Some(session) => Some(engine_for(global, Some(session))?.2),
            None => None,
        };
        grades.push(grade_of(scenario, session.as_ref().zip(api.as_ref()))?);
    }
    let text = match (args.format, args.all) {
        (GradeFormat::Text, _) => {
            let mut text: String = grades.iter().map(|g| g.to_text() + "\n").collect();
            if args.all {
                let (score, max) = totals(&grades);
                text.push_str(&format!("all labs: {score}/{max}\n"));
            } else {
                text.pop();
            }
            text
        }
        (GradeFormat::Json, false) => grades[0].to_json() + "\n",
        (GradeFormat::Json, true) => {
            let (score, max) = totals(&grades);
            let all = serde_json::json!({
                "trainee": class::trainee(),
                "machine": class::machine(),
                "score": score,
                "max_score": max,
                "labs": grades,
            });
            serde_json::to_string_pretty(&all)? + "\n"
        }
        (GradeFormat::Csv, _) => {
            let mut csv = String::new();
            for (i, grade) in grades.iter().enumerate() {
                let rows = grade.to_csv(&grade.graded.lab);
                // One header for the whole sheet.
                csv.push_str(if i == 0 {
                    &rows
                } else {
                    rows.split_once('\n').map_or("", |(_, r)| r)
                });
            }
            csv
        }
    };
    match &args.output {
        Some(path) => write_file(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn totals(grades: &[Grade]) -> (u32, u32) {
    (
        grades.iter().map(|g| g.score).sum(),
        grades.iter().map(|g| g.max_score).sum(),
    )
}

fn roster(global: &Global, args: RosterArgs) -> anyhow::Result<ExitCode> {
    let mut records = Vec::new();
    let mut unreadable = 0;
    for path in &args.reports {
        match class::read_report(path) {
            Ok(grades) => records.extend(grades),
            Err(e) => {
                eprintln!("lab roster: {e}");
                unreadable += 1;
            }
        }
    }
    let order: Vec<String> = scenario::load_all(&scenarios_dir(global))
        .map(|all| all.into_iter().map(|s| s.id).collect())
        .unwrap_or_default();
    let sheet = class::roster_csv(&records, &order);
    match &args.output {
        Some(path) => write_file(path, &sheet)?,
        None => print!("{sheet}"),
    }
    Ok(if unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
    match screen::hint_text(&step.hints, session.info.hints_shown) {
        Some(text) => {
            println!("step {} {text}", index + 1);
            session.info.hints_shown += 1;
            session.save()?;
        }
        None => println!("no hint for step {}: its text says what to type", index + 1),
    }
    Ok(ExitCode::SUCCESS)
}

fn reset(global: &Global, id: &str, run: Option<&str>) -> anyhow::Result<ExitCode> {
    let session = session_of(id);
    let (_, _, api) = engine_for(global, session.as_ref())?;
    let label = match run {
        Some(run) => format!("{RUN_LABEL}={run}"),
        None => format!("{LAB_LABEL}={id}"),
    };
    // The session's ledger: what its commands made without the lab's label.
    let ledger: Option<Ledger> = session
        .as_ref()
        .filter(|s| run.is_none_or(|r| r == s.info.run))
        .map(Session::ledger);
    let removed = berth_lab::reset::reset_with_ledger(&api, &label, ledger.as_ref());
    if removed.is_empty() {
        println!("nothing to remove: no container, image, network or volume carries {label}");
    }
    for line in &removed {
        println!("{line}");
    }
    // The session ends with what it made: a grade after a reset is 0.
    if let Some(session) = session.filter(|s| run.is_none_or(|r| r == s.info.run)) {
        std::fs::remove_dir_all(&session.dir).with_context(|| format!("remove {}", session.dir.display()))?;
        println!("ended the session of {id} (run {})", session.info.run);
    }
    Ok(if removed.iter().any(|l| l.starts_with("could not")) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn daemon(global: &Global, args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let daemon = PrivateDaemon::new(args.data_root, args.exec_root, global.host.clone());
    match args.action {
        DaemonAction::Start => {
            let host = daemon.ensure()?;
            println!(
                "the private berthd answers at {host}; data in {}, log {}",
                daemon.data_root.display(),
                daemon.log().display()
            );
        }
        DaemonAction::Status => match daemon.pid() {
            Some(pid) => println!(
                "the private berthd runs (pid {pid}) at {}; data in {}, log {}",
                daemon.host,
                daemon.data_root.display(),
                daemon.log().display()
            ),
            None => println!("the private berthd is not running"),
        },
        DaemonAction::Stop => {
            if daemon.stop() {
                println!("stopped the private berthd");
            } else {
                println!("the private berthd is not running");
            }
        }
    }
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
