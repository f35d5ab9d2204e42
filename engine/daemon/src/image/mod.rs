//! Images as Docker shows them: resolve a name, list, inspect, history, tag, delete, prune,
//! load, save and import. Built on the [`crate::store`]; the kernel is never touched here
//! (unpacking goes through [`crate::layer`]).

mod archive;
mod changes;
mod commit;
mod config;
mod import;
/// Manifests and indexes (Docker schema 2, OCI), shared by archives and the registry.
pub mod manifest;
mod remove;
pub mod time;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use berth_api::types::{
    GraphDriverData, ImageHistoryResponseItem, ImageInspect, ImageMetadata, ImageRootFs, ImageSummary,
};

pub use archive::SaveSelection;
pub use changes::{ChangeError, apply_changes, normalize_port};
pub use commit::{CommitOptions, CommitRequest, CommitSource};
pub use config::{History, ImageConfig, RootFs};
pub use import::{ENGINE_VERSION, ImportOptions, go_arch};

use crate::digest::Digest;
use crate::events::Events;
use crate::reference::{Reference, ReferenceError};
use crate::store::{ImageRecord, Store, StoreError};

/// Why an image operation failed. The HTTP layer maps each kind to Docker's status code.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// no image by that name or id (404)
    #[error("No such image: {0}")]
    NotFound(String),
    /// a name that is not a valid reference (400)
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// a request that can't be honoured as asked (400)
    #[error("{0}")]
    BadRequest(String),
    /// the image is in use or referenced in a way that forbids the operation (409)
    #[error("{0}")]
    Conflict(String),
    /// a bad `-c` change (400)
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// an archive that isn't a loadable image archive (400)
    #[error("invalid image archive: {0}")]
    Archive(String),
    /// the store failed (500)
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `image inspect`'s words for a failed lookup (dockerd wraps it); the status is the cause's
    #[error("no such image: {name}: {source}")]
    Inspect { name: String, source: Box<ImageError> },
    /// a new name that does not parse (a tag's target, a name to save): dockerd gives such an
    /// error no kind, so it answers 500
    #[error(transparent)]
    NewName(ReferenceError),
}

/// A container standing on an image: rmi and prune must know, as Docker's do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub container_id: String,
    pub image: Digest,
    pub running: bool,
    /// The chain id the container's overlay stands on: kept even if the image is removed (`rmi -f`).
    pub top_layer: Option<Digest>,
}

/// The image service: Docker's image commands over the store.
#[derive(Debug, Clone)]
pub struct Images {
    store: Arc<Store>,
    /// Where Docker's image events (`tag`, `untag`, `delete`, `load`…) are published.
    events: Arc<Events>,
    /// Orders container creation against removal: a create holds it shared from resolving its
    /// image until the container is listed; a removal or prune exclusively from counting the
    /// images' users until it is done — so no container is listed on an image just deleted.
    usage: Arc<std::sync::RwLock<()>>,
}

/// The storage driver name berth reports (it is overlayfs underneath, as Docker's overlay2).
pub const DRIVER_NAME: &str = "overlay2";

impl Images {
    pub fn new(store: Arc<Store>, events: Arc<Events>) -> Images {
        Images {
            store,
            events,
            usage: Arc::default(),
        }
    }

