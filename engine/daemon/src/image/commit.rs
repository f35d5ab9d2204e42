//! `docker commit`: a container's writable layer becomes a new image on top of its image.

use std::fs::File;
use std::path::Path;

use berth_api::types::ContainerConfig;

use super::archive::MEDIA_DOCKER_LAYER_TAR;
use super::import::ENGINE_VERSION;
use super::{History, ImageError, Images, apply_changes, time};
use crate::digest::Digest;
use crate::reference::Reference;
use crate::store::{ImageRecord, StoreError, temp_name};

/// What `POST /commit` asks for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `repo` (may carry a tag), empty for an untagged image.
    pub repo: String,
    pub tag: String,
    pub author: String,
    pub comment: String,
    /// `-c` Dockerfile instructions applied to the new image's config.
    pub changes: Vec<String>,
}

impl CommitOptions {
    /// The reference to tag the new image with, as asked: `repo:tag`, or `repo` alone when no
    /// tag was given (stored as `repo:latest`, but named so in events, as Docker does).
    pub fn reference(&self) -> Result<Option<Reference>, ImageError> {
        if self.repo.is_empty() {
            return Ok(None);
        }
        let reference = Reference::parse_normalized(&self.repo)?;
        Ok(Some(match self.tag.as_str() {
            "" => reference,
            tag => reference.with_tag(tag)?,
        }))
    }
}

/// The container being committed.
#[derive(Debug)]
pub struct CommitSource<'a> {
    pub container_id: &'a str,
    pub config: &'a ContainerConfig,
    /// The image the container was made from.
    pub image: &'a Digest,
    /// The chain id the container stands on.
    pub top_layer: Option<&'a Digest>,
    /// The container's overlay upper dir: its changes.
    pub upper: &'a Path,
}

/// A container's changes to record as an image: what `docker commit` and each build step
/// hand to [`Images::commit_container`].
#[derive(Debug)]
pub struct CommitRequest<'a> {
    pub container_id: &'a str,
    /// The image the container was made from: the new image's parent (`None`: a build's
    /// `FROM scratch`, whose first image has no parent).
    pub image: Option<&'a Digest>,
    /// The chain id the container stands on.
    pub top_layer: Option<&'a Digest>,
    /// The container's overlay upper dir: its changes.
    pub upper: &'a Path,
    /// The new image's config.
    pub config: ContainerConfig,
    /// What the container ran (the history's `created_by` is its command, as Docker's).
    pub container_config: ContainerConfig,
    pub author: String,
    pub comment: String,
}

/// The diff of an unchanged container: a tar of no entries. Docker records no layer for it, only
/// a history step marked `empty_layer`.
const NO_CHANGES: u64 = 0;

impl Images {
    pub fn commit(&self, source: &CommitSource<'_>, options: &CommitOptions) -> Result<Digest, ImageError> {
        let reference = options.reference()?;
        let mut new_config = source.config.clone();
        apply_changes(&mut new_config, &options.changes)?;
        let id = self.commit_container(CommitRequest {
            container_id: source.container_id,
            image: Some(source.image),
            top_layer: source.top_layer,
            upper: source.upper,
            config: new_config,
            container_config: source.config.clone(),
            author: options.author.clone(),
            comment: options.comment.clone(),
        })?;
        // Docker tags (and logs `tag`) before the container's `commit` event.
        if let Some(reference) = reference {
            self.set_tag(reference.clone().with_default_tag(), &id)?;
            self.event("tag", &id.to_string(), &reference.familiar_string());
        }
        crate::explain!(container = %source.container_id, "committed the container's writable layer as image {id}");
        Ok(id)
    }

    /// Record a container's changes as a new image on top of its image: a layer when the
    /// container changed files, an `empty_layer` history step when it did not.
    pub fn commit_container(&self, request: CommitRequest<'_>) -> Result<Digest, ImageError> {
        let parent = match request.image {
            Some(image) => self.config(image)?,
            None => super::ImageConfig {
                architecture: super::import::go_arch().into(),
                os: "linux".into(),
                rootfs: super::config::RootFs {
                    r#type: "layers".into(),
                    diff_ids: Vec::new(),
                },
                ..super::ImageConfig::default()
            },
        };

        let _writing = self.store.writing();
        let tar_path = self.store.root().join("tmp").join(temp_name("commit"));
        let layer = (|| {
            let file = File::create(&tar_path).map_err(StoreError::io("create the commit's layer tar"))?;
            let stats = crate::layer::diff_layer(request.upper, std::io::BufWriter::new(file))
                .map_err(StoreError::from)?;
            if stats.entries == NO_CHANGES {
                return Ok(None);
            }
            let tar = File::open(&tar_path).map_err(StoreError::io("reopen the commit's layer tar"))?;
            self.store
                .layers
                .create(
                    &self.store.blobs,
                    request.top_layer,
                    None,
                    MEDIA_DOCKER_LAYER_TAR,
                    tar,
                )
                .map(Some)
        })();
        let _ = std::fs::remove_file(&tar_path);
        let layer = layer?;

        let created = time::now_rfc3339();
        let mut config = parent.clone();
        config.container = request.container_id.to_owned();
        config.config = Some(request.config);
        config.container_config = Some(request.container_config.clone());
        config.created = Some(created.clone());
        config.docker_version = ENGINE_VERSION.into();
        config.author = request.author.clone();
        config.comment = request.comment.clone();
        config.history.push(History {
            created: Some(created),
            author: request.author,
            created_by: request
                .container_config
                .cmd
                .as_ref()
                .map(|c| c.0.join(" "))
                .unwrap_or_default(),
            comment: request.comment,
            empty_layer: layer.is_none(),
        });
        let top_layer = match &layer {
            Some(layer) => {
                config.rootfs.diff_ids.push(layer.diff_id.clone());
                Some(layer.chain_id.clone())
            }
            None => request.top_layer.cloned(),
        };
        let id = self.store.blobs.put_bytes(&config.to_canonical_bytes())?;
        let record = ImageRecord {
            top_layer,
            parent: request.image.cloned(),
            ..ImageRecord::default()
        };
        self.store.images.put(&id, &record)?;
        Ok(id)
    }
}
