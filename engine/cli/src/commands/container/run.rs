//! `run`, `create` and `start`, in the Docker CLI's order: create (pulling the image when it is
//! missing), attach before start, a wait registered before start, start, stream until the
//! output ends, exit with the container's code.

use berth_api::client::{Client, ClientError, query};
use berth_api::types::{ContainerCreateRequest, ContainerWaitResponse, IdResponse};
use http::Method;
use serde::Serialize;

use super::request::{self, RequestError};
use super::stream::{self, Ended, StreamOptions};
use super::terminal::{self, ResizeTarget};
use super::{
    daemon_message, detach_keys, inspect_container, path_segment, report_error, signals, start_error_status,
};
use crate::cli::{ContainerOptions, CreateArgs, RunArgs, StartArgs};
use crate::commands::{Failure, Outcome};

/// Flag problems as `run`/`create` report them: pflag's value errors as they are, the rest as
/// `berth: MESSAGE.`; both with where help is, exit 125.
fn flag_failure(command: &str, error: RequestError) -> Failure {
    let message = match &error {
        RequestError::FlagValue { .. } | RequestError::UnknownFlag(_) => {
            format!("{error}\n{}", super::see_help(command))
        }
        RequestError::Invalid(message) => report_error(command, message, true),
    };
    Failure { message, status: 125 }
}

/// An image as the Docker CLI names it when pulling: (familiar `name:tag` for messages,
/// `fromImage`, `tag`). `None` for an image id, which is never pulled.
fn pull_reference(image: &str) -> Option<(String, String, String)> {
    let is_hex_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex_id(image) || image.strip_prefix("sha256:").is_some_and(is_hex_id) {
        return None;
    }
    let familiar = image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("index.docker.io/library/"))
        .or_else(|| image.strip_prefix("docker.io/"))
        .or_else(|| image.strip_prefix("index.docker.io/"))
        .unwrap_or(image);
    if let Some((name, digest)) = familiar.split_once('@') {
        return Some((familiar.to_owned(), name.to_owned(), digest.to_owned()));
    }
    let slash = familiar.rfind('/').map_or(0, |i| i + 1);
    match familiar[slash..].rfind(':') {
        Some(colon) => {
            let (name, tag) = (&familiar[..slash + colon], &familiar[slash + colon + 1..]);
            Some((familiar.to_owned(), name.to_owned(), tag.to_owned()))
        }
        None => Some((
            format!("{familiar}:latest"),
            familiar.to_owned(),
            "latest".to_owned(),
        )),
    }
}

/// Why a create failed: the message as the Docker CLI prints it.
struct CreateFailure(String);

impl From<Failure> for CreateFailure {
    fn from(failure: Failure) -> Self {
        CreateFailure(failure.message)
    }
}

impl From<ClientError> for CreateFailure {
    fn from(error: ClientError) -> Self {
        CreateFailure(daemon_message(&error))
    }
}

/// Docker's `createContainer`: create; if the image is missing, say so, pull it and create again.
async fn create_container(
    client: &Client,
    options: &ContainerOptions,
    request: &ContainerCreateRequest,
) -> Result<String, CreateFailure> {
    request::check_cidfile(options.cidfile.as_ref()).map_err(|e| CreateFailure(e.to_string()))?;
    if options.oom_kill_disable && options.memory.is_none() {
        eprintln!(
            "WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous."
        );
    }
    let reference = pull_reference(&request.config.image);
    if options.pull == "always" {
        if let Some((_, from_image, tag)) = &reference {
            crate::commands::registry::pull_for_run(client, from_image, tag, options.platform.as_deref())
                .await?;
        }
    }
    #[derive(Serialize)]
    struct Query<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        platform: Option<&'a str>,
    }
    let path = format!(
        "/containers/create{}",
        query(&Query {
            name: options.name.as_deref(),
            platform: options.platform.as_deref(),
        })?
    );
    let created: IdResponse = match client.send_json(Method::POST, &path, request).await {
        Ok(created) => created,
        Err(error) if super::is_not_found(&error) && error.to_string().starts_with("No such image") => {
            let Some((familiar, from_image, tag)) = &reference else {
                return Err(error.into());
            };
            eprintln!("Unable to find image '{familiar}' locally");
            if options.pull == "never" {
                return Err(error.into());
            }
            crate::commands::registry::pull_for_run(client, from_image, tag, options.platform.as_deref())
                .await?;
            client.send_json(Method::POST, &path, request).await?
        }
        Err(error) => return Err(error.into()),
    };
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    if let Some(cidfile) = &options.cidfile {
        std::fs::write(cidfile, &created.id)
            .map_err(|e| CreateFailure(format!("Failed to write the container ID to the file: {e}")))?;
    }
    Ok(created.id)
}

