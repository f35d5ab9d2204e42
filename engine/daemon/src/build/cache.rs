//! The build cache of Docker's classic builder: a step is skipped when a local image was
//! committed from the same parent with the same container config (whose `Cmd` names the
//! instruction, and for COPY and ADD the checksum of what they copy). No separate cache store:
//! the images are the cache, so `docker rmi` and `docker image prune` empty it, as in Docker.
//!
//! With `--cache-from`, Docker's history-based cache ([`CacheFrom`]) decides instead: a local
//! image counts only if it is an ancestor of one of those images, and a step is otherwise
//! found in their histories (images pulled or loaded have no local parent chain), an image
//! being restored for it from the source's layers.

use berth_api::types::{ContainerConfig, EmptyObjectSet};

use crate::digest::Digest;
use crate::image::{ImageConfig, ImageError, Images, RootFs};
use crate::store::ImageRecord;

/// The local images as the cache sees them: read once per build, so that each step's probe is
/// a scan in memory rather than a read of every image on disk.
#[derive(Debug, Default)]
pub struct CacheIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    id: Digest,
    parent: Option<Digest>,
    made_by: ContainerConfig,
    /// RFC 3339; times of one daemon compare as text.
    created: String,
}

impl CacheIndex {
    /// Read every local image's parent and container config.
    pub fn load(images: &Images) -> Result<CacheIndex, ImageError> {
        let store = images.store();
        let mut entries = Vec::new();
        for id in store.images.list()? {
            let Some(record) = store.images.find(&id)? else {
                continue;
            };
            let Ok(config) = images.config(&id) else {
                continue;
            };
            let Some(made_by) = config.container_config else {
                continue;
            };
            entries.push(Entry {
                id,
                parent: record.parent,
                made_by,
                created: config.created.unwrap_or_default(),
            });
        }
        Ok(CacheIndex { entries })
    }

    /// The newest image made from `parent` (`None`: `FROM scratch`) by a container configured
    /// as `config`, if it is still there.
    pub fn probe(
        &self,
        images: &Images,
        parent: Option<&Digest>,
        config: &ContainerConfig,
    ) -> Option<Digest> {
        self.entries
            .iter()
            .filter(|e| e.parent.as_ref() == parent && same_step(&e.made_by, config))
            .filter(|e| images.store().images.exists(&e.id))
            .max_by(|a, b| a.created.cmp(&b.created))
            .map(|e| e.id.clone())
    }
}

/// `--cache-from`'s images and the history walk over them (Docker's `image/cache.ImageCache`).
#[derive(Debug, Default)]
pub struct CacheFrom {
    /// The source images (local ones only, as Docker looks them up), with their configs.
    sources: Vec<(Digest, ImageConfig)>,
}

impl CacheFrom {
    /// The sources that resolve locally; the others are skipped, as Docker skips them.
    pub fn new(images: &Images, names: &[String]) -> CacheFrom {
        let sources = names
            .iter()
            .filter_map(|name| {
                let id = images.resolve(name).ok()?;
                let config = images.config(&id).ok()?;
                Some((id, config))
            })
            .collect();
        CacheFrom { sources }
    }

    /// Docker's `ImageCache.GetCache`.
    pub fn probe(
        &mut self,
        images: &Images,
        local: &CacheIndex,
        parent: Option<&Digest>,
        config: &ContainerConfig,
    ) -> Result<Option<Digest>, ImageError> {
        if let Some(hit) = local.probe(images, parent, config) {
            if self
                .sources
                .iter()
                .any(|(source, _)| is_ancestor(images, source, &hit))
            {
                return Ok(Some(hit));
            }
        }
        let parent_config = parent.map(|p| images.config(p)).transpose()?;
        let depth = parent_config.as_ref().map_or(0, |p| p.history.len());
        let command = config.cmd.as_ref().map(|c| c.0.join(" ")).unwrap_or_default();
        let found = self.sources.iter().find(|(_, target)| {
            valid_parent(target, parent_config.as_ref())
                && target
                    .history
                    .get(depth)
                    .is_some_and(|step| step.created_by == command)
        });
        let Some((target_id, target)) = found.cloned() else {
            return Ok(None);
        };
        if target.history.len() - 1 == depth {
            if let Some(parent) = parent {
                set_parent(images, &target_id, parent)?;
            }
            return Ok(Some(target_id));
        }
        let restored = restore(images, parent, parent_config.as_ref(), &target, depth, config)?;
        // Docker stays with this source from here on.
        self.sources = vec![(target_id, target)];
        Ok(Some(restored))
    }
}

/// Whether `ancestor` is `image`'s parent, or its parent's, and so on.
fn is_ancestor(images: &Images, image: &Digest, ancestor: &Digest) -> bool {
    let mut current = images
        .store()
        .images
        .find(image)
        .ok()
        .flatten()
        .and_then(|r| r.parent);
    // A parent chain is as long as the images are many at most.
    let mut steps = 0;
    while let Some(parent) = current {
        if &parent == ancestor {
            return true;
        }
        steps += 1;
        if steps > 10_000 {
            return false;
        }
        current = images
            .store()
            .images
            .find(&parent)
            .ok()
            .flatten()
            .and_then(|r| r.parent);
    }
    false
}

