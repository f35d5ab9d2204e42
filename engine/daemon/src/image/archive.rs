//! `docker load` and `docker save`: image archives.
//!
//! berth writes the layout Docker 25+ writes, which every Docker reads: a `manifest.json` (the
//! docker-archive index older Dockers use) beside an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`), every file stored once under its digest. It loads that, the older Docker
//! layout (`<id>/layer.tar`), and a plain OCI layout without `manifest.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ImageConfig, ImageError, Images};
use crate::digest::Digest;
use crate::reference::Reference;
use crate::store::{ImageRecord, StoreError, temp_name};

use super::manifest::{Descriptor, Index, Manifest, Platform};
/// Media types of what an archive holds.
pub use super::manifest::{
    MEDIA_DOCKER_LAYER_TAR, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_LAYER_TAR, MEDIA_OCI_MANIFEST,
};

/// One entry of `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// The images of a `save`, each with the tags it is saved under.
#[derive(Debug, Clone)]
pub struct SaveSelection(BTreeMap<Digest, Vec<Reference>>);

/// An image found in an archive: where its config and layers are, and its names.
struct ArchivedImage {
    config: PathBuf,
    layers: Vec<(PathBuf, String)>,
    tags: Vec<String>,
}

/// The unpacked archive, removed when done (or failed).
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = crate::tree::remove_all(&self.0);
    }
}

impl Staging {
    /// A path named inside the archive, refused when it (or a symlink on the way) leads outside.
    fn resolve(&self, name: &str) -> Result<PathBuf, ImageError> {
        let joined = self.0.join(name.trim_start_matches('/'));
        let resolved = joined
            .canonicalize()
            .map_err(|e| ImageError::Archive(format!("{name}: {e}")))?;
        let root = self
            .0
            .canonicalize()
            .map_err(|e| ImageError::Archive(e.to_string()))?;
        if !resolved.starts_with(&root) {
            return Err(ImageError::Archive(format!("{name}: path leaves the archive")));
        }
        Ok(resolved)
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        std::fs::read(self.resolve(name)?).map_err(|e| ImageError::Archive(format!("{name}: {e}")))
    }
}

impl Images {
    /// `POST /images/load`: returns the lines Docker prints (`Loaded image: busybox:latest`).
    pub fn load(&self, archive: impl Read) -> Result<Vec<String>, ImageError> {
        let staging = Staging(self.store.root().join("tmp").join(temp_name("load")));
        std::fs::create_dir(&staging.0).map_err(StoreError::io("create load staging dir"))?;
        let mut tar = tar::Archive::new(archive);
        tar.set_preserve_permissions(false);
        tar.set_unpack_xattrs(false);
        tar.unpack(&staging.0)
            .map_err(|e| ImageError::Archive(e.to_string()))?;

        let images = if staging.0.join("manifest.json").exists() {
            docker_manifest(&staging)?
        } else if staging.0.join("index.json").exists() {
            oci_layout(&staging)?
        } else {
            return Err(ImageError::Archive(
                "no manifest.json or index.json in the archive".into(),
            ));
        };
        let mut lines = Vec::new();
        for image in images {
            lines.extend(self.load_one(image)?);
        }
        Ok(lines)
    }

