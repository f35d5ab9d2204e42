//! `docker attach`: join a running container's stdio; exit with its code when it stops.

use berth_api::client::{Client, query};
use berth_api::types::{ContainerInspect, ContainerWaitResponse};
use http::Method;

use super::stream::{self, Ended, StreamOptions};
use super::terminal::{self, ResizeTarget};
use super::{detach_keys, inspect_container, path_segment, signals};
use crate::cli::AttachArgs;
use crate::commands::{Failure, Outcome};

/// Docker's `inspectContainerAndCheckState`: only a running container can be attached to.
async fn running_container(client: &Client, name: &str) -> Result<ContainerInspect, Failure> {
    let container = inspect_container(client, name).await?;
    let state = &container.state;
    if !state.running {
        return Err(Failure::new(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    if state.paused {
        return Err(Failure::new(
            "You cannot attach to a paused container, unpause it first",
        ));
    }
    if state.restarting {
        return Err(Failure::new(
            "You cannot attach to a restarting container, wait until it is running",
        ));
    }
    Ok(container)
}

/// `docker attach [--no-stdin] [--sig-proxy=false] [--detach-keys K] CONTAINER`.
pub async fn attach(client: &Client, args: AttachArgs) -> Outcome {
    let name = path_segment(&args.container);
    // The wait is asked for first, so the exit cannot slip between attach and wait.
    let wait = client
        .request(
            Method::POST,
            &format!("/containers/{name}/wait"),
            None,
            Client::empty(),
        )
        .await;
    let container = running_container(client, &args.container).await?;
    let wait = wait?;
    terminal::check_tty(!args.no_stdin, container.config.tty)?;
    let options = StreamOptions {
        tty: container.config.tty,
        stdin: !args.no_stdin && container.config.open_stdin,
        stdout: true,
        stderr: true,
        detach_keys: detach_keys(&args.detach_keys),
    };
    let _signals = (args.sig_proxy && !container.config.tty).then(|| signals::forward(client, &container.id));
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut path = format!(
        "/containers/{name}/attach?stream=1&stdin={}&stdout=1&stderr=1",
        flag(options.stdin)
    );
    if let Some(keys) = &options.detach_keys {
        path.push_str(
            &query(&[("detachKeys", keys)])
                .map_err(Failure::from)?
                .replacen('?', "&", 1),
        );
    }
    let connection = client.upgrade(Method::POST, &path, None, Client::empty()).await?;
    // The container may have stopped between the check and the attach: check again.
    running_container(client, &args.container).await?;
    let _resizes = (container.config.tty && std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .then(|| terminal::monitor_size_nudged(client, ResizeTarget::Container(container.id.clone())));
    let ended = stream::stream(connection, &options).await?;
    if ended == Ended::Detached {
        return Err(Failure::new("read escape sequence"));
    }
    let result: ContainerWaitResponse = berth_api::client::read_json(wait).await?;
    if let Some(error) = result.error {
        return Err(Failure::new(error.message));
    }
    match result.status_code {
        0 => Ok(()),
        code => Err(Failure::silent(code as i32)),
    }
}
