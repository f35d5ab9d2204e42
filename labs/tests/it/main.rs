//! lab's integration tests, one binary: scenario files and their errors, the quizzes, `lab check`
//! on a private berthd and on the real Docker daemon, the guided run on a pseudo-terminal, grading
//! and reset. Tests that touch an engine start their own berthd (or use unique names on Docker)
//! and clean up after themselves, failing or not.

mod common;

mod check;
mod checks;
mod guided;
mod quiz;
mod scenarios;
