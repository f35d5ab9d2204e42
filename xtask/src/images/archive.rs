//! The image archive: the combined layout Docker 25+ `docker save` writes.
//!
//! One tar holds both indexes a loader may look for:
//! - `manifest.json` (plus the legacy `repositories`), the docker-archive index every Docker
//!   since 1.10 reads, Docker 20.10 included;
//! - an OCI image layout: `oci-layout`, `index.json` (one manifest descriptor per tag, annotated
//!   with its names) and the OCI image manifests.
//!
//! Both point into `blobs/sha256/<hex>`, where configs, manifests and layers are each stored
//! once, so the base layer every image shares appears a single time. Layers are plain tars, as
//! `docker save` writes them, or gzip-compressed as registries serve them ([`Layers::Gzip`]):
//! loaders recognise gzip by its first bytes, and the image ids (digests of the configs, which
//! name the uncompressed tars) are the same either way.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use super::digest::Digest;
use super::layer::Layer;
use super::tarball::DeterministicTar;

const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// What the archive holds of one image: its name, platform, config bytes and layers. The
/// stand-ins and the Debian-built images both come down to this.
pub struct Entry<'a> {
    pub repository: &'a str,
    pub tag: &'a str,
    pub architecture: &'a str,
    pub os: &'a str,
    /// The config as stored: its digest is the image id.
    pub config_json: &'a [u8],
    pub config_digest: &'a Digest,
    pub layers: Vec<&'a Layer>,
}

/// How the archive stores layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layers {
    /// Plain tars: the stand-ins are a few megabytes.
    Plain,
    /// gzip, fastest level: the Debian-built layers shrink to a third, for a second or two
    /// of decompression when they are loaded.
    Gzip,
}

/// A layer as stored: its blob's bytes, digest and media type.
struct StoredLayer<'a> {
    bytes: Cow<'a, [u8]>,
    digest: Digest,
    media_type: &'static str,
}

/// Every distinct layer of `images` as stored, by diff id; compressed on all cores.
fn store_layers<'a>(images: &[Entry<'a>], layers: Layers) -> io::Result<BTreeMap<Digest, StoredLayer<'a>>> {
    let mut distinct: BTreeMap<&Digest, &'a Layer> = BTreeMap::new();
    for image in images {
        for layer in &image.layers {
            distinct.entry(&layer.diff_id).or_insert(layer);
        }
    }
    let distinct: Vec<&'a Layer> = distinct.into_values().collect();
    let stored: Vec<io::Result<StoredLayer<'a>>> = match layers {
        Layers::Plain => distinct
            .iter()
            .map(|layer| {
                Ok(StoredLayer {
                    bytes: Cow::Borrowed(layer.tar.as_slice()),
                    digest: layer.diff_id.clone(),
                    media_type: MEDIA_LAYER_TAR,
                })
            })
            .collect(),
        Layers::Gzip => std::thread::scope(|scope| {
            let workers: Vec<_> = distinct
                .iter()
                .map(|layer| scope.spawn(move || gzip(&layer.tar)))
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    let bytes = worker.join().map_err(|_| io::Error::other("gzip panicked"))??;
                    Ok(StoredLayer {
                        digest: Digest::of(&bytes),
                        bytes: Cow::Owned(bytes),
                        media_type: MEDIA_LAYER_GZIP,
                    })
                })
                .collect()
        }),
    };
    distinct
        .iter()
        .zip(stored)
        .map(|(layer, stored)| Ok((layer.diff_id.clone(), stored?)))
        .collect()
}

/// gzip with a fixed header (no name, time 0), so the same tar always compresses the same.
fn gzip(tar: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(tar.len() / 3), flate2::Compression::fast());
    encoder.write_all(tar)?;
    encoder.finish()
}

/// An OCI content descriptor; field order as Docker writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'static str,
    digest: Digest,
    size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform<'a>>,
}

#[derive(Serialize)]
struct Platform<'a> {
    architecture: &'a str,
    os: &'a str,
}

/// An OCI image manifest: config and layers by digest.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

/// `index.json`: the manifests of the layout.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciIndex<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor<'a>>,
}

