//! Image configs, built step by step the way a Dockerfile builds them.
//!
//! [`ImageBuilder`] reads like a Dockerfile: `from`, `env`, `add_layer`, `cmd`… Each step
//! changes the config and records a history entry, marked `empty_layer` when it added no layer,
//! exactly as `docker build` records it. The JSON is written from structs and sorted maps, so
//! its bytes (and therefore the image id) depend on nothing but the steps.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Serialize;

use super::digest::Digest;
use super::layer::Layer;

/// The label every lab image carries, naming what it stands in for.
pub const STAND_IN_LABEL: &str = "org.berth.lab.stand-in";

/// `PATH` as Docker's official images set it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The image config (`application/vnd.oci.image.config.v1+json`), fields in Docker's order.
#[derive(Serialize, Clone, Debug)]
pub struct ImageConfig {
    pub architecture: &'static str,
    pub config: ContainerConfig,
    pub created: String,
    pub history: Vec<History>,
    pub os: &'static str,
    pub rootfs: RootFs,
}

/// What a container of this image runs with (`config` in the image config).
#[derive(Serialize, Clone, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    pub env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The `{}` Docker uses as the value of `ExposedPorts` and `Volumes` entries.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Empty {}

/// One build step in `history`.
#[derive(Serialize, Clone, Debug)]
pub struct History {
    pub created: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// `rootfs`: the diff ids of the layers, bottom first.
#[derive(Serialize, Clone, Debug)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub diff_ids: Vec<Digest>,
}

/// A finished image: its name, config bytes and layers.
pub struct Image {
    /// Repository as Docker shows it (`busybox`, `httpd`).
    pub repository: String,
    pub tag: String,
    pub config: ImageConfig,
    /// The config as stored: its digest is the image id.
    pub config_json: Vec<u8>,
    pub config_digest: Digest,
    pub layers: Vec<Rc<Layer>>,
}

impl Image {
    /// What the archive holds of it.
    pub fn entry(&self) -> super::archive::Entry<'_> {
        super::archive::Entry {
            repository: &self.repository,
            tag: &self.tag,
            architecture: self.config.architecture,
            os: self.config.os,
            config_json: &self.config_json,
            config_digest: &self.config_digest,
            layers: self.layers.iter().map(|layer| &**layer).collect(),
        }
    }
}

/// Builds an image config step by step, like a Dockerfile.
#[derive(Clone)]
pub struct ImageBuilder {
    config: ContainerConfig,
    history: Vec<History>,
    layers: Vec<Rc<Layer>>,
    created: String,
}

impl ImageBuilder {
    /// `FROM scratch`, with `PATH` set as Docker's images have it; every step is dated `created`.
    pub fn scratch(created: &str) -> Self {
        let config = ContainerConfig {
            env: vec![format!("PATH={DEFAULT_PATH}")],
            ..Default::default()
        };
        Self {
            config,
            history: Vec::new(),
            layers: Vec::new(),
            created: created.to_string(),
        }
    }

    /// `FROM image`: its layers, config and history carry over.
    pub fn from(base: &Image) -> Self {
        Self {
            config: base.config.config.clone(),
            history: base.config.history.clone(),
            layers: base.layers.clone(),
            created: base.config.created.clone(),
        }
    }

    /// A step that adds a layer (`ADD`, `COPY`, `RUN`).
    pub fn add_layer(&mut self, created_by: &str, layer: Rc<Layer>) -> &mut Self {
        self.layers.push(layer);
        self.record(created_by.to_string(), false)
    }

    /// `ENV key=value`, replacing an earlier value of the same key in place.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        let entry = format!("{key}={value}");
        let prefix = format!("{key}=");
        match self
            .config
            .env
            .iter_mut()
            .find(|existing| existing.starts_with(&prefix))
        {
            Some(existing) => *existing = entry.clone(),
            None => self.config.env.push(entry.clone()),
        }
        self.record(format!("ENV {entry}"), true)
    }

    /// `LABEL key="value"`.
    pub fn label(&mut self, key: &str, value: &str) -> &mut Self {
        self.config.labels.insert(key.to_string(), value.to_string());
        self.record(format!("LABEL {key}={}", json_string(value)), true)
    }

    /// `WORKDIR dir`.
    pub fn workdir(&mut self, dir: &str) -> &mut Self {
        self.config.working_dir = dir.to_string();
        self.record(format!("WORKDIR {dir}"), true)
    }

    /// `EXPOSE port` (`80/tcp`).
    pub fn expose(&mut self, port: &str) -> &mut Self {
        self.config.exposed_ports.insert(port.to_string(), Empty {});
        self.record(format!("EXPOSE {port}"), true)
    }

    /// `VOLUME dir`.
    pub fn volume(&mut self, dir: &str) -> &mut Self {
        self.config.volumes.insert(dir.to_string(), Empty {});
        self.record(format!("VOLUME [{}]", json_string(dir)), true)
    }

    /// `STOPSIGNAL signal`.
    pub fn stop_signal(&mut self, signal: &str) -> &mut Self {
        self.config.stop_signal = Some(signal.to_string());
        self.record(format!("STOPSIGNAL {signal}"), true)
    }

    /// `ENTRYPOINT [...]`; like Docker, it clears a `CMD` inherited from the base image.
    pub fn entrypoint(&mut self, args: &[&str]) -> &mut Self {
        self.config.entrypoint = Some(args.iter().map(|arg| arg.to_string()).collect());
        self.config.cmd = None;
        self.record(format!("ENTRYPOINT {}", json_list(args)), true)
    }

    /// `CMD [...]`.
    pub fn cmd(&mut self, args: &[&str]) -> &mut Self {
        self.config.cmd = Some(args.iter().map(|arg| arg.to_string()).collect());
        self.record(format!("CMD {}", json_list(args)), true)
    }

    /// The image, named `repository:tag`, for linux/amd64.
    pub fn build(&self, repository: &str, tag: &str) -> Image {
        let config = ImageConfig {
            architecture: "amd64",
            config: self.config.clone(),
            created: self.created.clone(),
            history: self.history.clone(),
            os: "linux",
            rootfs: RootFs {
                kind: "layers",
                diff_ids: self.layers.iter().map(|layer| layer.diff_id.clone()).collect(),
            },
        };
        let config_json = serde_json::to_vec(&config).expect("an image config always serialises");
        Image {
            repository: repository.to_string(),
            tag: tag.to_string(),
            config_digest: Digest::of(&config_json),
            config_json,
            config,
            layers: self.layers.clone(),
        }
    }

    fn record(&mut self, created_by: String, empty_layer: bool) -> &mut Self {
        self.history.push(History {
            created: self.created.clone(),
            created_by,
            empty_layer,
        });
        self
    }
}

