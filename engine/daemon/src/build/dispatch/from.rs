//! FROM: a new stage on an image — an earlier stage by its name, a local image, or one pulled
//! from its registry — or on nothing (`scratch`).

use std::collections::BTreeMap;

use super::{Builder, Stage};
use crate::build::BuildError;
use crate::digest::Digest;
use crate::reference::Reference;
use crate::registry::{AuthConfig, Progress, ProgressEvent, PullRequest};

/// The PATH every stage has unless its image sets one (Docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A stage just begun, and the ONBUILD triggers its image carries (for the caller to run).
pub struct Begun {
    pub stage: Stage,
    pub triggers: Vec<String>,
}

impl Builder {
    /// The image `name` stands for in a FROM or `COPY --from`: an earlier stage (by its
    /// `AS` name, or its index for `--from`), a local image, else one pulled (always pulled with
    /// `--pull`).
    pub async fn from_image(&mut self, name: &str) -> Result<Digest, BuildError> {
        let lower = name.to_lowercase();
        if let Some(stage) = self
            .stages
            .iter()
            .rev()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return stage.image.clone().ok_or_else(|| {
                BuildError::Step(format!(
                    "stage {name} has no image: it has no instructions after FROM scratch"
                ))
            });
        }
        if let Ok(index) = name.parse::<usize>() {
            if let Some(stage) = self.stages.get(index) {
                return stage
                    .image
                    .clone()
                    .ok_or_else(|| BuildError::Step(format!("stage {index} has no image")));
            }
        }
        if !self.options.pull {
            if let Ok(id) = self.engine.images.resolve(name) {
                return Ok(id);
            }
        }
        self.pull(name).await
    }

    /// Pull `name` from its registry.
    async fn pull(&self, name: &str) -> Result<Digest, BuildError> {
        let reference = Reference::parse_normalized(name)
            .map_err(|e| BuildError::Step(e.to_string()))?
            .with_default_tag();
        let request = PullRequest {
            reference,
            platform: None,
            auth: AuthConfig::default(),
        };
        // The pull's progress goes into the build's stream, as Docker's does.
        let (progress, mut events) = Progress::channel();
        let output = self.output.clone();
        let forwarding = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let ProgressEvent::Message(message) = event {
                    if let Ok(value) = serde_json::to_value(&message) {
                        output.message(value).await;
                    }
                }
            }
        });
        let pulled = self.engine.registry.pull(request, &progress).await;
        drop(progress);
        let _ = forwarding.await;
        pulled.map_err(|e| BuildError::Step(e.to_string()))
    }

    /// FROM `name` [`AS stage_name`] (variables already expanded).
    pub async fn from(&mut self, name: &str, stage_name: Option<&str>) -> Result<Begun, BuildError> {
        let mut stage = Stage {
            name: stage_name.map(str::to_lowercase),
            ..Stage::default()
        };
        let mut triggers = Vec::new();
        if !name.eq_ignore_ascii_case("scratch") {
            let image = self.from_image(name).await?;
            let config = self
                .engine
                .images
                .config(&image)
                .map_err(|e| BuildError::Step(e.to_string()))?;
            stage.config = config.container_config();
            stage.maintainer = String::new();
            stage.image = Some(image);
            // The triggers run now, in the child; the image built keeps none of them.
            triggers = stage.config.on_build.take().unwrap_or_default();
        }
        let env = stage.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|kv| kv.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_owned());
        }
        stage.args = BTreeMap::new();
        Ok(Begun { stage, triggers })
    }
}
