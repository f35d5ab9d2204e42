//! `docker push`: each layer the registry lacks is uploaded (or mounted from another repository
//! of the same registry), then the config, then a manifest naming them under the tag.
//!
//! A layer pulled from a registry is pushed as the blob it was pulled as. A layer made here
//! (loaded, imported, committed) is kept as a plain tar, so it is gzip-compressed while it
//! uploads: its digest is known only at the end, which is what the distribution API's streamed
//! upload (`PATCH`, then `PUT ?digest=`) is for. Either way the blob's digest is remembered
//! (see `metadata`), so the next push of that layer asks the registry before sending anything.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::future::join_all;
use http::{Method, StatusCode, header};
use serde_json::json;

use super::metadata::KnownBlob;
use super::progress::human_size;
use super::session::{Call, Session};
use super::{AuthConfig, Progress, Registry, RegistryError};
use crate::digest::{Digest, DigestWriter};
use crate::image::manifest::{
    Descriptor, MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_LAYER_GZIP, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_CONFIG,
    MEDIA_OCI_LAYER_GZIP, MEDIA_OCI_LAYER_ZSTD, MEDIA_OCI_MANIFEST, Manifest,
};
use crate::image::{ImageConfig, Images};
use crate::reference::Reference;
use crate::store::{LayerRecord, StoreError};

/// How many other repositories a layer is tried to be mounted from before it is uploaded.
const MOUNT_ATTEMPTS: usize = 3;
/// Progress messages for one layer are sent at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Chunks of a streamed upload.
const CHUNK: usize = 256 * 1024;

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// `name:tag`, or a bare name for every tag of that repository.
    pub reference: Reference,
    /// The client's credentials for this registry (`X-Registry-Auth`).
    pub auth: AuthConfig,
}

impl Registry {
    /// Push the image(s) `request` names. Progress goes to `progress` as Docker's messages.
    pub async fn push(&self, request: PushRequest, progress: &Progress) -> Result<(), RegistryError> {
        let reference = &request.reference;
        progress.status(
            None,
            format!("The push refers to repository [{}]", reference.name()),
        );
        let targets = self.push_targets(reference)?;
        let session = Arc::new(self.session(reference, "pull,push", request.auth.clone()).await?);
        for (tagged, id) in targets {
            self.push_one(&session, &tagged, &id, progress).await?;
        }
        // Docker's `push` event: the reference as asked, named by its repository.
        self.inner
            .images
            .event("push", &reference.familiar_string(), &reference.familiar_name());
        Ok(())
    }

    /// The tags to push and their images.
    fn push_targets(&self, reference: &Reference) -> Result<Vec<(Reference, Digest)>, RegistryError> {
        if reference.digest().is_some() {
            return Err(RegistryError::BadRequest(format!(
                "cannot push a digest reference: {}",
                reference.familiar_string()
            )));
        }
        let tags = &self.inner.images.store().tags;
        let targets: Vec<(Reference, Digest)> = match reference.tag() {
            Some(_) => tags
                .get(reference)
                .map(|id| (reference.clone(), id))
                .into_iter()
                .collect(),
            None => tags
                .all()
                .into_iter()
                .filter(|(r, _)| r.name() == reference.name() && r.tag().is_some() && r.digest().is_none())
                .collect(),
        };
        if targets.is_empty() {
            return Err(RegistryError::NotLocal(reference.familiar_name()));
        }
        Ok(targets)
    }

