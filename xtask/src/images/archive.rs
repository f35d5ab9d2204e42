//! The image archive: the combined layout Docker 25+ `docker save` writes.
//!
//! One tar holds both indexes a loader may look for:
//! - `manifest.json` (plus the legacy `repositories`), the docker-archive index every Docker
//!   since 1.10 reads, Docker 20.10 included;
//! - an OCI image layout: `oci-layout`, `index.json` (one manifest descriptor per tag, annotated
//!   with its names) and the OCI image manifests.
//!
//! Both point into `blobs/sha256/<hex>`, where configs, manifests and uncompressed layer tars are
//! each stored once, so the busybox layer every image shares appears a single time.

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
pub fn write(images: &[Entry<'_>], mtime: u64) -> io::Result<Vec<u8>> {
    // Borrowed, not copied: the Debian-built layers are hundreds of megabytes.
    let mut blobs: BTreeMap<Digest, Cow<'_, [u8]>> = BTreeMap::new();
    let mut manifest_json = Vec::new();
    let mut index_manifests = Vec::new();
    let mut repositories: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();

    for image in images {
        blobs
            .entry(image.config_digest.clone())
            .or_insert(Cow::Borrowed(image.config_json));
        for layer in &image.layers {
            blobs
                .entry(layer.diff_id.clone())
                .or_insert(Cow::Borrowed(&layer.tar));
        }

        let manifest = OciManifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST,
            config: plain_descriptor(MEDIA_CONFIG, image.config_digest, image.config_json.len()),
            layers: image
                .layers
                .iter()
                .map(|layer| plain_descriptor(MEDIA_LAYER_TAR, &layer.diff_id, layer.tar.len()))
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
            layers: image
                .layers
                .iter()
                .map(|layer| layer.diff_id.blob_path())
                .collect(),
        });
        // Docker 25+ names the top layer here; only pre-1.10 loaders read this file.
        if let Some(top) = image.layers.last() {
            repositories
                .entry(image.repository)
                .or_default()
                .insert(image.tag, top.diff_id.hex());
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
