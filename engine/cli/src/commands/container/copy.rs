//! `docker cp` and `docker export`, with the Docker 20.10 CLI's rules (`cli/command/container/
//! cp.go` and `pkg/archive/copy.go`): which side is the container, what a trailing `/` or `/.`
//! asks for, when the copied entry takes the destination's name, `-` for a tar on stdin or
//! stdout, and the CLI's own error messages. Nothing is printed on success.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use berth_api::client::{Client, ClientError, query};
use http::Method;
use http_body_util::BodyExt;
use serde::Deserialize;

use super::host_tar::{self, Rename};
use crate::cli::{CpArgs, ExportArgs};
use crate::commands::{Failure, Outcome};

// Go's os.FileMode bits the CLI looks at.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
const MODE_DEVICE: u32 = 1 << 26;
const MODE_IRREGULAR: u32 = 1 << 19;

/// Docker's `ContainerPathStat`, as the stat header carries it.
#[derive(Debug, Deserialize)]
struct PathStat {
    mode: u32,
    #[serde(rename = "linkTarget", default)]
    link_target: String,
}

/// What is known of one side of a copy (Docker's `archive.CopyInfo`).
#[derive(Debug, Default)]
struct CopyInfo {
    path: String,
    exists: bool,
    is_dir: bool,
    rebase_name: Option<String>,
}

/// `CONTAINER:PATH` or a local path: an absolute path or one with `.` before its first `:` is
/// local (`./file:name`).
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.starts_with('.') => (Some(container), path),
        _ => (None, arg),
    }
}

