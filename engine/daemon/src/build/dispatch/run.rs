//! RUN: a command in a step container, its changes committed as a layer.
//!
//! The build args in effect are the command's environment, and are recorded in front of its
//! command in the image (`|2 V=1 W=2 /bin/sh -c …`, as Docker records them) so that another
//! value misses the cache.

use berth_api::types::{ContainerConfig, HealthConfig, StrSlice};

use super::{Builder, Stage, metadata};
use crate::build::BuildError;

/// Docker's predefined build args: passed to RUN without an ARG, but recorded only once a
/// Dockerfile names them.
pub const BUILTIN_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// RUN `args` (the exec form when `exec_form`).
pub async fn run(
    builder: &mut Builder,
    stage: &mut Stage,
    args: &[String],
    exec_form: bool,
) -> Result<(), BuildError> {
    let command = metadata::command(stage, args, exec_form);
    let build_env = build_env(builder, stage);

    let mut recorded_command = Vec::new();
    if !build_env.recorded.is_empty() {
        recorded_command.push(format!("|{}", build_env.recorded.len()));
        recorded_command.extend(build_env.recorded.iter().cloned());
    }
    recorded_command.extend(command.iter().cloned());

    let mut recorded = stage.config.clone();
    recorded.cmd = Some(StrSlice(recorded_command));
    recorded.args_escaped = false;
    recorded.entrypoint = None;
    if let Some(image) = &stage.image {
        recorded.image = image.to_string();
    }
    if let Some(hit) = builder.probe(stage, &recorded).await? {
        stage.image = Some(hit);
        return Ok(());
    }
    if stage.image.is_none() {
        // Docker's own words when a scratch stage tries to run something.
        return Err(BuildError::Step(
            "failed to create shim task: OCI runtime create failed: no command to run in an empty image"
                .into(),
        ));
    }

    let mut run_config: ContainerConfig = stage.config.clone();
    run_config.cmd = Some(StrSlice(command.clone()));
    run_config.args_escaped = false;
    // An empty entrypoint (not an absent one): the image's never wraps a RUN.
    run_config.entrypoint = Some(StrSlice(Vec::new()));
    run_config
        .env
        .get_or_insert_with(Vec::new)
        .extend(build_env.passed);
    // A step container runs no healthcheck.
    run_config.healthcheck = Some(HealthConfig {
        test: Some(vec!["NONE".into()]),
        ..HealthConfig::default()
    });
    let id = builder
        .commit_step(stage, &recorded, Some((&run_config, &command)), None)
        .await?;
    stage.image = Some(id);
    Ok(())
}

/// The build args a RUN sees.
struct BuildEnv {
    /// `NAME=value` given to the command: declared ARGs with a value, and the predefined proxy
    /// args given with `--build-arg`; none that an ENV overrides.
    passed: Vec<String>,
    /// Those recorded in front of the command (sorted): all but unnamed proxy args.
    recorded: Vec<String>,
}

fn build_env(builder: &mut Builder, stage: &Stage) -> BuildEnv {
    let env_names: Vec<&str> = stage
        .config
        .env
        .iter()
        .flatten()
        .map(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k))
        .collect();
    let mut passed = Vec::new();
    let mut recorded = Vec::new();
    for (name, value) in stage.arg_values(&builder.options.build_args) {
        if env_names.contains(&name.as_str()) {
            continue;
        }
        let entry = format!("{name}={value}");
        recorded.push(entry.clone());
        passed.push(entry);
    }
    for builtin in BUILTIN_ARGS {
        if stage.args.contains_key(builtin) || env_names.contains(&builtin) {
            continue;
        }
        if let Some(Some(value)) = builder.options.build_args.get(builtin) {
            builder.used_args.insert(builtin.to_owned());
            passed.push(format!("{builtin}={value}"));
        }
    }
    recorded.sort();
    BuildEnv { passed, recorded }
}
