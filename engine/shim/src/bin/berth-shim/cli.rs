//! The command line (the contract in the library docs): kept apart from what it selects.

use std::path::PathBuf;

use clap::Parser;

/// The per-container supervisor: holds a container's stdio, writes its log, serves attach over
/// `<state-dir>/shim.sock`, reaps it and records its exit. Returns once the container is created.
#[derive(Debug, Clone, Parser)]
#[command(name = "berth-shim", version)]
pub struct Args {
    /// The container id, passed to the runtime.
    #[arg(long)]
    pub id: String,
    /// The OCI bundle (config.json and rootfs).
    #[arg(long)]
    pub bundle: PathBuf,
    /// Directory for shim.sock, shim.pid, init.pid, exit.json and explain.jsonl.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// The OCI runtime binary, with runc's command line.
    #[arg(long)]
    pub runtime: PathBuf,
    /// The runtime's --root (its state directory).
    #[arg(long)]
    pub runtime_root: PathBuf,
    /// The container's log, in Docker's json-file format.
    #[arg(long)]
    pub log_path: PathBuf,
    /// Give the container a pty (its config.json must say process.terminal).
    #[arg(long)]
    pub tty: bool,
    /// Keep a stdin for attach clients (Docker's OpenStdin).
    #[arg(long)]
    pub stdin: bool,
    /// Close the container's stdin when the first attached client closes its side (StdinOnce).
    #[arg(long)]
    pub stdin_once: bool,
}
