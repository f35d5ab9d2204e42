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

/// Make a command's output stable (see `berth_lab::redact`): ids, times, addresses and the
/// private daemon's directory replaced by placeholders, tables laid out again; with a run's
/// report (`lab check --json`'s `vars`), the run's names and ports back to the guide's and its
/// captures to their variables.
pub fn stable(text: &str, run: Option<(&str, &BTreeMap<String, String>)>, root: Option<&Path>) -> String {
    let mut redactor = berth_lab::redact::Redactor::new();
    if let Some(root) = root {
        redactor = redactor.root(root);
    }
    if let Some((lab, vars)) = run {
        let scenario = berth_lab::scenario::find(&scenarios_dir(), lab).expect("the scenario loads");
        let mut run_vars = berth_lab::scenario::vars::Vars::default();
        for (var, value) in vars {
            run_vars.set(var, value);
        }
        redactor = redactor.run(&scenario, &run_vars);
    }
    redactor.redact(text)
}
