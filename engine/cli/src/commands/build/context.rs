//! Where a build's context comes from, as docker/cli's `build/context.go` finds it: a local
//! directory (walked into a tar, `.dockerignore` applied), `-` (stdin: a tar, compressed or
//! not, or a Dockerfile alone), or a URL (a tar or a Dockerfile, downloaded by the client).
//! And where the Dockerfile is: `PATH/Dockerfile` (or `PATH/dockerfile`), `-f` (relative to
//! the current directory), `-f -` (stdin). A Dockerfile from outside the context is added to
//! the tar under a random name.

use std::io::{self, Cursor, Read, Write};
use std::path::{Component, Path, PathBuf};

use berth_api::dockerignore::{self, PatternMatcher};

use super::context_tar::{self, AddedDockerfile, TarOptions};
use super::git;
use super::progress::{Progress, Sink};
use super::upload::Source;

/// docker/cli's default Dockerfile name.
const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// A context ready to send.
pub struct Prepared {
    /// Its bytes, made on the upload thread.
    pub source: Source,
    /// The Dockerfile's name inside it: the `dockerfile` query parameter.
    pub dockerfile: String,
}

/// Why no context could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// `unable to prepare context: …`
    #[error("unable to prepare context: {0}")]
    Prepare(String),
    /// anything else, in docker/cli's words
    #[error("{0}")]
    Other(String),
}

/// `-f -` with `-`.
pub const STDIN_CONFLICT: &str = "invalid argument: can't use stdin for both build context and dockerfile";

/// The context named `context` (`PATH`, `URL`, `-`) with the Dockerfile named `file` (`-f`,
/// empty when not given); download progress goes to `sink`.
pub async fn prepare(context: &str, file: &str, sink: &Sink) -> Result<Prepared, ContextError> {
    let dockerfile_from_stdin = file == "-";
    if dockerfile_from_stdin && context == "-" {
        return Err(ContextError::Other(STDIN_CONFLICT.into()));
    }
    if context == "-" {
        return from_reader(Box::new(io::stdin()), file).map_err(ContextError::Prepare);
    }
    // docker/cli's isLocalDir is an os.Stat that succeeds (a file too, refused below).
    if std::fs::metadata(context).is_ok() {
        return from_local_dir(context, file);
    }
    if git::is_git_url(context) {
        return from_git(context, file).await;
    }
    if context.starts_with("http://") || context.starts_with("https://") {
        return from_url(context, file, sink).await.map_err(ContextError::Prepare);
    }
    Err(ContextError::Prepare(format!("path {context:?} not found")))
}

/// A directory's context: the tar is made when it is sent.
fn from_local_dir(context: &str, file: &str) -> Result<Prepared, ContextError> {
    let root = resolve_context_dir(context).map_err(ContextError::Prepare)?;
    // `-f` is relative to the current directory, not to the context.
    let given = match file {
        "" | "-" => file.to_owned(),
        file => absolute(Path::new(file)).display().to_string(),
    };
    let relative = dockerfile_relative_path(&root, &given).map_err(ContextError::Prepare)?;
    from_dir(root, relative, file, None)
}

/// A git repository's context: cloned, then sent as a directory is; `-f` names a file in the
/// clone, which is removed once the tar is written.
async fn from_git(url: &str, file: &str) -> Result<Prepared, ContextError> {
    let prepare = ContextError::Prepare;
    let clone = git::clone(url).await.map_err(prepare)?;
    let root = resolve_context_dir(&clone.context.display().to_string()).map_err(prepare)?;
    let relative = dockerfile_relative_path(&root, file).map_err(prepare)?;
    if relative.starts_with("../") {
        return Err(prepare(format!(
            "the Dockerfile ({file}) must be within the build context"
        )));
    }
    from_dir(root, relative, file, Some(clone))
}

