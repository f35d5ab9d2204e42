//! One run of a lab: its session, its shell, its variables; running commands (the reference
//! ones or the trainee's), evaluating a step's checks, taking its captures. The guided run
//! (`lab run`) and the replay (`lab check`, `lab run --auto`) are both built on this.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::checks::{self, Context, Outcome, RunScope};
use crate::engine::EngineKind;
use crate::ledger::{Kind, Ledger, Window};
use crate::report::{CommandReport, ObjectiveReport};
use crate::scenario::vars::RUN_LABEL;
use crate::scenario::{Capture, Scenario, Step, StepCommand};
use crate::session::{Session, SessionError, SessionInfo, TranscriptEntry, new_run_id, now_rfc3339};
use crate::shell::{COMMAND_TIMEOUT, Shell};

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Make names and ports unique to this run (`lab check`), or keep the guide's (`lab run`).
    pub unique: bool,
    /// The session directory (emptied first).
    pub session_dir: PathBuf,
    /// Which engine, and its address (for the shell's `DOCKER_HOST`).
    pub engine: EngineKind,
    pub host: String,
    /// The client behind the shell's `docker`.
    pub client: PathBuf,
}

/// A lab being run.
pub struct LabRun<'a> {
    pub scenario: &'a Scenario,
    pub api: &'a Api,
    pub session: Session,
    /// What the run's commands made and removed.
    pub ledger: Ledger,
    shell: Shell,
}

