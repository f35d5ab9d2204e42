//! Running a Dockerfile's instructions, one step at a time, as moby's `dispatchers.go`: each
//! step starts from the image the previous one made, and ends with a new image — found in the
//! cache, or committed from a step container.
//!
//! One file per instruction family:
//! - [`from`]: FROM, a new stage on an image (pulled when missing).
//! - [`run`]: RUN, a command in a step container, committed with its changes.
//! - [`copy`]: COPY and ADD from the context or another stage.
//! - [`metadata`]: everything that only changes the image's config (ENV, CMD, LABEL…).

pub mod copy;
pub mod from;
pub mod metadata;
pub mod run;

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_api::types::{ContainerConfig, StrSlice};

use super::context::BuildContext;
use super::instructions::{CommandLine, Instruction};
use super::options::BuildOptions;
use super::output::Output;
use super::{BuildError, cache, step};
use crate::digest::Digest;
use crate::engine::Engine;

/// The shell of shell-form commands when no SHELL instruction set one.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// A stage being built: the image so far and the config it carries.
#[derive(Debug, Clone, Default)]
pub struct Stage {
    /// `AS name`, lower case.
    pub name: Option<String>,
    /// The image so far; `None` until the first step of a `FROM scratch` stage.
    pub image: Option<Digest>,
    /// The image's config as the build changes it (Docker's `runConfig`).
    pub config: ContainerConfig,
    /// MAINTAINER: the images' author.
    pub maintainer: String,
    /// Whether this stage's own CMD was set (an ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// ARGs declared in this stage, with the value they have here.
    pub args: BTreeMap<String, Option<String>>,
}

impl Stage {
    /// The shell that runs shell-form commands.
    pub fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(shell) if !shell.0.is_empty() => shell.0.clone(),
            _ => DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The variables `$NAME` expands to in this stage: the config's ENV, then the ARGs that have
    /// a value and are not shadowed by an ENV (Docker's `getExpansionEnv`).
    pub fn expansion_env(&self, build_args: &BTreeMap<String, Option<String>>) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .config
            .env
            .iter()
            .flatten()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        for (name, value) in self.arg_values(build_args) {
            if !env.iter().any(|(k, _)| *k == name) {
                env.push((name, value));
            }
        }
        env
    }

    /// The ARGs of this stage that have a value: the `--build-arg` given, else the default.
    pub fn arg_values(&self, build_args: &BTreeMap<String, Option<String>>) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter_map(|(name, default)| {
                let value = build_args
                    .get(name)
                    .cloned()
                    .flatten()
                    .or_else(|| default.clone())?;
                Some((name.clone(), value))
            })
            .collect()
    }
}

/// What a build has: the engine, what was asked, the context, and where progress goes.
pub struct Builder {
    pub engine: Engine,
    pub options: BuildOptions,
    pub context: Arc<BuildContext>,
    pub output: Output,
    /// The stages built so far, in order (for `COPY --from`).
    pub stages: Vec<Stage>,
    /// `--build-arg` names some ARG declared (the others are warned about at the end).
    pub used_args: std::collections::BTreeSet<String>,
    /// The ARGs before the first FROM with their values: the default of an ARG of the same name
    /// declared without one in a stage.
    pub meta_args: std::collections::HashMap<String, String>,
    /// The local images as the cache sees them, read at the first probe.
    pub cache: Option<Arc<cache::CacheIndex>>,
    /// `--cache-from`'s images, when given: they decide what the cache may use.
    pub cache_from: Option<Arc<std::sync::Mutex<cache::CacheFrom>>>,
}

/// `#(nop)` config: the command a metadata step's container records, as Docker writes it:
/// the shell, `#(nop) `, then the instruction as one argument, or (WORKDIR, COPY, ADD) all in
/// one argument.
pub fn nop_command(shell: &[String], comment: &str, one_argument: bool) -> StrSlice {
    let mut command = shell.to_vec();
    if one_argument {
        command.push(format!("#(nop) {comment}"));
    } else {
        command.push("#(nop) ".into());
        command.push(comment.to_owned());
    }
    StrSlice(command)
}

