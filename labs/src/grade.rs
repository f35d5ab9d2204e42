//! Grading: a lab's objectives evaluated on the engine's current state (and the trainee's
//! transcript and ledger) into a score, as text, JSON (Gradescope's `results.json` shape) or
//! CSV.
//!
//! An objective scores its points when all its checks hold, none otherwise; its checks count
//! only the run's own objects (see [`crate::checks::RunScope`]), so a grade is one the trainee
//! earned. The state is what it is: each check is looked at once.

use serde::{Deserialize, Serialize};

use crate::checks::{self, Context, Outcome};
use crate::report::ObjectiveReport;
use crate::scenario::Scenario;
use crate::scenario::vars::Vars;

/// Evaluate every objective of `scenario` with these variables.
pub fn evaluate_objectives(scenario: &Scenario, vars: &Vars, cx: &Context) -> Vec<ObjectiveReport> {
    scenario
        .objectives
        .iter()
        .map(|objective| {
            let rendered = vars.render_all(objective);
            let outcomes: Vec<Outcome> = rendered
                .checks
                .iter()
                .map(|check| {
                    let mut outcome = checks::evaluate_until(check, cx, Some(std::time::Duration::ZERO));
                    outcome.check = scenario.render_readable(vars, &outcome.check);
                    outcome
                })
                .collect();
            let passed = outcomes.iter().all(|o| o.holds);
            ObjectiveReport {
                title: scenario.render_readable(vars, &objective.title),
                points: if passed { objective.points } else { 0 },
                max_points: objective.points,
                checks: outcomes,
            }
        })
        .collect()
}

/// Who was graded, where, and on what: the fields a class sheet needs beside the score.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Graded {
    /// The lab's id.
    pub lab: String,
    /// The trainee (`lab whoami`, else login name and machine).
    pub trainee: String,
    /// The machine's name.
    pub machine: String,
    /// `berth` or `docker`; empty when the lab was never started.
    pub engine: String,
    /// The run graded; empty when the lab was never started.
    pub run: String,
}

/// A grade, shaped like Gradescope's `results.json` (its `score`, `max_score`, `output`,
/// `tests`), with who, where and which lab beside them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grade {
    #[serde(flatten)]
    pub graded: Graded,
    pub score: u32,
    pub max_score: u32,
    /// What was graded, for people reading the file.
    pub output: String,
    pub tests: Vec<GradedTest>,
}

/// One objective's line of a grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradedTest {
    pub name: String,
    pub score: u32,
    pub max_score: u32,
    /// `passed`/`failed`, as Gradescope shows it.
    pub status: &'static str,
    /// The evidence: each check and, when it failed, what was found.
    pub output: String,
}

impl Grade {
    pub fn new(scenario: &Scenario, graded: Graded, objectives: &[ObjectiveReport], evidence: &str) -> Grade {
        let tests: Vec<GradedTest> = objectives
            .iter()
            .map(|o| GradedTest {
                name: o.title.clone(),
                score: o.points,
                max_score: o.max_points,
                status: if o.passed() { "passed" } else { "failed" },
                output: o
                    .checks
                    .iter()
                    .map(|c| match (c.holds, c.evidence.is_empty()) {
                        (true, false) => format!("✓ {} ({})", c.explain(), c.evidence),
                        (true, true) => format!("✓ {}", c.explain()),
                        (false, _) => format!("✗ {}", c.explain()),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            })
            .collect();
        Grade {
            graded,
            score: tests.iter().map(|t| t.score).sum(),
            max_score: scenario.max_points(),
            output: format!("lab {}: {}; {evidence}", scenario.id, scenario.title),
            tests,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a grade serializes")
    }

    /// One row per objective, then a total, for a class sheet.
    pub fn to_csv(&self, lab: &str) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let _ = writer.write_record(["lab", "objective", "score", "max_score", "status", "output"]);
        for test in &self.tests {
            let _ = writer.write_record([
                lab,
                &test.name,
                &test.score.to_string(),
                &test.max_score.to_string(),
                test.status,
                &test.output,
            ]);
        }
        let _ = writer.write_record([
            lab,
            "total",
            &self.score.to_string(),
            &self.max_score.to_string(),
            if self.score == self.max_score {
                "passed"
            } else {
                "failed"
            },
            "",
        ]);
        String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n", self.output);
        if !self.graded.trainee.is_empty() {
            text.push_str(&format!(
                "trainee: {} on {}\n",
                self.graded.trainee, self.graded.machine
            ));
        }
        text.push('\n');
        for test in &self.tests {
            text.push_str(&format!(
                "{:>2}/{:<2} {}\n",
                test.score, test.max_score, test.name
            ));
            for line in test.output.lines() {
                text.push_str(&format!("      {line}\n"));
            }
        }
        text.push_str(&format!("\nscore: {}/{}\n", self.score, self.max_score));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grade() -> Grade {
        let scenario: Scenario = crate::scenario::load::parse(
            std::path::Path::new("demo.toml"),
            r#"
id = "demo"
title = "Demo"
summary = "A demo."
minutes = 5
[[steps]]
title = "Run"
text = "Run it."
checks = [{ container = "web" }]
done_when = "its checks hold"
[[objectives]]
title = "web runs"
points = 2
checks = [{ container = "web", state = "running" }]
done_when = "its checks hold"
[[objectives]]
title = "the site answers"
points = 3
checks = [{ http = "http://localhost:8080/" }]
done_when = "its checks hold"
"#,
        )
        .unwrap();
        let holds = Outcome {
            check: "container `web` is running".into(),
            holds: true,
            expected: String::new(),
            found: String::new(),
            evidence: "made in step 1 by `docker run -d --name web httpd:2.4`".into(),
        };
        let fails = Outcome::failed(
            "`GET http://localhost:8080/` answers 200".into(),
            "an answer from http://localhost:8080/",
            "no connection (Connection refused (os error 111))",
        );
        let objectives = vec![
            ObjectiveReport {
                title: "web runs".into(),
                points: 2,
                max_points: 2,
                checks: vec![holds],
            },
            ObjectiveReport {
                title: "the site answers".into(),
                points: 0,
                max_points: 3,
                checks: vec![fails],
            },
        ];
        let graded = Graded {
            lab: "demo".into(),
            trainee: "Ada".into(),
            machine: "vm-07".into(),
            engine: "berth".into(),
            run: "abc123".into(),
        };
        Grade::new(&scenario, graded, &objectives, "3 commands in the transcript")
    }

    #[test]
    fn json_is_gradescope_shaped() {
        insta::assert_snapshot!(grade().to_json());
    }

    #[test]
    fn csv_has_a_row_per_objective_and_a_total() {
        insta::assert_snapshot!(grade().to_csv("demo"));
    }

    #[test]
    fn text_reads_as_a_score_sheet() {
        insta::assert_snapshot!(grade().to_text());
    }
}
