//! `docker container prune`: every container that is not running and that the filters select.

use crate::prune::PruneFilter;

use super::Containers;

/// What a prune deleted.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The ids of the containers removed.
    pub ids: Vec<String>,
    /// The bytes their writable layers held (Docker's `SpaceReclaimed`).
    pub reclaimed: u64,
}

impl Containers {
    /// `POST /containers/prune`: as Docker, a container's anonymous volumes stay.
    pub async fn prune(&self, filter: &PruneFilter) -> Pruned {
        let mut pruned = Pruned::default();
        for container in self.all() {
            let record = container.record();
            if record.state.status.is_running()
                || !filter.selects(&record.created, record.config.labels.as_ref())
            {
                continue;
            }
            // Sizes walk the writable layer: off the async threads.
            let (this, measured) = (self.clone(), record.clone());
            let size = tokio::task::spawn_blocking(move || this.sizes(&measured).0)
                .await
                .unwrap_or(0);
            if self.remove(&record.id, false, false).await.is_ok() {
                pruned.reclaimed += u64::try_from(size).unwrap_or(0);
                pruned.ids.push(record.id);
            }
        }
        pruned
    }
}
