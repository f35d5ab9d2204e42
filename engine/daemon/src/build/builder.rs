//! One build from start to end, as moby's `builder.go`: the tags checked, the context
//! extracted, the Dockerfile read and parsed, the stages up to `--target` dispatched step by
//! step, and the result tagged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use berth_api::dockerignore::{self, PatternMatcher};

use super::context::BuildContext;
use super::dispatch::{Builder, Stage};
use super::instructions::{Command, Dockerfile, Instruction, KeyValue, Source, parse_instruction};
use super::options::BuildOptions;
use super::output::Output;
use super::shell_words::{Lexer, env_map};
use super::{BuildError, parser};
use crate::digest::Digest;
use crate::engine::Engine;
use crate::reference::Reference;

/// Build what `options` and the context tar at `context_tar` ask for, reporting to `output`.
/// An error after the stream has begun is also sent as its last message.
pub async fn build(
    engine: Engine,
    options: BuildOptions,
    context_tar: &Path,
    output: Output,
) -> Result<Digest, BuildError> {
    let result = build_all(engine, options, context_tar, &output).await;
    if let Err(error) = &result {
        if output.started() {
            output.error(&error.to_string(), error.code()).await;
        }
    }
    result
}

async fn build_all(
    engine: Engine,
    options: BuildOptions,
    context_tar: &Path,
    output: &Output,
) -> Result<Digest, BuildError> {
    // The tags first, as Docker checks them before it reads anything.
    let tags = options
        .tags
        .iter()
        .map(|tag| tag_reference(tag))
        .collect::<Result<Vec<Reference>, BuildError>>()?;

    let scratch = engine.config.data_root.join("tmp");
    let dockerfile_name = match options.dockerfile.as_str() {
        "" => "Dockerfile".to_owned(),
        name => name.to_owned(),
    };
    let (context, text) = {
        let (tar, name) = (context_tar.to_owned(), dockerfile_name.clone());
        tokio::task::spawn_blocking(move || open_context(&tar, &scratch, &name))
            .await
            .map_err(|e| BuildError::Step(e.to_string()))??
    };
    let parsed = parser::parse(text.as_bytes())
        .map_err(|e| BuildError::InvalidParameter(format!("failed to parse Dockerfile: {e}")))?;
    let mut dockerfile =
        Dockerfile::from_nodes(&parsed.nodes).map_err(|e| BuildError::InvalidParameter(e.to_string()))?;
    let last = match options.target.as_str() {
        "" => dockerfile.stages.len().saturating_sub(1),
        target => dockerfile.stage_index(target).ok_or_else(|| {
            BuildError::InvalidParameter(format!("failed to reach build target {target} in Dockerfile"))
        })?,
    };
    dockerfile.stages.truncate(last + 1);
    add_label_options(&mut dockerfile, &options);

    for warning in &parsed.warnings {
        output.stream(format!("{warning}\n")).await;
    }
    let total = dockerfile.meta_args.len()
        + dockerfile
            .stages
            .iter()
            .map(|s| 1 + s.commands.len())
            .sum::<usize>();
    let lexer = Lexer::new(parsed.escape);
    let mut builder = Builder {
        engine: engine.clone(),
        options: options.clone(),
        context: Arc::new(context),
        output: output.clone(),
        stages: Vec::new(),
        used_args: Default::default(),
        meta_args: HashMap::new(),
        cache: None,
        cache_from: (!options.cache_from.is_empty()).then(|| {
            Arc::new(std::sync::Mutex::new(super::cache::CacheFrom::new(
                &engine.images,
                &options.cache_from,
            )))
        }),
    };
    let mut number = 0;

    // The ARGs before the first FROM: variables for the FROM lines.
    let mut meta_args: HashMap<String, String> = HashMap::new();
    for command in &dockerfile.meta_args {
        number += 1;
        output.step(number, total, &command.source.code).await;
        let mut instruction = command.instruction.clone();
        instruction
            .expand(&lexer, &meta_args)
            .map_err(|e| BuildError::Step(e.to_string()))?;
        if let Instruction::Arg(definitions) = instruction {
            for definition in definitions {
                builder.used_args.insert(definition.key.clone());
                let value = options
                    .build_args
                    .get(&definition.key)
                    .cloned()
                    .flatten()
                    .or(definition.default);
                if let Some(value) = value {
                    meta_args.insert(definition.key, value);
                }
            }
        }
    }

    builder.meta_args = meta_args.clone();
    for stage_source in &dockerfile.stages {
        number += 1;
        output.step(number, total, &stage_source.source.code).await;
        let (name, _platform) = stage_source
            .from
            .expanded(&lexer, &meta_args)
            .map_err(|e| BuildError::Step(e.to_string()))?;
        if name.is_empty() {
            return Err(BuildError::Step(
                "base name (${BASE}) should not be blank".replace("${BASE}", &stage_source.from.base_name),
            ));
        }
        let begun = builder
            .from(&name, stage_source.from.stage_name.as_deref())
            .await?;
        let mut stage = begun.stage;
        if !begun.triggers.is_empty() {
            let plural = if begun.triggers.len() == 1 { "" } else { "s" };
            output
                .stream(format!(
                    "# Executing {} build trigger{plural}\n",
                    begun.triggers.len()
                ))
                .await;
            for trigger in &begun.triggers {
                let command = trigger_command(trigger)?;
                dispatch(&mut builder, &mut stage, &command, &lexer).await?;
            }
        }
        builder.step_done(&stage).await;
        for command in &stage_source.commands {
            number += 1;
            output.step(number, total, &command.source.code).await;
            dispatch(&mut builder, &mut stage, command, &lexer).await?;
            builder.step_done(&stage).await;
        }
        builder.stages.push(stage);
    }

    let image = builder
        .stages
        .last()
        .and_then(|s| s.image.clone())
        .ok_or_else(|| BuildError::Step("No image was generated. Is your Dockerfile empty?".into()))?;
    let unused: Vec<&String> = options
        .build_args
        .keys()
        .filter(|name| {
            !builder.used_args.contains(*name) && !super::dispatch::run::BUILTIN_ARGS.contains(&name.as_str())
        })
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        output
            .stream(format!(
                "[Warning] One or more build-args [{}] were not consumed\n",
                names.join(" ")
            ))
            .await;
    }
    output.image_id(&image.to_string()).await;
    output
        .stream(format!("Successfully built {}\n", &image.hex()[..12]))
        .await;
    for tag in tags {
        let tag = tag.with_default_tag();
        engine
            .images
            .set_tag(tag.clone(), &image)
            .map_err(|e| BuildError::Step(e.to_string()))?;
        engine
            .images
            .event("tag", &image.to_string(), &tag.familiar_string());
        output
            .stream(format!("Successfully tagged {}\n", tag.familiar_string()))
            .await;
    }
    crate::explain!("built image {image} from the Dockerfile {dockerfile_name}");
    Ok(image)
}

