//! `lab`: the guide's Docker labs as checked exercises, on berthd or a real Docker daemon.
//!
//! One scenario file per lab (`scenarios/<id>.toml`) serves the trainee (`lab run`), CI
//! (`lab check`), the instructor (`lab grade`) and the book (`lab show`).

/// The engine through the Engine API, blocking: inspect, list by label, exec, logs, load, explain.
pub mod api;
/// Evaluating checks: through the Engine API, on the host, in the transcript.
pub mod checks;
/// The `docker` of the lab's shell: the chosen client, adding the lab's labels.
pub mod client;
/// Scenario files: the format, loading with placed errors, variables.
pub mod scenario;
/// Session directories: the lab directory, the transcript, the run's variables.
pub mod session;
/// The lab's shell: commands on the trainee's terminal, captured, or on a pseudo-terminal.
pub mod shell;