    async fn push_one(
        &self,
        session: &Arc<Session>,
        tagged: &Reference,
        id: &Digest,
        progress: &Progress,
    ) -> Result<(), RegistryError> {
        let images = &self.inner.images;
        let store = images.store();
        let config_bytes = store.blobs.read(id)?;
        let config =
            ImageConfig::from_slice(&config_bytes).map_err(|e| RegistryError::Config(e.to_string()))?;
        let layers: Vec<LayerRecord> = Digest::chain_ids(&config.rootfs.diff_ids)
            .iter()
            .map(|chain_id| store.layers.get(chain_id))
            .collect::<Result<_, StoreError>>()?;
        for layer in &layers {
            progress.layer(layer.diff_id.short(), "Preparing");
        }
        let pushed = join_all(
            layers
                .iter()
                .map(|layer| self.push_layer(session, layer, progress)),
        )
        .await;
        let blobs: Vec<Descriptor> = pushed.into_iter().collect::<Result<_, _>>()?;
        push_config(session, id, &config_bytes).await?;

        // Docker's schema 2 unless a layer needs the OCI media types (zstd).
        let oci = blobs.iter().any(|b| b.media_type == MEDIA_OCI_LAYER_ZSTD);
        let manifest = Manifest {
            schema_version: 2,
            media_type: if oci {
                MEDIA_OCI_MANIFEST
            } else {
                MEDIA_DOCKER_MANIFEST
            }
            .into(),
            config: Descriptor::new(
                if oci {
                    MEDIA_OCI_CONFIG
                } else {
                    MEDIA_DOCKER_CONFIG
                },
                config_bytes.len() as u64,
                id.clone(),
            ),
            layers: blobs
                .into_iter()
                .map(|b| Descriptor::new(manifest_layer_type(&b.media_type, oci), b.size, b.digest))
                .collect(),
            annotations: Default::default(),
        };
        let bytes = manifest.to_docker_bytes();
        let digest = Digest::of(&bytes);
        let tag = tagged.tag().expect("push targets are tagged");
        let call = Call::new(
            Method::PUT,
            session.url(&format!("manifests/{tag}")),
            format!(
                "asked {} to store the manifest of {}:{tag} ({} layers)",
                session.domain,
                session.repository,
                manifest.layers.len()
            ),
        )
        .header(header::CONTENT_TYPE, &manifest.media_type)
        .body(bytes.clone());
        let response = session.send(&call).await?;
        if !response.status().is_success() {
            return Err(session.error(response).await);
        }
        progress.status(None, format!("{tag}: digest: {digest} size: {}", bytes.len()));
        progress.aux(json!({"Tag": tag, "Digest": digest.to_string(), "Size": bytes.len()}));

        let (images, id, tagged) = (images.clone(), id.clone(), tagged.clone());
        tokio::task::spawn_blocking(move || record_push(&images, &id, &tagged, &digest, &bytes))
            .await
            .map_err(|e| RegistryError::Unreachable(format!("recording the push stopped: {e}")))?
    }

    /// Make sure the registry has one layer; returns its descriptor there.
    async fn push_layer(
        &self,
        session: &Arc<Session>,
        layer: &LayerRecord,
        progress: &Progress,
    ) -> Result<Descriptor, RegistryError> {
        let id = layer.diff_id.short();
        let uploads = self.inner.uploads.clone();
        let _permit = match uploads.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                progress.layer(id, "Waiting");
                uploads
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        let store = self.inner.images.store();
        let known = self.inner.metadata.known(&layer.diff_id, &session.domain);
        let here = |repository: &str| repository == session.repository;

        // Already in this repository?
        let mut candidates: Vec<KnownBlob> = known.iter().filter(|k| here(&k.repository)).cloned().collect();
        if layer.blob != layer.diff_id {
            candidates.push(KnownBlob {
                digest: layer.blob.clone(),
                media_type: layer.blob_media_type.clone(),
                size: store.blobs.size(&layer.blob)?,
                registry: session.domain.clone(),
                repository: session.repository.clone(),
            });
        }
        let mut asked = Vec::new();
        for candidate in candidates {
            if asked.contains(&candidate.digest) {
                continue;
            }
            asked.push(candidate.digest.clone());
            if blob_exists(session, &candidate.digest).await? {
                progress.layer(id, "Layer already exists");
                return self.pushed(layer, session, candidate.descriptor());
            }
        }

        // In another repository of this registry: mount it, preferring the blob kept here.
        let mut sources: Vec<&KnownBlob> = known.iter().filter(|k| !here(&k.repository)).collect();
        sources.sort_by_key(|k| k.digest != layer.blob);
        for source in sources.into_iter().take(MOUNT_ATTEMPTS) {
            if try_mount(session, source).await {
                progress.layer(id, format!("Mounted from {}", source.repository));
                return self.pushed(layer, session, source.descriptor());
            }
        }

        let descriptor = if layer.blob != layer.diff_id {
            upload_stored(session, &self.inner.images, layer, progress).await?
        } else {
            upload_compressed(session, &self.inner.images, layer, progress).await?
        };
        progress.layer(id, "Pushed");
        self.pushed(layer, session, descriptor)
    }

