//! Tags and digests that name images: `docker.io/library/busybox:latest → sha256:…`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{StoreError, write_atomic};
use crate::digest::Digest;
use crate::reference::Reference;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RepositoriesFile {
    /// Fully qualified reference (tagged or digested) → image id.
    references: BTreeMap<String, Digest>,
}

/// `repositories.json`, held in memory and written through atomically on every change.
#[derive(Debug)]
pub struct TagStore {
    path: PathBuf,
    tmp: PathBuf,
    references: Mutex<BTreeMap<Reference, Digest>>,
}

impl TagStore {
    pub(super) fn open(path: PathBuf, tmp: PathBuf) -> Result<TagStore, StoreError> {
        let file: RepositoriesFile = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RepositoriesFile::default(),
            Err(e) => {
                return Err(StoreError::Io {
                    context: format!("read {}", path.display()),
                    source: e,
                });
            }
        };
        let mut references = BTreeMap::new();
        for (name, id) in file.references {
            // A name that no longer parses is dropped rather than failing the daemon's start.
            if let Ok(reference) = Reference::parse(&name) {
                references.insert(reference, id);
            }
        }
        Ok(TagStore {
            path,
            tmp,
            references: Mutex::new(references),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Reference, Digest>> {
        self.references
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save(&self, references: &BTreeMap<Reference, Digest>) -> Result<(), StoreError> {
        let file = RepositoriesFile {
            references: references
                .iter()
                .map(|(r, id)| (r.to_string(), id.clone()))
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file).expect("tags serialize");
        write_atomic(&self.path, &self.tmp, &json)
    }

    /// The image a tag or digest reference names.
    pub fn get(&self, reference: &Reference) -> Option<Digest> {
        self.lock().get(reference).cloned()
    }

    /// Point `reference` at `id`; returns the image it named before, if another.
    pub fn set(&self, reference: Reference, id: &Digest) -> Result<Option<Digest>, StoreError> {
        let mut references = self.lock();
        let previous = references.insert(reference, id.clone());
        self.save(&references)?;
        Ok(previous.filter(|p| p != id))
    }

    /// Remove one reference; returns the image it named.
    pub fn remove(&self, reference: &Reference) -> Result<Option<Digest>, StoreError> {
        let mut references = self.lock();
        let removed = references.remove(reference);
        if removed.is_some() {
            self.save(&references)?;
        }
        Ok(removed)
    }

    /// Every reference naming `id`, sorted.
    pub fn references_to(&self, id: &Digest) -> Vec<Reference> {
        self.lock()
            .iter()
            .filter(|(_, target)| *target == id)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// All references.
    pub fn all(&self) -> Vec<(Reference, Digest)> {
        self.lock()
            .iter()
            .map(|(r, id)| (r.clone(), id.clone()))
            .collect()
    }
}
