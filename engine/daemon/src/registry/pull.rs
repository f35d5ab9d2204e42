//! `docker pull`: a tag (or digest) → manifest (through an index, for this platform) → config
//! → the layers this daemon lacks, streamed into the store → the image, then its names.
//!
//! Nothing of a failed pull stays: manifests and the config are stored only once every layer
//! is in, and layers this pull added are removed again unless another pull or an image uses them.

use std::sync::Arc;

use futures_util::future::join_all;
use http::{Method, StatusCode, header};

use super::layers::{LayerFetch, follow};
use super::metadata::KnownBlob;
use super::session::{Call, Session, read_limited};
use super::verify::check_bytes;
use super::{AuthConfig, Progress, Registry, RegistryError};
use crate::digest::Digest;
use crate::image::manifest::{ACCEPTED_MANIFESTS, Descriptor, Document, Manifest, Platform};
use crate::image::{ImageConfig, Images};
use crate::reference::Reference;
use crate::store::{ImageRecord, StoreError};

/// The largest manifest or index berth reads (containerd's limit).
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// The largest image config berth reads.
const MAX_CONFIG: u64 = 32 * 1024 * 1024;

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// A tag or a digest; a bare name pulls every tag of the repository (`pull -a`).
    pub reference: Reference,
    /// The platform asked for (`--platform`); the daemon's own when none.
    pub platform: Option<Platform>,
    /// The client's credentials for this registry (`X-Registry-Auth`).
    pub auth: AuthConfig,
}

/// A manifest or index as received, verified.
struct Fetched {
    bytes: Vec<u8>,
    digest: Digest,
    document: Document,
}

/// What pulling one tag did.
struct Pulled {
    id: Digest,
    /// The tag (or digest) now names an image it did not name before.
    updated: bool,
}

impl Registry {
    /// Pull an image; returns its id. Progress goes to `progress` as Docker's messages.
    pub async fn pull(&self, request: PullRequest, progress: &Progress) -> Result<Digest, RegistryError> {
        let reference = &request.reference;
        let session = Arc::new(self.session(reference, "pull", request.auth.clone()).await?);
        if reference.tag().is_some() || reference.digest().is_some() {
            let pulled = self
                .pull_one(&session, reference, request.platform.as_ref(), progress)
                .await?;
            write_status(progress, pulled.updated, &reference.familiar_string());
            self.pull_event(reference);
            return Ok(pulled.id);
        }
        let tags = list_tags(&session, reference).await?;
        let mut updated = false;
        let mut last = None;
        for tag in tags {
            let tagged = reference.with_tag(&tag)?;
            let pulled = self
                .pull_one(&session, &tagged, request.platform.as_ref(), progress)
                .await?;
            updated |= pulled.updated;
            last = Some(pulled.id);
        }
        write_status(progress, updated, &reference.familiar_name());
        let last = last.ok_or_else(|| RegistryError::ManifestUnknown {
            reference: reference.familiar_name(),
            message: "the repository has no tags".into(),
        })?;
        self.pull_event(reference);
        Ok(last)
    }

    /// Docker's `pull` event: the reference as asked (`busybox:latest`, or `busybox` for every
    /// tag), named by its repository.
    fn pull_event(&self, reference: &Reference) {
        self.inner
            .images
            .event("pull", &reference.familiar_string(), &reference.familiar_name());
    }

