//! Container commands: `run`, `create`, `start`, `stop`, `kill`, `restart`, `rm`, `ps`, `logs`,
//! `exec`, `attach`, `inspect`, `top`, `stats`, `wait`, `rename`, `commit`, `diff`, `port`, `events` and
//! `container prune`, with the Docker 20.10 CLI's flow, output, errors and exit codes.
//!
//! Exit codes follow Docker's: a container's own code for `run`/`start -a`/`exec`, 125 when the
//! daemon refuses `run` (or its flags are wrong), 126 when the command cannot be invoked and
//! 127 when it is not found (read from the daemon's message, as the Docker CLI does), else 1.

/// `attach`: join a running container's stdio.
mod attach;
/// `cp` and `export`: files between a container and the host, as tars.
mod copy;
/// `events`, and `events --explain` (what the kernel was asked to do).
mod events;
/// `exec`: a process in a running container.
mod exec;
/// The host's side of `cp`: a local path as a tar, a container's tar extracted locally.
mod host_tar;
/// `inspect` (any object, containers first), `top`, `diff`, `port`, `commit`.
mod inspect;
/// `stop`, `kill`, `restart`, `rm`, `rename`, `wait`, `container prune`.
mod lifecycle;
/// `ps`.
mod list;
/// `logs`.
mod logs;
/// `run`/`create` flags → the create request.
pub mod request;
/// `run`, `create`, `start`: create (pulling a missing image), attach, wait, start.
mod run;
/// Signals the CLI receives, passed on to the container (`--sig-proxy`).
mod signals;
/// `stats`: resource usage, once or redrawn every second.
mod stats;
/// Hijacked streams: frames, stdin, detach keys.
mod stream;
/// Raw mode, window size, resizes.
mod terminal;
/// `--since`/`--until` values.
mod timestamp;
/// `docker update`.
mod update;

use berth_api::client::{Client, ClientError};
use berth_api::types::ContainerInspect;
use http::{Method, StatusCode};
use http_body_util::BodyExt;

pub use attach::attach;
pub use copy::{cp, export};
pub use events::events;
pub use exec::exec;
pub use inspect::{commit, container_inspect, diff, inspect, port, top};
pub use lifecycle::{kill, pause, prune, remove, rename, restart, stop, unpause, wait};
pub use list::list;
pub use logs::logs;
pub use run::{create, run, start};
pub use stats::stats;
pub use update::update;

use super::Failure;
use crate::cli::program_name;

/// GET a body as text: inspect prints the daemon's JSON with its key order kept.
async fn get_text(client: &Client, path: &str) -> Result<String, ClientError> {
    let response = client.request(Method::GET, path, None, Client::empty()).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Inspect a container as the Docker client's `ContainerInspect` reports it: a 404 reads
/// `Error: No such container: NAME` (the name as typed).
async fn inspect_container(client: &Client, name: &str) -> Result<ContainerInspect, Failure> {
    client
        .get::<ContainerInspect>(&format!("/containers/{}/json", path_segment(name)))
        .await
        .map_err(super::not_found_as("container", name))
}

/// A name or id as one path segment (names may not contain `/`, but a typed `/web` is valid).
fn path_segment(name: &str) -> String {
    name.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

/// `--detach-keys` if given, else the config file's `detachKeys`.
fn detach_keys(flag: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(crate::commands::registry::configured_detach_keys)
}

/// Docker's `runStartContainerErr`: the status `run` exits with when the daemon refuses.
fn start_error_status(message: &str) -> i32 {
    let message = message.trim_start_matches("Error response from daemon: ");
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        125
    }
}

/// Docker's `reportError`: `berth: MESSAGE.` (`docker: …` when called so) and, for flag-level
/// problems, where help is.
fn report_error(command: &str, message: &str, with_help: bool) -> String {
    report_error_as(program_name(), command, message, with_help)
}

fn report_error_as(program: &str, command: &str, message: &str, with_help: bool) -> String {
    let mut text = format!("{program}: {}.", message.strip_suffix('.').unwrap_or(message));
    if with_help {
        text.push_str(&format!("\n{}", see_help_as(program, command)));
    }
    text
}

/// `See 'berth run --help'.`, named as the program was called.
pub(crate) fn see_help(command: &str) -> String {
    see_help_as(program_name(), command)
}

fn see_help_as(program: &str, command: &str) -> String {
    format!("See '{program} {command} --help'.")
}

/// The message of a daemon refusal as the Docker client words it.
fn daemon_message(error: &ClientError) -> String {
    Failure::from(clone_error(error)).message
}

fn clone_error(error: &ClientError) -> ClientError {
    match error {
        ClientError::Api { status, message } => ClientError::Api {
            status: *status,
            message: message.clone(),
        },
        other => ClientError::Io(std::io::Error::other(other.to_string())),
    }
}

/// Whether the daemon answered 404.
fn is_not_found(error: &ClientError) -> bool {
    error.status() == Some(StatusCode::NOT_FOUND)
}

/// Run `operation` on every name at once (Docker's `parallelOperation`), then report in the
/// order typed: the name on stdout for each success, the errors joined on stderr (exit 1).
async fn for_each_container<F, Fut>(names: &[String], operation: F) -> super::Outcome
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>>,
{
    let results = futures_util::future::join_all(names.iter().map(|name| operation(name.clone()))).await;
    let mut errors = Vec::new();
    for (name, result) in names.iter().zip(results) {
        match result {
            Ok(()) => println!("{name}"),
            Err(failure) => errors.push(failure.message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_map_to_docker_exit_codes() {
        assert_eq!(
            start_error_status(
                "Error response from daemon: OCI runtime create failed: exec: \"x\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(start_error_status("exec: \"/etc\": permission denied"), 126);
        assert_eq!(
            start_error_status("Conflict. The container name \"/a\" is already in use"),
            125
        );
    }

    #[test]
    fn errors_are_reported_like_docker_run() {
        assert_eq!(
            report_error("run", "Invalid hostPort: 99999", true),
            "berth: Invalid hostPort: 99999.\nSee 'berth run --help'."
        );
        assert_eq!(report_error("run", "failed.", false), "berth: failed.");
        assert_eq!(
            report_error_as("docker", "run", "Minimum memory limit allowed is 6MB", true),
            "docker: Minimum memory limit allowed is 6MB.\nSee 'docker run --help'."
        );
    }
}
