//! `lab run <id>`: a guided run for a trainee, in their own shell.
//!
//! lab shows the step, then starts the trainee's own bash on their terminal (see [`bash`]).
//! After every command, the shell's hook reports it (see [`hook`]); lab records it in the
//! transcript and what it made in the ledger, shows in one line what the engine did, and checks
//! the step at once: when its checks all hold, the step is done and the next one shows. The
//! lab's words at the prompt: `step` (the step again), `hint`, `check` (each check, and whether
//! it holds), `explain` (everything the engine did for the last command), `skip`. `exit` or
//! Ctrl-D leaves; the session stays, and `lab run <id>` resumes where the trainee left.

use std::io::Write;
use std::time::Duration;

use berth_api::explain::ExplainEvent;

use crate::run::LabRun;
use crate::scenario::Scenario;
use crate::screen;

pub mod bash;
pub mod hook;

use hook::{Listener, Report, Request};

/// How much of what the engine did shows after each command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExplainMode {
    /// Every step the engine took
    Full,
    /// One line: the kinds of kernel work
    #[default]
    Short,
    /// Nothing (`explain` still shows it)
    Off,
}

/// How long a step may take to come true by itself after a command that changed something in
/// the engine (a web server starting to listen, a `--rm` container going), at most.
const PATIENCE: Duration = Duration::from_secs(5);

/// The words the prompt answers itself (the rc defines them as shell functions).
const WORDS: &[&str] = &["step", "hint", "check", "explain", "skip"];

/// How a guided run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step done (or skipped).
    Finished,
    /// The trainee left (`exit`, Ctrl-D).
    Left,
}

/// Run the guided lab: the trainee's shell until they finish or leave.
pub fn guide(run: &mut LabRun, explain: ExplainMode, out: &mut dyn Write) -> std::io::Result<Ending> {
    let color = screen::color_wanted();
    let mut tutor = Tutor {
        run,
        explain,
        color,
        last_events: Vec::new(),
    };
    // The current step may be done already (its work done before leaving last time).
    tutor.show_current(out, true);
    if tutor.finished() {
        return Ok(Ending::Finished);
    }
    tutor.write_state()?;
    out.flush()?;
    let session = tutor.run.session.clone();
    let server = hook::Server::bind(&bash::socket_path(&session))?;
    let stop = server.stop_handle();
    let cwd = tutor.run.shell().cwd().to_owned();
    let mut child = bash::spawn(&session, &cwd)?;
    std::thread::scope(|scope| {
        scope.spawn(|| server.serve(&mut tutor));
        let _ = child.wait();
        stop.stop();
    });
    bash::reclaim_terminal();
    let _ = tutor.run.session.save();
    Ok(if tutor.finished() {
        Ending::Finished
    } else {
        Ending::Left
    })
}

/// What answers the hook: the run, and what it last saw.
struct Tutor<'r, 'a> {
    run: &'r mut LabRun<'a>,
    explain: ExplainMode,
    color: bool,
    /// The explain events of the last command (`explain` shows them all).
    last_events: Vec<ExplainEvent>,
}

impl Listener for Tutor<'_, '_> {
    fn handle(&mut self, request: Request, out: &mut dyn Write) {
        // Written as it comes (a wait for a server says so first), without colours when lab's
        // own output goes without.
        if self.color {
            self.answer(request, out);
        } else {
            self.answer(request, &mut strip_ansi_escapes::Writer::new(out));
        }
        // Before the connection closes: the rc reads it as soon as the answer ends.
        let _ = self.write_state();
    }
}

impl Tutor<'_, '_> {
    fn answer(&mut self, request: Request, out: &mut dyn Write) {
        match request {
            Request::Report(report) => self.on_command(report, out),
            Request::Ask(word) => self.on_word(&word, out),
        }
    }

    fn scenario(&self) -> &Scenario {
        self.run.scenario
    }

    fn index(&self) -> usize {
        self.run.session.info.step
    }

    fn total(&self) -> usize {
        self.scenario().steps.len()
    }

    fn finished(&self) -> bool {
        self.index() >= self.total()
    }

    /// The prompt's text and whether the lab is over, for the rc.
    fn write_state(&self) -> std::io::Result<()> {
        let prompt = if self.finished() {
            format!("{} done", self.scenario().id)
        } else {
            format!("{} {}/{}", self.scenario().id, self.index() + 1, self.total())
        };
        bash::write_state(&self.run.session, &prompt, self.finished())
    }

