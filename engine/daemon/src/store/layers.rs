//! Unpacked layers, keyed by chain id and shared by every image that has the same layers below.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BlobStore, StoreError, temp_name, write_atomic};
use crate::digest::Digest;
use crate::layer;

/// `layers/<chain-hex>/layer.json`: what a layer is and where its tar is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub chain_id: Digest,
    /// sha256 of the uncompressed tar: what image configs list in `rootfs.diff_ids`.
    pub diff_id: Digest,
    /// The chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of the unpacked files, as Docker counts a layer's size.
    pub size: u64,
    /// The tar as received (possibly compressed), kept for `save` and `push`.
    pub blob: Digest,
    pub blob_media_type: String,
}

/// `layers/`.
#[derive(Debug)]
pub struct LayerStore {
    dir: PathBuf,
    tmp: PathBuf,
}

/// Removes a half-registered layer unless it was moved into place.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = crate::tree::remove_all(&self.0);
        }
    }
}

/// Copies what is read into a blob while the layer unpacks: one pass over the input.
struct Tee<'a, R> {
    reader: R,
    copy: &'a mut super::BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

impl LayerStore {
    pub(super) fn new(dir: PathBuf, tmp: PathBuf) -> LayerStore {
        LayerStore { dir, tmp }
    }

    fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// The unpacked files: an overlay lower dir.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.layer_dir(chain_id).join("layer.json").exists()
    }

    pub fn get(&self, chain_id: &Digest) -> Result<LayerRecord, StoreError> {
        let path = self.layer_dir(chain_id).join("layer.json");
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::LayerNotFound(chain_id.clone()),
            _ => StoreError::Io {
                context: format!("read {}", path.display()),
                source: e,
            },
        })?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path, source })
    }

    /// The diff dirs of a chain of layers, top first, as overlay wants its lower dirs.
    pub fn lower_dirs(&self, top: &Digest) -> Result<Vec<PathBuf>, StoreError> {
        let mut dirs = Vec::new();
        let mut next = Some(top.clone());
        while let Some(chain_id) = next {
            let record = self.get(&chain_id)?;
            dirs.push(self.diff_dir(&chain_id));
            next = record.parent;
        }
        Ok(dirs)
    }

    /// Unpack a layer tar on top of `parent`, keeping its bytes as a blob. When `expected_diff_id`
    /// is given (the image config says what the layer must be), a different tar is refused.
    /// A refused or broken layer leaves nothing: no blob, no layer dir.
    pub fn create(
        &self,
        blobs: &BlobStore,
        parent: Option<&Digest>,
        expected_diff_id: Option<&Digest>,
        media_type: &str,
        tar: impl Read,
    ) -> Result<LayerRecord, StoreError> {
        let staging = Staging(self.tmp.join(temp_name("layer")));
        std::fs::create_dir(&staging.0).map_err(StoreError::io("create layer staging dir"))?;
        let mut blob = blobs.writer()?;
        let applied = layer::apply_layer(
            &staging.0.join("diff"),
            Tee {
                reader: tar,
                copy: &mut blob,
            },
        )?;
        if let Some(expected) = expected_diff_id {
            if *expected != applied.diff_id {
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual: applied.diff_id,
                });
            }
        }
        let chain_id = Digest::chain(parent, &applied.diff_id);
        if self.exists(&chain_id) {
            return self.get(&chain_id);
        }
        let (blob_digest, _) = blob.commit(Some(&applied.compressed_digest))?;
        let record = LayerRecord {
            chain_id: chain_id.clone(),
            diff_id: applied.diff_id,
            parent: parent.cloned(),
            size: applied.size,
            blob: blob_digest,
            blob_media_type: media_type.to_owned(),
        };
        let json = serde_json::to_vec_pretty(&record).expect("a layer record serializes");
        write_atomic(&staging.0.join("layer.json"), &self.tmp, &json)?;
        match std::fs::rename(&staging.0, self.layer_dir(&chain_id)) {
            Ok(()) => {
                crate::explain!("registered layer {chain_id} ({} bytes unpacked)", record.size);
                Ok(record)
            }
            // Another load registered the same layer meanwhile: theirs is as good as ours.
            Err(_) if self.exists(&chain_id) => self.get(&chain_id),
            Err(e) => Err(StoreError::Io {
                context: format!("store layer {chain_id}"),
                source: e,
            }),
        }
    }

    /// Every layer's chain id.
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(StoreError::io("list layers"))? {
            let entry = entry.map_err(StoreError::io("list layers"))?;
            if let Ok(id) = Digest::from_hex(&entry.file_name().to_string_lossy()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Remove a layer's files; returns its size. The layer is first renamed out of sight so a
    /// crash halfway leaves no half layer under its name.
    pub fn remove(&self, chain_id: &Digest) -> Result<u64, StoreError> {
        let size = self.get(chain_id).map(|l| l.size).unwrap_or(0);
        let doomed = self.tmp.join(temp_name("removed-layer"));
        match std::fs::rename(self.layer_dir(chain_id), &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(StoreError::Io {
                    context: format!("remove layer {chain_id}"),
                    source: e,
                });
            }
        }
        crate::tree::remove_all(&doomed).map_err(StoreError::io(format!("remove layer {chain_id}")))?;
        crate::explain!("removed layer {chain_id}");
        Ok(size)
    }

    pub fn root(&self) -> &Path {
        &self.dir
    }
}
