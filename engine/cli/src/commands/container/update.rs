//! `docker update [OPTIONS] CONTAINER...`: new limits and restart policy, one container after
//! the other as docker/cli does; each name updated is printed, then the daemon's warnings.

use berth_api::client::Client;
use berth_api::types::HostConfig;
use http::Method;
use serde::Deserialize;

use super::request::{RequestError, parse_bytes, parse_nano_cpus, parse_restart_policy};
use super::{daemon_message, path_segment};
use crate::cli::UpdateArgs;
use crate::commands::{Failure, Outcome};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateResponse {
    warnings: Option<Vec<String>>,
}

pub async fn update(client: &Client, args: UpdateArgs) -> Outcome {
    let body = request(&args).map_err(|e| Failure::new(e.to_string()))?;
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        let path = format!("/containers/{}/update", path_segment(name));
        match client
            .send_json::<_, UpdateResponse>(Method::POST, &path, &body)
            .await
        {
            Ok(answer) => {
                println!("{name}");
                warnings.extend(answer.warnings.unwrap_or_default());
            }
            Err(error) => errors.push(daemon_message(&error)),
        }
    }
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

/// The `UpdateConfig` the flags ask for: unset flags stay zero, which the daemon reads as
/// "unchanged" (so `--pids-limit 0` is not sent at all, as by docker/cli).
fn request(args: &UpdateArgs) -> Result<HostConfig, RequestError> {
    let given = [
        args.blkio_weight.is_some(),
        args.cpu_period.is_some(),
        args.cpu_quota.is_some(),
        args.cpu_rt_period.is_some(),
        args.cpu_rt_runtime.is_some(),
        args.cpu_shares.is_some(),
        args.cpus.is_some(),
        args.cpuset_cpus.is_some(),
        args.cpuset_mems.is_some(),
        args.kernel_memory.is_some(),
        args.memory.is_some(),
        args.memory_reservation.is_some(),
        args.memory_swap.is_some(),
        args.pids_limit.is_some(),
        args.restart.is_some(),
    ];
    if !given.contains(&true) {
        return Err(RequestError::Invalid(
            "you must provide one or more flags when using this command".into(),
        ));
    }
    let nano_cpus = match &args.cpus {
        Some(cpus) => parse_nano_cpus(cpus).map_err(|reason| RequestError::flag("--cpus", cpus, reason))?,
        None => 0,
    };
    Ok(HostConfig {
        blkio_weight: args.blkio_weight.unwrap_or(0),
        cpu_period: args.cpu_period.unwrap_or(0),
        cpu_quota: args.cpu_quota.unwrap_or(0),
        cpu_realtime_period: args.cpu_rt_period.unwrap_or(0),
        cpu_realtime_runtime: args.cpu_rt_runtime.unwrap_or(0),
        cpu_shares: args.cpu_shares.unwrap_or(0),
        nano_cpus,
        cpuset_cpus: args.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: args.cpuset_mems.clone().unwrap_or_default(),
        kernel_memory: parse_bytes("--kernel-memory", args.kernel_memory.as_deref())?,
        memory: parse_bytes("-m, --memory", args.memory.as_deref())?,
        memory_reservation: parse_bytes("--memory-reservation", args.memory_reservation.as_deref())?,
        memory_swap: match args.memory_swap.as_deref() {
            Some("-1") => -1,
            other => parse_bytes("--memory-swap", other)?,
        },
        pids_limit: args.pids_limit.filter(|limit| *limit != 0),
        restart_policy: match &args.restart {
            Some(policy) => parse_restart_policy(policy)?,
            None => Default::default(),
        },
        ..HostConfig::default()
    })
}
