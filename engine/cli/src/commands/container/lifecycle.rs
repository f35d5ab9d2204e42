//! `stop`, `kill`, `pause`, `unpause`, `restart`, `rm`, `rename`, `wait` and `container prune`.

use berth_api::client::{Client, query};
use berth_api::types::ContainerWaitResponse;
use http::Method;
use serde::Serialize;

use super::{daemon_message, for_each_container, is_not_found, path_segment};
use crate::cli::{
    ContainerPruneArgs, KillArgs, PauseArgs, RenameArgs, RestartArgs, RmArgs, StopArgs, UnpauseArgs, WaitArgs,
};
use crate::commands::{Failure, Outcome, not_found_as};

fn timeout_query(time: Option<i64>) -> String {
    time.map(|t| format!("?t={t}")).unwrap_or_default()
}

/// `docker stop`: SIGTERM (or the container's stop signal), SIGKILL after `-t` seconds.
pub async fn stop(client: &Client, args: StopArgs) -> Outcome {
    let timeout = timeout_query(args.time);
    for_each_container(&args.containers, |name| {
        let path = format!("/containers/{}/stop{timeout}", path_segment(&name));
        async move { client.call(Method::POST, &path).await.map_err(Failure::from) }
    })
    .await
}

/// `docker kill -s SIGNAL`.
pub async fn kill(client: &Client, args: KillArgs) -> Outcome {
    let signal = query(&[("signal", &args.signal)]).map_err(Failure::from)?;
    for_each_container(&args.containers, |name| {
        let path = format!("/containers/{}/kill{signal}", path_segment(&name));
        async move { client.call(Method::POST, &path).await.map_err(Failure::from) }
    })
    .await
}

/// `docker pause`: every process of each container frozen.
pub async fn pause(client: &Client, args: PauseArgs) -> Outcome {
    for_each_container(&args.containers, |name| {
        let path = format!("/containers/{}/pause", path_segment(&name));
        async move { client.call(Method::POST, &path).await.map_err(Failure::from) }
    })
    .await
}

/// `docker unpause`.
pub async fn unpause(client: &Client, args: UnpauseArgs) -> Outcome {
    for_each_container(&args.containers, |name| {
        let path = format!("/containers/{}/unpause", path_segment(&name));
        async move { client.call(Method::POST, &path).await.map_err(Failure::from) }
    })
    .await
}

/// `docker restart`: one after the other, as Docker does.
pub async fn restart(client: &Client, args: RestartArgs) -> Outcome {
    let timeout = timeout_query(args.time);
    let mut errors = Vec::new();
    for name in &args.containers {
        let path = format!("/containers/{}/restart{timeout}", path_segment(name));
        match client.call(Method::POST, &path).await {
            Ok(()) => println!("{name}"),
            Err(error) => errors.push(daemon_message(&error)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

/// `docker rm [-f] [-v]`: with `-f`, a name that does not exist is only reported.
pub async fn remove(client: &Client, args: RmArgs) -> Outcome {
    #[derive(Serialize)]
    struct Query {
        v: bool,
        link: bool,
        force: bool,
    }
    let q = query(&Query {
        v: args.volumes,
        link: args.link,
        force: args.force,
    })
    .map_err(Failure::from)?;
    let results = futures_util::future::join_all(args.containers.iter().map(|name| {
        let q = q.clone();
        async move {
            let trimmed = name.trim_matches('/');
            if trimmed.is_empty() {
                return Err((false, Failure::new("Container name cannot be empty")));
            }
            // A link name keeps its slash (`web/db`), as docker/cli sends it.
            let path = if args.link {
                trimmed.split('/').map(path_segment).collect::<Vec<_>>().join("/")
            } else {
                path_segment(trimmed)
            };
            client
                .call(Method::DELETE, &format!("/containers/{path}{q}"))
                .await
                .map_err(|error| (is_not_found(&error), not_found_as("container", trimmed)(error)))
        }
    }))
    .await;
    let mut errors = Vec::new();
    for (name, result) in args.containers.iter().zip(results) {
        match result {
            Ok(()) => println!("{name}"),
            Err((true, failure)) if args.force => eprintln!("{failure}"),
            Err((_, failure)) => errors.push(failure.message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

/// `docker rename OLD NEW`.
pub async fn rename(client: &Client, args: RenameArgs) -> Outcome {
    let (old, new) = (args.container.trim(), args.new_name.trim());
    if old.is_empty() || new.is_empty() {
        return Err(Failure::new("Error: Neither old nor new names may be empty"));
    }
    let path = format!(
        "/containers/{}/rename{}",
        path_segment(old),
        query(&[("name", new)]).map_err(Failure::from)?
    );
    if let Err(error) = client.call(Method::POST, &path).await {
        eprintln!("{}", daemon_message(&error));
        return Err(Failure::new(format!(
            "Error: failed to rename container named {old}"
        )));
    }
    Ok(())
}

/// `docker wait`: each container's exit code, once it is not running.
pub async fn wait(client: &Client, args: WaitArgs) -> Outcome {
    let mut errors = Vec::new();
    for name in &args.containers {
        let path = format!("/containers/{}/wait", path_segment(name));
        let answer = match client.request(Method::POST, &path, None, Client::empty()).await {
            Ok(response) => berth_api::client::read_json::<ContainerWaitResponse>(response).await,
            Err(error) => Err(error),
        };
        match answer {
            Ok(result) => println!("{}", result.status_code),
            Err(error) => errors.push(daemon_message(&error)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

/// `docker container prune`.
pub async fn prune(client: &Client, args: ContainerPruneArgs) -> Outcome {
    if !args.force && !crate::commands::confirm("WARNING! This will remove all stopped containers.") {
        return Ok(());
    }
    let pruned = crate::commands::prune::containers(client, &args.filter).await?;
    crate::commands::prune::print_with_total(&pruned);
    Ok(())
}