/// The context of the directory `root`, the Dockerfile at `relative` in it (`-` for stdin,
/// `../…` outside it: then `file` is read); `clone` is kept until the tar is written.
fn from_dir(
    root: PathBuf,
    relative: String,
    file: &str,
    clone: Option<git::Clone>,
) -> Result<Prepared, ContextError> {
    // A Dockerfile from stdin, or from outside the context, goes in under a random name.
    let outside = relative.starts_with("../");
    let added = if file == "-" {
        let mut content = Vec::new();
        io::stdin()
            .read_to_end(&mut content)
            .map_err(|e| ContextError::Other(e.to_string()))?;
        Some(content)
    } else if outside {
        let content = std::fs::read(file).map_err(|e| {
            ContextError::Other(format!(
                "unable to open Dockerfile: {}",
                go_error("open", Path::new(file), &e)
            ))
        })?;
        Some(content)
    } else {
        None
    };

    let patterns = read_dockerignore(&root).map_err(ContextError::Other)?;
    let matcher = PatternMatcher::new(&patterns)
        .map_err(|e| ContextError::Other(format!("error checking context: {e}")))?;
    context_tar::check_readable(&root, &matcher)
        .map_err(|e| ContextError::Other(format!("error checking context: {e}")))?;
    let patterns = trim_build_files(patterns, &relative, file == "-");
    let matcher = PatternMatcher::new(&patterns).map_err(|e| ContextError::Other(e.to_string()))?;

    let added = added.map(|content| AddedDockerfile {
        name: format!(".dockerfile.{}", random_hex(20)),
        content,
    });
    let dockerfile = added.as_ref().map_or(relative, |a| a.name.clone());
    // The tar is written as it is sent, never held whole.
    let source: Source = Box::new(move |out: &mut dyn Write| {
        let options = TarOptions {
            excludes: &matcher,
            chown: Some((0, 0)),
            added_dockerfile: added.as_ref(),
        };
        let written = context_tar::write(&root, &options, out);
        drop(clone);
        written
    });
    Ok(Prepared { source, dockerfile })
}

