//! COPY and ADD: files from the context (or `--from` another stage or an image) into the
//! stage's image, as one layer. No step container runs: one is made on the image so far to hold
//! the files, committed, and removed, and Docker prints nothing about it.

use std::io::Read;
use std::sync::Arc;

use berth_api::types::ContainerConfig;

use super::{Builder, Stage, nop_command};
use crate::archive::{self, ContainerPath, FsView};
use crate::build::copy::{self, CopySource, Destination, SourceFiles};
use crate::build::output::Output;
use crate::build::{BuildError, step, tarsum};
use crate::container::OpenedFs;

/// What a COPY or ADD asks for (variables already expanded).
#[derive(Debug, Clone)]
pub struct CopyRequest {
    /// `COPY` or `ADD`.
    pub instruction: &'static str,
    pub sources: Vec<String>,
    pub dest: String,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--from=stage|image`.
    pub from: Option<String>,
}

/// Another stage's or an image's files, read through a container made on the image.
struct ImageFiles {
    fs: OpenedFs,
}

impl SourceFiles for ImageFiles {
    fn view(&self) -> &FsView {
        self.fs.view()
    }

    fn hash(&self, path: &str) -> String {
        let fallback = path.to_owned();
        let Ok(resolved) = SourceFiles::resolve(self, path) else {
            return fallback;
        };
        let name: String = resolved
            .iter()
            .map(|c| c.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        tarsum::file_hash(self.fs.view(), &resolved, &name).unwrap_or(fallback)
    }
}

/// COPY or ADD.
pub async fn copy(builder: &mut Builder, stage: &mut Stage, request: CopyRequest) -> Result<(), BuildError> {
    let instruction = request.instruction;
    let failed = move |e: copy::CopyError| BuildError::Step(format!("{instruction} failed: {e}"));
    // The source: the context, or a container made on the image `--from` names.
    let mut from_container = None;
    let image_files = match &request.from {
        None => None,
        Some(from) => {
            let image = builder.from_image(from).await?;
            let id = step::create(&builder.engine, &builder.options, &image, &holder_config(stage)).await?;
            from_container = Some(id.clone());
            let fs = builder.engine.containers.open_root_fs(&id).await;
            match fs {
                Ok(fs) => Some(ImageFiles { fs }),
                Err(e) => {
                    let _ = step::remove(&builder.engine, &id).await;
                    return Err(BuildError::Step(e.to_string()));
                }
            }
        }
    };
    let result = copy_from(builder, stage, &request, image_files, failed).await;
    if let Some(id) = from_container {
        step::remove(&builder.engine, &id).await?;
    }
    result
}

/// A config for a container that only holds files (never started).
fn holder_config(stage: &Stage) -> ContainerConfig {
    let mut config = stage.config.clone();
    config.cmd = Some(nop_command(&stage.shell(), "holding files for COPY --from", true));
    config
}

/// Sources read from one place, and whether ADD may extract them.
struct Group {
    files: Arc<dyn SourceFiles + Send + Sync>,
    found: Vec<CopySource>,
    may_extract: bool,
}

async fn copy_from(
    builder: &mut Builder,
    stage: &mut Stage,
    request: &CopyRequest,
    image_files: Option<ImageFiles>,
    failed: impl Fn(copy::CopyError) -> BuildError + Send + Copy + 'static,
) -> Result<(), BuildError> {
    let local: Arc<dyn SourceFiles + Send + Sync> = match image_files {
        Some(files) => Arc::new(files),
        None => builder.context.clone(),
    };
    let is_add = request.instruction == "ADD";
    let mut groups: Vec<Group> = Vec::new();
    // Downloads live as long as this step.
    let mut downloads = Vec::new();
    for pattern in &request.sources {
        if is_url(pattern) {
            if !is_add {
                return Err(failed(copy::CopyError::Io(
                    "source can't be a URL for COPY".into(),
                )));
            }
            let dir = builder.scratch_dir()?;
            let name = download(&builder.output, pattern, &request.dest, dir.path()).await?;
            let files: Arc<dyn SourceFiles + Send + Sync> =
                Arc::new(DownloadedFiles::new(dir.path()).map_err(|e| BuildError::Step(e.to_string()))?);
            downloads.push(dir);
            let mut found = found_in(files.clone(), vec![name]).await?.map_err(failed)?;
            // A download's cache key is its bare sum: Docker adds `file:` only for local files.
            for source in &mut found {
                if let Some(bare) = source.hash.strip_prefix("file:") {
                    source.hash = bare.to_owned();
                }
            }
            // What comes from a URL is never extracted, archive or not (Docker's `noDecompress`).
            groups.push(Group {
                files,
                found,
                may_extract: false,
            });
        } else {
            let found = match found_in(local.clone(), vec![pattern.clone()]).await? {
                Err(copy::CopyError::NoSources) => Vec::new(),
                other => other.map_err(failed)?,
            };
            groups.push(Group {
                files: local.clone(),
                found,
                may_extract: is_add,
            });
        }
    }
    let all: Vec<CopySource> = groups.iter().flat_map(|g| g.found.iter().cloned()).collect();
    if all.is_empty() {
        return Err(failed(copy::CopyError::NoSources));
    }
    if all.len() > 1 && !request.dest.ends_with('/') {
        return Err(BuildError::Step(format!(
            "When using {} with more than one source file, the destination must be a directory and end with a /",
            request.instruction
        )));
    }

    let hash = copy::sources_hash(&all);
    let chown_comment = request
        .chown
        .as_ref()
        .map(|c| format!("--chown={c}"))
        .unwrap_or_default();
    // Docker's words, trailing space and all.
    let comment = format!(
        "{} {chown_comment}{hash} in {} ",
        request.instruction, request.dest
    );
    let mut recorded = stage.config.clone();
    recorded.cmd = Some(nop_command(&stage.shell(), &comment, true));
    if let Some(image) = &stage.image {
        recorded.image = image.to_string();
    }
    if let Some(hit) = builder.probe(stage, &recorded).await? {
        stage.image = Some(hit);
        return Ok(());
    }

    let dest_path = destination_path(&stage.config.working_dir, &request.dest);
    let chown = request.chown.clone();
    // Write every group into `target`.
    let write = move |target: &FsView| -> Result<(), BuildError> {
        let owner = match &chown {
            Some(spec) => chown_ids(target, spec)?,
            None => (0, 0),
        };
        for group in &groups {
            let destination = Destination {
                path: dest_path.clone(),
                owner,
                extract_archives: group.may_extract,
            };
            copy::copy_into(group.files.as_ref(), &group.found, &destination, target).map_err(failed)?;
        }
        Ok(())
    };
    match stage.image.clone() {
        Some(image) => {
            let holder = step::create(&builder.engine, &builder.options, &image, &recorded).await?;
            let copied = async {
                let target = builder
                    .engine
                    .containers
                    .open_root_fs(&holder)
                    .await
                    .map_err(|e| BuildError::Step(e.to_string()))?;
                tokio::task::spawn_blocking(move || write(target.view()))
                    .await
                    .map_err(|e| BuildError::Step(e.to_string()))??;
                step::commit(
                    &builder.engine,
                    &holder,
                    stage.config.clone(),
                    Some(recorded.clone()),
                    &stage.maintainer,
                )
                .await
            }
            .await;
            step::remove(&builder.engine, &holder).await?;
            stage.image = Some(copied?);
        }
        None => {
            // A scratch stage's first files: copied into an empty directory, committed as the
            // stage's first layer.
            let dir = builder.scratch_dir()?;
            let root = dir.path().to_owned();
            tokio::task::spawn_blocking(move || {
                let target = FsView::new(&root, &[]).map_err(|e| BuildError::Step(e.to_string()))?;
                write(&target)
            })
            .await
            .map_err(|e| BuildError::Step(e.to_string()))??;
            let id = step::commit_directory(
                &builder.engine,
                dir.path(),
                stage.config.clone(),
                recorded,
                &stage.maintainer,
            )
            .await?;
            stage.image = Some(id);
        }
    }
    drop(downloads);
    Ok(())
}

/// The sources `patterns` name in `files` (found on a blocking thread).
async fn found_in(
    files: Arc<dyn SourceFiles + Send + Sync>,
    patterns: Vec<String>,
) -> Result<Result<Vec<CopySource>, copy::CopyError>, BuildError> {
    tokio::task::spawn_blocking(move || copy::sources(files.as_ref(), &patterns))
        .await
        .map_err(|e| BuildError::Step(e.to_string()))
}

/// Docker's `urlutil.IsURL`: http and https only.
fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// What `ADD <url>` downloaded: a directory of one file, summed as Docker's lazy source sums it.
struct DownloadedFiles {
    view: FsView,
}

impl DownloadedFiles {
    fn new(dir: &std::path::Path) -> std::io::Result<DownloadedFiles> {
        Ok(DownloadedFiles {
            view: FsView::new(dir, &[])?,
        })
    }
}

impl SourceFiles for DownloadedFiles {
    fn view(&self) -> &FsView {
        &self.view
    }

    fn hash(&self, path: &str) -> String {
        let fallback = path.to_owned();
        match SourceFiles::resolve(self, path) {
            Ok(resolved) => tarsum::file_hash(&self.view, &resolved, path).unwrap_or(fallback),
            Err(_) => fallback,
        }
    }
}

/// The most an ADD downloads.
const MAX_DOWNLOAD: u64 = 8 << 30;

/// Download `url` into `dir` as Docker's `downloadSource`: named after the URL's path or its
/// `Content-Disposition` (`__unnamed__` when neither names it, refused when `dest` is a
/// directory), mode 0600, its time the `Last-Modified` header's. Returns the file's name.
async fn download(
    output: &Output,
    url: &str,
    dest: &str,
    dir: &std::path::Path,
) -> Result<String, BuildError> {
    let failed = |e: String| BuildError::Step(e);
    let response = reqwest::get(url)
        .await
        .map_err(|e| failed(go_url_error(url, &e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!(
            "failed to GET {url} with status {}: {}",
            format_status(status),
            response.text().await.unwrap_or_default().trim()
        )));
    }
    let from_path = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
        .filter(|name| !name.is_empty());
    let from_header = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("filename=")))
        .map(|name| {
            name.trim_matches('"')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .filter(|name| !name.is_empty());
    let name = match from_path.or(from_header) {
        Some(name) => name,
        None if dest.ends_with('/') => {
            return Err(failed(format!("cannot determine filename for source {url}")));
        }
        None => "__unnamed__".to_owned(),
    };
    let modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let path = dir.join(&name);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .await
        .map_err(|e| failed(format!("create {name}: {e}")))?;
    let mut response = response;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        written += chunk.len() as u64;
        if written > MAX_DOWNLOAD {
            return Err(failed(format!("{url}: larger than {MAX_DOWNLOAD} bytes")));
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    // tokio finishes a write in the background: flushed, no late write can move the time.
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| failed(e.to_string()))?;
    drop(file);
    let time = modified.unwrap_or(std::time::UNIX_EPOCH);
    let times = std::fs::FileTimes::new().set_accessed(time).set_modified(time);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_times(times))
        .map_err(|e| failed(e.to_string()))?;
    // Docker follows a download with an empty line.
    output.stream("\n").await;
    Ok(name)
}

/// `404 Not Found`, as Go prints a response's status.
fn format_status(status: reqwest::StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
}

/// A failed GET in Go's words as near as reqwest tells: `Get "<url>": <cause>`.
fn go_url_error(url: &str, error: &reqwest::Error) -> String {
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    format!("Get {}: {cause}", berth_api::go_quote::go_quote(url))
}

/// The destination in the container: relative ones below WORKDIR; a trailing `/` kept (it says
/// "a directory"), as Docker's `normalizeDest`.
fn destination_path(working_dir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        return dest.to_owned();
    }
    let base = match working_dir {
        "" => "/",
        dir => dir,
    };
    let mut joined = format!("{}/{dest}", base.trim_end_matches('/'));
    if dest == "." || dest.ends_with("/.") {
        joined.push('/');
    }
    joined
}

/// `--chown` as ids, failures in Docker's words.
fn chown_ids(root: &FsView, spec: &str) -> Result<(u32, u32), BuildError> {
    parse_chown(root, spec).map_err(|e| {
        BuildError::Step(format!(
            "unable to convert uid/gid chown string to host mapping: {e}"
        ))
    })
}

/// `--chown=user[:group]` as ids, names looked up in the destination's own /etc/passwd and
/// /etc/group (a lone user names the group too), as Docker's `parseChownFlag`.
fn parse_chown(root: &FsView, spec: &str) -> Result<(u32, u32), BuildError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (user, group) = match parts.as_slice() {
        [user] => (*user, *user),
        [user, group] => (*user, *group),
        _ => return Err(BuildError::Step(format!("invalid chown string format: {spec}"))),
    };
    let uid = lookup(root, "etc/passwd", user)
        .ok_or_else(|| BuildError::Step(format!("can't find uid for user {user}: no such user: {user}")))?;
    let gid = lookup(root, "etc/group", group).ok_or_else(|| {
        BuildError::Step(format!(
            "can't find gid for group {group}: no such group: {group}"
        ))
    })?;
    Ok((uid, gid))
}

/// A number as is, else the id of `name` in the colon-separated file at `path` of `root`.
fn lookup(root: &FsView, path: &str, name: &str) -> Option<u32> {
    if let Ok(id) = name.parse::<u32>() {
        return Some(id);
    }
    let resolved: ContainerPath = root.resolve(&archive::clean(path.as_bytes()), true).ok()?;
    let fd = root.open(&resolved, rustix::fs::OFlags::RDONLY).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut text)
        .ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name)).then(|| fields.get(2)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_made_absolute_below_workdir() {
        assert_eq!(destination_path("/app", "x/"), "/app/x/");
        assert_eq!(destination_path("/app", "."), "/app/./");
        assert_eq!(destination_path("", "a.txt"), "/a.txt");
        assert_eq!(destination_path("/app", "/etc/"), "/etc/");
    }

    #[test]
    fn chown_names_come_from_the_images_files() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            root.path().join("etc/group"),
            "root:x:0:\nweb:x:33:\nstaff:x:50:\n",
        )
        .unwrap();
        let view = FsView::new(root.path(), &[]).unwrap();
        assert_eq!(parse_chown(&view, "web").unwrap(), (33, 33));
        assert_eq!(parse_chown(&view, "web:staff").unwrap(), (33, 50));
        assert_eq!(parse_chown(&view, "1000:1001").unwrap(), (1000, 1001));
        assert_eq!(
            parse_chown(&view, "nobody2").unwrap_err().to_string(),
            "can't find uid for user nobody2: no such user: nobody2"
        );
        assert!(parse_chown(&view, "a:b:c").is_err());
    }
}
