//! `lab run <id>`: a guided run for a trainee.
//!
//! Each step shows its text and the commands to type; a prompt reads the trainee's commands and
//! runs them on their terminal (so `docker exec -it` works), records them in the transcript,
//! shows what the engine did, and re-evaluates the step's checks: when they all hold, the next
//! step comes. At the prompt, `hint` shows the step's next hint, `check` shows each check,
//! `explain` everything the engine did for the last command, `skip` moves on, `exit` leaves (the
//! session stays for `lab grade`).

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::replay::unix_now;
use crate::run::LabRun;
use crate::scenario::Scenario;
use crate::screen;

/// How long a step's checks may take to come true after a command that succeeded (a server
/// starting to listen).
const PATIENCE: Duration = Duration::from_secs(2);

/// Lines the prompt answers itself.
const HELP: &str = "hint     the step's next hint\n\
                    check    each of the step's checks, and whether it holds\n\
                    explain  everything the engine did for the last command\n\
                    skip     go on to the next step\n\
                    exit     leave (the session stays: `lab grade` scores it, `lab reset` cleans up)\n\
                    anything else runs in the shell";

/// How a guided run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step done.
    Finished,
    /// The trainee left (`exit`, end of input).
    Left,
}

/// Run `run` with the trainee, reading commands from `input`.
pub fn guide(run: &mut LabRun, input: &mut dyn BufRead, out: &mut dyn Write) -> std::io::Result<Ending> {
    let scenario = run.scenario;
    let total = scenario.steps.len();
    let start = run.session.info.step;
    let mut last_events = Vec::new();
    for index in start..total {
        run.session.info.step = index;
        run.session.info.hints_shown = 0;
        let _ = run.session.save();
        screen::step(out, index + 1, total, &run.step(index));
        loop {
            write!(out, "{}", screen::prompt(&scenario.id, index + 1, total))?;
            out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                writeln!(out)?;
                return Ok(Ending::Left);
            }
            let line = line.trim();
            match line {
                "" => continue,
                "exit" | "quit" | "lab exit" => return Ok(Ending::Left),
                "help" | "lab help" => {
                    writeln!(out, "{HELP}")?;
                    continue;
                }
                "hint" | "lab hint" => {
                    show_hint(run, index, out)?;
                    continue;
                }
                "explain" | "lab explain" => {
                    if last_events.is_empty() {
                        writeln!(out, "  the engine explained nothing for the last command")?;
                    }
                    screen::explain(out, &last_events, true);
                    continue;
                }
                "skip" | "lab skip" => {
                    writeln!(out, "skipped step {}", index + 1)?;
                    break;
                }
                "check" | "lab check" => {
                    let outcomes = run.evaluate_step(index, Some(Duration::ZERO));
                    screen::checks(out, &outcomes);
                    if outcomes.iter().all(|o| o.holds) && step_done(run, index, out)? {
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            let since = unix_now();
            let code = run.run_typed(index, line);
            last_events = run.api.explain_since(since).ok().flatten().unwrap_or_default();
            screen::explain(out, &last_events, false);
            if checks_hold(run, index, code == 0) {
                let outcomes = run.evaluate_step(index, Some(Duration::ZERO));
                screen::checks(out, &outcomes);
                if step_done(run, index, out)? {
                    break;
                }
            } else {
                let outcomes = run.evaluate_step(index, Some(Duration::ZERO));
                let holding = outcomes.iter().filter(|o| o.holds).count();
                writeln!(
                    out,
                    "  ({holding} of {} checks hold: `check` shows them, `hint` helps)",
                    outcomes.len()
                )?;
            }
        }
    }
    run.session.info.step = total;
    let _ = run.session.save();
    Ok(Ending::Finished)
}

/// Whether all of step `index`'s checks hold, waiting a moment when the command succeeded.
fn checks_hold(run: &LabRun, index: usize, succeeded: bool) -> bool {
    let deadline = Instant::now() + if succeeded { PATIENCE } else { Duration::ZERO };
    loop {
        if run
            .evaluate_step(index, Some(Duration::ZERO))
            .iter()
            .all(|o| o.holds)
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The step's checks hold: take its captures and say so. Answers false when a capture fails.
fn step_done(run: &mut LabRun, index: usize, out: &mut dyn Write) -> std::io::Result<bool> {
    if let Err(e) = run.take_captures(index) {
        writeln!(out, "  {e}")?;
        return Ok(false);
    }
    writeln!(out, "  step {} done", index + 1)?;
    Ok(true)
}

/// Show the step's next hint (they come one at a time; the last one repeats).
pub fn show_hint(run: &mut LabRun, index: usize, out: &mut dyn Write) -> std::io::Result<()> {
    let hints = run.step(index).hints;
    if hints.is_empty() {
        writeln!(out, "  no hint for this step: its text says what to type")?;
        return Ok(());
    }
    let shown = run.session.info.hints_shown.min(hints.len() - 1);
    writeln!(
        out,
        "  hint {} of {}: {}",
        shown + 1,
        hints.len(),
        screen::markdown(&hints[shown])
    )?;
    run.session.info.hints_shown = shown + 1;
    let _ = run.session.save();
    Ok(())
}

/// The screen before the first step.
pub fn intro(scenario: &Scenario, api: &Api, run: &LabRun, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{} ({} minutes)\n", scenario.title, scenario.minutes)?;
    writeln!(out, "{}\n", screen::markdown(&scenario.summary))?;
    writeln!(
        out,
        "engine: {} at {}\ndocker: {} (lab adds the label berth.lab={} to what you create)\nlab directory: {}",
        crate::engine::describe(api),
        run.session.info.host,
        run.session.info.client.display(),
        scenario.id,
        run.shell().cwd().display()
    )?;
    if matches!(api.explain_since(crate::replay::unix_now()), Ok(None)) {
        writeln!(
            out,
            "(this engine does not explain its steps; against berthd, lab shows what it did after each command)"
        )?;
    }
    writeln!(out, "type `help` for what the prompt understands")?;
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
