//! The collector: while anyone is asking for stats, every running container is sampled once a
//! second (Docker's cadence) and its last two samples kept. A stream sends each new sample; a
//! `stream=false` answer takes the last two at once when the collector already has them, else it
//! waits for two rounds as Docker does. The collector stops [`LINGER`] after the last request,
//! forgetting its samples, so an idle daemon reads nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::sample::{self, Sample};
use crate::container::Containers;

/// Time between rounds (Docker's collector interval).
pub const INTERVAL: Duration = Duration::from_secs(1);
/// How long the collector goes on after the last request: `docker stats --no-stream` run again
/// within it answers at once.
pub const LINGER: Duration = Duration::from_secs(60);

/// The last two samples of one container: `(previous, latest)`.
pub type Pair = (Option<Arc<Sample>>, Option<Arc<Sample>>);

/// Samples every running container while someone is interested.
#[derive(Debug, Clone)]
pub struct Collector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    containers: Containers,
    state: Mutex<State>,
    /// Counts finished rounds; waiters watch it change.
    rounds: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    running: bool,
    /// Streams and waiting answers now open.
    subscribers: usize,
    last_interest: Instant,
    samples: HashMap<String, Pair>,
}

/// Held while a request waits for rounds; the collector goes on as long as one is held.
#[derive(Debug)]
pub struct Subscription {
    collector: Collector,
    pub rounds: watch::Receiver<u64>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.collector.state();
        state.subscribers -= 1;
        state.last_interest = Instant::now();
    }
}

impl Collector {
    pub fn new(containers: Containers) -> Collector {
        Collector {
            inner: Arc::new(Inner {
                containers,
                state: Mutex::new(State {
                    running: false,
                    subscribers: 0,
                    last_interest: Instant::now(),
                    samples: HashMap::new(),
                }),
                rounds: watch::channel(0).0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note a request, starting the collector if it sleeps; the container's kept samples.
    pub fn touch(&self, id: &str) -> Pair {
        let mut state = self.state();
        state.last_interest = Instant::now();
        self.ensure_running(&mut state);
        state.samples.get(id).cloned().unwrap_or_default()
    }

    /// The container's kept samples now.
    pub fn pair(&self, id: &str) -> Pair {
        self.state().samples.get(id).cloned().unwrap_or_default()
    }

    /// Keep the collector going until the subscription is dropped.
    pub fn subscribe(&self) -> Subscription {
        let mut state = self.state();
        state.subscribers += 1;
        state.last_interest = Instant::now();
        self.ensure_running(&mut state);
        Subscription {
            collector: self.clone(),
            rounds: self.inner.rounds.subscribe(),
        }
    }

    fn ensure_running(&self, state: &mut State) {
        if !state.running {
            state.running = true;
            tokio::spawn(self.clone().run());
        }
    }

    async fn run(self) {
        loop {
            let targets = self.inner.containers.running_stats_targets();
            let samples = tokio::task::spawn_blocking(move || sample::read_all(targets))
                .await
                .unwrap_or_default();
            {
                let mut state = self.state();
                let mut kept = HashMap::with_capacity(samples.len());
                for (target, sample) in samples {
                    let id = target.id;
                    let previous = state.samples.remove(&id).and_then(|(_, latest)| latest);
                    kept.insert(id, (previous, Some(Arc::new(sample))));
                }
                // Containers that stopped are forgotten: a restart begins a new pair.
                state.samples = kept;
            }
            self.inner.rounds.send_modify(|n| *n += 1);
            tokio::time::sleep(INTERVAL).await;
            let mut state = self.state();
            if state.subscribers == 0 && state.last_interest.elapsed() >= LINGER {
                state.running = false;
                state.samples.clear();
                return;
            }
        }
    }
}