    fn load_one(&self, image: ArchivedImage) -> Result<Vec<String>, ImageError> {
        let config_bytes = std::fs::read(&image.config).map_err(|e| ImageError::Archive(e.to_string()))?;
        let config = ImageConfig::from_slice(&config_bytes)
            .map_err(|e| ImageError::Archive(format!("image config: {e}")))?;
        if config.rootfs.diff_ids.len() != image.layers.len() {
            return Err(ImageError::Archive(format!(
                "image config lists {} layers, the manifest {}",
                config.rootfs.diff_ids.len(),
                image.layers.len()
            )));
        }
        let _writing = self.store.writing();
        let mut created = Vec::new();
        let result = (|| {
            let mut parent: Option<Digest> = None;
            for (diff_id, (path, media_type)) in config.rootfs.diff_ids.iter().zip(&image.layers) {
                let chain_id = Digest::chain(parent.as_ref(), diff_id);
                if !self.store.layers.exists(&chain_id) {
                    let file = File::open(path)
                        .map_err(|e| ImageError::Archive(format!("{}: {e}", path.display())))?;
                    self.store.layers.create(
                        &self.store.blobs,
                        parent.as_ref(),
                        Some(diff_id),
                        media_type,
                        file,
                    )?;
                    created.push(chain_id.clone());
                }
                parent = Some(chain_id);
            }
            let id = self.store.blobs.put_bytes(&config_bytes)?;
            if self.store.images.find(&id)?.is_none() {
                self.store.images.put(
                    &id,
                    &ImageRecord {
                        top_layer: parent,
                        ..ImageRecord::default()
                    },
                )?;
            }
            Ok::<Digest, ImageError>(id)
        })();
        let id = match result {
            Ok(id) => id,
            Err(e) => {
                // Layers this load added and no image uses would only be litter.
                for chain_id in created.iter().rev() {
                    let _ = self.store.layers.remove(chain_id);
                }
                return Err(e);
            }
        };
        drop(_writing);
        let mut lines = Vec::new();
        for tag in &image.tags {
            let reference = Reference::parse_normalized(tag)?.with_default_tag();
            if let Some(old) = self.store.tags.get(&reference).filter(|old| *old != id) {
                lines.push(format!(
                    "The image {} already exists, renaming the old one with ID {old} to empty string",
                    reference.familiar_string()
                ));
            }
            self.set_tag(reference.clone(), &id)?;
            lines.push(format!("Loaded image: {}", reference.familiar_string()));
        }
        if image.tags.is_empty() {
            lines.push(format!("Loaded image ID: {id}"));
        }
        // Docker logs `load` (and no `tag`) for each image of the archive.
        self.event("load", &id.to_string(), &id.to_string());
        crate::explain!("loaded image {id} with {} layers", image.layers.len());
        Ok(lines)
    }