fn json_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string always serialises")
}

fn json_list(args: &[&str]) -> String {
    serde_json::to_string(args).expect("a list of strings always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::layer::LayerTree;

    fn layer(path: &str) -> Rc<Layer> {
        let mut tree = LayerTree::new();
        tree.file(path, 0o644, "x");
        Rc::new(tree.build(0).unwrap())
    }

    #[test]
    fn config_json_has_docker_shape_and_history_per_step() {
        let mut base = ImageBuilder::scratch("2020-01-01T00:00:00Z");
        base.add_layer("ADD rootfs /", layer("a")).cmd(&["sh"]);
        let base = base.build("base", "latest");
        let mut child = ImageBuilder::from(&base);
        child
            .env("PATH", "/opt/bin:/bin")
            .add_layer("COPY web /srv", layer("b"))
            .workdir("/srv")
            .expose("80/tcp")
            .volume("/data")
            .label(STAND_IN_LABEL, "web — test")
            .stop_signal("SIGQUIT")
            .entrypoint(&["run"]);
        let image = child.build("web", "1");

        let json: serde_json::Value = serde_json::from_slice(&image.config_json).unwrap();
        let config = &json["config"];
        assert_eq!(config["Env"], serde_json::json!(["PATH=/opt/bin:/bin"]));
        assert_eq!(config["Entrypoint"], serde_json::json!(["run"]));
        assert!(config.get("Cmd").is_none(), "ENTRYPOINT clears the inherited CMD");
        assert_eq!(config["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
        assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}));
        assert_eq!(config["WorkingDir"], "/srv");
        assert_eq!(config["StopSignal"], "SIGQUIT");
        assert_eq!(config["Labels"][STAND_IN_LABEL], "web — test");
        assert_eq!(json["os"], "linux");
        assert_eq!(json["architecture"], "amd64");
        assert_eq!(json["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);

        let history = json["history"].as_array().unwrap();
        let layer_steps = history
            .iter()
            .filter(|step| step.get("empty_layer").is_none())
            .count();
        assert_eq!(layer_steps, 2, "one non-empty history entry per layer");
        assert_eq!(history.len(), 10);
        assert_eq!(history[1]["created_by"], r#"CMD ["sh"]"#);
        assert_eq!(history[1]["empty_layer"], true);
        assert_eq!(image.config_digest, Digest::of(&image.config_json));
    }

    #[test]
    fn the_image_id_is_the_configs_digest_and_the_config_holds_no_clock() {
        let build = |labels: &[(&str, &str)], content: &str| {
            let mut builder = ImageBuilder::scratch("2020-01-01T00:00:00Z");
            builder.add_layer("ADD rootfs /", layer(content));
            for (k, v) in labels {
                builder.label(k, v);
            }
            builder.build("x", "latest")
        };
        let image = build(&[("b", "2"), ("a", "1")], "a");
        assert_eq!(image.config_digest, Digest::of(&image.config_json));
        // Only the times given, never the builder's clock: the same steps on another day
        // give the same id.
        let config: serde_json::Value = serde_json::from_slice(&image.config_json).unwrap();
        assert_eq!(config["created"], "2020-01-01T00:00:00Z");
        for step in config["history"].as_array().unwrap() {
            assert_eq!(step["created"], "2020-01-01T00:00:00Z");
        }
        let history: Vec<&str> = config["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["created_by"].as_str().unwrap())
            .collect();
        assert_eq!(history, ["ADD rootfs /", "LABEL b=\"2\"", "LABEL a=\"1\""]);
        // Everything the image holds changes the id, the steps' order too (as Docker's history).
        let id = image.config_digest;
        for other in [
            build(&[("b", "2"), ("a", "2")], "a"),
            build(&[("b", "2"), ("a", "1")], "b"),
            build(&[("b", "2")], "a"),
            build(&[("a", "1"), ("b", "2")], "a"),
        ] {
            assert_ne!(other.config_digest, id);
        }
    }
}
