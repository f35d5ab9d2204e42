//! `docker wait`: until the container stops (or stops next, or is removed).

use std::sync::Arc;

use super::{Container, ContainerError, Containers};

/// The `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    /// Now if not running, else at its exit (the default).
    NotRunning,
    /// At the next exit, even if it is not running now.
    NextExit,
    /// When the container is removed.
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Result<WaitCondition, ContainerError> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(ContainerError::BadRequest(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

/// A wait that has begun listening (so no exit after this point is missed); `.await` it for the
/// exit code.
pub struct Waiter {
    container: Arc<Container>,
    condition: WaitCondition,
    exits: tokio::sync::watch::Receiver<u64>,
    removed: tokio::sync::watch::Receiver<bool>,
}

impl Containers {
    /// Begin waiting: call this before anything that may make the container exit.
    pub fn wait(&self, name: &str, condition: WaitCondition) -> Result<Waiter, ContainerError> {
        let container = self.get(name)?;
        let mut exits = container.exits.subscribe();
        exits.mark_unchanged();
        let removed = container.removed.subscribe();
        Ok(Waiter {
            container,
            condition,
            exits,
            removed,
        })
    }
}

impl Waiter {
    /// The exit code the container ends with.
    pub async fn done(mut self) -> i64 {
        let running = self.container.record().state.status.is_running();
        match self.condition {
            WaitCondition::NotRunning if !running => {}
            WaitCondition::NotRunning | WaitCondition::NextExit => {
                let _ = self.exits.changed().await;
            }
            WaitCondition::Removed => {
                let _ = self.removed.wait_for(|removed| *removed).await;
            }
        }
        self.container.record().state.exit_code
    }
}