    /// `GET /images/get?names=…`: every name is resolved before a byte is written.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), ImageError> {
        let selection = self.select_for_save(names)?;
        self.write_archive(&selection, out)
    }

    /// Which images (and which of their tags) an archive of `names` holds.
    pub fn select_for_save(&self, names: &[String]) -> Result<SaveSelection, ImageError> {
        let mut selected: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
        for name in names {
            for (id, tag) in self.save_selection(name)? {
                let tags = selected.entry(id).or_default();
                if let Some(tag) = tag {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
        }
        Ok(SaveSelection(selected))
    }

    /// Write the archive of a selection.
    pub fn write_archive(&self, selection: &SaveSelection, out: impl Write) -> Result<(), ImageError> {
        let selected = &selection.0;
        let mut writer = ArchiveWriter::new(out, self);
        let mut manifest = Vec::new();
        let mut index = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (id, tags) in selected {
            let config = self.config(id)?;
            let config_size = writer.blob_from_store(id)?;
            let mut layer_descriptors = Vec::new();
            let mut layer_paths = Vec::new();
            for chain_id in Digest::chain_ids(&config.rootfs.diff_ids) {
                let layer = self.store.layers.get(&chain_id)?;
                let size = writer.layer(&layer)?;
                layer_descriptors
                    .push(json!({"mediaType": MEDIA_OCI_LAYER_TAR, "digest": layer.diff_id, "size": size}));
                layer_paths.push(format!("blobs/sha256/{}", layer.diff_id.hex()));
            }
            let oci_manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_OCI_MANIFEST,
                "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": id, "size": config_size},
                "layers": layer_descriptors,
            }))
            .expect("json serializes");
            let manifest_digest = writer.blob_bytes(&oci_manifest)?;
            let descriptor = |annotations: Option<serde_json::Value>| {
                let mut d = json!({"mediaType": MEDIA_OCI_MANIFEST, "digest": manifest_digest, "size": oci_manifest.len()});
                if let Some(a) = annotations {
                    d["annotations"] = a;
                }
                d
            };
            if tags.is_empty() {
                index.push(descriptor(None));
            }
            for tag in tags {
                index.push(descriptor(Some(json!({
                    "io.containerd.image.name": tag.to_string(),
                    "org.opencontainers.image.ref.name": tag.tag().unwrap_or_default(),
                }))));
                if let Some(top) = config.rootfs.diff_ids.last() {
                    repositories
                        .entry(tag.familiar_name())
                        .or_default()
                        .insert(tag.tag().unwrap_or_default().to_owned(), top.hex().to_owned());
                }
            }
            manifest.push(ManifestEntry {
                config: format!("blobs/sha256/{}", id.hex()),
                repo_tags: if tags.is_empty() {
                    None
                } else {
                    Some(tags.iter().map(Reference::familiar_string).collect())
                },
                layers: layer_paths,
            });
            // Docker logs `save` as each image's files are written.
            self.event("save", &id.to_string(), &id.to_string());
        }
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": index});
        writer.file("index.json", &serde_json::to_vec(&index).expect("json"))?;
        writer.file("manifest.json", &serde_json::to_vec(&manifest).expect("json"))?;
        writer.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        if !repositories.is_empty() {
            writer.file("repositories", &serde_json::to_vec(&repositories).expect("json"))?;
        }
        writer.finish()
    }

    /// Docker's rules for a name given to save: an id (no tags), a repository (all its tags),
    /// or a tag.
    fn save_selection(&self, name: &str) -> Result<Vec<(Digest, Option<Reference>)>, ImageError> {
        let parsed = Reference::parse_normalized(name);
        match &parsed {
            // 64 hex digits are an image id.
            Err(crate::reference::ReferenceError::HexName(_)) | Ok(_) => {}
            Err(e) => return Err(ImageError::NewName(e.clone())),
        }
        if let Ok(reference) = parsed {
            if reference.tag().is_none() && reference.digest().is_none() {
                let tagged: Vec<_> = self
                    .store
                    .tags
                    .all()
                    .into_iter()
                    .filter(|(r, _)| r.name() == reference.name() && r.tag().is_some())
                    .map(|(r, id)| (id, Some(r)))
                    .collect();
                if !tagged.is_empty() {
                    return Ok(tagged);
                }
            } else if reference.tag().is_some() {
                if let Some(id) = self.store.tags.get(&reference) {
                    return Ok(vec![(id, Some(reference))]);
                }
            }
        }
        Ok(vec![(self.resolve(name)?, None)])
    }
}

fn docker_manifest(staging: &Staging) -> Result<Vec<ArchivedImage>, ImageError> {
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&staging.read("manifest.json")?)
        .map_err(|e| ImageError::Archive(format!("manifest.json: {e}")))?;
    entries
        .into_iter()
        .map(|entry| {
            Ok(ArchivedImage {
                config: staging.resolve(&entry.config)?,
                layers: entry
                    .layers
                    .iter()
                    .map(|l| Ok((staging.resolve(l)?, MEDIA_DOCKER_LAYER_TAR.to_owned())))
                    .collect::<Result<_, ImageError>>()?,
                tags: entry.repo_tags.unwrap_or_default(),
            })
        })
        .collect()
}

/// How deep indexes may nest in an OCI layout (one level is the multi-platform case).
const MAX_INDEX_DEPTH: usize = 8;

