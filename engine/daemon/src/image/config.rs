//! The image config: the JSON document whose digest is the image id.

use serde::{Deserialize, Serialize};

use berth_api::types::ContainerConfig;

use crate::digest::Digest;

/// An image config as Docker and the OCI image spec write it. Unknown fields are ignored when
/// reading; the stored bytes, not this struct, stay the source of truth for loaded images.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub os: String,
    #[serde(default, rename = "os.version", skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub rootfs: RootFs,
}

/// One step of how an image was made (a Dockerfile line, an import, a commit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The step changed only the config; no layer belongs to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The layers, bottom first, by the digests of their uncompressed tars.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    pub r#type: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// Parse a config blob.
    pub fn from_slice(bytes: &[u8]) -> serde_json::Result<ImageConfig> {
        serde_json::from_slice(bytes)
    }

    /// The bytes berth stores for a config it made, laid out as Docker writes them: top-level
    /// keys sorted (Docker merges them through a map), nested objects in their field order.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("an image config serializes");
        let serde_json::Value::Object(fields) = value else {
            unreachable!("a struct serializes to an object")
        };
        let mut keys: Vec<&String> = fields.keys().collect();
        keys.sort();
        let mut out = b"{".to_vec();
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend(serde_json::to_vec(key).expect("a key serializes"));
            out.push(b':');
            out.extend(self.field_json(key));
        }
        out.push(b'}');
        out
    }

    /// One top-level field, serialized straight from the struct so nested field order is kept.
    fn field_json(&self, key: &str) -> Vec<u8> {
        let to = |v: &dyn erased::Json| v.json();
        match key {
            "architecture" => to(&self.architecture),
            "author" => to(&self.author),
            "comment" => to(&self.comment),
            "config" => to(&self.config),
            "container" => to(&self.container),
            "container_config" => to(&self.container_config),
            "created" => to(&self.created),
            "docker_version" => to(&self.docker_version),
            "history" => to(&self.history),
            "os" => to(&self.os),
            "os.version" => to(&self.os_version),
            "variant" => to(&self.variant),
            "rootfs" => to(&self.rootfs),
            other => unreachable!("unknown image config field {other}"),
        }
    }

    /// The runnable part, with Docker's empty default when the image has none.
    pub fn container_config(&self) -> ContainerConfig {
        self.config.clone().unwrap_or_default()
    }

    /// Unix seconds of `created` (0 when missing or unreadable).
    pub fn created_unix(&self) -> i64 {
        self.created
            .as_deref()
            .map(crate::image::time::parse_unix)
            .unwrap_or(0)
    }
}

/// Serializing any field through one function pointer.
mod erased {
    pub trait Json {
        fn json(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Vec<u8> {
            serde_json::to_vec(self).expect("an image config field serializes")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dockers_config_and_writes_sorted_keys() {
        let docker = r#"{"architecture":"amd64","comment":"imported for comparison","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["sh"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container_config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"created":"2026-11-28T03:34:52.88369788Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2026-11-28T03:34:52.88369788Z","comment":"imported for comparison"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:77de76b1fbb28c9b6170445534fa0b42c3be4b3fe6d986af559b168ea4f08aff"]}}"#;
        let config = ImageConfig::from_slice(docker.as_bytes()).unwrap();
        assert_eq!(config.container_config().cmd.unwrap().0, vec!["sh"]);
        // Written back, Docker's own config comes out byte for byte: same keys, same order.
        assert_eq!(String::from_utf8(config.to_canonical_bytes()).unwrap(), docker);
    }
}