    /// Remember that the registry now has the layer as `descriptor`'s blob.
    fn pushed(
        &self,
        layer: &LayerRecord,
        session: &Session,
        descriptor: Descriptor,
    ) -> Result<Descriptor, RegistryError> {
        let known = KnownBlob {
            digest: descriptor.digest.clone(),
            media_type: descriptor.media_type.clone(),
            size: descriptor.size,
            registry: session.domain.clone(),
            repository: session.repository.clone(),
        };
        if let Err(e) = self.inner.metadata.remember([(layer.diff_id.clone(), known)]) {
            tracing::warn!(
                "could not note that {} has layer {}: {e}",
                session.name(),
                layer.diff_id
            );
        }
        Ok(descriptor)
    }
}

impl KnownBlob {
    fn descriptor(&self) -> Descriptor {
        Descriptor::new(&self.media_type, self.size, self.digest.clone())
    }
}

/// The media type a layer blob gets in the manifest berth writes: Docker's names in a Docker
/// manifest (as Docker pushes OCI-pulled layers), OCI's in an OCI one.
fn manifest_layer_type(blob_type: &str, oci: bool) -> &str {
    match (blob_type, oci) {
        (MEDIA_OCI_LAYER_GZIP, false) => MEDIA_DOCKER_LAYER_GZIP,
        (MEDIA_DOCKER_LAYER_GZIP, true) => MEDIA_OCI_LAYER_GZIP,
        (other, _) => other,
    }
}

/// `HEAD /v2/<repo>/blobs/<digest>`: does the repository have it?
async fn blob_exists(session: &Session, digest: &Digest) -> Result<bool, RegistryError> {
    let call = Call::new(
        Method::HEAD,
        session.url(&format!("blobs/{digest}")),
        format!(
            "asked {} whether {} already has blob {}",
            session.domain,
            session.repository,
            digest.short()
        ),
    );
    let response = session.send(&call).await?;
    match response.status() {
        status if status.is_success() => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(session.error(response).await),
    }
}

/// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<other repo>`: 201 means mounted. A
/// registry that will not mount starts an ordinary upload instead, which is cancelled here.
async fn try_mount(session: &Session, source: &KnownBlob) -> bool {
    if session
        .add_scope(format!("repository:{}:pull", source.repository))
        .await
        .is_err()
    {
        return false;
    }
    let url = format!(
        "{}?mount={}&from={}",
        session.url("blobs/uploads/"),
        encode(&source.digest.to_string()),
        encode(&source.repository)
    );
    let call = Call::new(
        Method::POST,
        url,
        format!(
            "asked {} to mount blob {} from {} into {} instead of uploading it",
            session.domain,
            source.digest.short(),
            source.repository,
            session.repository
        ),
    );
    let Ok(response) = session.send(&call).await else {
        return false;
    };
    if response.status() == StatusCode::CREATED {
        return true;
    }
    if let Some(location) = location(&response, session) {
        crate::explain!(
            "{} would not mount blob {}: cancelled the upload it started instead",
            session.domain,
            source.digest.short()
        );
        let _ = session.request(Method::DELETE, &location).send().await;
    }
    false
}

fn location(response: &reqwest::Response, session: &Session) -> Option<String> {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| session.absolute(l))
}

/// `POST /v2/<repo>/blobs/uploads/`: where to send a new blob.
async fn start_upload(session: &Session, what: &str) -> Result<String, RegistryError> {
    let call = Call::new(
        Method::POST,
        session.url("blobs/uploads/"),
        format!(
            "asked {} to start an upload of {what} to {}",
            session.domain, session.repository
        ),
    );
    let response = session.send(&call).await?;
    if response.status() != StatusCode::ACCEPTED {
        return Err(session.error(response).await);
    }
    location(&response, session).ok_or_else(|| RegistryError::Registry {
        status: 202,
        message: "the registry started an upload without saying where to send it".into(),
    })
}

/// `<url>?…&key=value`, the value percent-encoded.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={}", encode(value))
}

/// Percent-encode a query value (digests have a `:`, repositories a `/`).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Progress of one layer's upload, throttled.
struct UploadProgress {
    progress: Progress,
    id: String,
    total: u64,
    sent: u64,
    last: Option<Instant>,
}

impl UploadProgress {
    fn advance(&mut self, bytes: u64) {
        self.sent += bytes;
        if self.last.is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL) {
            self.last = Some(Instant::now());
            self.progress
                .bytes(&self.id, "Pushing", self.sent.min(self.total), self.total);
        }
    }
}

