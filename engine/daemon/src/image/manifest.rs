//! Manifests and indexes: the JSON documents that name an image's config and layers by digest.
//!
//! Two families say the same thing: Docker's image manifest v2 schema 2 (and its manifest list)
//! and the OCI image spec's manifest (and image index). Archives (`save`/`load`) and registries
//! (`pull`/`push`) both read them with these types.
//!
//! ```text
//! index / manifest list ── manifests[] ──▶ manifest (one per platform)
//! manifest ── config ──▶ image config (its digest is the image id)
//!          └─ layers[] ─▶ layer blobs (tar, tar+gzip, tar+zstd), bottom first
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MEDIA_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MEDIA_DOCKER_FOREIGN_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker's old signed manifest (schema 1), which berth does not read.
pub const MEDIA_DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const MEDIA_DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest kind berth reads, as a registry's `Accept` header lists them.
pub const ACCEPTED_MANIFESTS: &[&str] = &[
    MEDIA_DOCKER_MANIFEST_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
];

/// A reference to content by digest, with its kind and size. Fields are in the order Docker
/// writes them (`mediaType`, `size`, `digest`), so a manifest berth pushes has Docker's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub size: u64,
    pub digest: Digest,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, size: u64, digest: Digest) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            size,
            digest,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
        }
    }

    /// An index entry that is itself an index (nested multi-platform images).
    pub fn is_index(&self) -> bool {
        self.media_type == MEDIA_OCI_INDEX || self.media_type == MEDIA_DOCKER_MANIFEST_LIST
    }
}

/// An image manifest: one config and its layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// The bytes Docker writes for a manifest it pushes: Go's `json.MarshalIndent` with three
    /// spaces. Same content, same bytes, same digest as Docker's push.
    pub fn to_docker_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"   ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        self.serialize(&mut serializer).expect("a manifest serializes");
        out
    }
}

/// An image index (Docker: manifest list): one manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A manifest or an index, as a registry answers for a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    Manifest(Box<Manifest>),
    Index(Index),
}

/// Why a document is not a manifest berth can read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// schema 1 manifests were deprecated by Docker and are not read by berth
    #[error("unsupported manifest format: Docker image manifest schema 1 ({0})")]
    Schema1(String),
    /// a media type that names neither a manifest nor an index
    #[error("unsupported manifest media type {0}")]
    MediaType(String),
    /// the JSON does not have a manifest's shape
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

impl Document {
    /// Parse a document whose media type a registry gave as `content_type` (its parameters
    /// ignored); when that says nothing useful, the document's own `mediaType` or shape decides.
    pub fn parse(content_type: &str, bytes: &[u8]) -> Result<Document, ManifestError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            schema_version: u32,
            #[serde(default)]
            media_type: String,
            manifests: Option<serde_json::Value>,
            config: Option<serde_json::Value>,
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        let declared = content_type.split(';').next().unwrap_or_default().trim();
        let media_type = match declared {
            "" | "application/json" | "text/plain" | "application/octet-stream" => probe.media_type.as_str(),
            other => other,
        };
        if probe.schema_version == 1
            || media_type == MEDIA_DOCKER_SCHEMA1
            || media_type == MEDIA_DOCKER_SCHEMA1_SIGNED
        {
            return Err(ManifestError::Schema1(media_type.to_owned()));
        }
        let invalid = |e: serde_json::Error| ManifestError::Invalid(e.to_string());
        match media_type {
            MEDIA_OCI_INDEX | MEDIA_DOCKER_MANIFEST_LIST => {
                Ok(Document::Index(serde_json::from_slice(bytes).map_err(invalid)?))
            }
            MEDIA_OCI_MANIFEST | MEDIA_DOCKER_MANIFEST => Ok(Document::Manifest(Box::new(
                serde_json::from_slice(bytes).map_err(invalid)?,
            ))),
            "" if probe.manifests.is_some() => {
                Ok(Document::Index(serde_json::from_slice(bytes).map_err(invalid)?))
            }
            "" if probe.config.is_some() => Ok(Document::Manifest(Box::new(
                serde_json::from_slice(bytes).map_err(invalid)?,
            ))),
            other => Err(ManifestError::MediaType(other.to_owned())),
        }
    }
}