/// `docker create`: print the new container's id.
pub async fn create(client: &Client, args: CreateArgs) -> Outcome {
    let request = request::build(&args.options, false).map_err(|e| flag_failure("create", e))?;
    let id = create_container(client, &args.options, &request)
        .await
        .map_err(|CreateFailure(message)| Failure::new(message))?;
    println!("{id}");
    Ok(())
}

/// A wait registered with the daemon (its answer's headers arrived, so no exit is missed);
/// `.await` the task for the exit status as `run` reports it (125 when waiting failed).
async fn wait_exit_or_removed(
    client: &Client,
    id: &str,
    removed: bool,
) -> Result<tokio::task::JoinHandle<i32>, Failure> {
    let condition = if removed { "removed" } else { "next-exit" };
    let response = client
        .request(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            None,
            Client::empty(),
        )
        .await?;
    Ok(tokio::spawn(async move {
        match berth_api::client::read_json::<ContainerWaitResponse>(response).await {
            Ok(ContainerWaitResponse {
                error: Some(error), ..
            }) => {
                eprintln!("Error waiting for container: {}", error.message);
                125
            }
            Ok(result) => result.status_code as i32,
            Err(error) => {
                eprintln!("error waiting for container: {error}");
                125
            }
        }
    }))
}

/// Attach to a container before it starts (`POST /containers/{id}/attach?stream=1…`), and
/// drive the stream in a task of its own.
async fn attach_before_start(
    client: &Client,
    id: &str,
    options: StreamOptions,
) -> Result<tokio::task::JoinHandle<Result<Ended, Failure>>, Failure> {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut path = format!(
        "/containers/{id}/attach?stream=1&stdin={}&stdout={}&stderr={}",
        flag(options.stdin),
        flag(options.stdout),
        flag(options.stderr)
    );
    if let Some(keys) = &options.detach_keys {
        path.push_str(
            &query(&[("detachKeys", keys)])
                .map_err(Failure::from)?
                .replacen('?', "&", 1),
        );
    }
    let connection = client.upgrade(Method::POST, &path, None, Client::empty()).await?;
    Ok(tokio::spawn(
        async move { stream::stream(connection, &options).await },
    ))
}