/// A monolithic upload of a blob the store keeps as pushed (a pulled, compressed layer):
/// `POST` for a location, then one `PUT ?digest=` with the whole body, streamed from disk.
async fn upload_stored(
    session: &Session,
    images: &Images,
    layer: &LayerRecord,
    progress: &Progress,
) -> Result<Descriptor, RegistryError> {
    let store = images.store();
    let size = store.blobs.size(&layer.blob)?;
    let location = start_upload(session, &format!("layer {}", layer.blob.short())).await?;
    let file = tokio::fs::File::open(store.blobs.path(&layer.blob))
        .await
        .map_err(StoreError::io(format!("open blob {}", layer.blob)))?;
    let mut counter = UploadProgress {
        progress: progress.clone(),
        id: layer.diff_id.short().to_owned(),
        total: size,
        sent: 0,
        last: None,
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).inspect_ok(move |chunk| {
        counter.advance(chunk.len() as u64);
    });
    let url = with_query(&location, "digest", &layer.blob.to_string());
    let response = session
        .request(Method::PUT, &url)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|e| super::session::http_error(&Method::PUT, &url, &e))?;
    if !response.status().is_success() {
        return Err(session.error(response).await);
    }
    crate::explain!(
        "uploaded layer {} ({}) to {} in one request",
        layer.blob.short(),
        human_size(size),
        session.name()
    );
    let media_type = match layer.blob_media_type.as_str() {
        "" => MEDIA_DOCKER_LAYER_GZIP,
        other => other,
    };
    Ok(Descriptor::new(media_type, size, layer.blob.clone()))
}

/// A streamed upload of a plain layer, gzip-compressed on the way: `POST` for a location,
/// `PATCH` with the compressed stream, then `PUT ?digest=` once the digest is known.
async fn upload_compressed(
    session: &Session,
    images: &Images,
    layer: &LayerRecord,
    progress: &Progress,
) -> Result<Descriptor, RegistryError> {
    let store = images.store();
    let path = store.blobs.path(&layer.blob);
    let total = store.blobs.size(&layer.blob)?;
    let location = start_upload(session, &format!("layer {}", layer.diff_id.short())).await?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    let counter = UploadProgress {
        progress: progress.clone(),
        id: layer.diff_id.short().to_owned(),
        total,
        sent: 0,
        last: None,
    };
    let compressor = tokio::task::spawn_blocking(move || compress_into(&path, counter, sender));
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let response = session
        .request(Method::PATCH, &location)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| super::session::http_error(&Method::PATCH, &location, &e))?;
    if response.status() != StatusCode::ACCEPTED {
        // The compressor stops by itself: nobody reads what it writes any more.
        return Err(session.error(response).await);
    }
    let compressed = compressor
        .await
        .map_err(|e| RegistryError::Unreachable(format!("compressing layer stopped: {e}")))?
        .map_err(StoreError::io(format!("compress layer {}", layer.diff_id)))?;
    crate::explain!(
        "uploaded layer {} ({} uncompressed, {} as gzip) to {}, compressing it as it streamed",
        layer.diff_id.short(),
        human_size(total),
        human_size(compressed.1),
        session.name()
    );
    let next = location_or(&response, session, &location);
    let (digest, size) = compressed;
    let url = with_query(&next, "digest", &digest.to_string());
    let call = Call::new(
        Method::PUT,
        url,
        format!(
            "asked {} to finish the upload of layer {}",
            session.domain,
            digest.short()
        ),
    )
    .header(header::CONTENT_LENGTH, "0");
    let response = session.send(&call).await?;
    if !response.status().is_success() {
        return Err(session.error(response).await);
    }
    Ok(Descriptor::new(MEDIA_DOCKER_LAYER_GZIP, size, digest))
}

fn location_or(response: &reqwest::Response, session: &Session, fallback: &str) -> String {
    location(response, session).unwrap_or_else(|| fallback.to_owned())
}