impl Builder {
    /// Run one instruction (its words already expanded) on `stage`.
    pub async fn dispatch(&mut self, stage: &mut Stage, instruction: Instruction) -> Result<(), BuildError> {
        let exec_form = |line: &CommandLine| !line.prepend_shell;
        let comment = match instruction {
            Instruction::Run(line) => return run::run(self, stage, &line.args, exec_form(&line)).await,
            Instruction::Copy(request) | Instruction::Add(request) if request.chmod.is_some() => {
                let _ = request;
                return Err(BuildError::Step(
                    "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled".into(),
                ));
            }
            Instruction::Copy(request) => return self.copy_instruction(stage, "COPY", request).await,
            Instruction::Add(request) => return self.copy_instruction(stage, "ADD", request).await,
            Instruction::From(_) => {
                return Err(BuildError::Step("FROM is not allowed here".into()));
            }
            Instruction::Workdir(path) => {
                let comment = metadata::workdir(stage, &path);
                return self.workdir_step(stage, &comment).await;
            }
            Instruction::Arg(definitions) => {
                let mut comment = String::from("ARG");
                for definition in definitions {
                    comment.push(' ');
                    comment.push_str(&definition.key);
                    if let Some(value) = &definition.default {
                        comment.push('=');
                        comment.push_str(value);
                    }
                    self.used_args.insert(definition.key.clone());
                    let default = definition
                        .default
                        .or_else(|| self.meta_args.get(&definition.key).cloned());
                    stage.args.insert(definition.key, default);
                }
                comment
            }
            Instruction::Env(pairs) => {
                let pairs: Vec<(String, String)> = pairs.into_iter().map(|kv| (kv.key, kv.value)).collect();
                metadata::env(stage, &pairs)
            }
            Instruction::Label(pairs) => {
                let pairs: Vec<(String, String)> = pairs.into_iter().map(|kv| (kv.key, kv.value)).collect();
                metadata::label(stage, &pairs)
            }
            Instruction::Maintainer(name) => metadata::maintainer(stage, &name),
            Instruction::Cmd(line) => metadata::cmd(stage, &line.args, exec_form(&line)),
            Instruction::Entrypoint(line) => metadata::entrypoint(stage, &line.args, exec_form(&line)),
            Instruction::Expose(words) => metadata::expose(stage, &words).map_err(BuildError::Step)?,
            Instruction::Volume(paths) => {
                if paths.iter().any(|p| p.trim().is_empty()) {
                    return Err(BuildError::Step(
                        "VOLUME specified can not be an empty string".into(),
                    ));
                }
                metadata::volume(stage, &paths)
            }
            Instruction::User(user) => metadata::user(stage, &user),
            Instruction::StopSignal(signal) => metadata::stop_signal(stage, &signal),
            Instruction::Shell(shell) => metadata::shell(stage, &shell),
            Instruction::Onbuild(trigger) => metadata::onbuild(stage, &trigger),
            Instruction::Healthcheck(check) => {
                let previous = stage
                    .config
                    .healthcheck
                    .as_ref()
                    .and_then(|h| h.test.clone())
                    .filter(|test| test.first().is_some_and(|t| t != "NONE"));
                if let Some(previous) = previous {
                    self.output
                        .stream(format!(
                            "Note: overriding previous HEALTHCHECK: {}\n",
                            metadata::go_list(&previous)
                        ))
                        .await;
                }
                metadata::healthcheck(stage, check)
            }
        };
        self.commit_metadata(stage, &comment, false).await
    }

    async fn copy_instruction(
        &mut self,
        stage: &mut Stage,
        instruction: &'static str,
        request: super::instructions::Copy,
    ) -> Result<(), BuildError> {
        copy::copy(
            self,
            stage,
            copy::CopyRequest {
                instruction,
                sources: request.sources,
                dest: request.dest,
                chown: request.chown,
                from: request.from,
            },
        )
        .await
    }

    /// WORKDIR: recorded in one argument, and the directory made in the step's container.
    async fn workdir_step(&mut self, stage: &mut Stage, comment: &str) -> Result<(), BuildError> {
        let mut recorded = stage.config.clone();
        recorded.cmd = Some(nop_command(&stage.shell(), comment, true));
        if let Some(image) = &stage.image {
            recorded.image = image.to_string();
        }
        if let Some(hit) = self.probe(stage, &recorded).await? {
            stage.image = Some(hit);
            return Ok(());
        }
        let workdir = stage.config.working_dir.clone();
        let id = self.commit_step(stage, &recorded, None, Some(&workdir)).await?;
        stage.image = Some(id);
        Ok(())
    }

    /// The end of a step: the image it leaves (` ---> 1a2b3c4d5e6f`, nothing after the arrow
    /// for a stage still on scratch).
    pub async fn step_done(&self, stage: &Stage) {
        let short: String = stage
            .image
            .as_ref()
            .map(|id| id.hex().chars().take(12).collect())
            .unwrap_or_default();
        self.output.stream(format!(" ---> {short}\n")).await;
    }