/// A plain OCI image layout (skopeo's `oci-archive:`): index.json → manifests → config and layers.
fn oci_layout(staging: &Staging) -> Result<Vec<ArchivedImage>, ImageError> {
    let blob = |d: &Digest| staging.resolve(&format!("blobs/sha256/{}", d.hex()));
    let read_json = |name: &str| -> Result<serde_json::Value, ImageError> {
        serde_json::from_slice(&staging.read(name)?).map_err(|e| ImageError::Archive(format!("{name}: {e}")))
    };
    // A blob named by a descriptor must be what the descriptor says (its digest checked), and
    // an index reached twice on one way down is a cycle: refused, or the walk would never end.
    let read_blob_json = |descriptor: &Descriptor| -> Result<serde_json::Value, ImageError> {
        let path = format!("blobs/sha256/{}", descriptor.digest.hex());
        let bytes = staging.read(&path)?;
        let actual = Digest::of(&bytes);
        if actual != descriptor.digest {
            return Err(ImageError::Archive(format!(
                "{path}: content has digest {actual}, not {}",
                descriptor.digest
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Archive(format!("{path}: {e}")))
    };
    let index: Index = serde_json::from_value(read_json("index.json")?)
        .map_err(|e| ImageError::Archive(format!("index.json: {e}")))?;
    let mut images = Vec::new();
    let mut pending: Vec<(Descriptor, Option<String>, Vec<Digest>)> = index
        .manifests
        .into_iter()
        .map(|d| (d, None, Vec::new()))
        .collect();
    while let Some((descriptor, inherited_name, above)) = pending.pop() {
        let name = descriptor
            .annotations
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| {
                descriptor
                    .annotations
                    .get("org.opencontainers.image.ref.name")
                    .cloned()
            })
            .or(inherited_name);
        let path = format!("blobs/sha256/{}", descriptor.digest.hex());
        if descriptor.is_index() {
            if above.contains(&descriptor.digest) || above.len() >= MAX_INDEX_DEPTH {
                return Err(ImageError::Archive(format!(
                    "{path}: an index that leads back to itself (or nests more than {MAX_INDEX_DEPTH} deep)"
                )));
            }
            let nested: Index = serde_json::from_value(read_blob_json(&descriptor)?)
                .map_err(|e| ImageError::Archive(format!("{path}: {e}")))?;
            // A multi-platform index: take the platform this machine runs (or the first).
            let chosen = Platform::select(&Platform::host(), &nested.manifests).or(nested.manifests.first());
            if let Some(d) = chosen {
                let mut way = above;
                way.push(descriptor.digest.clone());
                pending.push((d.clone(), name, way));
            }
            continue;
        }
        let manifest: Manifest = serde_json::from_value(read_blob_json(&descriptor)?)
            .map_err(|e| ImageError::Archive(format!("{path}: {e}")))?;
        images.push(ArchivedImage {
            config: blob(&manifest.config.digest)?,
            layers: manifest
                .layers
                .iter()
                .map(|l| {
                    Ok((
                        blob(&l.digest)?,
                        if l.media_type.is_empty() {
                            MEDIA_OCI_LAYER_TAR.to_owned()
                        } else {
                            l.media_type.clone()
                        },
                    ))
                })
                .collect::<Result<_, ImageError>>()?,
            // A bare ref name (`latest`) names a tag, not an image: only full names are kept.
            tags: name
                .filter(|n| n.contains('/') || n.contains(':') && !n.starts_with(':'))
                .into_iter()
                .collect(),
        });
    }
    Ok(images)
}

/// Streams an archive: each blob once, under its digest.
struct ArchiveWriter<'a, W: Write> {
    tar: tar::Builder<W>,
    images: &'a Images,
    written: BTreeSet<Digest>,
}

impl<'a, W: Write> ArchiveWriter<'a, W> {
    fn new(out: W, images: &'a Images) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        ArchiveWriter {
            tar,
            images,
            written: BTreeSet::new(),
        }
    }

    fn header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        // Paths here are short ASCII (blobs/sha256/<hex>), always valid in a ustar header.
        header.set_path(path).expect("short archive path");
        header.set_cksum();
        header
    }

    fn ensure_dirs(&mut self) -> io::Result<()> {
        if self.written.is_empty() {
            for dir in ["blobs/", "blobs/sha256/"] {
                let header = Self::header(dir, 0, tar::EntryType::Directory);
                self.tar.append(&header, io::empty())?;
            }
        }
        Ok(())
    }

    fn blob(&mut self, digest: &Digest, size: u64, content: impl Read) -> Result<(), ImageError> {
        if self.written.contains(digest) {
            return Ok(());
        }
        self.ensure_dirs().map_err(StoreError::io("write archive"))?;
        let header = Self::header(
            &format!("blobs/sha256/{}", digest.hex()),
            size,
            tar::EntryType::Regular,
        );
        self.tar
            .append(&header, content)
            .map_err(StoreError::io("write archive"))?;
        self.written.insert(digest.clone());
        Ok(())
    }

    fn blob_bytes(&mut self, bytes: &[u8]) -> Result<Digest, ImageError> {
        let digest = Digest::of(bytes);
        self.blob(&digest, bytes.len() as u64, bytes)?;
        Ok(digest)
    }

    fn blob_from_store(&mut self, digest: &Digest) -> Result<u64, ImageError> {
        let file = self.images.store.blobs.open(digest)?;
        let size = file.metadata().map_err(StoreError::io("stat blob"))?.len();
        self.blob(digest, size, file)?;
        Ok(size)
    }

    /// A layer as its uncompressed tar, named by its diff id (decompressing a pulled layer first).
    fn layer(&mut self, layer: &crate::store::LayerRecord) -> Result<u64, ImageError> {
        if layer.blob == layer.diff_id {
            return self.blob_from_store(&layer.blob);
        }
        let store = &self.images.store;
        let temp = TempFile(store.root().join("tmp").join(temp_name("save-layer")));
        let mut out = File::create(&temp.0).map_err(StoreError::io("create temporary layer"))?;
        let compressed = store.blobs.open(&layer.blob)?;
        let mut plain = crate::layer::decompress(io::BufReader::new(compressed))
            .map_err(StoreError::io("decompress layer"))?;
        let size = io::copy(&mut plain, &mut out).map_err(StoreError::io("decompress layer"))?;
        let file = File::open(&temp.0).map_err(StoreError::io("reopen temporary layer"))?;
        self.blob(&layer.diff_id, size, file)?;
        Ok(size)
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let header = Self::header(path, bytes.len() as u64, tar::EntryType::Regular);
        self.tar
            .append(&header, bytes)
            .map_err(StoreError::io("write archive"))?;
        Ok(())
    }

    fn finish(mut self) -> Result<(), ImageError> {
        self.tar.finish().map_err(StoreError::io("write archive"))?;
        Ok(())
    }
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Property tests: whatever an archive's `manifest.json`, `index.json` and blobs say — names
/// leading out of it, wrong types, indexes naming indexes — reading it answers.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{Staging, docker_manifest, oci_layout};

    /// JSON in the shapes an archive holds, with hostile strings in it.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let text = prop_oneof![
            "[a-z/.]{0,12}",
            Just("../../etc/passwd".to_owned()),
            Just("/etc/passwd".to_owned()),
            Just(format!("sha256:{}", "a".repeat(64))),
            Just("application/vnd.oci.image.index.v1+json".to_owned()),
            Just("application/vnd.oci.image.manifest.v1+json".to_owned()),
        ];
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            text.prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    "(Config|Layers|RepoTags|manifests|digest|mediaType|config|layers|size|annotations)",
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_archive_metadata_is_answered(manifest in json(), index in json(), blob in json()) {
            let dir = tempfile::tempdir().unwrap();
            let staging = Staging(dir.path().join("staging"));
            std::fs::create_dir_all(staging.0.join("blobs/sha256")).unwrap();
            std::fs::write(staging.0.join("manifest.json"), manifest.to_string()).unwrap();
            std::fs::write(staging.0.join("index.json"), index.to_string()).unwrap();
            std::fs::write(staging.0.join("blobs/sha256").join("a".repeat(64)), blob.to_string()).unwrap();
            let _ = docker_manifest(&staging);
            let _ = oci_layout(&staging);
        }
    }
}
