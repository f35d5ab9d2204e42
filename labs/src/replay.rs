//! Replaying a lab's reference commands and checking every step: `lab check` (quietly, for
//! CI) and `lab run --auto` (shown as it goes, as a demo).
//!
//! A replay makes its names and ports unique (unless told not to), stops at the first step that
//! fails (the rest are skipped), evaluates the objectives on the final state, and always removes
//! what it created — also when it fails or panics.
//!
//! Before each step's commands, it checks that the step is not *vacuous*: at least one of its
//! checks must fail then (given an unrelated command in the transcript), or the step would be
//! done by whatever a trainee types. A vacuous step fails the lab, so none can ship.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_api::explain::ExplainEvent;

use crate::api::Api;
use crate::checks::Outcome;
use crate::engine::{self, EngineKind};
use crate::report::{CommandReport, LabReport, Status, StepReport};
use crate::reset::reset;
use crate::run::{LabRun, RunOptions, unix_now};
use crate::scenario::{Scenario, Step, StepCommand};
use crate::session::TranscriptEntry;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Which engine, and its address (for the shell).
    pub engine: EngineKind,
    pub host: String,
    /// The client behind the shell's `docker`.
    pub client: PathBuf,
    /// Names and ports unique to the run (`lab check`), or the guide's.
    pub unique: bool,
    /// Leave what the lab created, and its session directory, for a look afterwards.
    pub keep: bool,
    /// Where the session goes; a temporary directory when `None`.
    pub session_dir: Option<PathBuf>,
    /// The lab images archive, when not found by itself.
    pub images: Option<PathBuf>,
    /// Go on after a step fails (its later steps may fail for its sake) instead of skipping the rest.
    pub keep_going: bool,
}

/// What a replay shows as it goes; every method does nothing unless overridden.
pub trait Watcher {
    fn step(&mut self, _number: usize, _total: usize, _step: &Step) {}
    fn command(&mut self, _command: &StepCommand) {}
    fn finished(&mut self, _report: &CommandReport) {}
    fn explain(&mut self, _events: &[ExplainEvent]) {}
    fn checks(&mut self, _outcomes: &[Outcome]) {}
}

/// Shows nothing.
pub struct Quiet;
impl Watcher for Quiet {}

/// Removes what the run created when dropped, unless kept; [`Cleanup::finish`] says what it removed.
struct Cleanup<'a> {
    api: &'a Api,
    label: Option<String>,
    session_dir: Option<PathBuf>,
}

impl Cleanup<'_> {
    fn finish(mut self) -> Vec<String> {
        self.clean()
    }

    fn clean(&mut self) -> Vec<String> {
        let removed = match self.label.take() {
            Some(label) => reset(self.api, &label),
            None => Vec::new(),
        };
        if let Some(dir) = self.session_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        removed
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.clean();
    }
}

