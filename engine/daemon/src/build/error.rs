//! Why a build stopped, in Docker's words: the message of the stream's final `errorDetail`.

/// A failed build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// a RUN's command exited with a code other than 0
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i64 },
    /// a step's container could not be made, run, committed or removed
    #[error("{0}")]
    Step(String),
}

impl BuildError {
    /// The exit code Docker reports with the error (a failed RUN's).
    pub fn code(&self) -> Option<i64> {
        match self {
            BuildError::RunFailed { code, .. } => Some(*code),
            _ => None,
        }
    }
}
