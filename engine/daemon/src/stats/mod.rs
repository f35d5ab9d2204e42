//! Container statistics: `GET /containers/{id}/stats` (Docker's `docker stats`), and the samples
//! the metrics endpoint formats too. One reader of counters ([`sample`]), two formats of them
//! ([`docker`] here, `metrics` for Prometheus), and the [`collector`] that samples once a second
//! while anyone asks.

pub mod collector;
pub mod docker;
pub mod sample;

use std::sync::Arc;
use std::time::Duration;

use berth_api::types::StatsJson;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::container::{ContainerError, Containers};
pub use collector::Collector;
pub use sample::Sample;

/// How the client asked (`stream`, `one-shot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One JSON object per second until the client goes.
    Stream,
    /// One object whose `precpu_stats` is the sample before it (Docker waits a round for it).
    Once,
    /// One object read now, without `precpu_stats`.
    OneShot,
}

/// The answer: one object, or a stream of JSON lines.
#[derive(Debug)]
pub enum Reply {
    Once(Box<StatsJson>),
    Stream(mpsc::Receiver<Bytes>),
}

/// Rounds a `stream=false` answer waits at most for a container's second sample (Docker waits
/// for two; a container that stops meanwhile gets the empty answer sooner).
const MAX_ROUNDS: usize = 4;

/// The stats service behind the API.
#[derive(Debug, Clone)]
pub struct Stats {
    containers: Containers,
    collector: Collector,
}

impl Stats {
    pub fn new(containers: Containers) -> Stats {
        Stats {
            collector: Collector::new(containers.clone()),
            containers,
        }
    }

    /// `GET /containers/{id}/stats?stream=&one-shot=`.
    pub async fn container(&self, name: &str, stream: bool, one_shot: bool) -> Result<Reply, ContainerError> {
        let target = self.containers.stats_target(name)?;
        // Docker checks this once it found the container.
        let mode = match (stream, one_shot) {
            (true, true) => {
                return Err(ContainerError::BadRequest(
                    "cannot have stream=true and one-shot=true".into(),
                ));
            }
            (true, false) => Mode::Stream,
            (false, true) => Mode::OneShot,
            (false, false) => Mode::Once,
        };
        match mode {
            Mode::Stream => Ok(Reply::Stream(self.stream(target.id))),
            _ if !target.running => Ok(Reply::Once(Box::new(docker::stats_json(
                &target.name,
                &target.id,
                None,
                None,
            )))),
            Mode::OneShot => {
                let (name, id) = (target.name.clone(), target.id.clone());
                let sample = tokio::task::spawn_blocking(move || sample::read(&target)).await?;
                Ok(Reply::Once(Box::new(docker::stats_json(
                    &name,
                    &id,
                    sample.as_ref(),
                    None,
                ))))
            }
            Mode::Once => Ok(Reply::Once(Box::new(self.once(&target.name, &target.id).await))),
        }
    }

    /// The last two samples, from the collector at once when it has them, else after it made them.
    async fn once(&self, name: &str, id: &str) -> StatsJson {
        if let (Some(previous), Some(latest)) = self.collector.touch(id) {
            return docker::stats_json(name, id, Some(&latest), Some(&previous));
        }
        let mut subscription = self.collector.subscribe();
        for _ in 0..MAX_ROUNDS {
            let round = tokio::time::timeout(collector::INTERVAL * 5, subscription.rounds.changed()).await;
            if !matches!(round, Ok(Ok(()))) {
                break;
            }
            match self.collector.pair(id) {
                (Some(previous), Some(latest)) => {
                    return docker::stats_json(name, id, Some(&latest), Some(&previous));
                }
                (None, None) if !self.is_running(id) => break,
                _ => {}
            }
        }
        docker::stats_json(name, id, None, None)
    }

    fn is_running(&self, id: &str) -> bool {
        self.containers.stats_target(id).is_ok_and(|t| t.running)
    }

    /// One JSON line per new sample; nothing while the container is stopped; the end when it
    /// is removed or the client goes away (then the collector may rest).
    fn stream(&self, id: String) -> mpsc::Receiver<Bytes> {
        let (sender, receiver) = mpsc::channel(1);
        let mut subscription = self.collector.subscribe();
        let (containers, collector) = (self.containers.clone(), self.collector.clone());
        tokio::spawn(async move {
            let mut previous: Option<Arc<Sample>> = None;
            // A removed container ends the stream.
            while let Ok(target) = containers.stats_target(&id) {
                if let (_, Some(latest)) = collector.pair(&id) {
                    if !previous.as_ref().is_some_and(|p| Arc::ptr_eq(p, &latest)) {
                        let json = docker::stats_json(&target.name, &id, Some(&latest), previous.as_deref());
                        let mut line = serde_json::to_vec(&json).unwrap_or_default();
                        line.push(b'\n');
                        if sender.send(Bytes::from(line)).await.is_err() {
                            break;
                        }
                        previous = Some(latest);
                    }
                }
                tokio::select! {
                    _ = sender.closed() => break,
                    changed = subscription.rounds.changed() => if changed.is_err() { break },
                    // A round is never this late; waking anyway notices a removed container.
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        });
        receiver
    }

    /// A sample of every running container now (for the metrics endpoint), read off the runtime.
    pub async fn sample_running(&self) -> Vec<(crate::container::StatsTarget, Sample)> {
        let targets = self.containers.running_stats_targets();
        tokio::task::spawn_blocking(move || sample::read_all(targets))
            .await
            .unwrap_or_default()
    }
}
