//! One run of a lab: its session, its shell, its variables; running commands (the reference
//! ones or the trainee's), evaluating a step's checks, taking its captures. The guided run
//! (`lab run`) and the replay (`lab check`, `lab run --auto`) are both built on this.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::checks::{self, Context, Outcome};
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
    /// The engine's address, for the shell's `DOCKER_HOST`.
    pub host: String,
    /// The client behind the shell's `docker`.
    pub client: PathBuf,
}

/// A lab being run.
pub struct LabRun<'a> {
    pub scenario: &'a Scenario,
    pub api: &'a Api,
    pub session: Session,
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
            host: options.host.clone(),
            client: options.client.clone(),
            vars,
            step: 0,
            hints_shown: 0,
            started: now_rfc3339(),
        };
        let session = Session::create(&options.session_dir, scenario, info)?;
        let shell = session.shell();
        Ok(LabRun {
            scenario,
            api,
            session,
            shell,
        })
    }

    /// `berth.lab.run=<run>`.
    pub fn run_label(&self) -> String {
        format!("{RUN_LABEL}={}", self.session.info.run)
    }

    /// Step `index` with the variables known so far filled in.
    pub fn step(&self, index: usize) -> Step {
        self.session.info.vars.render_all(&self.scenario.steps[index])
    }

    /// Run a reference command, captured; it goes into the transcript.
    pub fn run_reference(&mut self, step: usize, command: &StepCommand) -> CommandReport {
        let started = now_rfc3339();
        let clock = Instant::now();
        let ran = self.shell.run_captured(command, COMMAND_TIMEOUT);
        self.record(
            step,
            &command.run,
            ran.exit_code.unwrap_or(137),
            started,
            clock.elapsed(),
        );
        CommandReport {
            command: command.run.clone(),
            exit_code: ran.exit_code,
            expected_exit_code: command.exit_code,
            output: ran.output,
        }
    }

    /// Run a line the trainee typed, on their terminal; it goes into the transcript.
    pub fn run_typed(&mut self, step: usize, line: &str) -> i32 {
        let started = now_rfc3339();
        let clock = Instant::now();
        let code = self.shell.run_attached(line);
        self.record(step, line, code, started, clock.elapsed());
        code
    }

    fn record(&self, step: usize, command: &str, exit_code: i32, time: String, took: Duration) {
        // The transcript is evidence for grading, not a reason to stop a lab.
        let _ = self.session.record(&TranscriptEntry {
            step,
            command: command.to_owned(),
            exit_code,
            time,
            seconds: took.as_secs_f64(),
        });
    }

    /// The shell the lab's commands run in.
    pub fn shell(&self) -> &Shell {
        &self.shell
    }

    /// Evaluate step `index`'s checks, each until it holds or `limit` (its own deadline when
    /// `None`). `ran` checks look at the commands typed in this step.
    pub fn evaluate_step(&self, index: usize, limit: Option<Duration>) -> Vec<Outcome> {
        let step = self.step(index);
        let transcript: Vec<TranscriptEntry> = self
            .session
            .transcript()
            .into_iter()
            .filter(|e| e.step == index)
            .collect();
        let run_label = self.run_label();
        let cx = Context {
            api: self.api,
            shell: &self.shell,
            run_label: &run_label,
            transcript: &transcript,
        };
        step.checks
            .iter()
            .map(|check| checks::evaluate_until(check, &cx, limit))
            .collect()
    }

    /// Take step `index`'s captures into the run's variables (and the session).
    pub fn take_captures(&mut self, index: usize) -> Result<(), String> {
        let run_label = self.run_label();
        for capture in self.step(index).captures {
            let value = capture_value(self.api, &capture, &run_label)?;
            self.session.info.vars.set(&capture.var, &value);
        }
        self.session.save().map_err(|e| e.to_string())
    }

    /// The objectives, evaluated on the engine's state now and the whole transcript.
    pub fn evaluate_objectives(&self) -> Vec<ObjectiveReport> {
        let transcript = self.session.transcript();
        let run_label = self.run_label();
        let cx = Context {
            api: self.api,
            shell: &self.shell,
            run_label: &run_label,
            transcript: &transcript,
        };
        crate::grade::evaluate_objectives(self.scenario, &self.session.info.vars, &cx)
    }
}

/// Read one captured value, waiting a moment for it to appear (an address is assigned as a
/// container starts).
fn capture_value(api: &Api, capture: &Capture, run_label: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match read_capture(api, capture, run_label) {
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
) -> Result<Option<String>, berth_api::client::ClientError> {
    let name = if capture.container == "*" {
        match newest_of_run(api, run_label, capture.image.as_deref())? {
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

/// The newest container of this run (from `image`, when given).
fn newest_of_run(
    api: &Api,
    run_label: &str,
    image: Option<&str>,
) -> Result<Option<String>, berth_api::client::ClientError> {
    let image_id = match image {
        Some(image) => match api.image(image)? {
            Some(found) => Some(found.id),
            None => return Ok(None),
        },
        None => None,
    };
    let mut containers = api.containers_labelled(run_label)?;
    containers.retain(|c| image_id.as_ref().is_none_or(|id| *id == c.image_id));
    Ok(containers.into_iter().max_by_key(|c| c.created).map(|c| c.id))
}

/// A TCP port free on this host now (the kernel's choice), for a published port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}
