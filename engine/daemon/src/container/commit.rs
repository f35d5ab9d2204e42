//! `docker commit` and `docker diff` of a container.

use berth_api::types::ContainerChange;

use super::{ContainerError, Containers};
use crate::digest::Digest;
use crate::image::{CommitOptions, CommitSource};
use crate::layer;

impl Containers {
    /// `POST /commit?container=…`.
    pub async fn commit(&self, name: &str, options: CommitOptions) -> Result<Digest, ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        let images = self.inner.images.clone();
        let upper = container.paths.upper();
        // What Docker's `commit` event says besides the container's name, image and labels.
        let comment = options.comment.clone();
        let image_ref = options
            .reference()?
            .map(|r| r.familiar_string())
            .unwrap_or_default();
        let id = tokio::task::spawn_blocking(move || {
            let source = CommitSource {
                container_id: &record.id,
                config: &record.config,
                image: &record.image,
                top_layer: record.top_layer.as_ref(),
                upper: &upper,
            };
            images.commit(&source, &options)
        })
        .await??;
        self.event(
            &container,
            "commit",
            &[
                ("comment", comment),
                ("imageID", id.to_string()),
                ("imageRef", image_ref),
            ],
        );
        Ok(id)
    }

    /// `GET /containers/{id}/changes`: A (1), C (0) and D (2) entries, as Docker's overlay walker.
    pub async fn changes(&self, name: &str) -> Result<Vec<ContainerChange>, ContainerError> {
        let container = self.get(name)?;
        let record = container.record();
        let lowers = match &record.top_layer {
            Some(top) => self.inner.images.store().layers.lower_dirs(top)?,
            None => Vec::new(),
        };
        let upper = container.paths.upper();
        let changes = tokio::task::spawn_blocking(move || {
            let lowers: Vec<&std::path::Path> = lowers.iter().map(|p| p.as_path()).collect();
            layer::changes(&upper, &lowers)
        })
        .await?
        .map_err(|e| ContainerError::Internal(e.to_string()))?;
        Ok(changes
            .into_iter()
            .map(|c| ContainerChange {
                path: c.path.display().to_string(),
                kind: c.kind.code(),
            })
            .collect())
    }
}