    /// Pull one tag or digest.
    async fn pull_one(
        &self,
        session: &Arc<Session>,
        reference: &Reference,
        platform: Option<&Platform>,
        progress: &Progress,
    ) -> Result<Pulled, RegistryError> {
        let images = &self.inner.images;
        let store = images.store();
        let tag_or_digest = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.to_owned(),
            (None, None) => unreachable!("pull_one is given a tag or a digest"),
        };
        let top = fetch_manifest(session, reference, &tag_or_digest, reference.digest(), None).await?;
        // Docker names a tag pull by its tag, a digest pull by the whole reference.
        let pulling = match reference.digest() {
            Some(_) => reference.familiar_string(),
            None => tag_or_digest.clone(),
        };
        progress.status(Some(&pulling), format!("Pulling from {}", reference.path()));
        let wanted_platform = platform.cloned().unwrap_or_else(Platform::host);
        let repo_digest = top.digest.clone();
        let mut kept = vec![(top.digest.clone(), top.bytes)];
        let (manifest, from_index) = match top.document {
            Document::Manifest(manifest) => (*manifest, false),
            Document::Index(index) => {
                let chosen = Platform::select(&wanted_platform, &index.manifests)
                    .ok_or_else(|| RegistryError::NoMatchingPlatform(wanted_platform.to_string()))?
                    .clone();
                crate::explain!(
                    "picked the {} manifest {} from the index of {}",
                    chosen
                        .platform
                        .as_ref()
                        .map(Platform::to_string)
                        .unwrap_or_default(),
                    chosen.digest.short(),
                    reference.familiar_string()
                );
                let child = fetch_manifest(
                    session,
                    reference,
                    &chosen.digest.to_string(),
                    Some(&chosen.digest),
                    Some(chosen.size).filter(|size| *size > 0),
                )
                .await?;
                kept.push((child.digest.clone(), child.bytes));
                match child.document {
                    Document::Manifest(manifest) => (*manifest, true),
                    Document::Index(_) => {
                        return Err(RegistryError::BadRequest(format!(
                            "the index of {} names another index for {wanted_platform}: nested indexes are not supported",
                            reference.familiar_string()
                        )));
                    }
                }
            }
        };

        let id = manifest.config.digest.clone();
        let config_bytes = match store.blobs.read(&id) {
            Ok(bytes) => bytes,
            Err(_) => fetch_config(session, &manifest.config).await?,
        };
        let config =
            ImageConfig::from_slice(&config_bytes).map_err(|e| RegistryError::Config(e.to_string()))?;
        check_config(&config, &manifest, reference, platform.filter(|_| !from_index))?;
        let chain_ids = Digest::chain_ids(&config.rootfs.diff_ids);

        let wanted = self.inner.downloads.want(&chain_ids);
        let missing: Vec<usize> = (0..chain_ids.len())
            .filter(|&i| !store.layers.exists(&chain_ids[i]))
            .collect();
        if !(missing.is_empty() && store.images.exists(&id)) {
            for (i, layer) in manifest.layers.iter().enumerate() {
                let status = if missing.contains(&i) {
                    "Pulling fs layer"
                } else {
                    "Already exists"
                };
                progress.layer(layer.digest.short(), status);
            }
            let followers = missing.iter().map(|&i| {
                let fetch = LayerFetch {
                    blob: manifest.layers[i].clone(),
                    diff_id: config.rootfs.diff_ids[i].clone(),
                    chain_id: chain_ids[i].clone(),
                    parent: i.checked_sub(1).map(|p| chain_ids[p].clone()),
                };
                let state = self.inner.downloads.fetch(&fetch, session, images);
                let id = fetch.blob.digest.short().to_owned();
                async move { follow(state, &id, progress).await }
            });
            let failure = join_all(followers).await.into_iter().find_map(Result::err);
            if let Some(error) = failure {
                let added: Vec<Digest> = missing.iter().map(|&i| chain_ids[i].clone()).collect();
                let (downloads, images) = (self.inner.downloads.clone(), images.clone());
                let _ =
                    tokio::task::spawn_blocking(move || downloads.remove_unwanted(wanted, &added, &images))
                        .await;
                return Err(error);
            }
        }
        let register = {
            let (images, id, chain_ids) = (images.clone(), id.clone(), chain_ids.clone());
            tokio::task::spawn_blocking(move || {
                register_image(&images, &id, &config_bytes, &kept, &chain_ids)
            })
        };
        register
            .await
            .map_err(|e| RegistryError::Unreachable(format!("registering the image stopped: {e}")))??;
        drop(wanted);

