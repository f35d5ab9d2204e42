//! Image commands: images, rmi, tag, history, inspect, prune, load, save, import.

use std::io::{IsTerminal, Write};

use berth_api::client::{Client, query};
use berth_api::types::{BuildInfo, ImageDeleteResponseItem, ImageHistoryResponseItem, ImageSummary};
use http::Method;
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Failure, Outcome, filters_json, not_found_as, pretty_json};
use crate::cli::{
    HistoryArgs, ImagesArgs, ImportArgs, InspectArgs, LoadArgs, PruneArgs, RmiArgs, SaveArgs, TagArgs,
};
use crate::format;

/// `docker images`.
pub async fn list(client: &Client, args: ImagesArgs) -> Outcome {
    let mut filter_flags = args.filter.clone();
    if let Some(reference) = &args.reference {
        filter_flags.push(format!("reference={reference}"));
    }
    #[derive(Serialize)]
    struct Query {
        all: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        filters: Option<String>,
    }
    let path = format!(
        "/images/json{}",
        query(&Query {
            all: args.all,
            filters: filters_json(&filter_flags)?
        })?
    );
    let images: Vec<ImageSummary> = client.get(&path).await?;
    let rows = image_rows(&images, args.digests, args.no_trunc);
    let default = if args.quiet {
        "{{.ID}}".to_owned()
    } else if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".to_owned()
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".to_owned()
    };
    let template = if args.quiet {
        default.clone()
    } else {
        args.format.clone().unwrap_or(default)
    };
    print!(
        "{}",
        format::render_list(&template, format::ListKind::Images, &rows).map_err(Failure::new)?
    );
    Ok(())
}

/// Docker's image rows: one per repository tag (per digest with `--digests`), `<none>` for the rest.
fn image_rows(images: &[ImageSummary], show_digests: bool, no_trunc: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    for image in images {
        let id = if no_trunc {
            image.id.clone()
        } else {
            format::truncate_id(&image.id)
        };
        let row = |repository: &str, tag: &str, digest: &str| {
            json!({
                "Repository": repository,
                "Tag": tag,
                "Digest": digest,
                "ID": id,
                "CreatedSince": format::time_ago(image.created),
                "CreatedAt": format::local_time(image.created),
                "Size": format::human_size(image.size as u64),
                "VirtualSize": format::human_size(image.virtual_size as u64),
                "SharedSize": "N/A",
                "UniqueSize": "N/A",
                "Containers": "N/A",
            })
        };
        let split_last = |s: &str, sep: char| -> (String, String) {
            match s.rfind(sep) {
                Some(i) => (s[..i].to_owned(), s[i + 1..].to_owned()),
                None => (s.to_owned(), String::new()),
            }
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        for tagged in image.repo_tags.iter().flatten() {
            tags.push(split_last(tagged, ':'));
        }
        let mut digests: Vec<(String, String)> = Vec::new();
        for digested in image.repo_digests.iter().flatten() {
            digests.push(split_last(digested, '@'));
        }
        let mut remaining_digest_repos: Vec<String> = digests.iter().map(|(r, _)| r.clone()).collect();
        remaining_digest_repos.dedup();
        let before = rows.len();
        for (repository, tag) in &tags {
            remaining_digest_repos.retain(|r| r != repository);
            let repo_digests: Vec<&String> = digests
                .iter()
                .filter(|(r, _)| r == repository)
                .map(|(_, d)| d)
                .collect();
            if !show_digests || repo_digests.is_empty() {
                rows.push(row(repository, tag, "<none>"));
            } else {
                for digest in repo_digests {
                    rows.push(row(repository, tag, digest));
                }
            }
        }
        for repository in remaining_digest_repos {
            if show_digests {
                for (_, digest) in digests.iter().filter(|(r, _)| *r == repository) {
                    rows.push(row(&repository, "<none>", digest));
                }
            } else {
                rows.push(row(&repository, "<none>", "<none>"));
            }
        }
        if rows.len() == before {
            rows.push(row("<none>", "<none>", "<none>"));
        }
    }
    rows
}

/// `docker rmi`: each name in turn; failures are reported and the exit status is 1.
pub async fn remove(client: &Client, args: RmiArgs) -> Outcome {
    #[derive(Serialize)]
    struct Query {
        force: bool,
        noprune: bool,
    }
    let q = query(&Query {
        force: args.force,
        noprune: args.no_prune,
    })?;
    let mut failed = false;
    for name in &args.images {
        let result: Result<Vec<ImageDeleteResponseItem>, _> = client
            .send_json(Method::DELETE, &format!("/images/{name}{q}"), &())
            .await;
        match result.map_err(not_found_as("image", name)) {
            Ok(items) => {
                for item in items {
                    if let Some(untagged) = item.untagged {
                        println!("Untagged: {untagged}");
                    }
                    if let Some(deleted) = item.deleted {
                        println!("Deleted: {deleted}");
                    }
                }
            }
            Err(failure) => {
                eprintln!("{failure}");
                failed = true;
            }
        }
    }
    if failed { Err(Failure::silent(1)) } else { Ok(()) }
}

/// `docker tag SOURCE TARGET`.
pub async fn tag(client: &Client, args: TagArgs) -> Outcome {
    // The target's tag follows its last ':' unless that ':' is part of a registry host.
    let (repo, tag) = match args.target.rfind(':') {
        Some(i) if !args.target[i + 1..].contains('/') => (&args.target[..i], &args.target[i + 1..]),
        _ => (args.target.as_str(), ""),
    };
    #[derive(Serialize)]
    struct Query<'a> {
        repo: &'a str,
        tag: &'a str,
    }
    let path = format!("/images/{}/tag{}", args.source, query(&Query { repo, tag })?);
    client
        .call(Method::POST, &path)
        .await
        .map_err(not_found_as("image", &args.source))
}