/// docker/cli's `ReadDockerignore`: the patterns of `.dockerignore`, none when it is missing.
fn read_dockerignore(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join(".dockerignore");
    match std::fs::read(&path) {
        Ok(text) => dockerignore::read_all(&text).map_err(|e| e.to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(go_error("open", &path, &e)),
    }
}

/// docker/cli's `TrimBuildFilesFromExcludes`: the Dockerfile and `.dockerignore` are always
/// sent (the daemon reads them, then drops them if excluded).
fn trim_build_files(mut patterns: Vec<String>, dockerfile: &str, dockerfile_from_stdin: bool) -> Vec<String> {
    let excluded =
        |patterns: &[String], path: &str| PatternMatcher::new(patterns).is_ok_and(|m| m.excludes(path));
    if excluded(&patterns, ".dockerignore") {
        patterns.push("!.dockerignore".into());
    }
    if !dockerfile_from_stdin && excluded(&patterns, dockerfile) {
        patterns.push(format!("!{dockerfile}"));
    }
    patterns
}

/// docker/cli's `ResolveAndValidateContextPath`.
fn resolve_context_dir(context: &str) -> Result<PathBuf, String> {
    let absolute = absolute(Path::new(context));
    let resolved =
        eval_symlinks(&absolute).map_err(|e| format!("unable to evaluate symlinks in context path: {e}"))?;
    let meta = std::fs::symlink_metadata(&resolved).map_err(|e| {
        format!(
            "unable to stat context directory {:?}: {}",
            resolved.display().to_string(),
            go_error("lstat", &resolved, &e)
        )
    })?;
    if !meta.is_dir() {
        return Err(format!("context must be a directory: {}", resolved.display()));
    }
    Ok(resolved)
}

/// docker/cli's `getDockerfileRelPath`: the Dockerfile relative to the context (`../x` when
/// it lies outside), `-` for stdin.
fn dockerfile_relative_path(root: &Path, given: &str) -> Result<String, String> {
    if given == "-" {
        return Ok(given.to_owned());
    }
    let mut path = if given.is_empty() {
        // `dockerfile` is taken too, but only when `Dockerfile` is missing.
        let default = root.join(DEFAULT_DOCKERFILE);
        let lower = root.join(DEFAULT_DOCKERFILE.to_lowercase());
        let missing =
            matches!(std::fs::symlink_metadata(&default), Err(e) if e.kind() == io::ErrorKind::NotFound);
        if missing && std::fs::symlink_metadata(&lower).is_ok() {
            lower
        } else {
            default
        }
    } else {
        PathBuf::from(given)
    };
    if !path.is_absolute() {
        path = root.join(path);
    }
    let path =
        eval_symlinks(&path).map_err(|e| format!("unable to evaluate symlinks in Dockerfile path: {e}"))?;
    if let Err(e) = std::fs::symlink_metadata(&path) {
        return Err(match e.kind() {
            io::ErrorKind::NotFound => format!("Cannot locate Dockerfile: {:?}", path.display().to_string()),
            _ => format!("unable to stat Dockerfile: {}", go_error("lstat", &path, &e)),
        });
    }
    Ok(relative_to(root, &path))
}

/// Go's `filepath.Rel` for two clean absolute paths.
fn relative_to(base: &Path, target: &Path) -> String {
    let base: Vec<Component> = base.components().collect();
    let target: Vec<Component> = target.components().collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); base.len() - common];
    parts.extend(
        target[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Go's `filepath.Abs`: joined to the current directory and cleaned.
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    PathBuf::from(berth_api::go_path::clean(&joined.to_string_lossy()))
}

/// Go's `filepath.EvalSymlinks` of an absolute path, with Go's error: `lstat <the first part
/// that is missing>: no such file or directory`.
fn eval_symlinks(path: &Path) -> Result<PathBuf, String> {
    let mut checked = PathBuf::from("/");
    for component in path.components().skip(1) {
        checked.push(component);
        if let Err(e) = std::fs::symlink_metadata(&checked) {
            return Err(go_error("lstat", &checked, &e));
        }
    }
    std::fs::canonicalize(path).map_err(|e| go_error("lstat", path, &e))
}

/// An `*os.PathError` as Go prints it: `open /x: no such file or directory`.
pub fn go_error(operation: &str, path: &Path, error: &io::Error) -> String {
    let reason = match error.raw_os_error() {
        // strerror's text with Go's lower-case first letter.
        Some(code) => {
            let text = nix::errno::Errno::from_raw(code).desc();
            let mut chars = text.chars();
            chars
                .next()
                .map(|first| first.to_lowercase().chain(chars).collect())
                .unwrap_or_default()
        }
        None => error.to_string(),
    };
    format!("{operation} {}: {reason}", path.display())
}

/// `n` random lowercase hex digits (Docker's `stringid.GenerateRandomID()[:n]`).
pub(super) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    read.expect("/dev/urandom is readable");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex[..n].to_owned()
}

/// docker/cli's `GetContextFromReader`: a tar (compressed or not, recognised by its first
/// bytes) is sent as it is, with `dockerfile` as named; anything else is the Dockerfile, sent
/// alone in a tar of its own.
fn from_reader(mut input: Box<dyn Read + Send>, dockerfile: &str) -> Result<Prepared, String> {
    let mut head = Vec::with_capacity(1024);
    (&mut input)
        .take(1024)
        .read_to_end(&mut head)
        .map_err(|e| format!("failed to peek context header from STDIN: {e}"))?;
    if is_archive(&head) {
        let source: Source = Box::new(move |out: &mut dyn Write| {
            out.write_all(&head)?;
            io::copy(&mut input, out).map(drop)
        });
        return Ok(Prepared {
            source,
            dockerfile: dockerfile.to_owned(),
        });
    }
    if dockerfile == "-" {
        return Err("build context is not an archive".into());
    }
    let mut content = head;
    input.read_to_end(&mut content).map_err(|e| e.to_string())?;
    let tar = dockerfile_alone(&content).map_err(|e| e.to_string())?;
    let source: Source = Box::new(move |out: &mut dyn Write| out.write_all(&tar));
    Ok(Prepared {
        source,
        dockerfile: DEFAULT_DOCKERFILE.into(),
    })
}