/// The platform an image is for: `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(default, rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Platform {
    /// The platform this daemon runs containers for.
    pub fn host() -> Platform {
        let architecture = super::go_arch().to_owned();
        let variant = if architecture == "arm64" { "v8" } else { "" }.to_owned();
        Platform {
            architecture,
            os: "linux".into(),
            variant,
            ..Platform::default()
        }
    }

    /// Parse `os[/arch[/variant]]` or a lone architecture, normalised as containerd does
    /// (`x86_64` is `amd64`, `aarch64` is `arm64`).
    pub fn parse(text: &str) -> Result<Platform, String> {
        let lower = text.trim().to_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(format!("invalid platform {text:?}: expected os/arch[/variant]"));
        }
        let (os, architecture, variant) = match parts.as_slice() {
            ["linux"] => return Ok(Platform::host()),
            [arch] => ("linux", *arch, ""),
            [os, arch] => (*os, *arch, ""),
            [os, arch, variant] => (*os, *arch, *variant),
            _ => unreachable!("length checked above"),
        };
        if os != "linux" {
            return Err(format!(
                "invalid platform {text:?}: berth runs linux containers only"
            ));
        }
        let (architecture, variant) = normalize_arch(architecture, variant);
        Ok(Platform {
            architecture,
            os: os.to_owned(),
            variant,
            ..Platform::default()
        })
    }

    /// Whether an index entry for `self` can serve a request for `wanted`. An empty variant
    /// asked for accepts any; otherwise variants must agree (with `arm64` and `v8` meaning the same).
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        let (arch, variant) = normalize_arch(&self.architecture, &self.variant);
        let (wanted_arch, wanted_variant) = normalize_arch(&wanted.architecture, &wanted.variant);
        self.os == wanted.os
            && arch == wanted_arch
            && (wanted_variant.is_empty() || variant.is_empty() || variant == wanted_variant)
    }

    /// Pick the manifest for `wanted` from an index: an exact variant first, then any that fits.
    pub fn select<'a>(wanted: &Platform, entries: &'a [Descriptor]) -> Option<&'a Descriptor> {
        let fits = |d: &&Descriptor| d.platform.as_ref().is_some_and(|p| p.satisfies(wanted));
        let exact = |d: &&Descriptor| {
            d.platform.as_ref().is_some_and(|p| {
                normalize_arch(&p.architecture, &p.variant)
                    == normalize_arch(&wanted.architecture, &wanted.variant)
            })
        };
        entries
            .iter()
            .filter(fits)
            .find(exact)
            .or_else(|| entries.iter().find(fits))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// containerd's `platforms.Normalize` for the architectures berth meets: Debian's and the