/// `docker run`.
pub async fn run(client: &Client, args: RunArgs) -> Outcome {
    let options = &args.options;
    let request = request::build(options, args.detach).map_err(|e| flag_failure("run", e))?;
    let config = &request.config;
    if args.detach && !options.attach.is_empty() {
        return Err(Failure::new("Conflicting options: -a and -d"));
    }
    if !args.detach {
        terminal::check_tty(config.attach_stdin, config.tty)?;
    }
    let id = create_container(client, options, &request)
        .await
        .map_err(|CreateFailure(message)| Failure {
            status: start_error_status(&message),
            message: report_error("run", &message, true),
        })?;
    let _signals = args.sig_proxy.then(|| signals::forward(client, &id));
    let attached = config.attach_stdin || config.attach_stdout || config.attach_stderr;
    if !config.attach_stdout && !config.attach_stderr {
        println!("{id}");
    }
    let streaming = if attached {
        let stream_options = StreamOptions {
            tty: config.tty,
            stdin: config.attach_stdin,
            stdout: config.attach_stdout,
            stderr: config.attach_stderr,
            detach_keys: detach_keys(&args.detach_keys),
        };
        Some(attach_before_start(client, &id, stream_options).await?)
    } else {
        None
    };
    let status = wait_exit_or_removed(client, &id, request.host_config.auto_remove).await?;
    if let Err(error) = client
        .call(Method::POST, &format!("/containers/{id}/start"))
        .await
    {
        if let Some(streaming) = streaming {
            streaming.abort();
            let _ = streaming.await;
        }
        let message = daemon_message(&error);
        eprintln!("{}", report_error("run", &message, false));
        if request.host_config.auto_remove {
            let _ = status.await;
        }
        return Err(Failure::silent(start_error_status(&message)));
    }
    let _resizes = (attached && config.tty && std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .then(|| terminal::monitor_size(client, ResizeTarget::Container(id.clone())));
    if let Some(streaming) = streaming {
        let ended = streaming.await.map_err(|e| Failure::new(e.to_string()))??;
        if ended == Ended::Detached {
            return Ok(());
        }
    }
    if !config.attach_stdout && !config.attach_stderr {
        return Ok(());
    }
    match status.await.map_err(|e| Failure::new(e.to_string()))? {
        0 => Ok(()),
        code => Err(Failure::silent(code)),
    }
}

/// `docker start`: several containers (printing each name), or one with `-a`/`-i` attached.
pub async fn start(client: &Client, args: StartArgs) -> Outcome {
    if !(args.attach || args.interactive) {
        let mut failed = Vec::new();
        for name in &args.containers {
            match client
                .call(Method::POST, &format!("/containers/{}/start", path_segment(name)))
                .await
            {
                Ok(()) => println!("{name}"),
                Err(error) => {
                    eprintln!("{}", daemon_message(&error));
                    failed.push(name.clone());
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        return Err(Failure::new(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )));
    }
    if args.containers.len() > 1 {
        return Err(Failure::new(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let container = inspect_container(client, &args.containers[0]).await?;
    let id = container.id.clone();
    let tty = container.config.tty;
    let _signals = (!tty).then(|| signals::forward(client, &id));
    let stream_options = StreamOptions {
        tty,
        stdin: args.interactive && container.config.open_stdin,
        stdout: true,
        stderr: true,
        detach_keys: detach_keys(&args.detach_keys),
    };
    let streaming = attach_before_start(client, &id, stream_options).await?;
    let status = wait_exit_or_removed(client, &id, container.host_config.auto_remove).await?;
    if let Err(error) = client
        .call(Method::POST, &format!("/containers/{id}/start"))
        .await
    {
        streaming.abort();
        let _ = streaming.await;
        if container.host_config.auto_remove {
            let _ = status.await;
        }
        return Err(error.into());
    }
    let _resizes = (tty && std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .then(|| terminal::monitor_size(client, ResizeTarget::Container(id.clone())));
    let ended = streaming.await.map_err(|e| Failure::new(e.to_string()))??;
    if ended == Ended::Detached {
        return Ok(());
    }
    match status.await.map_err(|e| Failure::new(e.to_string()))? {
        0 => Ok(()),
        code => Err(Failure::silent(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_to_pull_are_named_as_docker_names_them() {
        let pull = |image: &str| pull_reference(image);
        assert_eq!(
            pull("busybox"),
            Some(("busybox:latest".into(), "busybox".into(), "latest".into()))
        );
        assert_eq!(
            pull("docker.io/library/httpd:2.4"),
            Some(("httpd:2.4".into(), "httpd".into(), "2.4".into()))
        );
        assert_eq!(
            pull("localhost:5000/team/app"),
            Some((
                "localhost:5000/team/app:latest".into(),
                "localhost:5000/team/app".into(),
                "latest".into()
            ))
        );
        assert_eq!(pull(&"a".repeat(64)), None);
    }
}
