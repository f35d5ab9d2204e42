//! `docker exec`: create the exec, start it on a hijacked connection (or detached), stream, then
//! exit with the process's code from `GET /exec/{id}/json`.

use berth_api::client::Client;
use berth_api::types::{ExecConfig, ExecInspect, ExecStartConfig, IdResponse};
use http::Method;

use super::stream::{self, Ended, StreamOptions};
use super::terminal::{self, ResizeTarget};
use super::{detach_keys, inspect_container, path_segment, request};
use crate::cli::ExecArgs;
use crate::commands::{Failure, Outcome};

/// `docker exec [-d] [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER COMMAND [ARG...]`.
pub async fn exec(client: &Client, args: ExecArgs) -> Outcome {
    let (container, command) = args
        .container_and_command
        .split_first()
        .expect("clap requires a container and a command");
    if container.starts_with('-') {
        return Err(Failure {
            message: format!(
                "{}\n{}",
                crate::usage_errors::unknown_flag(container),
                super::see_help("exec")
            ),
            status: 125,
        });
    }
    // As Docker: an inspect first, so a missing container reads "No such container".
    inspect_container(client, container).await?;
    let attach_output = !args.detach;
    let attach_stdin = !args.detach && args.interactive;
    if !args.detach {
        terminal::check_tty(attach_stdin, args.tty)?;
    }
    let env = args
        .env
        .iter()
        .map(|variable| request::validate_env(variable, |name| std::env::var(name).ok()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(e.to_string()))?;
    let config = ExecConfig {
        attach_stdin,
        attach_stdout: attach_output,
        attach_stderr: attach_output,
        detach_keys: detach_keys(&args.detach_keys).unwrap_or_default(),
        tty: args.tty,
        env: (!env.is_empty()).then_some(env),
        cmd: command.to_vec(),
        privileged: args.privileged,
        user: args.user.clone().unwrap_or_default(),
        working_dir: args.workdir.clone().unwrap_or_default(),
    };
    let created: IdResponse = client
        .send_json(
            Method::POST,
            &format!("/containers/{}/exec", path_segment(container)),
            &config,
        )
        .await?;
    let id = created.id;
    let start = ExecStartConfig {
        detach: args.detach,
        tty: args.tty,
    };
    let start_body = Client::bytes(serde_json::to_vec(&start).map_err(|e| Failure::new(e.to_string()))?);
    if args.detach {
        client
            .request(
                Method::POST,
                &format!("/exec/{id}/start"),
                Some("application/json"),
                start_body,
            )
            .await?;
        return Ok(());
    }
    let connection = client
        .upgrade(
            Method::POST,
            &format!("/exec/{id}/start"),
            Some("application/json"),
            start_body,
        )
        .await?;
    let options = StreamOptions {
        tty: args.tty,
        stdin: attach_stdin,
        stdout: true,
        stderr: true,
        detach_keys: detach_keys(&args.detach_keys),
    };
    let streaming = tokio::spawn(async move { stream::stream(connection, &options).await });
    let _resizes = (args.tty && std::io::IsTerminal::is_terminal(&std::io::stdin()))
        .then(|| terminal::monitor_size(client, ResizeTarget::Exec(id.clone())));
    let ended = streaming.await.map_err(|e| Failure::new(e.to_string()))??;
    if ended == Ended::Detached {
        return Err(Failure::new("read escape sequence"));
    }
    let inspect: ExecInspect = client.get(&format!("/exec/{id}/json")).await?;
    match inspect.exit_code.unwrap_or(0) {
        0 => Ok(()),
        code => Err(Failure::silent(code as i32)),
    }
}
