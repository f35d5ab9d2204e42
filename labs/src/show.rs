//! `lab show`: a lab as the book and a reader see it — steps with their commands, checks and
//! captures in words, hints, objectives — with the guide's names filled in.

use serde::Serialize;

use crate::scenario::{Creates, Scenario};

/// A lab, resolved for reading.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub minutes: u32,
    pub images: Vec<String>,
    pub creates: Creates,
    pub max_points: u32,
    pub steps: Vec<ShownStep>,
    pub objectives: Vec<ShownObjective>,
}

#[derive(Debug, Serialize)]
pub struct ShownStep {
    pub number: usize,
    pub title: String,
    /// Markdown.
    pub text: String,
    pub commands: Vec<crate::scenario::StepCommand>,
    /// When the step is done, in plain words (completes "The step is done when …").
    pub done_when: String,
    /// Each check in words: what lab looks at, in the engine's terms.
    pub checks: Vec<String>,
    pub captures: Vec<String>,
    pub hints: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ShownObjective {
    pub title: String,
    pub points: u32,
    /// When it scores, in plain words.
    pub done_when: String,
    pub checks: Vec<String>,
}

/// The lab with the guide's names and ports (captures stay `${…}`: they are known at run time).
pub fn resolve(scenario: &Scenario) -> Shown {
    let vars = scenario.vars(&scenario.id, false, || 0);
    let steps = scenario
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let step = vars.render_all(step);
            ShownStep {
                number: i + 1,
                title: step.title,
                text: step.text,
                commands: step.commands,
                done_when: step.done_when,
                checks: step
                    .checks
                    .iter()
                    .map(|c| scenario.render_readable(&vars, &c.describe()))
                    .collect(),
                captures: step.captures.iter().map(|c| c.describe()).collect(),
                hints: step.hints,
            }
        })
        .collect();
    let objectives = scenario
        .objectives
        .iter()
        .map(|o| {
            let o = vars.render_all(o);
            ShownObjective {
                title: o.title,
                points: o.points,
                done_when: o.done_when,
                checks: o
                    .checks
                    .iter()
                    .map(|c| scenario.render_readable(&vars, &c.describe()))
                    .collect(),
            }
        })
        .collect();
    Shown {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        summary: vars.render(&scenario.summary),
        minutes: scenario.minutes,
        images: scenario.images.clone(),
        creates: vars.render_all(&scenario.creates),
        max_points: scenario.max_points(),
        steps,
        objectives,
    }
}

/// "Done when …." from a `done_when` clause.
pub fn done_when_sentence(done_when: &str) -> String {
    format!("Done when {}.", clause(done_when))
}

/// A `done_when` as a clause to go after "when": trimmed, without a final period.
pub fn clause(done_when: &str) -> &str {
    done_when.trim().trim_end_matches('.')
}

pub fn to_json(scenario: &Scenario) -> String {
    serde_json::to_string_pretty(&resolve(scenario)).expect("a lab serializes")
}

/// Markdown: what a reader needs to do the lab by hand.
pub fn to_text(scenario: &Scenario) -> String {
    let shown = resolve(scenario);
    let mut text = format!(
        "# {}\n\n{}\n\n{} minutes · images: {} · `lab run {}`\n",
        shown.title,
        shown.summary.trim(),
        shown.minutes,
        shown.images.join(", "),
        shown.id
    );
    for step in &shown.steps {
        text.push_str(&format!(
            "\n## {}. {}\n\n{}\n",
            step.number,
            step.title,
            step.text.trim()
        ));
        if !step.commands.is_empty() {
            text.push_str("\n```sh\n");
            for command in &step.commands {
                text.push_str(&format!("$ {}\n", command.run));
                for line in &command.input {
                    text.push_str(&format!("> {line}\n"));
                }
            }
            text.push_str("```\n");
        }
        if !step.done_when.is_empty() {
            text.push_str(&format!("\n{}\n", done_when_sentence(&step.done_when)));
        }
        if !step.checks.is_empty() {
            text.push_str("\nChecked:\n");
            for check in &step.checks {
                text.push_str(&format!("- {check}\n"));
            }
        }
        for (i, hint) in step.hints.iter().enumerate() {
            text.push_str(&format!("\nHint {}: {}\n", i + 1, hint.trim()));
        }
    }
    if !shown.objectives.is_empty() {
        text.push_str(&format!("\n## Objectives ({} points)\n\n", shown.max_points));
        for objective in &shown.objectives {
            text.push_str(&format!(
                "- {} ({} points): scores when {}\n  Checked: {}\n",
                objective.title,
                objective.points,
                clause(&objective.done_when),
                objective.checks.join("; ")
            ));
        }
    }
    text
}
