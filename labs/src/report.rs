//! What `lab check` reports: per lab, per step (its commands and checks) and per objective; as
//! text, JSON (`--json`) and JUnit XML (`--junit`, one testcase per step and objective).

use serde::Serialize;

use crate::checks::Outcome;

/// A `lab check` of one or more labs against one engine.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `berth` or `docker`.
    pub engine: String,
    /// What the engine calls itself ("berthd 0.1.0", "Docker Engine 20.10.24").
    pub engine_version: String,
    pub host: String,
    /// The client the commands ran with.
    pub client: String,
    pub passed: bool,
    pub seconds: f64,
    pub labs: Vec<LabReport>,
}

/// One lab replayed.
#[derive(Debug, Clone, Serialize)]
pub struct LabReport {
    pub id: String,
    pub title: String,
    /// The run id: what its names were made unique with.
    pub run: String,
    /// The run's variables: the names and ports it used, and what it captured.
    pub vars: crate::scenario::vars::Vars,
    pub passed: bool,
    pub seconds: f64,
    pub steps: Vec<StepReport>,
    pub objectives: Vec<ObjectiveReport>,
    /// Set when the lab could not start (engine, images, session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the reset after the run removed (or could not).
    pub cleanup: Vec<String>,
}

/// One step replayed.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// 1-based, as the trainee sees it.
    pub number: usize,
    pub title: String,
    pub status: Status,
    pub seconds: f64,
    pub commands: Vec<CommandReport>,
    pub checks: Vec<Outcome>,
}

/// A step's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// Not run: an earlier step failed.
    Skipped,
}

/// One reference command.
#[derive(Debug, Clone, Serialize)]
pub struct CommandReport {
    pub command: String,
    /// `None`: killed for running too long.
    pub exit_code: Option<i32>,
    pub expected_exit_code: i32,
    pub output: String,
}

impl CommandReport {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(self.expected_exit_code)
    }
}

/// One objective evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveReport {
    pub title: String,
    pub points: u32,
    pub max_points: u32,
    pub checks: Vec<Outcome>,
}

impl ObjectiveReport {
    pub fn passed(&self) -> bool {
        self.points == self.max_points
    }
}

impl StepReport {
    /// Why the step failed: the first command that ended wrong, else the first check that did
    /// not hold.
    pub fn failure(&self) -> Option<String> {
        if self.status != Status::Failed {
            return None;
        }
        if let Some(command) = self.commands.iter().find(|c| !c.ok()) {
            let ended = match command.exit_code {
                Some(code) => format!("exited {code}"),
                None => "was killed after running too long".to_owned(),
            };
            let output = match tail(&command.output, 20) {
                tail if tail.trim().is_empty() => "(no output)".to_owned(),
                tail => format!("its output:\n{tail}"),
            };
            return Some(format!(
                "`{}` {ended} (expected {}); {output}",
                command.command, command.expected_exit_code
            ));
        }
        self.checks.iter().find(|c| !c.holds).map(Outcome::explain)
    }
}

impl LabReport {
    /// The JUnit test suite: one testcase per step and per objective.
    fn junit_suite(&self) -> quick_junit::TestSuite {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new(format!("lab {}", self.id));
        if let Some(error) = &self.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(error.clone());
            suite.add_test_case(TestCase::new("setup", status));
        }
        for step in &self.steps {
            let status = match step.status {
                Status::Passed => TestCaseStatus::success(),
                Status::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("an earlier step failed");
                    s
                }
                Status::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(step.failure().unwrap_or_default());
                    s
                }
            };
            let mut case = TestCase::new(format!("step {}: {}", step.number, step.title), status);
            case.set_classname(format!("lab.{}", self.id));
            case.set_time(std::time::Duration::from_secs_f64(step.seconds));
            case.set_system_out(transcript(&step.commands));
            suite.add_test_case(case);
        }
        for objective in &self.objectives {
            let status = if objective.passed() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let why: Vec<String> = objective
                    .checks
                    .iter()
                    .filter(|c| !c.holds)
                    .map(Outcome::explain)
                    .collect();
                s.set_message(why.join("; "));
                s
            };
            let mut case = TestCase::new(
                format!("objective: {} ({} points)", objective.title, objective.max_points),
                status,
            );
            case.set_classname(format!("lab.{}", self.id));
            suite.add_test_case(case);
        }
        suite
    }
}

impl CheckReport {
    /// JUnit XML: one suite per lab.
    pub fn to_junit(&self) -> String {
        let mut report = quick_junit::Report::new(format!("lab check ({})", self.engine));
        for lab in &self.labs {
            report.add_test_suite(lab.junit_suite());
        }
        report.to_string().unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }
}

/// The commands and their output, as a terminal showed them.
pub fn transcript(commands: &[CommandReport]) -> String {
    let mut text = String::new();
    for command in commands {
        text.push_str(&format!("$ {}\n{}", command.command, command.output));
        if !command.output.is_empty() && !command.output.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> CheckReport {
        let good = CommandReport {
            command: "docker run -d --name web httpd:2.4".into(),
            exit_code: Some(0),
            expected_exit_code: 0,
            output: "0123abcd\n".into(),
        };
        let failing = Outcome::failed(
            "container `web` is running".into(),
            "state running",
            "exited (exit code 1)",
        );
        CheckReport {
            engine: "berth".into(),
            engine_version: "berthd 0.1.0".into(),
            host: "unix:///x.sock".into(),
            client: "berth".into(),
            passed: false,
            seconds: 1.5,
            labs: vec![LabReport {
                id: "demo".into(),
                title: "Demo".into(),
                run: "abc123".into(),
                vars: crate::scenario::vars::Vars::builtins("demo", "abc123", true),
                passed: false,
                seconds: 1.5,
                steps: vec![
                    StepReport {
                        number: 1,
                        title: "Run".into(),
                        status: Status::Failed,
                        seconds: 1.0,
                        commands: vec![good],
                        checks: vec![failing.clone()],
                    },
                    StepReport {
                        number: 2,
                        title: "Stop".into(),
                        status: Status::Skipped,
                        seconds: 0.0,
                        commands: vec![],
                        checks: vec![],
                    },
                ],
                objectives: vec![ObjectiveReport {
                    title: "web runs".into(),
                    points: 0,
                    max_points: 2,
                    checks: vec![failing],
                }],
                error: None,
                cleanup: vec!["removed container web-abc123".into()],
            }],
        }
    }

    #[test]
    fn a_failed_step_says_which_check_and_why() {
        assert_eq!(
            report().labs[0].steps[0].failure().unwrap(),
            "container `web` is running: expected state running, found exited (exit code 1)"
        );
    }

    #[test]
    fn a_failed_command_comes_first() {
        let mut report = report();
        let step = &mut report.labs[0].steps[0];
        step.commands[0].exit_code = Some(125);
        step.commands[0].output = "docker: Error response from daemon: conflict.\n".into();
        assert_eq!(
            step.failure().unwrap(),
            "`docker run -d --name web httpd:2.4` exited 125 (expected 0); its output:\n\
             docker: Error response from daemon: conflict."
        );
    }

    #[test]
    fn junit_has_a_testcase_per_step_and_objective() {
        insta::assert_snapshot!(report().to_junit());
    }

    #[test]
    fn json_keeps_every_detail() {
        insta::assert_snapshot!(report().to_json());
    }
}
