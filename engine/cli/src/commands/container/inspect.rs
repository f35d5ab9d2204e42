//! `inspect` (any object: containers first, then images, networks, volumes), `container
//! inspect`, `top`, `diff`, `port` and `commit`.

use std::io::Write;

use berth_api::client::{Client, query};
use berth_api::types::{ContainerChange, ContainerTopResponse, IdResponse};
use http::Method;

use super::{daemon_message, get_text, inspect_container, is_not_found, path_segment};
use crate::cli::{CommitArgs, ContainerInspectArgs, DiffArgs, ObjectInspectArgs, PortArgs, TopArgs};
use crate::commands::{Failure, Outcome};
use crate::format::{self, FormatError, Template, Value};

/// The kinds of object `inspect` looks for, in Docker's order (swarm kinds do not exist here).
const KINDS: &[&str] = &["container", "image", "network", "volume"];

/// Every `--type` Docker accepts.
const DOCKER_TYPES: &[&str] = &[
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

fn inspect_path(kind: &str, name: &str, size: bool) -> Option<String> {
    let name = path_segment(name);
    match kind {
        "container" if size => Some(format!("/containers/{name}/json?size=1")),
        "container" => Some(format!("/containers/{name}/json")),
        "image" => Some(format!("/images/{name}/json")),
        "network" => Some(format!("/networks/{name}")),
        "volume" => Some(format!("/volumes/{name}")),
        _ => None,
    }
}

/// Print what was found, then the errors (Docker's `inspect.Inspect`): a template that does not
/// parse fails with status 64; with `-f`, an empty result still prints a newline.
fn print_inspected(bodies: &[String], template: Option<&str>, mut errors: Vec<String>) -> Outcome {
    match template {
        None => print!(
            "{}",
            format::inspect_json(&bodies.iter().map(String::as_str).collect::<Vec<_>>())
        ),
        Some(text) => {
            let template = Template::parse(text).map_err(|e| Failure {
                message: FormatError::Parse(e).to_string(),
                status: 64,
            })?;
            let mut out = String::new();
            for body in bodies {
                let value = Value::from_json_str(body).map_err(|e| Failure::new(e.to_string()))?;
                match template.render(&value) {
                    Ok(text) => {
                        out.push_str(&text);
                        out.push('\n');
                    }
                    Err(e) => errors.push(FormatError::Exec(e).to_string()),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(errors.join("\n")))
    }
}

/// Look `name` up as each kind in turn; `Ok(None)` when it is none of them.
async fn find(client: &Client, name: &str, kinds: &[&str], size: bool) -> Result<Option<String>, String> {
    for kind in kinds {
        let Some(path) = inspect_path(kind, name, size) else {
            continue;
        };
        match get_text(client, &path).await {
            Ok(body) => return Ok(Some(body)),
            Err(error) if is_not_found(&error) => continue,
            Err(error) => return Err(daemon_message(&error)),
        }
    }
    Ok(None)
}

/// `docker inspect [--type T] [-f TEMPLATE] [-s] NAME…`.
pub async fn inspect(client: &Client, args: ObjectInspectArgs) -> Outcome {
    let kinds: Vec<&str> = match args.kind.as_deref() {
        None | Some("") => KINDS.to_vec(),
        Some(kind) if DOCKER_TYPES.contains(&kind) => vec![kind],
        Some(kind) => return Err(Failure::new(format!("{kind:?} is not a valid value for --type"))),
    };
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    for name in &args.names {
        match find(client, name, &kinds, args.size).await {
            Ok(Some(body)) => bodies.push(body),
            Ok(None) if kinds.len() == 1 => errors.push(format!("Error: No such {}: {name}", kinds[0])),
            Ok(None) => errors.push(format!("Error: No such object: {name}")),
            Err(message) => errors.push(message),
        }
    }
    print_inspected(&bodies, args.format.as_deref(), errors)
}

/// `docker container inspect`.
pub async fn container_inspect(client: &Client, args: ContainerInspectArgs) -> Outcome {
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        match find(client, name, &["container"], args.size).await {
            Ok(Some(body)) => bodies.push(body),
            Ok(None) => errors.push(format!("Error: No such container: {name}")),
            Err(message) => errors.push(message),
        }
    }
    print_inspected(&bodies, args.format.as_deref(), errors)
}

/// Go's tabwriter as `docker top` sets it up: minwidth 20, tabwidth 1, padding 3.
fn top_table(top: &ContainerTopResponse) -> String {
    const GO_MINWIDTH: usize = 20;
    const PADDING: usize = 3;
    let mut text = top.titles.join("\t");
    text.push('\n');
    for process in &top.processes {
        text.push_str(&process.join("\t"));
        text.push('\n');
    }
    // Go counts the padding inside minwidth; the tabwriter crate adds it after.
    let mut writer = tabwriter::TabWriter::new(Vec::new())
        .minwidth(GO_MINWIDTH - PADDING)
        .padding(PADDING);
    let _ = writer.write_all(text.as_bytes());
    String::from_utf8_lossy(&writer.into_inner().unwrap_or_default()).into_owned()
}

/// `docker top CONTAINER [ps OPTIONS]`.
pub async fn top(client: &Client, args: TopArgs) -> Outcome {
    let mut path = format!("/containers/{}/top", path_segment(&args.container));
    if !args.ps_args.is_empty() {
        path.push_str(&query(&[("ps_args", args.ps_args.join(" "))]).map_err(Failure::from)?);
    }
    let top: ContainerTopResponse = client.get(&path).await?;
    print!("{}", top_table(&top));
    Ok(())
}

/// `docker diff`: `C /etc`, `A /etc/new`, `D /gone`.
pub async fn diff(client: &Client, args: DiffArgs) -> Outcome {
    if args.container.is_empty() {
        return Err(Failure::new("Container name cannot be empty"));
    }
    let changes: Option<Vec<ContainerChange>> = client
        .get(&format!("/containers/{}/changes", path_segment(&args.container)))
        .await?;
    for change in changes.unwrap_or_default() {
        let kind = match change.kind {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "",
        };
        println!("{kind} {}", change.path);
    }
    Ok(())
}

/// `docker port CONTAINER [PRIVATE_PORT[/PROTO]]`, as Docker 20.10 prints it.
pub async fn port(client: &Client, args: PortArgs) -> Outcome {
    let container = inspect_container(client, &args.container).await?;
    let ports = &container.network_settings.ports;
    if let Some(wanted) = &args.port {
        let (number, proto) = match wanted.split_once('/') {
            Some((number, proto)) if !proto.is_empty() => (number, proto),
            Some((number, _)) => (number, "tcp"),
            None => (wanted.as_str(), "tcp"),
        };
        let key = format!("{number}/{proto}");
        if number.parse::<u16>().is_err() {
            return Err(Failure::new(format!("Invalid containerPort: {number}")));
        }
        return match ports.get(&key) {
            Some(Some(bindings)) => {
                for binding in bindings {
                    println!("{}:{}", binding.host_ip, binding.host_port);
                }
                Ok(())
            }
            _ => Err(Failure::new(format!(
                "Error: No public port '{key}' published for {}",
                args.container
            ))),
        };
    }
    let mut lines = Vec::new();
    for (private, bindings) in ports {
        for binding in bindings.iter().flatten() {
            lines.push(format!("{private} -> {}:{}", binding.host_ip, binding.host_port));
        }
    }
    lines.sort_by(|a, b| format::rows::natural_cmp(a, b));
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

/// Docker's client side of commit: `REPOSITORY[:TAG]` split (tag `latest` by default).
fn commit_reference(reference: &str) -> Result<(String, String), Failure> {
    if reference.contains('@') {
        return Err(Failure::new("refusing to create a tag with a digest reference"));
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match reference[slash..].rfind(':') {
        Some(colon) => (&reference[..slash + colon], &reference[slash + colon + 1..]),
        None => (reference, "latest"),
    };
    if name.is_empty() || tag.is_empty() {
        return Err(Failure::new("invalid reference format"));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(Failure::new(
            "invalid reference format: repository name must be lowercase",
        ));
    }
    let familiar = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    Ok((familiar.to_owned(), tag.to_owned()))
}

/// `docker commit [-a A] [-c CHANGE] [-m MSG] [-p] CONTAINER [REPOSITORY[:TAG]]`.
pub async fn commit(client: &Client, args: CommitArgs) -> Outcome {
    let mut params: Vec<(&str, String)> = vec![("container", args.container.clone())];
    if let Some(reference) = args.reference.as_deref().filter(|r| !r.is_empty()) {
        let (repo, tag) = commit_reference(reference)?;
        params.push(("repo", repo));
        params.push(("tag", tag));
    }
    params.push(("comment", args.message.clone().unwrap_or_default()));
    params.push(("author", args.author.clone().unwrap_or_default()));
    for change in &args.change {
        params.push(("changes", change.clone()));
    }
    if !args.pause {
        params.push(("pause", "0".into()));
    }
    let path = format!("/commit{}", query(&params).map_err(Failure::from)?);
    let created: IdResponse = client
        .request(Method::POST, &path, Some("application/json"), Client::bytes("{}"))
        .await
        .map(berth_api::client::read_json)?
        .await?;
    println!("{}", created.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_references_split_like_docker() {
        let split = |r: &str| commit_reference(r).map_err(|f| f.message);
        assert_eq!(split("web:v2"), Ok(("web".into(), "v2".into())));
        assert_eq!(
            split("localhost:5000/web"),
            Ok(("localhost:5000/web".into(), "latest".into()))
        );
        assert_eq!(
            split("docker.io/library/web"),
            Ok(("web".into(), "latest".into()))
        );
        assert_eq!(
            split("Web"),
            Err("invalid reference format: repository name must be lowercase".into())
        );
    }

    #[test]
    fn top_is_tabulated_like_docker() {
        let top = ContainerTopResponse {
            titles: vec!["UID".into(), "PID".into(), "CMD".into()],
            processes: vec![vec!["root".into(), "6702".into(), "sleep 100".into()]],
        };
        assert_eq!(
            top_table(&top),
            "UID                 PID                 CMD\nroot                6702                sleep 100\n"
        );
    }
}
