//! `docker rmi` and `docker image prune`, with Docker's rules for what may go.
//!
//! Removing by name drops that reference; the image itself goes only with its last reference.
//! Removing by id drops the image (and its references when they all lie in one repository).
//! Running containers block removal even with force; stopped ones and other references block
//! it unless forced. Layers go when no image or container needs them any more.

use berth_api::types::{ImageDeleteResponseItem, ImagePruneResponse};

use super::{ImageError, ImageUser, Images};
use crate::digest::Digest;
use crate::reference::Reference;

/// Which conflicts stop a deletion (Docker's conflictType bits).
#[derive(Debug, Clone, Copy)]
struct Checks {
    dependent_child: bool,
    running_container: bool,
    active_reference: bool,
    stopped_container: bool,
}

impl Checks {
    const HARD: Checks = Checks {
        dependent_child: true,
        running_container: true,
        active_reference: false,
        stopped_container: false,
    };
    const ALL: Checks = Checks {
        dependent_child: true,
        running_container: true,
        active_reference: true,
        stopped_container: true,
    };
}

/// A reason an image can't be deleted.
struct Conflict {
    id: Digest,
    hard: bool,
    /// A container uses the image (as opposed to references pointing at it).
    used: bool,
    message: String,
}

impl Conflict {
    fn into_error(self) -> ImageError {
        let force = if self.hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        ImageError::Conflict(format!(
            "conflict: unable to delete {} ({force}) - {}",
            self.id.short(),
            self.message
        ))
    }
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn untagged(reference: &Reference) -> ImageDeleteResponseItem {
    ImageDeleteResponseItem {
        untagged: Some(reference.familiar_string()),
        deleted: None,
    }
}

/// Docker's `isSingleReference`: at most one tag, and every digest reference in its repository.
fn is_single_reference(references: &[Reference]) -> bool {
    if references.len() <= 1 {
        return references.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut digest_repos = std::collections::BTreeSet::new();
    for reference in references {
        if reference.digest().is_some() {
            digest_repos.insert(reference.name());
        } else if single.is_none() {
            single = Some(reference);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&references[0]);
    digest_repos.len() == 1 && digest_repos.contains(&single.name())
}

/// Docker's `isImageIDPrefix`.
fn is_id_prefix(id: &Digest, name: &str) -> bool {
    id.to_string().starts_with(name) || id.hex().starts_with(name)
}

impl Images {
    /// `DELETE /images/{name}?force=…&noprune=…`.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        prune_parents: bool,
        users: &[ImageUser],
    ) -> Result<Vec<ImageDeleteResponseItem>, ImageError> {
        let id = self.resolve(name)?;
        let mut records = Vec::new();
        let mut references = self.store.tags.references_to(&id);
        let using = |id: &Digest| users.iter().find(|u| &u.image == id);
        let mut quiet = false;

        if !is_id_prefix(&id, name) {
            if !force && is_single_reference(&references) {
                if let Some(user) = using(&id) {
                    return Err(ImageError::Conflict(format!(
                        "conflict: unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                        short_id(&user.container_id),
                        id.short()
                    )));
                }
            }
            let reference = Reference::parse_normalized(name)?.with_default_tag();
            self.untag(&id, &reference, &mut records)?;
            references = self.store.tags.references_to(&id);
            // Untagging the last tag of a repository also drops that repository's digest references.
            if reference.digest().is_none()
                && !references
                    .iter()
                    .any(|r| r.digest().is_none() && r.name() == reference.name())
            {
                for digested in references
                    .iter()
                    .filter(|r| r.digest().is_some() && r.name() == reference.name())
                {
                    // Dropped along with the tag: reported, but dockerd logs no event for it.
                    self.store.tags.remove(digested)?;
                    records.push(untagged(digested));
                }
                references = self.store.tags.references_to(&id);
            }
            if !references.is_empty() {
                return Ok(records);
            }
            quiet = true;
        } else if is_single_reference(&references) {
            let checks = if force {
                Checks::HARD
            } else {
                Checks {
                    active_reference: false,
                    ..Checks::ALL
                }
            };
            if let Some(conflict) = self.conflict(&id, checks, users)? {
                return Err(conflict.into_error());
            }
            for reference in &references {
                self.untag(&id, reference, &mut records)?;
            }
        }
        self.delete_image(&id, &mut records, force, prune_parents, quiet, users)?;
        Ok(records)
    }

    /// Drop one reference to image `id`, as rmi reports it, and log Docker's `untag` (which
    /// names the image by its id, not by the reference).
    fn untag(
        &self,
        id: &Digest,
        reference: &Reference,
        records: &mut Vec<ImageDeleteResponseItem>,
    ) -> Result<(), ImageError> {
        self.store.tags.remove(reference)?;
        records.push(untagged(reference));
        self.event("untag", &id.to_string(), &id.to_string());
        Ok(())
    }

    /// Docker's `imageDeleteHelper`: check conflicts, drop every reference, delete the image and
    /// the layers no longer needed, then (with prune) the parent when nothing else holds it.
    fn delete_image(
        &self,
        id: &Digest,
        records: &mut Vec<ImageDeleteResponseItem>,
        force: bool,
        prune_parents: bool,
        quiet: bool,
        users: &[ImageUser],
    ) -> Result<(), ImageError> {
        let checks = if force { Checks::HARD } else { Checks::ALL };
        if let Some(conflict) = self.conflict(id, checks, users)? {
            // Docker's `imageIsDangling`: no reference and no child. A parent that other images
            // still build on ends the pruning quietly, as a tagged one does.
            let dangling = self.store.tags.references_to(id).is_empty() && self.children(id)?.is_empty();
            if quiet && (!dangling || conflict.used) {
                return Ok(());
            }
            return Err(conflict.into_error());
        }
        let parent = self.record(id)?.parent;
        for reference in self.store.tags.references_to(id) {
            self.untag(id, &reference, records)?;
        }
        let removed_layers = {
            let _writing = self.store.writing();
            self.store.images.remove(id)?;
            // Gone: Docker's `delete` event carries no labels.
            self.event("delete", &id.to_string(), &id.to_string());
            records.push(ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(id.to_string()),
            });
            let before = self.store.layers.list()?;
            drop(_writing);
            let container_layers: Vec<Digest> = users.iter().filter_map(|u| u.top_layer.clone()).collect();
            self.store.collect_garbage(&container_layers)?;
            let after = self.store.layers.list()?;
            before
                .into_iter()
                .filter(|l| !after.contains(l))
                .collect::<Vec<_>>()
        };
        for layer in removed_layers {
            records.push(ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(layer.to_string()),
            });
        }
        match parent {
            Some(parent) if prune_parents && self.store.images.exists(&parent) => {
                self.delete_image(&parent, records, false, prune_parents, true, users)
            }
            _ => Ok(()),
        }
    }

