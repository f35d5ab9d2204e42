//! Why a build stopped, in Docker's words: the message of the stream's final `errorDetail`.

/// A failed build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// a RUN's command exited with a code other than 0
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i64 },
    /// a step failed (its container, its sources, its words)
    #[error("{0}")]
    Step(String),
    /// the request or the Dockerfile is wrong (a 400 before the stream begins)
    #[error("{0}")]
    InvalidParameter(String),
    /// the context could not be read, or holds no Dockerfile
    #[error("{0}")]
    Context(String),
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
