//! Layer downloads: streamed from the registry straight into the layer store (decompressed,
//! verified and unpacked as the bytes arrive, never held whole), a few at a time, and shared:
//! a pull that needs a layer another pull is already fetching follows that download instead of
//! starting its own.
//!
//! A download is keyed by the layer's chain id. Its state travels on a `watch` channel that any
//! number of pulls follow, each turning it into its own progress messages.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use http::Method;
use tokio::sync::{Semaphore, watch};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::RegistryError;
use super::progress::{Progress, human_size};
use super::session::{Call, Session};
use super::verify::VerifyingReader;
use crate::digest::Digest;
use crate::image::Images;
use crate::image::manifest::Descriptor;

/// Layers downloaded at once, daemon-wide (dockerd's `max-concurrent-downloads`).
const CONCURRENT_DOWNLOADS: usize = 3;
/// Progress messages for one layer are sent at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Bytes between progress updates from the download itself.
const PROGRESS_STEP: u64 = 256 * 1024;

/// Where a layer download is.
#[derive(Debug, Clone)]
pub enum LayerState {
    /// About to start.
    Starting,
    /// Queued behind other downloads.
    Waiting,
    /// Bytes received (and unpacked) of the blob's size.
    Downloading { current: u64, total: u64 },
    /// Registered in the layer store, or failed.
    Done(Result<(), Arc<RegistryError>>),
}

/// One layer to fetch: which blob, and where it goes in the layer store.
#[derive(Debug, Clone)]
pub struct LayerFetch {
    pub blob: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub parent: Option<Digest>,
}

/// The daemon's layer downloads.
#[derive(Debug)]
pub struct Downloads {
    running: Mutex<HashMap<Digest, watch::Receiver<LayerState>>>,
    permits: Arc<Semaphore>,
    /// How many pulls in progress need each layer (by chain id): a failed pull removes the
    /// layers it added only when no other pull wants them.
    wanted: Mutex<HashMap<Digest, usize>>,
}

impl Default for Downloads {
    fn default() -> Downloads {
        Downloads {
            running: Mutex::default(),
            permits: Arc::new(Semaphore::new(CONCURRENT_DOWNLOADS)),
            wanted: Mutex::default(),
        }
    }
}

/// A pull's claim on the layers it needs, released when dropped.
#[derive(Debug)]
pub struct WantedLayers {
    downloads: Arc<Downloads>,
    chain_ids: Vec<Digest>,
}

impl Drop for WantedLayers {
    fn drop(&mut self) {
        let mut wanted = self.downloads.wanted.lock().unwrap_or_else(|p| p.into_inner());
        for chain_id in &self.chain_ids {
            if let Some(count) = wanted.get_mut(chain_id) {
                *count -= 1;
                if *count == 0 {
                    wanted.remove(chain_id);
                }
            }
        }
    }
}

impl Downloads {
    /// Claim layers for a pull. Claim before looking at what the store has, so a failing pull
    /// never removes a layer this one has just decided it need not fetch.
    pub fn want(self: &Arc<Self>, chain_ids: &[Digest]) -> WantedLayers {
        let mut wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        for chain_id in chain_ids {
            *wanted.entry(chain_id.clone()).or_default() += 1;
        }
        WantedLayers {
            downloads: self.clone(),
            chain_ids: chain_ids.to_vec(),
        }
    }

    /// Follow the download of `layer`, starting it unless another pull already has.
    pub fn fetch(
        self: &Arc<Self>,
        layer: &LayerFetch,
        session: &Arc<Session>,
        images: &Images,
    ) -> watch::Receiver<LayerState> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = running.get(&layer.chain_id) {
            return existing.clone();
        }
        let (state, receiver) = watch::channel(LayerState::Starting);
        running.insert(layer.chain_id.clone(), receiver.clone());
        let (downloads, layer, session, images) =
            (self.clone(), layer.clone(), session.clone(), images.clone());
        tokio::spawn(async move {
            let result = download(&layer, &session, &images, &downloads.permits, &state).await;
            // Finished downloads leave the table first: a later pull looks at the store instead.
            downloads
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&layer.chain_id);
            state.send_replace(LayerState::Done(result.map_err(Arc::new)));
        });
        receiver
    }

    /// After a failed pull: remove the layers it added (`added`, missing when it started) that no
    /// other pull in progress wants and no image uses, with their blobs. Runs on a blocking thread.
    pub fn remove_unwanted(&self, pull: WantedLayers, added: &[Digest], images: &Images) {
        let wanted = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        let store = images.store();
        let _writing = store.writing();
        let in_images = layers_in_images(images);
        for chain_id in added {
            let others = wanted.get(chain_id).copied().unwrap_or(0).saturating_sub(1);
            if others > 0 || in_images.contains(chain_id) || !store.layers.exists(chain_id) {
                continue;
            }
            let Ok(record) = store.layers.get(chain_id) else {
                continue;
            };
            if store.layers.remove(chain_id).is_ok() {
                let blob_still_used = store
                    .layers
                    .list()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|other| store.layers.get(other).ok())
                    .any(|other| other.blob == record.blob);
                if !blob_still_used {
                    let _ = store.blobs.remove(&record.blob);
                }
            }
        }
        drop(wanted);
        drop(pull);
    }
}

