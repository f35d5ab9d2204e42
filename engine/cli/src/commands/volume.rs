//! `berth volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;

use berth_api::client::{Client, query};
use berth_api::types::{Volume, VolumeCreateOptions, VolumeListResponse};
use http::Method;
use http_body_util::BodyExt;
use serde::Serialize;

use super::{Failure, Outcome, filters_json, not_found_as};
use crate::cli::{
    VolumeCommand, VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::format::{self, ListKind, ListOptions};

pub async fn run(client: &Client, command: VolumeCommand) -> Outcome {
    match command {
        VolumeCommand::Create(args) => create(client, args).await,
        VolumeCommand::Ls(args) => list(client, args).await,
        VolumeCommand::Inspect(args) => inspect(client, args).await,
        VolumeCommand::Rm(args) => remove(client, args).await,
        VolumeCommand::Prune(args) => prune(client, args).await,
    }
}

/// `key=value` options (`--label`, `--opt`) into a map.
fn key_values(pairs: &[String]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.clone(), String::new()),
        })
        .collect()
}

async fn create(client: &Client, args: VolumeCreateArgs) -> Outcome {
    let name = match (args.name_flag, args.name) {
        (Some(a), Some(b)) if a != b => {
            return Err(Failure::new(
                "conflicting options: either specify --name or provide positional arg, not both",
            ));
        }
        (a, b) => a.or(b).unwrap_or_default(),
    };
    let options = VolumeCreateOptions {
        name,
        driver: args.driver,
        driver_opts: Some(key_values(&args.opt)),
        labels: Some(key_values(&args.label)),
    };
    let volume: Volume = client
        .send_json(Method::POST, "/volumes/create", &options)
        .await?;
    println!("{}", volume.name);
    Ok(())
}

async fn list(client: &Client, args: VolumeLsArgs) -> Outcome {
    #[derive(Serialize)]
    struct Query {
        #[serde(skip_serializing_if = "Option::is_none")]
        filters: Option<String>,
    }
    let path = format!(
        "/volumes{}",
        query(&Query {
            filters: filters_json(&args.filter)?
        })?
    );
    let response: VolumeListResponse = client.get(&path).await?;
    let mut rows: Vec<serde_json::Value> = response
        .volumes
        .unwrap_or_default()
        .iter()
        .map(|v| format::rows::volume_row(&serde_json::to_value(v).expect("volumes serialize")))
        .collect();
    format::rows::sort_by_name(&mut rows);
    let template = ListKind::Volumes.format(
        args.format.as_deref(),
        ListOptions {
            quiet: args.quiet,
            ..ListOptions::default()
        },
    );
    print!(
        "{}",
        format::render_list(&template, ListKind::Volumes, &rows).map_err(Failure::new)?
    );
    Ok(())
}

/// Docker 20.10 prints what it found, then "Error: No such volume: NAME" for each volume it did
/// not find, and exits 1.
async fn inspect(client: &Client, args: VolumeInspectArgs) -> Outcome {
    let mut bodies = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match client
            .request(Method::GET, &format!("/volumes/{name}"), None, Client::empty())
            .await
        {
            Ok(response) => {
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| Failure::new(e.to_string()))?
                    .to_bytes();
                bodies.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => missing.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    match &args.format {
        // Docker's template writer ends with a newline even when nothing was found.
        Some(_) if bodies.is_empty() => println!(),
        Some(template) => {
            for body in &bodies {
                let value = format::Value::from_json_str(body).map_err(|e| Failure::new(e.to_string()))?;
                println!(
                    "{}",
                    format::render_template(template, value).map_err(Failure::new)?
                );
            }
        }
        None => print!(
            "{}",
            format::inspect_json(&bodies.iter().map(String::as_str).collect::<Vec<_>>())
        ),
    }
    if missing.is_empty() {
        return Ok(());
    }
    for name in missing {
        eprintln!("Error: No such volume: {name}");
    }
    Err(Failure::silent(1))
}

async fn remove(client: &Client, args: VolumeRmArgs) -> Outcome {
    let mut failed = false;
    for name in &args.names {
        let path = format!("/volumes/{name}{}", if args.force { "?force=1" } else { "" });
        match client
            .call(Method::DELETE, &path)
            .await
            .map_err(not_found_as("volume", name))
        {
            Ok(()) => println!("{name}"),
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
            }
        }
    }
    if failed { Err(Failure::silent(1)) } else { Ok(()) }
}

async fn prune(client: &Client, args: VolumePruneArgs) -> Outcome {
    if !args.force
        && !super::confirm("WARNING! This will remove all local volumes not used by at least one container.")
    {
        return Ok(());
    }
    let pruned = super::prune::volumes(client, &args.filter).await?;
    super::prune::print_with_total(&pruned);
    Ok(())
}