/// kernel's names become Go's, and a missing variant becomes the architecture's usual one.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let (arch, usual_variant) = match arch {
        "i386" => ("386", ""),
        "x86_64" | "x86-64" | "amd64" => ("amd64", ""),
        "aarch64" | "arm64" => ("arm64", "v8"),
        "armhf" | "arm" => ("arm", "v7"),
        "armel" => ("arm", "v6"),
        other => (other, ""),
    };
    let variant = match variant {
        "" => usual_variant.to_owned(),
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => format!("v{digits}"),
        named => named.to_owned(),
    };
    // amd64's v1 is the baseline every amd64 machine runs: the same as no variant.
    if arch == "amd64" && variant == "v1" {
        return (arch.to_owned(), String::new());
    }
    (arch.to_owned(), variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn entry(platform: &str) -> Descriptor {
        let mut d = Descriptor::new(MEDIA_OCI_MANIFEST, 1, digest(platform.len() as u8));
        let parts: Vec<&str> = platform.split('/').collect();
        d.platform = Some(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).copied().unwrap_or_default().into(),
            ..Platform::default()
        });
        d
    }

    #[test]
    fn documents_are_told_apart_by_media_type_then_shape() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Document::parse(MEDIA_OCI_INDEX, index),
            Ok(Document::Index(_))
        ));
        assert!(matches!(Document::parse("", index), Ok(Document::Index(_))));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_DOCKER_MANIFEST}","config":{{"mediaType":"x","size":2,"digest":"{}"}},"layers":[]}}"#,
            digest(1)
        );
        let parsed = Document::parse("application/json; charset=utf-8", manifest.as_bytes()).unwrap();
        let Document::Manifest(m) = parsed else {
            panic!("a manifest")
        };
        assert_eq!(m.config.size, 2);
        assert_eq!(
            Document::parse(MEDIA_DOCKER_SCHEMA1_SIGNED, br#"{"schemaVersion":1}"#),
            Err(ManifestError::Schema1(MEDIA_DOCKER_SCHEMA1_SIGNED.into()))
        );
        assert!(matches!(
            Document::parse("application/vnd.example", br#"{"schemaVersion":2}"#),
            Err(ManifestError::MediaType(_))
        ));
    }

    #[test]
    fn docker_bytes_use_three_space_indent_and_dockers_key_order() {
        let m = Manifest {
            schema_version: 2,
            media_type: MEDIA_DOCKER_MANIFEST.into(),
            config: Descriptor::new(MEDIA_DOCKER_CONFIG, 7, digest(1)),
            layers: vec![Descriptor::new(MEDIA_DOCKER_LAYER_GZIP, 9, digest(2))],
            annotations: BTreeMap::new(),
        };
        let text = String::from_utf8(m.to_docker_bytes()).unwrap();
        let expected = format!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{MEDIA_DOCKER_MANIFEST}\",\n   \"config\": {{\n      \"mediaType\": \"{MEDIA_DOCKER_CONFIG}\",\n      \"size\": 7,\n      \"digest\": \"{}\"\n   }},\n   \"layers\": [\n      {{\n         \"mediaType\": \"{MEDIA_DOCKER_LAYER_GZIP}\",\n         \"size\": 9,\n         \"digest\": \"{}\"\n      }}\n   ]\n}}",
            digest(1),
            digest(2)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn platforms_parse_and_normalise() {
        assert_eq!(Platform::parse("linux/amd64").unwrap().to_string(), "linux/amd64");
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(Platform::parse("arm64").unwrap().to_string(), "linux/arm64/v8");
        assert_eq!(Platform::parse("linux/arm").unwrap().to_string(), "linux/arm/v7");
        assert_eq!(
            Platform::parse("linux/arm/v6").unwrap().to_string(),
            "linux/arm/v6"
        );
        assert!(Platform::parse("windows/amd64").is_err());
        assert!(Platform::parse("linux//x").is_err());
    }

    #[test]
    fn selection_prefers_the_exact_variant() {
        let entries = vec![
            entry("linux/arm/v6"),
            entry("linux/arm/v7"),
            entry("linux/amd64"),
            entry("linux/arm64/v8"),
        ];
        let pick = |p: &str| {
            Platform::select(&Platform::parse(p).unwrap(), &entries)
                .and_then(|d| d.platform.clone())
                .map(|p| p.to_string())
        };
        assert_eq!(pick("linux/amd64").as_deref(), Some("linux/amd64"));
        assert_eq!(pick("linux/arm64").as_deref(), Some("linux/arm64/v8"));
        assert_eq!(pick("linux/arm/v6").as_deref(), Some("linux/arm/v6"));
        assert_eq!(pick("linux/arm").as_deref(), Some("linux/arm/v7"));
        assert_eq!(pick("linux/s390x"), None);
    }
}