/// Every chain id some image stands on.
fn layers_in_images(images: &Images) -> BTreeSet<Digest> {
    let store = images.store();
    let mut used = BTreeSet::new();
    for id in store.images.list().unwrap_or_default() {
        let mut next = store.images.find(&id).ok().flatten().and_then(|r| r.top_layer);
        while let Some(chain_id) = next {
            if !used.insert(chain_id.clone()) {
                break;
            }
            next = store.layers.get(&chain_id).ok().and_then(|l| l.parent);
        }
    }
    used
}

/// Fetch one layer blob and register it: the body streams through a digest check into the
/// layer store's unpacker on a blocking thread.
async fn download(
    layer: &LayerFetch,
    session: &Session,
    images: &Images,
    permits: &Semaphore,
    state: &watch::Sender<LayerState>,
) -> Result<(), RegistryError> {
    let _permit = match permits.try_acquire() {
        Ok(permit) => permit,
        Err(_) => {
            state.send_replace(LayerState::Waiting);
            permits.acquire().await.expect("the semaphore is never closed")
        }
    };
    if images.store().layers.exists(&layer.chain_id) {
        return Ok(());
    }
    let total = layer.blob.size;
    state.send_replace(LayerState::Downloading { current: 0, total });
    let call = Call::new(
        Method::GET,
        session.url(&format!("blobs/{}", layer.blob.digest)),
        format!(
            "asked {} for layer {} ({}) of {}, to unpack it as it streams",
            session.domain,
            layer.blob.digest.short(),
            human_size(total),
            session.repository
        ),
    );
    let response = session.send(&call).await?;
    if !response.status().is_success() {
        return Err(session.error(response).await);
    }
    let body = StreamReader::new(response.bytes_stream().map_err(io::Error::other));
    let reader = SyncIoBridge::new(body);
    let (layer, images, state) = (layer.clone(), images.clone(), state.clone());
    tokio::task::spawn_blocking(move || {
        let mut reported = 0;
        let verifying = VerifyingReader::new(
            reader,
            "filesystem layer",
            layer.blob.digest.clone(),
            total,
            |current| {
                if current >= reported + PROGRESS_STEP || current == total {
                    reported = current;
                    state.send_replace(LayerState::Downloading { current, total });
                }
            },
        );
        let verdict = verifying.verdict();
        let store = images.store();
        let _writing = store.writing();
        let result = store.layers.create(
            &store.blobs,
            layer.parent.as_ref(),
            Some(&layer.diff_id),
            &layer.blob.media_type,
            verifying,
        );
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(verdict
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or(RegistryError::Store(error))),
        }
    })
    .await
    .map_err(|e| RegistryError::Unreachable(format!("layer download stopped: {e}")))?
}

/// Turn a download's states into one pull's progress messages for layer `id`, until it ends.
pub async fn follow(
    mut state: watch::Receiver<LayerState>,
    id: &str,
    progress: &Progress,
) -> Result<(), RegistryError> {
    let mut said_waiting = false;
    let mut last_bytes: Option<Instant> = None;
    loop {
        let current = state.borrow_and_update().clone();
        match current {
            LayerState::Waiting if !said_waiting => {
                said_waiting = true;
                progress.layer(id, "Waiting");
            }
            LayerState::Starting | LayerState::Waiting => {}
            LayerState::Downloading { current, total } => {
                if current > 0 && last_bytes.is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL) {
                    last_bytes = Some(Instant::now());
                    progress.bytes(id, "Downloading", current, total);
                }
            }
            LayerState::Done(Ok(())) => {
                progress.layer(id, "Verifying Checksum");
                progress.layer(id, "Download complete");
                progress.layer(id, "Pull complete");
                return Ok(());
            }
            LayerState::Done(Err(error)) => return Err(RegistryError::Shared(error)),
        }
        if state.changed().await.is_err() && !matches!(*state.borrow(), LayerState::Done(_)) {
            return Err(RegistryError::Unreachable(format!(
                "the download of layer {id} stopped"
            )));
        }
    }
}
