//! `lab`: the guide's Docker labs as checked exercises, on berthd or a real Docker daemon.
//!
//! One scenario file per lab (`scenarios/<id>.toml`) serves the trainee (`lab run`), CI
//! (`lab check`), the instructor (`lab grade`) and the book (`lab show --json`). Checks go
//! through the Docker Engine API, so one file works against berthd and against Docker.

/// The engine through the Engine API, blocking: inspect, list by label, exec, logs, load, explain.
pub mod api;
/// Evaluating checks: through the Engine API, on the host, in the transcript.
pub mod checks;
/// A class: the trainee's name, and the roster merged from many machines' reports.
pub mod class;
/// `lab`'s command line (clap definitions only).
pub mod cli;
/// The `docker` of the lab's shell: the chosen client, adding the lab's labels.
pub mod client;
/// Which engine, a private berthd when none runs, the lab images loaded when missing.
pub mod engine;
/// A fixture as a bare git repository, for the labs that clone one.
pub mod git_fixture;
/// Grading: objectives into a score, as text, Gradescope JSON or CSV.
pub mod grade;
/// `lab run`: the guided run in the trainee's own shell, and the hook it reports through.
pub mod guided;
/// What a lab images archive holds: its tags and image ids; which images lab made.
pub mod image_archive;
/// What a run's commands made and removed, from the engine's events.
pub mod ledger;
/// What stands in a lab's way before it starts.
pub mod obstacles;
/// Quizzes: questions per book chapter, asked and scored by `lab quiz`, shown in the book.
pub mod quiz;
/// The sample runs' placeholders: ids, times and the run's names made stable, tables kept aligned.
pub mod redact;
/// Replays of the reference commands: `lab check` and `lab run --auto`.
pub mod replay;
/// `lab check` reports: text, JSON, JUnit.
pub mod report;
/// `lab reset`: remove exactly what carries a lab's label.
pub mod reset;
/// One run of a lab: session, shell, variables, step checks, captures.
pub mod run;
/// Scenario files: the format, loading with placed errors, variables.
pub mod scenario;
/// What lab prints for people: steps, outputs, explain events, checks.
pub mod screen;
/// Session directories: the lab directory, the transcript, the run's variables.
pub mod session;
/// Commands of a replay and of `host` checks: captured, or on a pseudo-terminal.
pub mod shell;
/// `lab show`: a lab resolved for reading (the book's input).
pub mod show;
