//! The set of images: one small record per image id, beside its config blob.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{StoreError, write_atomic};
use crate::digest::Digest;

/// `images/<id-hex>.json`: what berthd knows of an image beyond its config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The top layer's chain id (none for an image without layers).
    pub top_layer: Option<Digest>,
    /// The local image this one was committed from, as `docker history` and `Parent` show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
    /// Manifest blobs kept for this image (pulled or pushed), so its RepoDigests stay valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Digest>,
    /// When it was last tagged (RFC 3339), for `Metadata.LastTagTime`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_tag_time: String,
}

/// `images/`.
#[derive(Debug)]
pub struct ImageIndex {
    dir: PathBuf,
    tmp: PathBuf,
}

impl ImageIndex {
    pub(super) fn new(dir: PathBuf, tmp: PathBuf) -> ImageIndex {
        ImageIndex { dir, tmp }
    }

    fn path(&self, id: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", id.hex()))
    }

    pub fn exists(&self, id: &Digest) -> bool {
        self.path(id).exists()
    }

    /// The record of an image; `None` when there is no such image.
    pub fn find(&self, id: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        let path = self.path(id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                context: format!("read {}", path.display()),
                source: e,
            }),
        }
    }

    pub fn get(&self, id: &Digest) -> Result<ImageRecord, StoreError> {
        self.find(id)?.ok_or_else(|| StoreError::BlobNotFound(id.clone()))
    }

    pub fn put(&self, id: &Digest, record: &ImageRecord) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(record).expect("an image record serializes");
        write_atomic(&self.path(id), &self.tmp, &json)
    }

    pub fn remove(&self, id: &Digest) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
                context: format!("remove image {id}"),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Every image id.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(StoreError::io("list images"))? {
            let name = entry.map_err(StoreError::io("list images"))?.file_name();
            if let Some(hex) = name.to_string_lossy().strip_suffix(".json") {
                if let Ok(id) = Digest::from_hex(hex) {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Ids that start with `prefix` (hex, with or without `sha256:`): Docker accepts short ids.
    pub fn search(&self, prefix: &str) -> Result<Vec<Digest>, StoreError> {
        let prefix = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        Ok(self
            .list()?
            .into_iter()
            .filter(|id| id.hex().starts_with(prefix))
            .collect())
    }
}