/// Replay `scenario` against the engine behind `api`.
pub fn replay(
    scenario: &Scenario,
    api: &Api,
    options: &ReplayOptions,
    watcher: &mut dyn Watcher,
) -> LabReport {
    let clock = Instant::now();
    let mut report = LabReport {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        run: String::new(),
        vars: Default::default(),
        passed: false,
        seconds: 0.0,
        steps: Vec::new(),
        objectives: Vec::new(),
        error: None,
        cleanup: Vec::new(),
    };
    let ready = engine::ensure_images(api, &scenario.images, options.images.as_deref())
        .and_then(|_| engine::require_real_software(api, &scenario.real_software));
    if let Err(e) = ready {
        report.error = Some(e.to_string());
        return report;
    }
    let temporary = options.session_dir.is_none();
    let session_dir = options.session_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "berth-lab-{}-{}",
            scenario.id,
            crate::session::new_run_id()
        ))
    });
    let run_options = RunOptions {
        unique: options.unique,
        session_dir: session_dir.clone(),
        engine: options.engine,
        host: options.host.clone(),
        client: options.client.clone(),
    };
    let mut run = match LabRun::start(scenario, api, &run_options) {
        Ok(run) => run,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.run = run.session.info.run.clone();
    let cleanup = Cleanup {
        api,
        label: (!options.keep).then(|| run.run_label()),
        session_dir: (temporary && !options.keep).then_some(session_dir),
    };

    let total = scenario.steps.len();
    let mut failed = false;
    for index in 0..total {
        let step = run.step(index);
        if failed && !options.keep_going {
            report.steps.push(StepReport {
                number: index + 1,
                title: step.title,
                status: Status::Skipped,
                seconds: 0.0,
                commands: Vec::new(),
                checks: Vec::new(),
            });
            continue;
        }
        let step_clock = Instant::now();
        watcher.step(index + 1, total, &step);
        run.session.info.step = index;
        let (commands, checks) = play_step(&mut run, index, &step, watcher);
        let ok = commands.iter().all(CommandReport::ok) && checks.iter().all(|c| c.holds);
        failed |= !ok;
        if ok {
            run.session.info.done.insert(index);
        }
        report.steps.push(StepReport {
            number: index + 1,
            title: step.title,
            status: if ok { Status::Passed } else { Status::Failed },
            seconds: step_clock.elapsed().as_secs_f64(),
            commands,
            checks,
        });
    }
    run.session.info.step = total;
    let _ = run.session.save();
    report.vars = run.session.info.vars.clone();
    report.objectives = run.evaluate_objectives();
    report.passed = !failed && report.objectives.iter().all(|o| o.passed());
    drop(run);
    report.cleanup = cleanup.finish();
    report.seconds = clock.elapsed().as_secs_f64();
    report
}

/// Run one step's commands (stopping at one that ends wrong), then its checks, then its
/// captures (a capture that cannot be taken fails the step like a check).
fn play_step(
    run: &mut LabRun,
    index: usize,
    step: &Step,
    watcher: &mut dyn Watcher,
) -> (Vec<CommandReport>, Vec<Outcome>) {
    if let Some(vacuous) = vacuous(run, index) {
        watcher.checks(std::slice::from_ref(&vacuous));
        return (Vec::new(), vec![vacuous]);
    }
    let mut commands = Vec::new();
    for command in &step.commands {
        watcher.command(command);
        let since = unix_now();
        let mut report = run.run_reference(index, command);
        let retry_until = std::time::Instant::now() + command.retry_for();
        while !report.ok() && std::time::Instant::now() < retry_until {
            std::thread::sleep(std::time::Duration::from_millis(500));
            report = run.run_reference(index, command);
        }
        watcher.finished(&report);
        if let Ok(Some(events)) = run.api.explain_since(since) {
            watcher.explain(&events);
        }
        let ok = report.ok();
        commands.push(report);
        if !ok {
            return (commands, Vec::new());
        }
    }
    let mut checks = run.evaluate_step(index, None);
    watcher.checks(&checks);
    if checks.iter().all(|c| c.holds) {
        if let Err(e) = run.take_captures(index) {
            checks.push(Outcome::failed(
                "the step's captures".into(),
                "every value captured",
                e,
            ));
        }
    }
    (commands, checks)
}

/// The failure of a vacuous step: every check already holds before its commands run, with
/// only an unrelated command (`true`) typed in it.
fn vacuous(run: &LabRun, index: usize) -> Option<Outcome> {
    let unrelated = TranscriptEntry {
        step: index,
        command: "true".to_owned(),
        exit_code: 0,
        time: String::new(),
        seconds: 0.0,
    };
    let before = run.evaluate_step_with(index, Some(Duration::ZERO), &[unrelated]);
    let holding: Vec<&str> = before
        .iter()
        .filter(|o| o.holds)
        .map(|o| o.check.as_str())
        .collect();
    (holding.len() == before.len()).then(|| {
        Outcome::failed(
            "the step's checks fail before its commands run (the step is not vacuous)".to_owned(),
            "a check that only the step's commands make hold",
            format!(
                "every check holds already, so any command would finish the step: {}",
                holding.join("; ")
            ),
        )
    })
}