/// A `t` value as Docker checks it: a name, perhaps with a tag, never a digest.
fn tag_reference(tag: &str) -> Result<Reference, BuildError> {
    let reference = Reference::parse_normalized(tag).map_err(|e| BuildError::Step(e.to_string()))?;
    if reference.digest().is_some() {
        return Err(BuildError::Step(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    Ok(reference)
}

/// Extract the context, read its Dockerfile, and drop the Dockerfile and .dockerignore from it
/// when .dockerignore excludes them (Docker's `removeDockerfile`).
fn open_context(tar: &Path, scratch: &Path, name: &str) -> Result<(BuildContext, String), BuildError> {
    let context = BuildContext::extract(tar, scratch).map_err(|e| BuildError::Context(e.to_string()))?;
    let text = context
        .read_dockerfile(name)
        .map_err(|e| BuildError::Context(e.to_string()))?;
    if let Ok(ignore) = std::fs::read(context.root().join(".dockerignore")) {
        let patterns = dockerignore::read_all(&ignore).map_err(|e| BuildError::Context(e.to_string()))?;
        let matcher = PatternMatcher::new(&patterns).map_err(|e| BuildError::Context(e.to_string()))?;
        for file in [".dockerignore", name] {
            if matcher.excludes(file) {
                context
                    .remove(file)
                    .map_err(|e| BuildError::Context(e.to_string()))?;
            }
        }
    }
    Ok((context, text))
}

/// `--label`s become LABEL steps at the end of the last stage, sorted by name, never expanded.
fn add_label_options(dockerfile: &mut Dockerfile, options: &BuildOptions) {
    let Some(stage) = dockerfile.stages.last_mut() else {
        return;
    };
    for (key, value) in &options.labels {
        stage.commands.push(Command {
            instruction: Instruction::Label(vec![KeyValue {
                key: key.clone(),
                value: value.clone(),
            }]),
            source: Source {
                code: format!("LABEL {key}={value}"),
                start_line: 0,
                end_line: 0,
            },
        });
    }
}

/// An ONBUILD trigger's text as one instruction.
fn trigger_command(trigger: &str) -> Result<Command, BuildError> {
    let parsed = parser::parse(trigger.as_bytes()).map_err(|e| BuildError::Step(e.to_string()))?;
    let [node] = parsed.nodes.as_slice() else {
        return Err(BuildError::Step(
            "onbuild trigger should be a single expression".into(),
        ));
    };
    parse_instruction(node).map_err(|e| BuildError::Step(e.kind.to_string()))
}

/// Run one instruction on `stage`: its words expanded with the stage's variables (labels from
/// `--label` excepted, as written), then its dispatcher.
async fn dispatch(
    builder: &mut Builder,
    stage: &mut Stage,
    command: &Command,
    lexer: &Lexer,
) -> Result<(), BuildError> {
    let mut instruction = command.instruction.clone();
    let from_options = command.source.start_line == 0;
    if instruction.expands() && !from_options {
        let env: Vec<String> = stage
            .expansion_env(&builder.options.build_args)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        instruction
            .expand(lexer, &env_map(&env))
            .map_err(|e| BuildError::Step(e.to_string()))?;
    }
    builder.dispatch(stage, instruction).await
}
