//! What berth knows about layers' blobs on registries (Docker's "v2 metadata"): a layer (by diff
//! id) was pulled from, or pushed to, a repository as a blob with this digest. A push uses it to
//! skip layers a registry has, to mount them from another repository there, and to avoid
//! compressing a layer again.
//!
//! `<data-root>/registry/v2-metadata.json`, written atomically on every change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::store::{StoreError, write_atomic};

/// How many blobs are remembered per layer: the newest are kept.
const KEEP_PER_LAYER: usize = 16;

/// A layer as a blob in one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBlob {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The registry host as references name it (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/busybox`).
    pub repository: String,
}

/// The metadata file, held in memory.
#[derive(Debug)]
pub struct DistributionMetadata {
    path: PathBuf,
    dir: PathBuf,
    layers: Mutex<BTreeMap<Digest, Vec<KnownBlob>>>,
}

impl DistributionMetadata {
    /// Open (creating the directory when missing). An unreadable file is started afresh: it is
    /// a cache of what registries hold, never the only copy of anything.
    pub fn open(dir: &Path) -> Result<DistributionMetadata, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::io(format!("create {}", dir.display())))?;
        let path = dir.join("v2-metadata.json");
        let layers = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Ok(DistributionMetadata {
            path,
            dir: dir.to_owned(),
            layers: Mutex::new(layers),
        })
    }

    /// Remember that each layer `diff_id` is `blob` (newest first, no duplicates).
    pub fn remember(&self, entries: impl IntoIterator<Item = (Digest, KnownBlob)>) -> Result<(), StoreError> {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let mut changed = false;
        for (diff_id, blob) in entries {
            let known = layers.entry(diff_id).or_default();
            if known.first() == Some(&blob) {
                continue;
            }
            known.retain(|k| *k != blob);
            known.insert(0, blob);
            known.truncate(KEEP_PER_LAYER);
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        let json = serde_json::to_vec_pretty(&*layers).expect("metadata serializes");
        write_atomic(&self.path, &self.dir, &json)
    }

    /// The blobs the layer is known as on `registry`, newest first.
    pub fn known(&self, diff_id: &Digest, registry: &str) -> Vec<KnownBlob> {
        self.layers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(diff_id)
            .map(|known| known.iter().filter(|k| k.registry == registry).cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: u8, repository: &str) -> KnownBlob {
        KnownBlob {
            digest: Digest::of(&[n]),
            media_type: "m".into(),
            size: n as u64,
            registry: "r:5000".into(),
            repository: repository.into(),
        }
    }

    #[test]
    fn remembers_newest_first_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let diff_id = Digest::of(b"layer");
        let metadata = DistributionMetadata::open(dir.path()).unwrap();
        metadata.remember([(diff_id.clone(), blob(1, "a"))]).unwrap();
        metadata
            .remember([(diff_id.clone(), blob(2, "b")), (diff_id.clone(), blob(1, "a"))])
            .unwrap();
        let reopened = DistributionMetadata::open(dir.path()).unwrap();
        let known = reopened.known(&diff_id, "r:5000");
        assert_eq!(known, vec![blob(1, "a"), blob(2, "b")]);
        assert!(reopened.known(&diff_id, "other").is_empty());
        assert!(reopened.known(&Digest::of(b"x"), "r:5000").is_empty());
    }
}