    fn conflict(
        &self,
        id: &Digest,
        checks: Checks,
        users: &[ImageUser],
    ) -> Result<Option<Conflict>, ImageError> {
        let conflict = |hard, used, message: String| {
            Some(Conflict {
                id: id.clone(),
                hard,
                used,
                message,
            })
        };
        if checks.dependent_child && !self.children(id)?.is_empty() {
            return Ok(conflict(true, false, "image has dependent child images".into()));
        }
        if checks.running_container {
            if let Some(user) = users.iter().find(|u| &u.image == id && u.running) {
                let message = format!(
                    "image is being used by running container {}",
                    short_id(&user.container_id)
                );
                return Ok(conflict(true, true, message));
            }
        }
        if checks.active_reference && !self.store.tags.references_to(id).is_empty() {
            return Ok(conflict(
                false,
                false,
                "image is referenced in multiple repositories".into(),
            ));
        }
        if checks.stopped_container {
            if let Some(user) = users.iter().find(|u| &u.image == id && !u.running) {
                let message = format!(
                    "image is being used by stopped container {}",
                    short_id(&user.container_id)
                );
                return Ok(conflict(false, true, message));
            }
        }
        Ok(None)
    }

    /// `POST /images/prune`: dangling images (or, with `all`, every image no container uses)
    /// that the filters select.
    pub fn prune(
        &self,
        all: bool,
        filter: &crate::prune::PruneFilter,
        users: &[ImageUser],
    ) -> Result<ImagePruneResponse, ImageError> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0i64;
        for id in self.store.images.list()? {
            if !self.store.images.exists(&id)
                || users.iter().any(|u| u.image == id)
                || !self.children(&id)?.is_empty()
            {
                continue;
            }
            let config = self.config(&id)?;
            // An image without a creation time is as old as Go's zero time: before any `until`.
            let created = config.created.as_deref().unwrap_or("0001-01-01T00:00:00Z");
            if !filter.selects(created, config.container_config().labels.as_ref()) {
                continue;
            }
            let references = self.store.tags.references_to(&id);
            if !all && !references.is_empty() {
                continue;
            }
            let before = self.layer_sizes()?;
            let mut records = Vec::new();
            if references.is_empty() {
                self.remove(&id.to_string(), false, true, users)?
                    .into_iter()
                    .for_each(|r| records.push(r));
            } else {
                for reference in references {
                    match self.remove(&reference.to_string(), false, true, users) {
                        Ok(items) => records.extend(items),
                        Err(ImageError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            for record in &records {
                if let Some(layer) = record.deleted.as_deref().and_then(|d| d.parse::<Digest>().ok()) {
                    reclaimed += before
                        .iter()
                        .find(|(l, _)| *l == layer)
                        .map_or(0, |(_, s)| *s as i64);
                }
            }
            deleted.extend(records);
        }
        self.prune_event(reclaimed.max(0) as u64);
        Ok(ImagePruneResponse {
            images_deleted: if deleted.is_empty() { None } else { Some(deleted) },
            space_reclaimed: reclaimed,
        })
    }

    fn layer_sizes(&self) -> Result<Vec<(Digest, u64)>, ImageError> {
        let layers = &self.store.layers;
        Ok(layers
            .list()?
            .into_iter()
            .filter_map(|l| layers.get(&l).ok().map(|r| (l, r.size)))
            .collect())
    }
}