        let known = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(blob, diff_id)| {
                (
                    diff_id.clone(),
                    KnownBlob {
                        digest: blob.digest.clone(),
                        media_type: blob.media_type.clone(),
                        size: blob.size,
                        registry: session.domain.clone(),
                        repository: session.repository.clone(),
                    },
                )
            });
        if let Err(e) = self.inner.metadata.remember(known) {
            tracing::warn!(
                "could not note where the layers of {} came from: {e}",
                reference.familiar_string()
            );
        }

        let updated = name_image(images, reference, &repo_digest, &id)?;
        progress.status(None, format!("Digest: {repo_digest}"));
        crate::explain!(
            "pulled {} as image {} ({} layers, {} fetched)",
            reference.familiar_string(),
            id.short(),
            chain_ids.len(),
            missing.len()
        );
        Ok(Pulled { id, updated })
    }
}

/// `Status: Downloaded newer image for busybox:latest` or `Status: Image is up to date for …`.
fn write_status(progress: &Progress, updated: bool, name: &str) {
    if updated {
        progress.status(None, format!("Status: Downloaded newer image for {name}"));
    } else {
        progress.status(None, format!("Status: Image is up to date for {name}"));
    }
}

/// GET a manifest by tag or digest, verified: against the digest asked for, or against the
/// `Docker-Content-Digest` the registry sent with a tag.
async fn fetch_manifest(
    session: &Session,
    reference: &Reference,
    tag_or_digest: &str,
    expected: Option<&Digest>,
    expected_size: Option<u64>,
) -> Result<Fetched, RegistryError> {
    let purpose = match expected {
        Some(digest) => format!(
            "asked {} for manifest {} of {}",
            session.domain,
            digest.short(),
            session.repository
        ),
        None => format!(
            "asked {} which manifest {}:{tag_or_digest} names",
            session.domain, session.repository
        ),
    };
    let mut call = Call::new(
        Method::GET,
        session.url(&format!("manifests/{tag_or_digest}")),
        purpose,
    );
    for media_type in ACCEPTED_MANIFESTS {
        call = call.header(header::ACCEPT, media_type);
    }
    let response = session.send(&call).await?;
    match response.status() {
        status if status.is_success() => {}
        StatusCode::NOT_FOUND => {
            let message = session.error(response).await.to_string();
            return Err(RegistryError::ManifestUnknown {
                reference: reference.familiar_string(),
                message,
            });
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let message = session.error(response).await.to_string();
            return Err(RegistryError::AccessDenied {
                action: "pull",
                repository: reference.familiar_name(),
                message,
            });
        }
        _ => return Err(session.error(response).await),
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let announced: Option<Digest> = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = read_limited(response, MAX_MANIFEST, "manifest").await?;
    let digest = Digest::of(&bytes);
    match (expected, announced) {
        (Some(expected), _) => check_bytes("manifest", &bytes, expected, expected_size)?,
        (None, Some(announced)) => check_bytes("manifest", &bytes, &announced, None)?,
        (None, None) => {}
    }
    let document = Document::parse(&content_type, &bytes)?;
    Ok(Fetched {
        bytes,
        digest,
        document,
    })
}

/// GET the image config blob, verified.
async fn fetch_config(session: &Session, config: &Descriptor) -> Result<Vec<u8>, RegistryError> {
    let call = Call::new(
        Method::GET,
        session.url(&format!("blobs/{}", config.digest)),
        format!(
            "asked {} for the image config {} of {}",
            session.domain,
            config.digest.short(),
            session.repository
        ),
    );
    let response = session.send(&call).await?;
    if !response.status().is_success() {
        return Err(session.error(response).await);
    }
    let bytes = read_limited(response, MAX_CONFIG, "image config").await?;
    check_bytes("image config", &bytes, &config.digest, Some(config.size))?;
    Ok(bytes)
}

/// The config must fit its manifest and this daemon (and the platform asked for, when the
/// registry offered no choice).
fn check_config(
    config: &ImageConfig,
    manifest: &Manifest,
    reference: &Reference,
    asked: Option<&Platform>,
) -> Result<(), RegistryError> {
    if !config.os.is_empty() && config.os != "linux" {
        return Err(RegistryError::Config(format!(
            "image operating system \"{}\" cannot be used on this platform",
            config.os
        )));
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::Config(format!(
            "the manifest of {} lists {} layers but its config {}",
            reference.familiar_string(),
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    if let Some(asked) = asked {
        let actual = Platform {
            architecture: config.architecture.clone(),
            os: if config.os.is_empty() {
                "linux".into()
            } else {
                config.os.clone()
            },
            variant: config.variant.clone(),
            ..Platform::default()
        };
        if !actual.satisfies(asked) {
            return Err(RegistryError::BadRequest(format!(
                "image with reference {} was found but does not match the specified platform: wanted {asked}, actual: {actual}",
                reference.familiar_string()
            )));
        }
    }
    Ok(())
}

/// Store the config and manifests and record the image, once every layer is in. Blocking.
fn register_image(
    images: &Images,
    id: &Digest,
    config: &[u8],
    manifests: &[(Digest, Vec<u8>)],
    chain_ids: &[Digest],
) -> Result<(), RegistryError> {
    let store = images.store();
    let _writing = store.writing();
    if let Some(gone) = chain_ids.iter().find(|c| !store.layers.exists(c)) {
        // Only an `image prune` racing this pull can do that.
        return Err(StoreError::LayerNotFound(gone.clone()).into());
    }
    if !store.blobs.exists(id) {
        store.blobs.put_stream(&mut &config[..], Some(id))?;
    }
    for (digest, bytes) in manifests {
        if !store.blobs.exists(digest) {
            store.blobs.put_stream(&mut &bytes[..], Some(digest))?;
        }
    }
    let mut record = store.images.find(id)?.unwrap_or_else(|| ImageRecord {
        top_layer: chain_ids.last().cloned(),
        ..ImageRecord::default()
    });
    let before = record.manifests.len();
    for (digest, _) in manifests {
        if !record.manifests.contains(digest) {
            record.manifests.push(digest.clone());
        }
    }
    if before != record.manifests.len() || !store.images.exists(id) {
        store.images.put(id, &record)?;
    }
    Ok(())
}

/// Point the tag (or digest) pulled, and `name@digest`, at the image. Returns whether the
/// reference asked for names an image it did not name before (Docker's "newer image").
fn name_image(
    images: &Images,
    reference: &Reference,
    repo_digest: &Digest,
    id: &Digest,
) -> Result<bool, RegistryError> {
    let tags = &images.store().tags;
    let by_digest = reference.with_digest(repo_digest.clone());
    let asked = if reference.digest().is_some() {
        by_digest.clone()
    } else {
        reference.clone()
    };
    let updated = tags.get(&asked).as_ref() != Some(id);
    if tags.get(&by_digest).as_ref() != Some(id) {
        images.set_tag(by_digest.clone(), id)?;
    }
    if asked != by_digest && updated {
        images.set_tag(asked, id)?;
    }
    Ok(updated)
}

/// `GET /v2/<repo>/tags/list`, for `pull --all-tags`.
async fn list_tags(session: &Session, reference: &Reference) -> Result<Vec<String>, RegistryError> {
    #[derive(serde::Deserialize)]
    struct TagList {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let call = Call::new(
        Method::GET,
        session.url("tags/list"),
        format!("asked {} which tags {} has", session.domain, session.repository),
    );
    let response = session.send(&call).await?;
    match response.status() {
        status if status.is_success() => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
            let message = session.error(response).await.to_string();
            return Err(RegistryError::AccessDenied {
                action: "pull",
                repository: reference.familiar_name(),
                message,
            });
        }
        _ => return Err(session.error(response).await),
    }
    let bytes = read_limited(response, MAX_MANIFEST, "tag list").await?;
    let list: TagList = serde_json::from_slice(&bytes).map_err(|e| {
        RegistryError::BadRequest(format!("unreadable tag list from {}: {e}", session.name()))
    })?;
    let mut tags = list.tags.unwrap_or_default();
    tags.sort();
    Ok(tags)
}
