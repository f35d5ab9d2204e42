//! Evaluating checks against an engine (and the host, and the transcript).
//!
//! [`evaluate`] looks once; [`evaluate_until`] looks again until the check holds or its deadline
//! passes (a web server needs a moment to listen). A check that does not hold says what was
//! expected and what was found — "expected state running, found exited (exit code 1)" — so a
//! trainee, a CI log and a grade report can all say why.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::api::Api;
use crate::scenario::Check;
use crate::session::TranscriptEntry;
use crate::shell::Shell;

mod command;
mod container;
mod http;
mod image;
mod network;
mod volume;

pub use http::get as http_get;

/// What a check is evaluated against.
pub struct Context<'a> {
    pub api: &'a Api,
    /// Where host commands run: the lab directory, the lab's `docker`.
    pub shell: &'a Shell,
    /// `berth.lab.run=<run>`: what `container = "*"` looks among.
    pub run_label: &'a str,
    /// The commands `ran` checks look at.
    pub transcript: &'a [TranscriptEntry],
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
}

impl Outcome {
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
    let (holds, expected, found) = match result {
        Ok(()) => (true, String::new(), String::new()),
        Err(m) => (false, m.expected, m.found),
    };
    Outcome {
        check: check.describe(),
        holds,
        expected,
        found,
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
