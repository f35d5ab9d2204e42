//! `docker import`: a root filesystem tar becomes a one-layer image.

use std::io::Read;

use berth_api::types::ContainerConfig;

use super::archive::MEDIA_DOCKER_LAYER_TAR;
use super::{History, ImageConfig, ImageError, Images, RootFs, apply_changes, time};
use crate::digest::Digest;
use crate::reference::Reference;
use crate::store::ImageRecord;

/// What `POST /images/create?fromSrc=…` carries besides the tar.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `repo` (may carry a tag: `example/app:v1`); empty for an untagged image.
    pub repo: String,
    pub tag: String,
    /// `-m`: the commit message, shown as the image's comment.
    pub message: String,
    /// `-c`: Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// Where the tar came from, for the history comment (`-` for the request body).
    pub source: String,
}

/// Docker's name for the machine's architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// What berth writes in `docker_version`.
pub const ENGINE_VERSION: &str = concat!("berth-", env!("CARGO_PKG_VERSION"));

impl Images {
    /// Check an import's name and changes: what can fail before a byte of the tar is read.
    pub fn check_import(&self, options: &ImportOptions) -> Result<(), ImageError> {
        self.import_reference(options)?;
        apply_changes(&mut ContainerConfig::default(), &options.changes)?;
        Ok(())
    }

    /// The reference to tag the import with, as asked (`repo` alone is stored as `repo:latest`
    /// but named so in the `tag` event, as Docker does).
    fn import_reference(&self, options: &ImportOptions) -> Result<Option<Reference>, ImageError> {
        Ok(match options.repo.as_str() {
            "" => None,
            repo => {
                let mut reference = Reference::parse_normalized(repo)?;
                if !options.tag.is_empty() {
                    reference = reference.with_tag(&options.tag)?;
                }
                Some(reference)
            }
        })
    }

    /// Import `tar` as a new image; checks the name and changes before reading a byte.
    pub fn import(&self, tar: impl Read, options: &ImportOptions) -> Result<Digest, ImageError> {
        let reference = self.import_reference(options)?;
        let mut config = ContainerConfig::default();
        apply_changes(&mut config, &options.changes)?;

        let _writing = self.store.writing();
        let layer = self
            .store
            .layers
            .create(&self.store.blobs, None, None, MEDIA_DOCKER_LAYER_TAR, tar)?;
        let created = time::now_rfc3339();
        let comment = if options.message.is_empty() {
            format!("Imported from {}", options.source)
        } else {
            options.message.clone()
        };
        let image_config = ImageConfig {
            architecture: go_arch().into(),
            comment: options.message.clone(),
            config: Some(config),
            container_config: Some(ContainerConfig::default()),
            created: Some(created.clone()),
            docker_version: ENGINE_VERSION.into(),
            history: vec![History {
                created: Some(created),
                comment,
                ..History::default()
            }],
            os: "linux".into(),
            rootfs: RootFs {
                r#type: "layers".into(),
                diff_ids: vec![layer.diff_id.clone()],
            },
            ..ImageConfig::default()
        };
        let id = self.store.blobs.put_bytes(&image_config.to_canonical_bytes())?;
        self.store.images.put(
            &id,
            &ImageRecord {
                top_layer: Some(layer.chain_id),
                ..ImageRecord::default()
            },
        )?;
        drop(_writing);
        // Docker's order: the `tag` event, then `import`.
        if let Some(reference) = reference {
            self.set_tag(reference.clone().with_default_tag(), &id)?;
            self.event("tag", &id.to_string(), &reference.familiar_string());
        }
        self.event("import", &id.to_string(), &id.to_string());
        crate::explain!("imported image {id} from a root filesystem tar");
        Ok(id)
    }
}