/// Docker's `isValidParent`: the target's history and layers begin with the parent's.
fn valid_parent(target: &ImageConfig, parent: Option<&ImageConfig>) -> bool {
    if target.history.is_empty() {
        return false;
    }
    let Some(parent) = parent else {
        return true;
    };
    if parent.history.is_empty() && parent.rootfs.diff_ids.is_empty() {
        return true;
    }
    parent.history.len() < target.history.len()
        && parent.rootfs.diff_ids.len() <= target.rootfs.diff_ids.len()
        && target.history.starts_with(&parent.history)
        && target.rootfs.diff_ids.starts_with(&parent.rootfs.diff_ids)
}

fn set_parent(images: &Images, id: &Digest, parent: &Digest) -> Result<(), ImageError> {
    let mut record = images.record(id)?;
    record.parent = Some(parent.clone());
    images.store().images.put(id, &record)?;
    Ok(())
}

/// Docker's `restoreCachedImage`: the parent's history and layers plus the target's step at
/// `depth` (and its layer, if it has one), as an image of its own.
fn restore(
    images: &Images,
    parent: Option<&Digest>,
    parent_config: Option<&ImageConfig>,
    target: &ImageConfig,
    depth: usize,
    config: &ContainerConfig,
) -> Result<Digest, ImageError> {
    let mut history = parent_config.map(|p| p.history.clone()).unwrap_or_default();
    let mut diff_ids = parent_config
        .map(|p| p.rootfs.diff_ids.clone())
        .unwrap_or_default();
    let step = target.history[depth].clone();
    if !step.empty_layer {
        let layer_index = target.history[..depth].iter().filter(|h| !h.empty_layer).count();
        if let Some(diff_id) = target.rootfs.diff_ids.get(layer_index) {
            diff_ids.push(diff_id.clone());
        }
    }
    history.push(step);
    let restored = ImageConfig {
        architecture: target.architecture.clone(),
        author: target.author.clone(),
        config: Some(config.clone()),
        created: history.last().and_then(|h| h.created.clone()),
        docker_version: crate::image::ENGINE_VERSION.into(),
        history,
        os: target.os.clone(),
        os_version: target.os_version.clone(),
        rootfs: RootFs {
            r#type: "layers".into(),
            diff_ids: diff_ids.clone(),
        },
        ..ImageConfig::default()
    };
    let store = images.store();
    let id = store.blobs.put_bytes(&restored.to_canonical_bytes())?;
    let record = ImageRecord {
        top_layer: Digest::chain_ids(&diff_ids).last().cloned(),
        parent: parent.cloned(),
        ..ImageRecord::default()
    };
    store.images.put(&id, &record)?;
    Ok(id)
}

/// Docker's `compare` of two container configs for the cache: the fields an instruction can
/// change, never the image or host name; a config that keeps stdin open never matches.
fn same_step(a: &ContainerConfig, b: &ContainerConfig) -> bool {
    if a.open_stdin || b.open_stdin {
        return false;
    }
    a.attach_stdout == b.attach_stdout
        && a.attach_stderr == b.attach_stderr
        && a.user == b.user
        && a.tty == b.tty
        && a.cmd.as_ref().map(|c| &c.0) == b.cmd.as_ref().map(|c| &c.0)
        && a.env.as_deref().unwrap_or_default() == b.env.as_deref().unwrap_or_default()
        && a.labels.clone().unwrap_or_default() == b.labels.clone().unwrap_or_default()
        && keys(a.exposed_ports.as_ref()) == keys(b.exposed_ports.as_ref())
        && a.entrypoint.as_ref().map(|c| &c.0) == b.entrypoint.as_ref().map(|c| &c.0)
        && keys(a.volumes.as_ref()) == keys(b.volumes.as_ref())
}

fn keys(set: Option<&EmptyObjectSet>) -> Vec<&String> {
    set.map(|s| s.keys().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use berth_api::types::StrSlice;

    use super::*;

    fn config(cmd: &[&str]) -> ContainerConfig {
        ContainerConfig {
            cmd: Some(StrSlice(cmd.iter().map(|s| s.to_string()).collect())),
            env: Some(vec!["PATH=/bin".into()]),
            ..ContainerConfig::default()
        }
    }

    #[test]
    fn a_step_matches_on_what_instructions_change_only() {
        let a = config(&["/bin/sh", "-c", "echo hi"]);
        let mut b = a.clone();
        b.hostname = "other".into();
        b.image = "sha256:1234".into();
        assert!(same_step(&a, &b));
        b.env = Some(vec!["PATH=/bin".into(), "A=1".into()]);
        assert!(!same_step(&a, &b));
        assert!(!same_step(&a, &config(&["/bin/sh", "-c", "echo ho"])));
        let mut open = a.clone();
        open.open_stdin = true;
        assert!(!same_step(&open, &open));
        // No env and an empty env are one and the same to Docker's length check.
        let (mut x, mut y) = (a.clone(), a.clone());
        x.env = None;
        y.env = Some(Vec::new());
        assert!(same_step(&x, &y));
    }
}
