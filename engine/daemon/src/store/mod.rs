//! The image store under `--data-root`, in containerd's vocabulary: content-addressed blobs,
//! unpacked layers keyed by chain id, the set of images, and the tags that name them.
//!
//! ```text
//! <data-root>/
//!   blobs/sha256/<hex>      configs, manifests and layer tars, named by their digest
//!   layers/<chain-hex>/     diff/ (the unpacked layer, an overlay lower dir) and layer.json
//!   images/<id-hex>.json    one record per image; the id is its config's digest
//!   repositories.json       tags and digests → image id
//!   tmp/                    where every write starts before its atomic rename
//! ```
//!
//! Nothing here is reference counted: which layers and blobs are still needed is derived from
//! the images (and the containers) that exist, so a crash can never leave a count wrong.

mod atomic;
mod blobs;
mod images;
mod layers;
mod tags;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub use atomic::{replace_atomic, write_atomic};
pub use blobs::{BlobStore, BlobWriter};
pub use images::{ImageIndex, ImageRecord};
pub use layers::{LayerRecord, LayerStore};
pub use tags::TagStore;

use crate::digest::Digest;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// content does not match the digest it was announced with
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// a blob that should be there is not
    #[error("blob not found: {0}")]
    BlobNotFound(Digest),
    /// a layer that should be there is not
    #[error("layer not found: {0}")]
    LayerNotFound(Digest),
    /// a layer tar was refused or unreadable
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    /// a metadata file is not valid JSON
    #[error("corrupt metadata in {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// reading or writing under the data root failed
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Io { context, source }
    }
}

/// The whole image store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    pub blobs: BlobStore,
    pub layers: LayerStore,
    pub images: ImageIndex,
    pub tags: TagStore,
    /// Writers of new content hold this shared; garbage collection holds it exclusively, so it
    /// never sweeps a blob or layer that a load or pull is still registering.
    gc_lock: RwLock<()>,
}

impl Store {
    /// Open (creating when missing) the store under `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let tmp = root.join("tmp");
        for dir in [
            root.join("blobs/sha256"),
            root.join("layers"),
            root.join("images"),
            tmp.clone(),
        ] {
            std::fs::create_dir_all(&dir).map_err(StoreError::io(format!("create {}", dir.display())))?;
        }
        // Anything left in tmp/ is the debris of an interrupted write: never visible, safe to drop.
        clear_dir(&tmp)?;
        Ok(Store {
            root: root.to_owned(),
            blobs: BlobStore::new(root.join("blobs/sha256"), tmp.clone()),
            layers: LayerStore::new(root.join("layers"), tmp.clone()),
            images: ImageIndex::new(root.join("images"), tmp.clone()),
            tags: TagStore::open(root.join("repositories.json"), tmp)?,
            gc_lock: RwLock::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Hold while adding content (blobs, layers, an image), so a collection can't run meanwhile.
    pub fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gc_lock
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remove every layer and blob that no image and none of `extra_layers` (the top layers that
    /// containers stand on) needs. Returns the bytes freed.
    pub fn collect_garbage(&self, extra_layers: &[Digest]) -> Result<u64, StoreError> {
        let _exclusive = self
            .gc_lock
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut needed_blobs = BTreeSet::new();
        let mut top_layers: Vec<Digest> = extra_layers.to_vec();
        for id in self.images.list()? {
            let record = self.images.get(&id)?;
            needed_blobs.insert(id.clone());
            needed_blobs.extend(record.manifests.iter().cloned());
            if let Some(top) = record.top_layer {
                top_layers.push(top);
            }
        }
        let mut needed_layers = BTreeSet::new();
        for top in top_layers {
            let mut next = Some(top);
            while let Some(chain_id) = next {
                if !needed_layers.insert(chain_id.clone()) {
                    break;
                }
                next = match self.layers.get(&chain_id) {
                    Ok(layer) => {
                        needed_blobs.insert(layer.blob.clone());
                        layer.parent
                    }
                    Err(_) => None,
                };
            }
        }
        let mut freed = 0;
        for chain_id in self.layers.list()? {
            if !needed_layers.contains(&chain_id) {
                freed += self.layers.remove(&chain_id)?;
            }
        }
        for digest in self.blobs.list()? {
            if !needed_blobs.contains(&digest) {
                freed += self.blobs.remove(&digest)?;
            }
        }
        Ok(freed)
    }
}

fn clear_dir(dir: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir).map_err(StoreError::io(format!("read {}", dir.display())))? {
        let path = entry.map_err(StoreError::io("read tmp"))?.path();
        let result = crate::tree::remove_all(&path);
        result.map_err(StoreError::io(format!("remove {}", path.display())))?;
    }
    Ok(())
}

/// A unique name for a temporary file or directory.
pub(crate) fn temp_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}