/// Read a plain layer tar, gzip it, hash the result and hand it to the upload in chunks.
/// Deterministic: the same layer always compresses to the same bytes (no name, no time).
fn compress_into(
    path: &std::path::Path,
    mut counter: UploadProgress,
    sender: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<(Digest, u64)> {
    let mut input = File::open(path)?;
    let out = BufWriter::with_capacity(CHUNK, ChannelWriter(sender));
    let mut gzip = flate2::write::GzEncoder::new(DigestWriter::new(out), flate2::Compression::default());
    let mut buffer = vec![0; CHUNK];
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        gzip.write_all(&buffer[..n])?;
        counter.advance(n as u64);
    }
    let (digest, size, mut out) = gzip.finish()?.finish();
    out.flush()?;
    Ok((digest, size))
}

/// A `Write` that hands chunks to an upload body.
struct ChannelWriter(tokio::sync::mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The config blob, unless the registry has it.
async fn push_config(session: &Session, id: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
    if blob_exists(session, id).await? {
        return Ok(());
    }
    let location = start_upload(session, &format!("image config {}", id.short())).await?;
    let call = Call::new(
        Method::PUT,
        with_query(&location, "digest", &id.to_string()),
        format!(
            "asked {} to store the image config {} in {}",
            session.domain,
            id.short(),
            session.repository
        ),
    )
    .header(header::CONTENT_TYPE, "application/octet-stream")
    .body(bytes.to_vec());
    let response = session.send(&call).await?;
    if !response.status().is_success() {
        return Err(session.error(response).await);
    }
    Ok(())
}

/// Keep the pushed manifest and name the image `name@digest`, as Docker's RepoDigests show.
fn record_push(
    images: &Images,
    id: &Digest,
    tagged: &Reference,
    digest: &Digest,
    bytes: &[u8],
) -> Result<(), RegistryError> {
    let store = images.store();
    {
        let _writing = store.writing();
        if !store.blobs.exists(digest) {
            store.blobs.put_stream(&mut &bytes[..], Some(digest))?;
        }
        let mut record = images.record(id)?;
        if !record.manifests.contains(digest) {
            record.manifests.push(digest.clone());
            store.images.put(id, &record)?;
        }
    }
    let by_digest = tagged.with_digest(digest.clone());
    if store.tags.get(&by_digest).as_ref() != Some(id) {
        images.set_tag(by_digest, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        let digest = "sha256:abc";
        assert_eq!(
            with_query("http://r/v2/x/blobs/uploads/u?_state=s", "digest", digest),
            "http://r/v2/x/blobs/uploads/u?_state=s&digest=sha256%3Aabc"
        );
        assert_eq!(
            with_query("/u", "from", "library/busybox"),
            "/u?from=library%2Fbusybox"
        );
    }

    #[test]
    fn layer_media_types_follow_the_manifest_kind() {
        assert_eq!(
            manifest_layer_type(MEDIA_OCI_LAYER_GZIP, false),
            MEDIA_DOCKER_LAYER_GZIP
        );
        assert_eq!(
            manifest_layer_type(MEDIA_DOCKER_LAYER_GZIP, true),
            MEDIA_OCI_LAYER_GZIP
        );
        assert_eq!(
            manifest_layer_type(MEDIA_OCI_LAYER_ZSTD, true),
            MEDIA_OCI_LAYER_ZSTD
        );
    }

    #[test]
    fn compression_round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        let original = b"a plain layer tar".repeat(1000);
        std::fs::write(&path, &original).unwrap();
        let run = || {
            let (sender, mut receiver) = tokio::sync::mpsc::channel(1024);
            let counter = UploadProgress {
                progress: Progress::discard(),
                id: "x".into(),
                total: 17000,
                sent: 0,
                last: None,
            };
            let (digest, size) = compress_into(&path, counter, sender).unwrap();
            let mut bytes = Vec::new();
            while let Ok(chunk) = receiver.try_recv() {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(Digest::of(&bytes), digest);
            assert_eq!(bytes.len() as u64, size);
            bytes
        };
        let pushed = run();
        // What a registry receives is the layer, gzipped: it decompresses to the original.
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&pushed[..]), &mut unpacked).unwrap();
        assert_eq!(unpacked, original);
        assert!(pushed.len() < original.len() / 10, "it is compressed");
        // No time or name in the gzip header (bytes 4..8 are its mtime, 0 when unset), so
        // the same layer pushed twice has the same digest, as registries dedupe by it.
        assert_eq!(&pushed[4..8], &[0, 0, 0, 0]);
        assert_eq!(Digest::of(&pushed), Digest::of(&run()));
    }
}