    /// A command the trainee ran.
    fn on_command(&mut self, report: Report, out: &mut dyn Write) {
        let line = report.line.trim();
        if line.is_empty() || WORDS.contains(&line) || self.finished() {
            return;
        }
        let index = self.index();
        self.run.set_cwd(&report.pwd);
        let window = self
            .run
            .record(index, &report.line, report.status, report.started, report.ended);
        self.last_events = if line.contains("docker") {
            explained_during(self.run, report.started, report.ended)
        } else {
            // Engine work in the background (a network link removed after a container's exit)
            // is not this command's.
            Vec::new()
        };
        match self.explain {
            ExplainMode::Full => screen::explain(out, &self.last_events, true),
            ExplainMode::Short => screen::explain_line(out, &self.last_events),
            ExplainMode::Off => {}
        }
        if report.status == 127 {
            screen::not_a_command(out, &report.line);
        }
        let changed = window.events > 0 || !self.last_events.is_empty();
        let mut outcomes = self.run.evaluate_step(index, Some(Duration::ZERO));
        let holds = |o: &[crate::checks::Outcome]| o.iter().all(|c| c.holds);
        // What a command set going may finish a moment after it returns (a server starting to
        // listen, a `--rm` container removed as it exits): wait for it, saying so.
        if !holds(&outcomes) && report.status == 0 && changed && self.may_come_true(index, &outcomes) {
            screen::waiting(out, PATIENCE);
            let _ = out.flush();
            outcomes = self.run.evaluate_step_within(index, PATIENCE);
        }
        if holds(&outcomes) {
            screen::checks(out, &outcomes);
            self.step_done(out);
        } else if report.line.contains("docker") || changed {
            let done_when = self.run.step(index).done_when;
            screen::progress(out, index + 1, self.total(), &outcomes, &done_when);
        }
    }

    /// Whether the checks that fail may come true without another command: every kind but
    /// `ran` (what was typed does not change by waiting).
    fn may_come_true(&self, index: usize, outcomes: &[crate::checks::Outcome]) -> bool {
        let step = &self.scenario().steps[index];
        step.checks
            .iter()
            .zip(outcomes)
            .all(|(check, outcome)| outcome.holds || !matches!(check, crate::scenario::Check::Ran(_)))
    }

    /// One of the lab's words.
    fn on_word(&mut self, word: &str, out: &mut dyn Write) {
        if self.finished() {
            let _ = writeln!(out, "  every step is done: `exit` to see your score");
            return;
        }
        let index = self.index();
        match word {
            "step" => screen::step(out, index + 1, self.total(), &self.run.step(index)),
            "hint" => self.hint(out),
            "explain" => {
                if self.last_events.is_empty() {
                    let _ = writeln!(out, "  the engine explained nothing for the last command");
                }
                screen::explain(out, &self.last_events, true);
            }
            "check" => {
                let outcomes = self.run.evaluate_step(index, Some(Duration::ZERO));
                screen::checks(out, &outcomes);
                if outcomes.iter().all(|o| o.holds) {
                    self.step_done(out);
                } else {
                    screen::wanted(out, &self.run.step(index).done_when);
                }
            }
            "skip" => {
                let _ = writeln!(out, "  skipped step {}", index + 1);
                self.run.session.info.skipped.insert(index);
                self.next_step(out);
            }
            other => {
                let _ = writeln!(out, "  lab does not know `{other}`");
            }
        }
    }

    /// Show the step's next hint (they come one at a time; the last one repeats).
    fn hint(&mut self, out: &mut dyn Write) {
        let hints = self.run.step(self.index()).hints;
        let info = &mut self.run.session.info;
        let _ = match screen::hint_text(&hints, info.hints_shown) {
            Some(text) => {
                info.hints_shown += 1;
                writeln!(out, "  {text}")
            }
            None => writeln!(out, "  no hint for this step: its text says what to type"),
        };
        let _ = self.run.session.save();
    }

    /// The step's checks hold: take its captures, mark it done, go on.
    fn step_done(&mut self, out: &mut dyn Write) {
        let index = self.index();
        if let Err(e) = self.run.take_captures(index) {
            let _ = writeln!(out, "  {e}");
            return;
        }
        self.run.session.info.done.insert(index);
        screen::step_done(out, index + 1);
        self.next_step(out);
    }

