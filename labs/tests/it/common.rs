//! The harness: a private berthd per test, the real Docker daemon, `lab` commands aimed at them,
//! and the redactions that make outputs snapshot-stable.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use berth_testkit::{TempDir, TestDaemon, docker_cli, docker_host};

/// What lab's tests need of a test daemon beyond the shared harness.
pub trait LabDaemon {
    /// lab's own handle on the daemon.
    fn api(&self) -> berth_lab::api::Api;
    /// `lab ARGS` against this daemon, with a state directory of the test's own.
    fn lab(&self, state: &Path) -> Command;
    /// Load the lab images these need (from `target/lab-images.tar`).
    fn ensure_images(&self, images: &[&str]);
}

impl LabDaemon for TestDaemon {
    fn api(&self) -> berth_lab::api::Api {
        berth_lab::api::Api::new(&self.host()).expect("a unix host")
    }

    fn lab(&self, state: &Path) -> Command {
        let mut command = lab(state);
        command.arg("--host").arg(self.host());
        command
    }

    fn ensure_images(&self, images: &[&str]) {
        let images: Vec<String> = images.iter().map(|i| (*i).to_owned()).collect();
        berth_lab::engine::ensure_images(&self.api(), &images, None).expect("the lab images load");
    }
}

/// The workspace's `scenarios/`.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// `lab` with its state (sessions) in `state`, colours off.
pub fn lab(state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
    command
        .env("BERTH_LAB_HOME", state)
        .env("NO_COLOR", "1")
        .env_remove("BERTH_HOST")
        .env("BERTH_LAB_SCENARIOS", scenarios_dir());
    command
}

/// What a run's unique names and ports were, mapped back to the guide's (`httpd-3f9a1c` →
/// `httpd`, a free port → 8080), and its captures to their variables (`${exposed_ip}`). Longest
/// first, so a name is never replaced inside a longer one.
pub fn guide_values(lab: &str, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let scenario = berth_lab::scenario::find(&scenarios_dir(), lab).expect("the scenario loads");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (var, name) in &scenario.names {
        if let Some(value) = vars.get(var) {
            pairs.push((value.clone(), name.clone()));
        }
    }
    for (var, port) in &scenario.ports {
        if let Some(value) = vars.get(var) {
            pairs.push((value.clone(), port.to_string()));
        }
    }
    // Captures (what the engine chose: an address, a port, a volume's name) read as variables.
    for (var, value) in vars {
        let declared = scenario.names.contains_key(var) || scenario.ports.contains_key(var);
        if !declared && !berth_lab::scenario::vars::BUILTINS.contains(&var.as_str()) {
            pairs.push((value.clone(), format!("${{{var}}}")));
        }
    }
    pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    pairs
}

/// Make a command's output stable: the run's names back to the guide's, then ids, times, ports
/// picked by the engine and paths replaced by placeholders, table padding evened out.
pub fn stable(text: &str, pairs: &[(String, String)], root: Option<&Path>) -> String {
    let mut text = text.to_owned();
    if let Some(root) = root {
        text = text.replace(&root.display().to_string(), "[ROOT]");
    }
    for (from, to) in pairs {
        // Whole words only: a captured short id must not match inside a long one.
        let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(from))).expect("a valid pattern");
        text = word.replace_all(&text, regex::NoExpand(to)).into_owned();
    }
    let rules: &[(&str, &str)] = &[
        (r"sha256:[0-9a-f]{64}", "sha256:[ID]"),
        (r"\b[0-9a-f]{64}\b", "[ID]"),
        (r"\b[0-9a-f]{12}\b", "[ID12]"),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
            "[TIME]",
        ),
        (
            r"(Less than a second|About a minute|About an hour|An? \w+|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)) ago",
            "[AGO]",
        ),
        (
            r"Up (Less than a second|About a minute|\d+ seconds?)",
            "Up [TIME]",
        ),
        (r"website_\d{4}-\d\d-\d\d-\d{4}\.tgz", "website_[DATE].tgz"),
        (r"(0\.0\.0\.0|::):\d{4,5}\b", "$1:[PORT]"),
        (
            r"(?m)^[-dl][-rwxst]{9} +\d+ +\w+ +\w+ +\d+ +\w{3} +\d+ +[\d:]+ ",
            "[ls -l] ",
        ),
        (r"(?m)[ \t]+$", ""),
        // Table columns are padded to their longest value, which varies: even the padding out.
        (r"(\S) {2,}", "$1   "),
        (r#""Name": "/[a-z]+_[a-z]+\d*""#, r#""Name": "/[NAME]""#),
        // Names the engine made up for unnamed containers (`hungry_stonebraker`): the last
        // column of `docker ps`, and what `lab reset` removed.
        (r"(?m)   [a-z]+_[a-z]+\d*$", "   [NAME]"),
        (r"(?m)container [a-z]+_[a-z]+\d*$", "container [NAME]"),
    ];
    for (pattern, replacement) in rules {
        text = regex::Regex::new(pattern)
            .expect("a valid pattern")
            .replace_all(&text, *replacement)
            .into_owned();
    }
    let address = regex::Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("a valid pattern");
    address
        .replace_all(&text, |c: &regex::Captures| {
            if &c[0] == "0.0.0.0" {
                "0.0.0.0".to_owned()
            } else {
                "[IP]".to_owned()
            }
        })
        .into_owned()
}