/// Go's `filepath.Base`.
fn base(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Go's `filepath.Clean`.
fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir`.
fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

fn specifies_current_dir(path: &str) -> bool {
    base(path) == "."
}

/// Docker's `SplitPathDirEntry`: the directory and the entry a path names (`/.` is an entry).
fn split_path_dir_entry(path: &str) -> (String, String) {
    let mut cleaned = clean(path);
    if specifies_current_dir(path) {
        cleaned.push_str("/.");
    }
    (dir(&cleaned), base(&cleaned).to_owned())
}

/// Docker's `PreserveTrailingDotOrSeparator`.
fn preserve_trailing(cleaned: &str, original: &str) -> String {
    let mut cleaned = cleaned.to_owned();
    if !specifies_current_dir(&cleaned) && specifies_current_dir(original) {
        if !cleaned.ends_with('/') {
            cleaned.push('/');
        }
        cleaned.push('.');
    }
    if !cleaned.ends_with('/') && original.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

/// A local path made absolute, keeping what its end asks for.
fn resolve_local_path(path: &str) -> Result<String, Failure> {
    let absolute = if path.starts_with('/') {
        clean(path)
    } else {
        let cwd = std::env::current_dir()?;
        clean(&format!("{}/{path}", cwd.display()))
    };
    Ok(preserve_trailing(&absolute, path))
}

/// Go's error text for a failed `stat`/`lstat` of `path`.
fn os_error(call: &str, path: &str, error: std::io::Error) -> Failure {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_lowercase();
    Failure::new(format!("{call} {path}: {text}"))
}

/// Docker's `GetRebaseName`.
fn rebase_name(path: &str, resolved: &str) -> (String, Option<String>) {
    let mut resolved = resolved.to_owned();
    if specifies_current_dir(path) && !specifies_current_dir(&resolved) {
        resolved.push_str("/.");
    }
    if path.ends_with('/') && !resolved.ends_with('/') {
        resolved.push('/');
    }
    let rebase = (base(path) != base(&resolved)).then(|| base(path).to_owned());
    (resolved, rebase)
}

/// Docker's `PrepareArchiveCopy`: where to extract, and the rename the entries need so that
/// the copy lands under the name asked for.
fn prepare_archive_copy(src: &CopyInfo, dst: &CopyInfo) -> Result<(String, Option<Rename>), Failure> {
    let (dst_dir, dst_base) = split_path_dir_entry(&dst.path);
    let src_base = match &src.rebase_name {
        Some(name) => name.clone(),
        None => split_path_dir_entry(&src.path).1,
    };
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), None));
    }
    if dst.exists && src.is_dir {
        return Err(Failure::new("cannot copy directory"));
    }
    if !dst.exists && !src.is_dir && (dst.path.ends_with('/') || specifies_current_dir(&dst.path)) {
        return Err(Failure::new("no such directory"));
    }
    Ok((dst_dir, Some((src_base, dst_base))))
}

/// The 20.10 CLI's words for a 404 of an archive request: the container or the path is missing.
fn no_such_path(container: &str, path: &str) -> impl FnOnce(ClientError) -> Failure {
    let what = format!("{container}:{path}");
    move |error| match error.status() {
        Some(http::StatusCode::NOT_FOUND) => Failure::new(format!("Error: No such container:path: {what}")),
        _ => Failure::from(error),
    }
}

/// `HEAD /containers/{id}/archive`: the stat of a container path.
async fn stat_path(client: &Client, container: &str, path: &str) -> Result<PathStat, ClientError> {
    let uri = format!("/containers/{container}/archive{}", query(&[("path", path)])?);
    let response = client.request(Method::HEAD, &uri, None, Client::empty()).await?;
    Ok(decode_stat(response.headers()).unwrap_or(PathStat {
        mode: 0,
        link_target: String::new(),
    }))
}

fn decode_stat(headers: &http::HeaderMap) -> Option<PathStat> {
    let value = headers.get("X-Docker-Container-Path-Stat")?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// `docker cp SRC DEST`.
pub async fn cp(client: &Client, args: CpArgs) -> Outcome {
    if args.source.is_empty() {
        return Err(Failure::new("source can not be empty"));
    }
    if args.destination.is_empty() {
        return Err(Failure::new("destination can not be empty"));
    }
    match (split_cp_arg(&args.source), split_cp_arg(&args.destination)) {
        ((Some(container), source), (None, destination)) => {
            copy_from_container(client, container, source, destination, args.follow_link).await
        }
        ((None, source), (Some(container), destination)) => {
            copy_to_container(client, container, source, destination, &args).await
        }
        ((Some(_), _), (Some(_), _)) => Err(Failure::new("copying between containers is not supported")),
        ((None, _), (None, _)) => Err(Failure::new("must specify at least one container source")),
    }
}

/// Docker's `ValidateOutputPath`: the parent exists; the path is a directory or a regular file.
fn validate_output_path(path: &str) -> Outcome {
    let parent = dir(&clean(path));
    if parent != "." && !Path::new(&parent).exists() {
        return Err(Failure::new(format!(
            "invalid output path: directory {parent:?} does not exist"
        )));
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(os_error("stat", path, e)),
        Ok(meta) if meta.is_dir() || meta.is_file() => Ok(()),
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            let got = if meta.file_type().is_block_device() || meta.file_type().is_char_device() {
                "got a device"
            } else {
                "got an irregular file"
            };
            Err(Failure::new(format!(
                "invalid output path: {path:?} must be a directory or a regular file: {got}"
            )))
        }
    }
}

/// Docker's `CopyInfoDestinationPath` on the host: symlinks at the end followed; a missing
/// path is fine when its parent is a directory.
fn local_destination(path: &str) -> Result<CopyInfo, Failure> {
    let mut path = path.to_owned();
    for _ in 0..=10 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map_err(|e| os_error("readlink", &path, e))?;
                let target = target.display().to_string();
                path = if target.starts_with('/') {
                    target
                } else {
                    clean(&format!("{}/{target}", split_path_dir_entry(&path).0))
                };
            }
            Ok(meta) => {
                return Ok(CopyInfo {
                    path,
                    exists: true,
                    is_dir: meta.is_dir(),
                    rebase_name: None,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (parent, _) = split_path_dir_entry(&path);
                let meta = std::fs::metadata(&parent).map_err(|e| os_error("stat", &parent, e))?;
                if !meta.is_dir() {
                    return Err(Failure::new("not a directory"));
                }
                return Ok(CopyInfo {
                    path,
                    ..CopyInfo::default()
                });
            }
            Err(e) => return Err(os_error("lstat", &path, e)),
        }
    }
    Err(Failure::new(format!("too many symlinks in {path}")))
}

async fn copy_from_container(
    client: &Client,
    container: &str,
    source: &str,
    destination: &str,
    follow_link: bool,
) -> Outcome {
    let destination = if destination == "-" {
        destination.to_owned()
    } else {
        let path = resolve_local_path(destination)?;
        validate_output_path(&path)?;
        path
    };
    let mut source = source.to_owned();
    let mut rebase = None;
    if follow_link {
        if let Ok(stat) = stat_path(client, container, &source).await {
            if stat.mode & MODE_SYMLINK != 0 {
                let mut target = stat.link_target;
                if !target.starts_with('/') {
                    target = clean(&format!("{}/{target}", split_path_dir_entry(&source).0));
                }
                (source, rebase) = rebase_name(&source, &target);
            }
        }
    }
    let uri = format!("/containers/{container}/archive{}", query(&[("path", &source)])?);
    let response = client
        .request(Method::GET, &uri, None, Client::empty())
        .await
        .map_err(no_such_path(container, &source))?;
    let stat =
        decode_stat(response.headers()).ok_or_else(|| Failure::new("no stat of the path in the answer"))?;
    let mut body = response.into_body();
    if destination == "-" {
        let mut stdout = std::io::stdout().lock();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Failure::new(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                stdout.write_all(&data)?;
            }
        }
        return Ok(stdout.flush()?);
    }
    let src = CopyInfo {
        path: source.clone(),
        exists: true,
        is_dir: stat.mode & MODE_DIR != 0,
        rebase_name: rebase.clone(),
    };
    let mut renames: Vec<Rename> = Vec::new();
    if let Some(rebase) = &rebase {
        renames.push((split_path_dir_entry(&source).1, rebase.clone()));
    }
    let dst = local_destination(&destination)?;
    let (dst_dir, rename) = prepare_archive_copy(&src, &dst)?;
    renames.extend(rename);
    // The tar is extracted as it arrives, on a blocking thread.
    let stream = body.into_data_stream();
    let reader =
        tokio_util::io::StreamReader::new(futures_util::TryStreamExt::map_err(stream, std::io::Error::other));
    let reader = tokio_util::io::SyncIoBridge::new(reader);
    tokio::task::spawn_blocking(move || host_tar::untar(reader, Path::new(&dst_dir), &renames))
        .await
        .map_err(|e| Failure::new(e.to_string()))?
        .map_err(|e| Failure::new(e.to_string()))
}

async fn copy_to_container(
    client: &Client,
    container: &str,
    source: &str,
    destination: &str,
    args: &CpArgs,
) -> Outcome {
    let mut dst = CopyInfo {
        path: destination.to_owned(),
        ..CopyInfo::default()
    };
    let mut stat = stat_path(client, container, destination).await;
    // A symlink at the destination is followed (in the container's scope, by the daemon).
    if let Ok(found) = &stat {
        if found.mode & MODE_SYMLINK != 0 {
            let mut target = found.link_target.clone();
            if !target.starts_with('/') {
                target = clean(&format!("{}/{target}", split_path_dir_entry(destination).0));
            }
            dst.path = target.clone();
            stat = stat_path(client, container, &target).await;
        }
    }
    if let Ok(found) = &stat {
        let got = if found.mode & MODE_DEVICE != 0 {
            Some("got a device")
        } else if found.mode & MODE_IRREGULAR != 0 {
            Some("got an irregular file")
        } else {
            None
        };
        if let Some(got) = got {
            return Err(Failure::new(format!(
                "destination \"{container}:{destination}\" must be a directory or a regular file: {got}"
            )));
        }
        dst.exists = true;
        dst.is_dir = found.mode & MODE_DIR != 0;
    }
    let (dst_dir, body, writer) = if source == "-" {
        if !dst.is_dir {
            return Err(Failure::new(format!(
                "destination \"{container}:{destination}\" must be a directory"
            )));
        }
        (dst.path.clone(), Client::stream(tokio::io::stdin()), None)
    } else {
        let src = local_source(&resolve_local_path(source)?, args.follow_link)?;
        let (dst_dir, rename) = prepare_archive_copy(&src, &dst)?;
        let (src_dir, src_base) = split_path_dir_entry(&src.path);
        let name = match (rename, &src.rebase_name) {
            (Some((_, new)), _) => new,
            (None, Some(rebase)) => rebase.clone(),
            (None, None) => src_base.clone(),
        };
        // The tar is written into a pipe as it is uploaded.
        let (read, write) = nix::unistd::pipe().map_err(|e| Failure::new(e.to_string()))?;
        let top = PathBuf::from(src_dir).join(&src_base);
        let writer = std::thread::spawn(move || host_tar::write_tar(&top, &name, std::fs::File::from(write)));
        let body = Client::stream(tokio::fs::File::from_std(std::fs::File::from(read)));
        (dst_dir, body, Some(writer))
    };
    let mut params = vec![("path", dst_dir.as_str()), ("noOverwriteDirNonDir", "true")];
    if args.archive {
        params.push(("copyUIDGID", "true"));
    }
    let uri = format!("/containers/{container}/archive{}", query(&params)?);
    let result = client.request(Method::PUT, &uri, None, body).await;
    let written = writer.map(|w| w.join());
    let response = result.map_err(no_such_path(container, &dst_dir))?;
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    match written {
        Some(Ok(Err(e))) => Err(Failure::new(format!("error while writing the tar: {e}"))),
        _ => Ok(()),
    }
}

/// Docker's `CopyInfoSourcePath`: the local source, its parent's symlinks resolved (all of
/// them with `-L`), and the name the copy keeps when resolving changed it.
fn local_source(path: &str, follow_link: bool) -> Result<CopyInfo, Failure> {
    let (resolved, rebase_name) = if follow_link {
        let resolved = std::fs::canonicalize(path).map_err(|e| os_error("lstat", path, e))?;
        rebase_name(path, &resolved.display().to_string())
    } else {
        let (dir_part, base_part) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let dir_resolved = std::fs::canonicalize(if dir_part.is_empty() { "." } else { dir_part })
            .map_err(|e| os_error("lstat", dir_part, e))?;
        let resolved = format!(
            "{}/{base_part}",
            dir_resolved.display().to_string().trim_end_matches('/')
        );
        let rebase = (path.ends_with('/') && base(path) != base(&resolved)).then(|| base(path).to_owned());
        (resolved, rebase)
    };
    let meta = std::fs::symlink_metadata(&resolved).map_err(|e| os_error("lstat", &resolved, e))?;
    Ok(CopyInfo {
        path: resolved,
        exists: true,
        is_dir: meta.is_dir(),
        rebase_name,
    })
}

/// `docker export [-o file] CONTAINER`: to a file or a non-terminal stdout.
pub async fn export(client: &Client, args: ExportArgs) -> Outcome {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    if let Some(output) = &args.output {
        validate_output_path(&output.display().to_string())
            .map_err(|e| Failure::new(format!("failed to export container: {e}")))?;
    }
    let uri = format!("/containers/{}/export", args.container);
    let response = client.request(Method::GET, &uri, None, Client::empty()).await?;
    let mut body = response.into_body();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| Failure::new(format!("failed to export container: {e}")))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::new(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            out.write_all(&data)?;
        }
    }
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_as_dockers() {
        assert_eq!(split_cp_arg("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_cp_arg("/abs:x"), (None, "/abs:x"));
        assert_eq!(split_cp_arg("./file:name"), (None, "./file:name"));
        assert_eq!(split_cp_arg("file"), (None, "file"));
        assert_eq!(split_cp_arg("web:"), (Some("web"), ""));
    }

    #[test]
    fn paths_split_and_keep_their_ends() {
        assert_eq!(split_path_dir_entry("/d/."), ("/d".into(), ".".into()));
        assert_eq!(split_path_dir_entry("/d/"), ("/".into(), "d".into()));
        assert_eq!(split_path_dir_entry("/"), ("/".into(), "/".into()));
        assert_eq!(preserve_trailing("/x/d", "d/."), "/x/d/.");
        assert_eq!(preserve_trailing("/x/d", "d/"), "/x/d/");
        assert_eq!(rebase_name("/dlink/", "/d"), ("/d/".into(), Some("dlink".into())));
    }

    #[test]
    fn the_destination_decides_the_name() {
        let dir = |path: &str, exists, is_dir| CopyInfo {
            path: path.into(),
            exists,
            is_dir,
            rebase_name: None,
        };
        // Into an existing directory: as it is.
        assert_eq!(
            prepare_archive_copy(&dir("/c/d", true, true), &dir("/h/out", true, true)).unwrap(),
            ("/h/out".into(), None)
        );
        // To a new name: renamed, extracted in the parent.
        assert_eq!(
            prepare_archive_copy(&dir("/c/d", true, true), &dir("/h/new", false, false)).unwrap(),
            ("/h".into(), Some(("d".into(), "new".into())))
        );
        assert!(prepare_archive_copy(&dir("/c/d", true, true), &dir("/h/file", true, false)).is_err());
        assert!(prepare_archive_copy(&dir("/c/f", true, false), &dir("/h/nodir/", false, false)).is_err());
    }
}