    /// Move to the next step and show it (or the end).
    fn next_step(&mut self, out: &mut dyn Write) {
        self.run.session.info.step += 1;
        self.run.session.info.hints_shown = 0;
        let _ = self.run.session.save();
        self.show_current(out, false);
    }

    /// Show the current step; one whose checks already hold (its work done ahead, or before
    /// the trainee left) is done at once.
    fn show_current(&mut self, out: &mut dyn Write, resuming: bool) {
        while !self.finished() {
            let index = self.index();
            let outcomes = self.run.evaluate_step(index, Some(Duration::ZERO));
            if outcomes.is_empty() || !outcomes.iter().all(|o| o.holds) {
                screen::step(out, index + 1, self.total(), &self.run.step(index));
                return;
            }
            screen::already_done(out, index + 1, &self.run.step(index).title, resuming);
            if self.run.take_captures(index).is_err() {
                screen::step(out, index + 1, self.total(), &self.run.step(index));
                return;
            }
            self.run.session.info.done.insert(index);
            self.run.session.info.step += 1;
            self.run.session.info.hints_shown = 0;
            let _ = self.run.session.save();
        }
        if !resuming {
            screen::lab_done(out, &self.scenario().title);
        }
    }
}

/// What the engine explained between `started` and a moment after `ended` (the engine writes
/// its last sentences as the client returns), not what it did later on its own.
fn explained_during(run: &LabRun, started: f64, ended: f64) -> Vec<ExplainEvent> {
    let until = ended + 0.25;
    let mut events = run.api.explain_since(started).ok().flatten().unwrap_or_default();
    events.retain(|e| {
        chrono::DateTime::parse_from_rfc3339(&e.time)
            .map(|t| t.timestamp_micros() as f64 / 1e6 <= until)
            .unwrap_or(true)
    });
    events
}

/// The screen before the first step: what the lab is, where, and the words the prompt knows.
pub fn intro(scenario: &Scenario, run: &LabRun, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{} ({} minutes)\n", scenario.title, scenario.minutes)?;
    writeln!(out, "{}\n", screen::markdown(&scenario.summary))?;
    let info = &run.session.info;
    writeln!(
        out,
        "engine: {} ({}) at {}\ndocker: {} (lab adds the labels berth.lab={} and berth.lab.run={} to what you create)\nlab directory: {}",
        crate::engine::describe(run.api),
        info.engine,
        info.host,
        info.client.display(),
        scenario.id,
        info.run,
        run.session.workdir().display()
    )?;
    if matches!(run.api.explain_since(crate::run::unix_now()), Ok(None)) {
        writeln!(
            out,
            "(this engine does not explain its steps; against berthd, lab shows what it did after each command)"
        )?;
    }
    writeln!(
        out,
        "\nThis is your own bash: type the commands, `cd`, set variables, use ↑ for history.\n\
         `step` shows the step again, `hint` gives a hint, `check` shows its checks, `explain` what the engine\n\
         did for your last command, `skip` skips the step. `exit` or Ctrl-D leaves; `lab run {}` resumes.",
        scenario.id
    )?;
    Ok(())
}

/// On resume: each step done so far, re-checked. A step's checks may rightly no longer hold (a
/// later step stopped what it started); the line says what changed.
pub fn recheck_done(run: &LabRun, out: &mut dyn Write) -> std::io::Result<()> {
    let info = &run.session.info;
    writeln!(
        out,
        "\nResuming at step {} of {} (run {}, started {}):",
        (info.step + 1).min(run.scenario.steps.len()),
        run.scenario.steps.len(),
        info.run,
        info.started
    )?;
    for index in 0..info.step.min(run.scenario.steps.len()) {
        let title = run.step(index).title;
        if info.skipped.contains(&index) {
            writeln!(out, "  - {}. {title} (skipped)", index + 1)?;
            continue;
        }
        let outcomes = run.evaluate_step(index, Some(Duration::ZERO));
        screen::rechecked(out, index + 1, &title, &outcomes);
    }
    Ok(())
}

/// Ctrl-C at the prompt or during a command must stop the command, not lab: lab catches
/// SIGINT and SIGQUIT with a handler that does nothing (children get the default back at exec).
pub fn survive_interrupts() {
    extern "C" fn ignore(_: libc::c_int) {}
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction is a valid value to fill; the handler is an `extern "C"` fn
        // that does nothing, so it is async-signal-safe; sigaction only reads the struct.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