    /// The step's image from the cache, if the cache may be used and has it.
    pub async fn probe(
        &mut self,
        stage: &Stage,
        container_config: &ContainerConfig,
    ) -> Result<Option<Digest>, BuildError> {
        if self.options.no_cache {
            return Ok(None);
        }
        let images = self.engine.images.clone();
        let index = match &self.cache {
            Some(index) => index.clone(),
            None => {
                let images = images.clone();
                let index = tokio::task::spawn_blocking(move || cache::CacheIndex::load(&images))
                    .await
                    .map_err(|e| BuildError::Step(e.to_string()))?
                    .map_err(|e| BuildError::Step(e.to_string()))?;
                let index = Arc::new(index);
                self.cache = Some(index.clone());
                index
            }
        };
        let hit = match self.cache_from.clone() {
            None => index.probe(&images, stage.image.as_ref(), container_config),
            Some(cache_from) => {
                let (parent, config) = (stage.image.clone(), container_config.clone());
                tokio::task::spawn_blocking(move || {
                    let mut cache_from = cache_from.lock().unwrap_or_else(|p| p.into_inner());
                    cache_from.probe(&images, &index, parent.as_ref(), &config)
                })
                .await
                .map_err(|e| BuildError::Step(e.to_string()))?
                .map_err(|e| BuildError::Step(e.to_string()))?
            }
        };
        if hit.is_some() {
            self.output.stream(" ---> Using cache\n").await;
        }
        Ok(hit)
    }

    /// A step that changes only the config: the cache, or a container made (never started) and
    /// committed, as Docker's `commit`.
    pub async fn commit_metadata(
        &mut self,
        stage: &mut Stage,
        comment: &str,
        one_argument: bool,
    ) -> Result<(), BuildError> {
        let mut recorded = stage.config.clone();
        recorded.cmd = Some(nop_command(&stage.shell(), comment, one_argument));
        if let Some(image) = &stage.image {
            recorded.image = image.to_string();
        }
        if let Some(hit) = self.probe(stage, &recorded).await? {
            stage.image = Some(hit);
            return Ok(());
        }
        let id = self.commit_step(stage, &recorded, None, None).await?;
        stage.image = Some(id);
        Ok(())
    }

    /// Make, (with `command`) run, commit and remove a step container whose recorded config is
    /// `recorded`; `run_config` is what actually runs when it differs (RUN's build args).
    pub async fn commit_step(
        &mut self,
        stage: &mut Stage,
        recorded: &ContainerConfig,
        run: Option<(&ContainerConfig, &[String])>,
        make_dir: Option<&str>,
    ) -> Result<Digest, BuildError> {
        let Some(image) = stage.image.clone() else {
            // `FROM scratch` has no root to make a container on: the step's image is recorded
            // directly, with no layer.
            return self.commit_without_container(stage, recorded).await;
        };
        let create_config = run.map_or(recorded, |(config, _)| config);
        let container = step::create(&self.engine, &self.options, &image, create_config).await?;
        if run.is_none() && stage.config.healthcheck.is_some() {
            // Docker's daemon fills a partial healthcheck from the image's in place, through a
            // pointer the build's config shares: the image then keeps the filled one.
            if let Ok(created) = self.engine.containers.get(&container) {
                stage.config.healthcheck = created.record().config.healthcheck;
            }
        }
        let short_container: String = container.chars().take(12).collect();
        self.output
            .stream(format!(" ---> Running in {short_container}\n"))
            .await;
        let outcome = async {
            if let Some(dir) = make_dir {
                step::make_dir(&self.engine, &container, dir).await?;
            }
            if let Some((_, command)) = run {
                step::run(&self.engine, &container, command, &self.output).await?;
            }
            // RUN records the config it probed the cache with; other steps their container's.
            let recorded = run.map(|_| recorded.clone());
            step::commit(
                &self.engine,
                &container,
                stage.config.clone(),
                recorded,
                &stage.maintainer,
            )
            .await
        }
        .await;
        // A failed step's container stays for inspection unless --force-rm, as in Docker.
        if (outcome.is_ok() && self.options.remove) || self.options.force_remove {
            step::remove(&self.engine, &container).await?;
            self.output
                .stream(format!("Removing intermediate container {short_container}\n"))
                .await;
        }
        outcome
    }

    /// A step of a stage that has no image yet: an image of no layers with the stage's config.
    async fn commit_without_container(
        &self,
        stage: &Stage,
        recorded: &ContainerConfig,
    ) -> Result<Digest, BuildError> {
        let empty = self.scratch_dir()?;
        step::commit_directory(
            &self.engine,
            empty.path(),
            stage.config.clone(),
            recorded.clone(),
            &stage.maintainer,
        )
        .await
    }

    /// A private empty directory under the data root's tmp, removed on drop.
    pub fn scratch_dir(&self) -> Result<tempfile::TempDir, BuildError> {
        tempfile::Builder::new()
            .prefix("build-step-")
            .tempdir_in(self.engine.config.data_root.join("tmp"))
            .map_err(|e| BuildError::Step(format!("create a scratch directory: {e}")))
    }
}