/// `docker history`.
pub async fn history(client: &Client, args: HistoryArgs) -> Outcome {
    let items: Vec<ImageHistoryResponseItem> = client
        .get(&format!("/images/{}/history", args.image))
        .await
        .map_err(not_found_as("image", &args.image))?;
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let id = if args.no_trunc || item.id.starts_with('<') { item.id.clone() } else { format::truncate_id(&item.id) };
            let created_by = if args.no_trunc { item.created_by.clone() } else { format::ellipsis(&item.created_by, 45) };
            json!({
                "ID": id,
                "CreatedSince": if args.human { format::time_ago(item.created) } else { format::rfc3339_local(item.created) },
                "CreatedAt": format::rfc3339_local(item.created),
                "CreatedBy": created_by,
                "Size": if args.human { format::human_size(item.size as u64) } else { item.size.to_string() },
                "Comment": item.comment,
            })
        })
        .collect();
    let template = if args.quiet {
        "{{.ID}}".to_owned()
    } else {
        args.format.clone().unwrap_or_else(|| {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_owned()
        })
    };
    print!(
        "{}",
        format::render_list(&template, format::ListKind::History, &rows).map_err(Failure::new)?
    );
    Ok(())
}

/// `docker image inspect` (and, until containers exist, `docker inspect`): a JSON array, or a
/// template per object. Names not found are reported after what was found is printed.
pub async fn inspect(client: &Client, args: InspectArgs) -> Outcome {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in &args.names {
        match client.get::<Value>(&format!("/images/{name}/json")).await {
            Ok(value) => found.push(value),
            Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => missing.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    match &args.format {
        Some(template) => {
            for value in &found {
                println!(
                    "{}",
                    format::render_template(template, value).map_err(Failure::new)?
                );
            }
        }
        None => println!("{}", pretty_json(&found)),
    }
    match missing.as_slice() {
        [] => Ok(()),
        names => {
            for name in names {
                eprintln!("Error: No such image: {name}");
            }
            Err(Failure::silent(1))
        }
    }
}

/// `docker image prune`.
pub async fn prune(client: &Client, args: PruneArgs) -> Outcome {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !super::confirm(warning) {
        return Ok(());
    }
    let pruned = super::prune::images(client, args.all, &args.filter).await?;
    super::prune::print_with_total(&pruned);
    Ok(())
}

/// `docker load`: streams the archive (file or stdin) to the daemon and prints what it says.
pub async fn load(client: &Client, args: LoadArgs) -> Outcome {
    let body = match &args.input {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Failure::new(format!("open {}: {e}", path.display())))?;
            Client::stream(file)
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::new("requested load from stdin, but stdin is empty"));
            }
            Client::stream(tokio::io::stdin())
        }
    };
    let path = if args.quiet {
        "/images/load?quiet=1"
    } else {
        "/images/load?quiet=0"
    };
    let response = client
        .request(Method::POST, path, Some("application/x-tar"), body)
        .await?;
    print_messages(response).await
}