/// A Dockerfile alone as docker/cli sends it: written to a temporary directory, which is
/// then archived as it is (its owner kept, no `.dockerignore`).
fn dockerfile_alone(content: &[u8]) -> io::Result<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("berth-build-tempdockerfile-{}", random_hex(12)));
    std::fs::create_dir(&dir)?;
    let result = (|| {
        std::fs::write(dir.join(DEFAULT_DOCKERFILE), content)?;
        let mut tar = Vec::new();
        let keep_all = PatternMatcher::new::<&str>(&[]).expect("no patterns are valid patterns");
        let options = TarOptions {
            excludes: &keep_all,
            chown: None,
            added_dockerfile: None,
        };
        context_tar::write(&dir, &options, &mut tar)?;
        Ok(tar)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// docker/cli's `IsArchive`: a compression's magic number, or a first tar header whose
/// checksum holds.
fn is_archive(head: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        &[0x1f, 0x8b, 0x08],                   // gzip
        b"BZh",                                // bzip2
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], // xz
        &[0x28, 0xb5, 0x2f, 0xfd],             // zstd
    ];
    if MAGICS.iter().any(|magic| head.starts_with(magic)) {
        return true;
    }
    if head.len() < 512 {
        return false;
    }
    let block = &head[..512];
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(recorded) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8) else {
        return false;
    };
    // The sum of the header's bytes with the checksum field counted as spaces.
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == recorded
}

/// docker/cli's `GetContextFromURL`: the download (with its progress line on `sink`), then
/// read as stdin would be.
async fn from_url(url: &str, dockerfile: &str, sink: &Sink) -> Result<Prepared, String> {
    let fail = |reason: String| format!("unable to download remote context {url}: {reason}");
    let mut response = reqwest::get(url).await.map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    if status.as_u16() >= 400 {
        // Go prints the server's own reason phrase (`404 File not found`).
        let reason = match response.extensions().get::<hyper::ext::ReasonPhrase>() {
            Some(phrase) => String::from_utf8_lossy(phrase.as_bytes()).into_owned(),
            None => status.canonical_reason().unwrap_or_default().to_owned(),
        };
        let body = response.text().await.unwrap_or_default();
        return Err(fail(format!(
            "failed to GET {url} with status {} {reason}: {}",
            status.as_u16(),
            body.trim()
        )));
    }
    let total = response.content_length().unwrap_or(0);
    let action = format!("Downloading build context from remote url: {url}");
    let mut progress = Progress::new(action, total, sink.clone(), false);
    let mut content = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        content.extend_from_slice(&chunk);
        // docker/cli reads the download through a 4 KiB buffer: its progress counts so.
        for piece in chunk.chunks(4096) {
            progress.advance(piece.len());
        }
    }
    progress.finish();
    from_reader(Box::new(Cursor::new(content)), dockerfile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_files_are_always_sent() {
        let patterns = trim_build_files(vec!["*".into()], "Dockerfile", false);
        assert_eq!(patterns, ["*", "!.dockerignore", "!Dockerfile"]);
        let patterns = trim_build_files(vec!["*".into()], "-", true);
        assert_eq!(patterns, ["*", "!.dockerignore"]);
        assert_eq!(trim_build_files(vec!["x".into()], "Dockerfile", false), ["x"]);
    }

    #[test]
    fn archives_are_recognised_by_their_first_bytes() {
        assert!(is_archive(&[0x1f, 0x8b, 0x08, 0]));
        assert!(!is_archive(b"FROM busybox\n"));
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(1);
        header.set_cksum();
        tar.append_data(&mut header, "Dockerfile", &b"x"[..]).unwrap();
        assert!(is_archive(&tar.into_inner().unwrap()));
    }

    #[test]
    fn relative_paths_climb_as_go_rel_does() {
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/b/c/D")), "c/D");
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/x/D")), "../x/D");
    }
}