    /// Held by a container create from resolving its image until it is listed.
    pub fn use_guard(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.usage.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Held by an image removal or prune from counting the images' users until it is done.
    pub fn removal_guard(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.usage.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish an image event as dockerd's `LogImageEvent`: `actor` is an image id or a
    /// reference, `name` the reference the action concerns (an image id for untag, delete,
    /// load, save and import). The image's labels go along while it still exists (not for
    /// `delete`, as in Docker).
    pub(crate) fn event(&self, action: &str, actor: &str, name: &str) {
        let mut attributes = self
            .resolve(actor)
            .and_then(|id| self.config(&id))
            .ok()
            .and_then(|config| config.container_config().labels)
            .unwrap_or_default();
        if !name.is_empty() {
            attributes.insert("name".into(), name.into());
        }
        self.events.publish("image", action, actor, attributes);
    }

    /// Docker's `prune` event for images.
    pub(crate) fn prune_event(&self, reclaimed: u64) {
        self.events.publish_prune("image", reclaimed);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Find an image the way Docker does: an exact id, a tag or digest reference, then an id prefix.
    pub fn resolve(&self, name: &str) -> Result<Digest, ImageError> {
        if let Ok(id) = name.parse::<Digest>() {
            if self.store.images.exists(&id) {
                return Ok(id);
            }
        }
        let parsed = Reference::parse_normalized(name).map(Reference::with_default_tag);
        if let Ok(reference) = &parsed {
            if let Some(id) = self.store.tags.get(reference) {
                return Ok(id);
            }
        }
        if let [id] = self.store.images.search(name)?.as_slice() {
            return Ok(id.clone());
        }
        Err(match parsed {
            Ok(reference) => ImageError::NotFound(reference.familiar_string()),
            // 64 hex digits name an image id (Docker's `ParseAnyReference`): not found.
            Err(ReferenceError::HexName(_)) => ImageError::NotFound(name.to_owned()),
            // A name that is no reference at all is the client's mistake (400), as in Docker.
            Err(e) => e.into(),
        })
    }

    /// The parsed config of an image.
    pub fn config(&self, id: &Digest) -> Result<ImageConfig, ImageError> {
        let bytes = self.store.blobs.read(id)?;
        ImageConfig::from_slice(&bytes).map_err(|e| ImageError::Archive(format!("config {id}: {e}")))
    }

    pub fn record(&self, id: &Digest) -> Result<ImageRecord, ImageError> {
        self.store
            .images
            .find(id)?
            .ok_or_else(|| ImageError::NotFound(id.to_string()))
    }

    /// The top layer's chain id: what a container's overlay stands on.
    pub fn top_layer(&self, id: &Digest) -> Result<Option<Digest>, ImageError> {
        Ok(self.record(id)?.top_layer)
    }

    /// Bytes of all the image's layers, as Docker's SIZE column counts them.
    pub fn size(&self, id: &Digest) -> Result<u64, ImageError> {
        let mut size = 0;
        let mut next = self.record(id)?.top_layer;
        while let Some(chain_id) = next {
            let layer = self.store.layers.get(&chain_id)?;
            size += layer.size;
            next = layer.parent;
        }
        Ok(size)
    }

    /// The layers that more than one image stands on (Docker's `SharedSize` counts these).
    fn shared_layers(&self) -> Result<BTreeSet<Digest>, ImageError> {
        let mut seen = BTreeSet::new();
        let mut shared = BTreeSet::new();
        for id in self.store.images.list()? {
            let mut next = self.record(&id)?.top_layer;
            while let Some(chain_id) = next {
                if !seen.insert(chain_id.clone()) {
                    shared.insert(chain_id.clone());
                }
                next = self.store.layers.get(&chain_id)?.parent;
            }
        }
        Ok(shared)
    }

    /// Bytes of the image's layers that other images share.
    fn shared_size(&self, id: &Digest, shared: &BTreeSet<Digest>) -> Result<u64, ImageError> {
        let mut size = 0;
        let mut next = self.record(id)?.top_layer;
        while let Some(chain_id) = next {
            let layer = self.store.layers.get(&chain_id)?;
            if shared.contains(&chain_id) {
                size += layer.size;
            }
            next = layer.parent;
        }
        Ok(size)
    }

    /// Bytes of every layer in the store, each counted once (`system df`'s `LayersSize`).
    pub fn layers_size(&self) -> Result<u64, ImageError> {
        let mut size = 0;
        for chain_id in self.store.layers.list()? {
            // A layer being made or removed right now has no record: it counts as nothing yet.
            size += self.store.layers.get(&chain_id).map_or(0, |layer| layer.size);
        }
        Ok(size)
    }

    /// Tags (`busybox:latest`) and digests (`busybox@sha256:…`) naming an image, familiar form.
    fn names(&self, id: &Digest) -> (Vec<String>, Vec<String>) {
        let (mut tags, mut digests) = (Vec::new(), Vec::new());
        for reference in self.store.tags.references_to(id) {
            if reference.digest().is_some() {
                digests.push(reference.familiar_string());
            } else {
                tags.push(reference.familiar_string());
            }
        }
        (tags, digests)
    }

    /// Images whose recorded parent is `id` (committed from it).
    fn children(&self, id: &Digest) -> Result<Vec<Digest>, ImageError> {
        let mut children = Vec::new();
        for other in self.store.images.list()? {
            if self.store.images.find(&other)?.and_then(|r| r.parent).as_ref() == Some(id) {
                children.push(other);
            }
        }
        Ok(children)
    }

    /// How many images the store holds (the metrics' `berth_images`).
    pub fn count(&self) -> usize {
        self.store.images.list().map_or(0, |ids| ids.len())
    }

    /// `GET /images/json`: newest first, as Docker lists them.
    pub fn list(&self, filters: &ListFilters, users: &[ImageUser]) -> Result<Vec<ImageSummary>, ImageError> {
        let before = filters
            .before
            .as_deref()
            .map(|n| self.created_of(n))
            .transpose()?;
        let since = filters.since.as_deref().map(|n| self.created_of(n)).transpose()?;
        let mut summaries = Vec::new();
        let shared = if filters.disk_usage {
            Some(self.shared_layers()?)
        } else {
            None
        };
        for id in self.store.images.list()? {
            let config = self.config(&id)?;
            let record = self.record(&id)?;
            let created = config.created_unix();
            let labels = config.container_config().labels;
            let (mut tags, mut digests) = self.names(&id);
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            if !filters.labels.iter().all(|l| label_matches(labels.as_ref(), l)) {
                continue;
            }
            if !filters.references.is_empty() {
                tags.retain(|t| {
                    filters
                        .references
                        .iter()
                        .any(|pattern| reference_matches(pattern, t))
                });
                digests.retain(|d| {
                    filters
                        .references
                        .iter()
                        .any(|pattern| reference_matches(pattern, d))
                });
                if tags.is_empty() && digests.is_empty() {
                    continue;
                }
            }
            let dangling = tags.is_empty() && digests.is_empty();
            match filters.dangling {
                Some(true) if !dangling => continue,
                Some(false) if dangling => continue,
                _ => {}
            }
            if dangling && !filters.all && !self.children(&id)?.is_empty() {
                continue;
            }
            let size = self.size(&id)? as i64;
            summaries.push(ImageSummary {
                containers: if filters.disk_usage {
                    users.iter().filter(|u| u.image == id).count() as i64
                } else {
                    -1
                },
                created,
                id: id.to_string(),
                labels,
                parent_id: record.parent.map(|p| p.to_string()).unwrap_or_default(),
                repo_digests: Some(if dangling {
                    vec!["<none>@<none>".into()]
                } else {
                    digests
                }),
                repo_tags: Some(if dangling {
                    vec!["<none>:<none>".into()]
                } else {
                    tags
                }),
                shared_size: match &shared {
                    Some(shared) => self.shared_size(&id, shared)? as i64,
                    None => -1,
                },
                size,
                virtual_size: size,
            });
        }
        summaries.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then_with(|| a.repo_tags.cmp(&b.repo_tags))
        });
        Ok(summaries)
    }

    fn created_of(&self, name: &str) -> Result<i64, ImageError> {
        Ok(self.config(&self.resolve(name)?)?.created_unix())
    }

    /// `GET /images/{name}/json`.
    pub fn inspect(&self, name: &str) -> Result<ImageInspect, ImageError> {
        let id = self.resolve(name).map_err(|source| ImageError::Inspect {
            name: name.to_owned(),
            source: Box::new(source),
        })?;
        let config = self.config(&id)?;
        let record = self.record(&id)?;
        let (tags, digests) = self.names(&id);
        let size = self.size(&id)? as i64;
        let mut graph_data = BTreeMap::new();
        if let Some(top) = &record.top_layer {
            let lowers = self.store.layers.lower_dirs(top)?;
            let (upper, rest) = lowers.split_first().expect("a chain has a top layer");
            graph_data.insert("UpperDir".into(), upper.display().to_string());
            if !rest.is_empty() {
                let joined: Vec<String> = rest.iter().map(|p| p.display().to_string()).collect();
                graph_data.insert("LowerDir".into(), joined.join(":"));
            }
        }
        Ok(ImageInspect {
            id: id.to_string(),
            repo_tags: tags,
            repo_digests: digests,
            parent: record.parent.map(|p| p.to_string()).unwrap_or_default(),
            comment: config.comment.clone(),
            created: config.created.clone().unwrap_or_default(),
            container: config.container.clone(),
            container_config: config.container_config.clone().unwrap_or_default(),
            docker_version: config.docker_version.clone(),
            author: config.author.clone(),
            config: config.container_config(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
            os: config.os.clone(),
            os_version: config.os_version.clone(),
            size,
            virtual_size: size,
            graph_driver: GraphDriverData {
                data: graph_data,
                name: DRIVER_NAME.into(),
            },
            root_fs: ImageRootFs {
                r#type: config.rootfs.r#type.clone(),
                layers: config.rootfs.diff_ids.iter().map(Digest::to_string).collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: record.last_tag_time,
            },
        })
    }

    /// `GET /images/{name}/history`: newest step first; each layer step carries its layer's size.
    pub fn history(&self, name: &str) -> Result<Vec<ImageHistoryResponseItem>, ImageError> {
        let id = self.resolve(name)?;
        let config = self.config(&id)?;
        let chain_ids = Digest::chain_ids(&config.rootfs.diff_ids);
        let mut layer_index = 0;
        let mut items = Vec::new();
        for step in &config.history {
            let mut size = 0;
            if !step.empty_layer {
                let chain_id = chain_ids.get(layer_index).ok_or_else(|| {
                    ImageError::Archive(format!(
                        "image {id} has more layer steps in its history than layers"
                    ))
                })?;
                size = self.store.layers.get(chain_id)?.size as i64;
                layer_index += 1;
            }
            items.push(ImageHistoryResponseItem {
                comment: step.comment.clone(),
                created: step.created.as_deref().map(time::parse_unix).unwrap_or(0),
                created_by: step.created_by.clone(),
                id: "<missing>".into(),
                size,
                tags: None,
            });
        }
        items.reverse();
        // The newest step is the image itself; older ones are its local parents, when known.
        let mut current = Some(id);
        for item in items.iter_mut() {
            let Some(image) = current.take() else { break };
            let tags: Vec<String> = self.names(&image).0;
            item.id = image.to_string();
            item.tags = if tags.is_empty() { None } else { Some(tags) };
            current = self.store.images.find(&image)?.and_then(|r| r.parent);
        }
        Ok(items)
    }

    /// `POST /images/{name}/tag?repo=…&tag=…`.
    pub fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<(), ImageError> {
        let id = self.resolve(name)?;
        let mut target = Reference::parse_normalized(repo).map_err(ImageError::NewName)?;
        if !tag.is_empty() {
            target = target.with_tag(tag).map_err(ImageError::NewName)?;
        }
        if target.digest().is_some() {
            return Err(ImageError::BadRequest(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        if target.path() == "library/sha256" || target.path() == "sha256" {
            return Err(ImageError::BadRequest(
                "refusing to create an ambiguous tag using digest algorithm as name".into(),
            ));
        }
        self.set_tag(target.clone().with_default_tag(), &id)?;
        // Named as asked: `repo` alone when no tag was given (Docker's CLI always sends one).
        self.event("tag", &id.to_string(), &target.familiar_string());
        Ok(())
    }

    /// Point a reference at an image and note the time on the image.
    pub(crate) fn set_tag(&self, reference: Reference, id: &Digest) -> Result<(), ImageError> {
        let _writing = self.store.writing();
        self.store.tags.set(reference, id)?;
        let mut record = self.record(id)?;
        record.last_tag_time = time::now_rfc3339();
        self.store.images.put(id, &record)?;
        Ok(())
    }
}

/// Filters of `GET /images/json` (`all`, and the `filters` JSON's dangling, label, reference,
/// before and since).
#[derive(Debug, Clone, Default)]
pub struct ListFilters {
    pub all: bool,
    pub dangling: Option<bool>,
    pub labels: Vec<String>,
    pub references: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
    /// Fill `Containers` and `SharedSize`, as `system df` asks (Docker leaves them -1 otherwise).
    pub disk_usage: bool,
}

/// `label=key` or `label=key=value`.
pub fn label_matches(labels: Option<&BTreeMap<String, String>>, filter: &str) -> bool {
    let Some(labels) = labels else { return false };
    match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter),
    }
}

/// Docker's reference filter: a shell pattern against the familiar name, or name:tag.
fn reference_matches(pattern: &str, familiar: &str) -> bool {
    let name = familiar.split(['@']).next().unwrap_or(familiar);
    let repo = name
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map_or(name, |(r, _)| r);
    let glob = crate::pattern::matches;
    glob(pattern, familiar) || glob(pattern, name) || glob(pattern, repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_matches_name_or_tag() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(!reference_matches("busybox:1", "busybox:latest"));
        assert!(reference_matches("localhost:5000/*", "localhost:5000/app:v1"));
    }
}
