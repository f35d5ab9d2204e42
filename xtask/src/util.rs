//! Small helpers shared by the tasks.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// The workspace root (where the top Cargo.toml is).
pub fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .context("xtask lives one level below the workspace root")
}

/// Run a command, inheriting stdio; fail on a non-zero exit.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// The target directory cargo uses (it honours `CARGO_TARGET_DIR` and the config files), so
/// the tasks find the binaries and `lab-images.tar` wherever cargo put them.
pub fn target_dir() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .context("run cargo metadata")?;
    ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parse cargo metadata")?;
    let target = metadata["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    Ok(PathBuf::from(target))
}

/// How [`build_engine`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// What the tests and the CI lab checks use.
    Debug,
    /// What the benchmarks and the demo measure and run.
    Release,
}

/// Build the engine's binaries (berthd, berth, berth-shim, berth-runtime) and `lab`, and
/// return the directory they are in.
pub fn build_engine(profile: Profile) -> anyhow::Result<PathBuf> {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.args(["build", "--bins"]).current_dir(workspace_root()?);
    for package in ["berthd", "berth", "berth-shim", "berth-runtime", "berth-lab"] {
        cargo.args(["-p", package]);
    }
    if profile == Profile::Release {
        cargo.arg("--release");
    }
    run(&mut cargo)?;
    Ok(target_dir()?.join(match profile {
        Profile::Debug => "debug",
        Profile::Release => "release",
    }))
}