impl<'a> LabRun<'a> {
    /// A new run: a fresh session with the lab directory and its fixtures.
    pub fn start(
        scenario: &'a Scenario,
        api: &'a Api,
        options: &RunOptions,
    ) -> Result<LabRun<'a>, SessionError> {
        let run = new_run_id();
        let vars = scenario.vars(&run, options.unique, free_port);
        let info = SessionInfo {
            lab: scenario.id.clone(),
            run,
            engine: options.engine,
            host: options.host.clone(),
            client: options.client.clone(),
            vars,
            step: 0,
            done: Default::default(),
            skipped: Default::default(),
            hints_shown: 0,
            started: now_rfc3339(),
            cwd: None,
        };
        let session = Session::create(&options.session_dir, scenario, info)?;
        Ok(LabRun::resume(scenario, api, session))
    }

    /// Go on with a saved session.
    pub fn resume(scenario: &'a Scenario, api: &'a Api, session: Session) -> LabRun<'a> {
        let shell = session.shell();
        let ledger = session.ledger();
        LabRun {
            scenario,
            api,
            session,
            ledger,
            shell,
        }
    }

    /// `berth.lab.run=<run>`.
    pub fn run_label(&self) -> String {
        format!("{RUN_LABEL}={}", self.session.info.run)
    }

    /// Step `index` with the variables known so far filled in.
    pub fn step(&self, index: usize) -> Step {
        self.session.info.vars.render_all(&self.scenario.steps[index])
    }

    /// Run a reference command, captured; it goes into the transcript, and what it made into
    /// the ledger.
    pub fn run_reference(&mut self, step: usize, command: &StepCommand) -> CommandReport {
        let started = unix_now();
        let ran = self.shell.run_captured(command, COMMAND_TIMEOUT);
        self.record(
            step,
            &command.run,
            ran.exit_code.unwrap_or(137),
            started,
            unix_now(),
        );
        CommandReport {
            command: command.run.clone(),
            exit_code: ran.exit_code,
            expected_exit_code: command.exit_code,
            output: ran.output,
        }
    }

    /// Record a command that ran from `started` to `ended` (Unix seconds): the transcript gets
    /// it, the ledger what the engine made and removed meanwhile; answers what the engine did.
    pub fn record(&mut self, step: usize, command: &str, exit_code: i32, started: f64, ended: f64) -> Window {
        // The transcript is evidence for grading, not a reason to stop a lab.
        let _ = self.session.record(&TranscriptEntry {
            step,
            command: command.to_owned(),
            exit_code,
            time: rfc3339_of(started),
            seconds: (ended - started).max(0.0),
        });
        // A little past the end: the engine stamps an event a moment after the work it reports.
        self.ledger
            .record_window(self.api, started, unix_now().max(ended), step, command)
            .unwrap_or_default()
    }

    /// The shell the lab's commands run in.
    pub fn shell(&self) -> &Shell {
        &self.shell
    }

    /// Where `host` checks run from now on: the trainee's shell's directory.
    pub fn set_cwd(&mut self, dir: &std::path::Path) {
        if dir.is_dir() {
            self.shell.set_cwd(dir);
            self.session.info.cwd = Some(dir.to_owned());
        }
    }

    /// Whose objects the run's checks count.
    fn scope(&self) -> RunScope<'_> {
        RunScope {
            run: &self.session.info.run,
            ledger: &self.ledger,
            given: &self.scenario.images,
        }
    }

    /// The commands of step `index`, from the transcript.
    pub fn step_transcript(&self, index: usize) -> Vec<TranscriptEntry> {
        self.session
            .transcript()
            .into_iter()
            .filter(|e| e.step == index)
            .collect()
    }

    /// Evaluate step `index`'s checks, each until it holds or `limit` (its own deadline when
    /// `None`). `ran` checks look at the commands typed in this step.
    pub fn evaluate_step(&self, index: usize, limit: Option<Duration>) -> Vec<Outcome> {
        self.evaluate_step_with(index, limit, &self.step_transcript(index))
    }

    /// Evaluate step `index`'s checks together until they all hold or `patience` passes.
    pub fn evaluate_step_within(&self, index: usize, patience: Duration) -> Vec<Outcome> {
        let deadline = Instant::now() + patience;
        let transcript = self.step_transcript(index);
        loop {
            let outcomes = self.evaluate_step_with(index, Some(Duration::ZERO), &transcript);
            if outcomes.iter().all(|o| o.holds) || Instant::now() >= deadline {
                return outcomes;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Evaluate step `index`'s checks as if `transcript` were what was typed in it.
    pub fn evaluate_step_with(
        &self,
        index: usize,
        limit: Option<Duration>,
        transcript: &[TranscriptEntry],
    ) -> Vec<Outcome> {
        let step = self.step(index);
        let cx = Context {
            api: self.api,
            shell: &self.shell,
            transcript,
            run: Some(self.scope()),
        };
        step.checks
            .iter()
            .map(|check| checks::evaluate_until(check, &cx, limit))
            .collect()
    }

    /// Take step `index`'s captures into the run's variables (and the session, and the ledger:
    /// a captured volume name is a volume of the run).
    pub fn take_captures(&mut self, index: usize) -> Result<(), String> {
        let run_label = self.run_label();
        let ids: Vec<String> = self
            .ledger
            .made_ids(Kind::Container)
            .into_iter()
            .map(|e| e.id.clone())
            .collect();
        for capture in self.step(index).captures {
            let value = capture_value(self.api, &capture, &run_label, &ids)?;
            self.session.info.vars.set(&capture.var, &value);
            if capture.mount.is_some() {
                self.ledger.record_capture(Kind::Volume, &value, index);
            }
        }
        self.session.save().map_err(|e| e.to_string())
    }

    /// The objectives, evaluated on the engine's state now and the whole transcript.
    pub fn evaluate_objectives(&self) -> Vec<ObjectiveReport> {
        let transcript = self.session.transcript();
        let cx = Context {
            api: self.api,
            shell: &self.shell,
            transcript: &transcript,
            run: Some(self.scope()),
        };
        crate::grade::evaluate_objectives(self.scenario, &self.session.info.vars, &cx)
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Unix seconds as RFC 3339 (milliseconds, UTC).
fn rfc3339_of(seconds: f64) -> String {
    chrono::DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(now_rfc3339)
}

/// Read one captured value, waiting a moment for it to appear (an address is assigned as a
/// container starts).
fn capture_value(api: &Api, capture: &Capture, run_label: &str, made: &[String]) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match read_capture(api, capture, run_label, made) {
            Ok(Some(value)) => return Ok(value),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => return Err(format!("cannot capture {}: not found", capture.describe())),
            Err(e) => return Err(format!("cannot capture {}: {e}", capture.describe())),
        }
    }
}

fn read_capture(
    api: &Api,
    capture: &Capture,
    run_label: &str,
    made: &[String],
) -> Result<Option<String>, berth_api::client::ClientError> {
    let name = if capture.container == "*" {
        match newest_of_run(api, run_label, made, capture.image.as_deref())? {
            Some(id) => id,
            None => return Ok(None),
        }
    } else {
        capture.container.clone()
    };
    let Some(container) = api.container(&name)? else {
        return Ok(None);
    };
    let settings = &container.network_settings;
    let value = if capture.id == Some(true) {
        Some(container.id[..container.id.len().min(12)].to_owned())
    } else if let Some(destination) = &capture.mount {
        container
            .mounts
            .iter()
            .find(|m| m.destination == *destination)
            .map(|m| m.name.clone())
    } else if let Some(network) = &capture.ip {
        settings
            .networks
            .get(network)
            .map(|e| e.ip_address.clone())
            .or_else(|| (network == "bridge").then(|| settings.ip_address.clone()))
    } else if let Some(port) = &capture.port {
        settings
            .ports
            .get(port)
            .and_then(|b| b.as_ref())
            .and_then(|b| b.first())
            .map(|b| b.host_port.clone())
    } else {
        None
    };
    Ok(value.filter(|v| !v.is_empty()))
}

/// The newest container of this run (labelled, or `made` by its commands; from `image`, when
/// given).
fn newest_of_run(
    api: &Api,
    run_label: &str,
    made: &[String],
    image: Option<&str>,
) -> Result<Option<String>, berth_api::client::ClientError> {
    let image_id = match image {
        Some(image) => match api.image(image)? {
            Some(found) => Some(found.id),
            None => return Ok(None),
        },
        None => None,
    };
    let mut containers = api.containers()?;
    containers.retain(|c| {
        let labelled = c
            .labels
            .get(RUN_LABEL)
            .is_some_and(|run| run_label.strip_prefix("berth.lab.run=") == Some(run.as_str()));
        (labelled || made.contains(&c.id)) && image_id.as_ref().is_none_or(|id| *id == c.image_id)
    });
    Ok(containers.into_iter().max_by_key(|c| c.created).map(|c| c.id))
}

/// A TCP port free on this host now (the kernel's choice), for a published port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}
