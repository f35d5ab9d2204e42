//! Evaluating checks against an engine (and the host, and the transcript).
//!
//! [`evaluate`] looks once; [`evaluate_until`] looks again until the check holds or its deadline
//! passes (a web server needs a moment to listen). A check that does not hold says what was
//! expected and what was found — "expected state running, found exited (exit code 1)" — so a
//! trainee, a CI log and a grade report can all say why.
//!
//! In a run, checks only count the run's own objects (see [`RunScope`]): a container named
//! `web1` that another lab made does not pass `{ container = "web1" }`, and "`httpd` is gone"
//! holds only for an `httpd` that existed during the run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::Api;
use crate::ledger::{Kind, Ledger};
use crate::scenario::Check;
use crate::scenario::vars::{LAB_LABEL, RUN_LABEL};
use crate::session::TranscriptEntry;
use crate::shell::Shell;

mod command;
mod container;
mod http;
mod image;
mod network;
mod volume;

pub use container::is_anonymous;
pub use http::get as http_get;

/// What a check is evaluated against.
pub struct Context<'a> {
    pub api: &'a Api,
    /// Where host commands run: the lab directory (or where the trainee's shell is), the lab's
    /// `docker`.
    pub shell: &'a Shell,
    /// The commands `ran` checks look at.
    pub transcript: &'a [TranscriptEntry],
    /// Whose objects count; `None` looks at whatever the engine has.
    pub run: Option<RunScope<'a>>,
}

/// The objects of one run: labelled with its run label, or made by its commands (the ledger).
#[derive(Clone, Copy)]
pub struct RunScope<'a> {
    /// The run's id (`berth.lab.run=<run>`).
    pub run: &'a str,
    pub ledger: &'a Ledger,
    /// Images the lab is given (its `images`): checks on them need not be the run's.
    pub given: &'a [String],
}

/// Why a check holds, for a grade's reader: which object, made when and by what.
pub type Evidence = Option<String>;

impl RunScope<'_> {
    /// `berth.lab.run=<run>`.
    pub fn label(&self) -> String {
        format!("{RUN_LABEL}={}", self.run)
    }

    /// Whether the object is the run's: answers the evidence, or a mismatch naming whose it is.
    pub fn owns(
        &self,
        kind: Kind,
        id: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Evidence, Mismatch> {
        if let Some(entry) = self.ledger.made(kind, id, name) {
            return Ok(Some(entry.evidence()));
        }
        if labels.get(RUN_LABEL).map(String::as_str) == Some(self.run) {
            return Ok(Some(format!("labelled {RUN_LABEL}={}", self.run)));
        }
        let whose = match (labels.get(LAB_LABEL), labels.get(RUN_LABEL)) {
            (Some(lab), Some(run)) => format!("lab {lab}'s (run {run})"),
            (Some(lab), None) => format!("lab {lab}'s"),
            _ => "made outside this lab run".to_owned(),
        };
        Err(Mismatch::new(
            format!("{} {name} made in this lab run", kind.word()),
            format!("a {} {name}, {whose}", kind.word()),
        ))
    }

    /// For "it is gone": the object must have existed during the run.
    pub fn existed(&self, kind: Kind, name: &str) -> Result<Evidence, Mismatch> {
        match self.ledger.existed(kind, name) {
            Some(made) => {
                let mut evidence = made.evidence();
                if let Some(removed) = self.ledger.removed(kind, name) {
                    evidence = format!("{evidence}, {}", removed.evidence());
                }
                Ok(Some(evidence))
            }
            None => Err(Mismatch::new(
                format!("a {} {name} made in this lab run, then removed", kind.word()),
                format!("no {} {name} was made in this lab run", kind.word()),
            )),
        }
    }

    /// Whether checks on this image must find it made by the run (not one the lab is given).
    pub fn given_image(&self, image: &str) -> bool {
        let with_tag = |i: &str| {
            if i.rsplit_once(':').is_some_and(|(_, tag)| !tag.contains('/')) {
                i.to_owned()
            } else {
                format!("{i}:latest")
            }
        };
        self.given.iter().any(|g| with_tag(g) == with_tag(image))
    }
}

/// A check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The check in words.
    pub check: String,
    pub holds: bool,
    /// When it does not hold: what was expected, and what was found.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expected: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub found: String,
    /// When it holds, on the run's objects: which, made when and by what.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub evidence: String,
}

impl Outcome {
    /// A check that does not hold.
    pub fn failed(check: String, expected: impl Into<String>, found: impl Into<String>) -> Outcome {
        Outcome {
            check,
            holds: false,
            expected: expected.into(),
            found: found.into(),
            evidence: String::new(),
        }
    }

    /// "container `web` is running: expected state running, found exited (exit code 1)"
    pub fn explain(&self) -> String {
        if self.holds {
            self.check.clone()
        } else {
            format!("{}: expected {}, found {}", self.check, self.expected, self.found)
        }
    }
}

/// Why a check does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: String,
    pub found: String,
}

impl Mismatch {
    pub fn new(expected: impl Into<String>, found: impl Into<String>) -> Mismatch {
        Mismatch {
            expected: expected.into(),
            found: found.into(),
        }
    }
}

impl From<berth_api::client::ClientError> for Mismatch {
    fn from(error: berth_api::client::ClientError) -> Mismatch {
        Mismatch::new("an answer from the engine", format!("an error: {error}"))
    }
}

/// Evaluate `check` once.
pub fn evaluate(check: &Check, cx: &Context) -> Outcome {
    let unresolved = crate::scenario::vars::used_in(&check.describe())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if let Some(var) = unresolved.first() {
        // A capture that was never taken: the step that takes it was not done.
        return Outcome::failed(
            check.describe(),
            format!("`{var}` known (a step captures it)"),
            "the step that captures it was not done",
        );
    }
    let result = match check {
        Check::Container(c) => container::evaluate(c, cx),
        Check::Image(c) => image::evaluate(c, cx),
        Check::Volume(c) => volume::evaluate(c, cx),
        Check::Network(c) => network::evaluate(c, cx),
        Check::Http(c) => http::evaluate(c, cx),
        Check::Exec(c) => command::evaluate_exec(c, cx),
        Check::Host(c) => command::evaluate_host(c, cx),
        Check::Ran(c) => command::evaluate_ran(c, cx),
    };
    match result {
        Ok(evidence) => Outcome {
            check: check.describe(),
            holds: true,
            expected: String::new(),
            found: String::new(),
            evidence: evidence.unwrap_or_default(),
        },
        Err(m) => Outcome::failed(check.describe(), m.expected, m.found),
    }
}

/// Evaluate `check` until it holds, for at most `limit` (or the check's own deadline when
/// `limit` is `None`).
pub fn evaluate_until(check: &Check, cx: &Context, limit: Option<Duration>) -> Outcome {
    let deadline = Instant::now() + limit.unwrap_or_else(|| check.deadline());
    loop {
        let outcome = evaluate(check, cx);
        if outcome.holds || Instant::now() >= deadline {
            return outcome;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