/// Print a daemon's JSON progress stream as Docker's CLI does; an error message fails the command.
async fn print_messages(response: http::Response<hyper::body::Incoming>) -> Outcome {
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::new(e.to_string()))?
        .to_bytes();
    let mut stdout = std::io::stdout().lock();
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let message: BuildInfo = serde_json::from_slice(line).map_err(|e| Failure::new(e.to_string()))?;
        if let Some(error) = message.error {
            return Err(Failure::new(error));
        }
        if let Some(stream) = message.stream {
            write!(stdout, "{stream}")?;
        } else if let Some(status) = message.status {
            writeln!(stdout, "{status}")?;
        }
    }
    Ok(())
}

/// `docker save`: to a file (written whole, then renamed into place) or to a non-terminal stdout.
pub async fn save(client: &Client, args: SaveArgs) -> Outcome {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let names: Vec<(&str, &String)> = args.images.iter().map(|n| ("names", n)).collect();
    let path = format!("/images/get{}", query(&names)?);
    let response = client.request(Method::GET, &path, None, Client::empty()).await?;
    let mut body = response.into_body();
    match &args.output {
        Some(output) => {
            let dir = output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut temp = tempfile_in(dir)?;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failure::new(format!("error during save: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    temp.1.write_all(&data)?;
                }
            }
            temp.1.sync_all()?;
            std::fs::rename(&temp.0, output)
                .map_err(|e| Failure::new(format!("write {}: {e}", output.display())))?;
            temp.0 = std::path::PathBuf::new();
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| Failure::new(format!("error during save: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    stdout.write_all(&data)?;
                }
            }
        }
    }
    Ok(())
}

/// A temporary file beside the output, removed unless renamed into place.
struct TempOutput(std::path::PathBuf, std::fs::File);

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn tempfile_in(dir: &std::path::Path) -> Result<TempOutput, Failure> {
    let path = dir.join(format!(".berth-save-{}", std::process::id()));
    let file =
        std::fs::File::create(&path).map_err(|e| Failure::new(format!("create {}: {e}", path.display())))?;
    Ok(TempOutput(path, file))
}

/// `docker import file|- [REPOSITORY[:TAG]]`.
pub async fn import(client: &Client, args: ImportArgs) -> Outcome {
    let body = if args.source == "-" {
        Client::stream(tokio::io::stdin())
    } else if args.source.contains("://") {
        return Err(Failure::new(format!(
            "cannot import from {}: berth imports files and stdin only",
            args.source
        )));
    } else {
        let file = tokio::fs::File::open(&args.source)
            .await
            .map_err(|e| Failure::new(format!("open {}: {e}", args.source)))?;
        Client::stream(file)
    };
    let mut params: Vec<(&str, String)> = vec![("fromSrc", "-".into())];
    if let Some(reference) = &args.reference {
        params.push(("repo", reference.clone()));
    }
    if let Some(message) = &args.message {
        params.push(("message", message.clone()));
    }
    for change in &args.change {
        params.push(("changes", change.clone()));
    }
    let path = format!("/images/create{}", query(&params)?);
    let response = client
        .request(Method::POST, &path, Some("application/x-tar"), body)
        .await?;
    print_messages(response).await
}