/// One image in `manifest.json`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// The archive's bytes for `images`, every entry stamped with `mtime`.
pub fn write(images: &[Entry<'_>], mtime: u64, layers: Layers) -> io::Result<Vec<u8>> {
    let stored = store_layers(images, layers)?;
    // Borrowed, not copied: the Debian-built layers are hundreds of megabytes.
    let mut blobs: BTreeMap<Digest, Cow<'_, [u8]>> = BTreeMap::new();
    let mut manifest_json = Vec::new();
    let mut index_manifests = Vec::new();
    let mut repositories: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();

    for image in images {
        blobs
            .entry(image.config_digest.clone())
            .or_insert(Cow::Borrowed(image.config_json));
        let image_layers: Vec<&StoredLayer<'_>> =
            image.layers.iter().map(|layer| &stored[&layer.diff_id]).collect();
        for layer in &image_layers {
            blobs
                .entry(layer.digest.clone())
                .or_insert(Cow::Borrowed(&layer.bytes));
        }

        let manifest = OciManifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST,
            config: plain_descriptor(MEDIA_CONFIG, image.config_digest, image.config_json.len()),
            layers: image_layers
                .iter()
                .map(|layer| plain_descriptor(layer.media_type, &layer.digest, layer.bytes.len()))
                .collect(),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        let manifest_digest = Digest::of(&manifest_bytes);

        let annotations = BTreeMap::from([
            (
                ANNOTATION_IMAGE_NAME,
                format!("{}:{}", full_name(image.repository), image.tag),
            ),
            (ANNOTATION_REF_NAME, image.tag.to_string()),
        ]);
        index_manifests.push(Descriptor {
            media_type: MEDIA_MANIFEST,
            digest: manifest_digest.clone(),
            size: manifest_bytes.len(),
            annotations: Some(annotations),
            platform: Some(Platform {
                architecture: image.architecture,
                os: image.os,
            }),
        });
        blobs.insert(manifest_digest, Cow::Owned(manifest_bytes));

        manifest_json.push(ManifestEntry {
            config: image.config_digest.blob_path(),
            repo_tags: vec![format!("{}:{}", image.repository, image.tag)],
            layers: image_layers
                .iter()
                .map(|layer| layer.digest.blob_path())
                .collect(),
        });
        // Docker 25+ names the top layer here; only pre-1.10 loaders read this file.
        if let Some(top) = image_layers.last() {
            repositories
                .entry(image.repository)
                .or_default()
                .insert(image.tag, top.digest.hex().to_owned());
        }
    }

    let index = OciIndex {
        schema_version: 2,
        media_type: MEDIA_INDEX,
        manifests: index_manifests,
    };

    // Sorted, as `docker save` walks its directory: blobs/, index.json, manifest.json, oci-layout, repositories.
    let mut tar = DeterministicTar::new(mtime);
    tar.dir("blobs", 0o755)?;
    tar.dir("blobs/sha256", 0o755)?;
    for (digest, bytes) in &blobs {
        tar.file(&digest.blob_path(), 0o644, bytes)?;
    }
    tar.file(
        "index.json",
        0o644,
        &serde_json::to_vec(&index).map_err(io::Error::other)?,
    )?;
    tar.file("manifest.json", 0o644, &json_line(&manifest_json)?)?;
    tar.file("oci-layout", 0o644, OCI_LAYOUT.as_bytes())?;
    tar.file("repositories", 0o644, &json_line(&repositories)?)?;
    tar.finish()
}

fn plain_descriptor<'a>(media_type: &'static str, digest: &Digest, size: usize) -> Descriptor<'a> {
    Descriptor {
        media_type,
        digest: digest.clone(),
        size,
        annotations: None,
        platform: None,
    }
}

/// JSON followed by a newline, as Go's `json.Encoder` writes it.
fn json_line(value: &impl Serialize) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The fully qualified name Docker records for a repository: `busybox` is
/// `docker.io/library/busybox`, `lab/web` is `docker.io/lab/web`, `localhost:5000/web` stays.
fn full_name(repository: &str) -> String {
    match repository.split_once('/') {
        None => format!("docker.io/library/{repository}"),
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => repository.to_string(),
        Some(_) => format!("docker.io/{repository}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_follow_docker_normalisation() {
        assert_eq!(full_name("busybox"), "docker.io/library/busybox");
        assert_eq!(
            full_name("berth-test-1/busybox"),
            "docker.io/berth-test-1/busybox"
        );
        assert_eq!(full_name("localhost:5000/web"), "localhost:5000/web");
        assert_eq!(full_name("registry.example/web"), "registry.example/web");
        assert_eq!(full_name("localhost/web"), "localhost/web");
    }
}
