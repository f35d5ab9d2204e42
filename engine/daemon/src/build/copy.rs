//! COPY and ADD from the build context, as moby's `copy.go`: the sources found in the context
//! (wildcards as Go's `filepath.Match`, every path in the context's scope), the checksum that
//! keys the cache (`file:…`, `dir:…`, `multi:…`), and the copy into a step's root file system
//! with Docker's rules for destinations:
//!
//! - a file goes to `dest`, or into it when `dest` ends in `/` or is a directory;
//! - a directory's contents go into `dest` (the directory itself is not copied);
//! - what is copied belongs to root, or to `--chown`'s user and group, as do the directories
//!   made for it; modes and times are kept;
//! - ADD extracts a local tar archive (plain, gzip, bzip2 or xz) into `dest`, keeping its owners.
//!
//! Both ends are [`FsView`]s: no source path or symlink leads out of the context, no destination
//! out of the container's root.

use std::ffi::OsString;
use std::io::{self, Read, Seek};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Gid, Mode, Uid};
use rustix::io::Errno;

use super::context::BuildContext;
use super::tarsum::hash_string_slice;
use crate::archive::{self, ContainerPath, ExtractOptions, FsView, PackSpec};
use crate::layer::Decompressor;

/// Why a COPY or ADD failed (Docker's words; the dispatcher prefixes `COPY failed: `).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// a source that is not in the context
    #[error("file not found in build context or excluded by .dockerignore: stat {0}: file does not exist")]
    NotFound(String),
    /// a source that leads out of the context
    #[error("forbidden path outside the build context: {0} ()")]
    Outside(String),
    /// wildcards that match nothing
    #[error("no source files were specified")]
    NoSources,
    /// a file system step failed
    #[error("{0}")]
    Io(String),
}

/// Where a COPY reads: the build context, or (`--from`) another stage's or an image's files.
pub trait SourceFiles {
    /// The files, as a file system whose root is the source's.
    fn view(&self) -> &FsView;
    /// The checksum of the file at `path` (after following symlinks in scope), or `path`
    /// itself when there is none (Docker's fallback).
    fn hash(&self, path: &str) -> String;
    /// `path` resolved in the source's scope.
    fn resolve(&self, path: &str) -> io::Result<ContainerPath> {
        self.view().resolve(&archive::clean(path.as_bytes()), true)
    }
}

impl SourceFiles for BuildContext {
    fn view(&self) -> &FsView {
        BuildContext::view(self)
    }

    fn hash(&self, path: &str) -> String {
        BuildContext::hash(self, path)
    }
}

/// One source of a COPY: a path of the source and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// As written (wildcards expanded), relative to the context: names the copy.
    pub path: String,
    /// Resolved in the context's scope: what is read.
    resolved: ContainerPath,
    pub is_dir: bool,
    /// `file:<tarsum>` or `dir:<hash of the sums below>`.
    pub hash: String,
}

/// Whether a source path has wildcards (`*`, `?`, `[`) that are not escaped.
fn has_wildcards(path: &str) -> bool {
    let mut escaped = false;
    for c in path.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '*' | '?' | '[' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

/// The sources `patterns` name in the context, in order.
pub fn sources(context: &dyn SourceFiles, patterns: &[String]) -> Result<Vec<CopySource>, CopyError> {
    let mut found = Vec::new();
    for pattern in patterns {
        let trimmed = pattern.trim_start_matches('/');
        let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if has_wildcards(trimmed) {
            for path in walk(context.view(), &[])? {
                let rel = text(&path);
                if crate::pattern::matches(trimmed, &rel) {
                    found.push(source(context, &rel)?);
                }
            }
        } else {
            found.push(source(context, trimmed)?);
        }
    }
    if found.is_empty() {
        return Err(CopyError::NoSources);
    }
    Ok(found)
}

/// One source by its path.
fn source(context: &dyn SourceFiles, path: &str) -> Result<CopySource, CopyError> {
    if escapes(path) {
        return Err(CopyError::Outside(path.to_owned()));
    }
    let resolved = context
        .resolve(path)
        .map_err(|e| CopyError::Io(format!("{path}: {e}")))?;
    let stat = match context.view().lstat(&resolved) {
        Ok(stat) => stat,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CopyError::NotFound(path.to_owned())),
        Err(e) => return Err(CopyError::Io(format!("stat {path}: {e}"))),
    };
    let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    let hash = if is_dir {
        // The directory and every entry below it, by their own sums, sorted (Docker's
        // `walkSource`, which leaves out only the context's root).
        let mut paths = walk(context.view(), &resolved)?;
        if !resolved.is_empty() {
            paths.push(resolved.clone());
        }
        let mut sums: Vec<String> = paths.iter().map(|p| context.hash(&text(p))).collect();
        sums.sort();
        hash_string_slice("dir", &sums)
    } else {
        format!("file:{}", context.hash(path))
    };
    Ok(CopySource {
        path: path.to_owned(),
        resolved,
        is_dir,
        hash,
    })
}

/// Whether a relative path climbs out of the context (`..`, `../x`, `a/../../x`).
fn escapes(path: &str) -> bool {
    let mut depth = 0i32;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

/// The cache key of a COPY's sources: the one source's hash, or `multi:` over all of them.
pub fn sources_hash(sources: &[CopySource]) -> String {
    match sources {
        [one] => one.hash.clone(),
        all => hash_string_slice("multi", &all.iter().map(|s| s.hash.clone()).collect::<Vec<_>>()),
    }
}

/// Every path below `top` (not `top` itself), depth first in name order, symlinks not followed.
fn walk(view: &FsView, top: &[OsString]) -> Result<Vec<ContainerPath>, CopyError> {
    let mut found = Vec::new();
    let mut pending = vec![top.to_vec()];
    while let Some(dir) = pending.pop() {
        let fd = view
            .open_dir(&dir)
            .map_err(|e| CopyError::Io(format!("open {}: {e}", archive::display(&dir))))?;
        let mut names: Vec<OsString> = rustix::fs::Dir::read_from(&fd)
            .map_err(|e| CopyError::Io(format!("read {}: {e}", archive::display(&dir))))?
            .filter_map(Result::ok)
            .map(|entry| OsString::from(std::ffi::OsStr::from_bytes(entry.file_name().to_bytes())))
            .filter(|name| name != "." && name != "..")
            .collect();
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let mut path = dir.clone();
            path.push(name);
            if view
                .lstat(&path)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
            {
                subdirs.push(path.clone());
            }
            found.push(path);
        }
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(found)
}

fn text(path: &[OsString]) -> String {
    path.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where and as whom a COPY writes.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Absolute in the container (WORKDIR applied), as written: a trailing `/` means a
    /// directory.
    pub path: String,
    /// `--chown`'s user and group, else root.
    pub owner: (u32, u32),
    /// ADD: extract local archives.
    pub extract_archives: bool,
}

/// Copy `sources` from the context into `target` (a step's root file system).
pub fn copy_into(
    context: &dyn SourceFiles,
    sources: &[CopySource],
    destination: &Destination,
    target: &FsView,
) -> Result<(), CopyError> {
    let dest = archive::clean(destination.path.as_bytes());
    for source in sources {
        copy_one(context, source, destination, &dest, target)?;
    }
    Ok(())
}

fn copy_one(
    context: &dyn SourceFiles,
    source: &CopySource,
    destination: &Destination,
    dest: &[OsString],
    target: &FsView,
) -> Result<(), CopyError> {
    let io = |step: &str| {
        let step = step.to_owned();
        move |e: io::Error| CopyError::Io(format!("{step}: {e}"))
    };
    let owner = Some(destination.owner);
    if source.is_dir {
        // The directory's contents into `dest`, which is made (and owned) if missing.
        let dest = target.resolve(dest, true).map_err(io("resolve destination"))?;
        make_dirs(target, &dest, destination.owner)?;
        let tar = pack(context.view(), &source.resolved, None)?;
        return extract(target, &dest, owner, tar);
    }
    if destination.extract_archives {
        if let Some(tar) = archive_in(context.view(), &source.resolved)? {
            let dest = target.resolve(dest, true).map_err(io("resolve destination"))?;
            make_dirs(target, &dest, (0, 0))?;
            // An archive's entries keep their owners, as Docker's UntarPath keeps them.
            return extract(target, &dest, None, tar);
        }
    }
    // A file: into `dest` when it is (or is written as) a directory, else as `dest`.
    let into_dir = destination.path.ends_with('/')
        || target
            .resolve(dest, true)
            .and_then(|p| target.lstat(&p))
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
    let (parent, name) = if into_dir {
        let base = source
            .path
            .rsplit('/')
            .find(|p| !p.is_empty())
            .unwrap_or(&source.path);
        (dest.to_vec(), base.to_owned())
    } else {
        let Some((last, parent)) = dest.split_last() else {
            return Err(CopyError::Io("cannot copy a file over /".into()));
        };
        (parent.to_vec(), last.to_string_lossy().into_owned())
    };
    let parent = target.resolve(&parent, true).map_err(io("resolve destination"))?;
    make_dirs(target, &parent, destination.owner)?;
    let tar = pack(context.view(), &source.resolved, Some(&name))?;
    extract(target, &parent, owner, tar)
}

/// `top` of `view` written as a tar into a temporary file (its top entry named `name`, or left
/// out with its children named from it).
fn pack(view: &FsView, top: &[OsString], name: Option<&str>) -> Result<std::fs::File, CopyError> {
    let file = tempfile::tempfile().map_err(|e| CopyError::Io(format!("create a temporary file: {e}")))?;
    let mut file = archive::pack(view, &PackSpec { top, name }, file)
        .map_err(|e| CopyError::Io(format!("read {}: {e}", archive::display(top))))?;
    file.rewind().map_err(|e| CopyError::Io(e.to_string()))?;
    Ok(file)
}

fn extract(
    target: &FsView,
    dest: &[OsString],
    owner: Option<(u32, u32)>,
    tar: impl Read,
) -> Result<(), CopyError> {
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: false,
        owner,
    };
    archive::extract(target, dest, &options, tar).map_err(|e| CopyError::Io(e.to_string()))
}

/// The file at `path` opened from its start if it is a tar archive (compressed or not), as
/// Docker's `isArchivePath` decides: it decompresses and has a first tar header.
fn archive_in(view: &FsView, path: &[OsString]) -> Result<Option<std::fs::File>, CopyError> {
    let open = || {
        view.open(path, rustix::fs::OFlags::RDONLY)
            .map(std::fs::File::from)
            .map_err(|e| CopyError::Io(format!("open {}: {e}", archive::display(path))))
    };
    let is_archive = Decompressor::new(open()?).is_ok_and(|stream| {
        let mut archive = tar::Archive::new(stream);
        let first = archive.entries().ok().and_then(|mut entries| entries.next());
        matches!(first, Some(Ok(_)))
    });
    is_archive.then(open).transpose()
}

/// Make the missing directories of `path` (0755), owned by `owner` (Docker's
/// `MkdirAllAndChownNew`: directories already there keep their owner).
pub fn make_dirs(view: &FsView, path: &[OsString], owner: (u32, u32)) -> Result<(), CopyError> {
    for depth in 1..=path.len() {
        let prefix = &path[..depth];
        match view.lstat(prefix) {
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CopyError::Io(format!("mkdir {}: {e}", archive::display(prefix)))),
        }
        let failed = |e: Errno| CopyError::Io(format!("mkdir {}: {e}", archive::display(prefix)));
        let parent = view
            .open_dir(&prefix[..depth - 1])
            .map_err(|e| CopyError::Io(format!("mkdir {}: {e}", archive::display(prefix))))?;
        match rustix::fs::mkdirat(&parent, &prefix[depth - 1], Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                rustix::fs::chownat(
                    &parent,
                    &prefix[depth - 1],
                    Some(Uid::from_raw(owner.0)),
                    Some(Gid::from_raw(owner.1)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(failed)?;
            }
            Err(Errno::EXIST) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// A context with a file, a directory tree and a symlink, and an empty target root.
    fn fixture() -> (tempfile::TempDir, BuildContext, tempfile::TempDir) {
        let scratch = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8], mode: u32| {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(mode);
            header.set_mtime(1_500_000_000);
            header.set_cksum();
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("a.txt", b"hello\n", 0o100644);
        add("tool.sh", b"#!/bin/sh\n", 0o100755);
        add("site/index.html", b"<h1>hi</h1>\n", 0o100644);
        add("site/css/main.css", b"body{}\n", 0o100644);
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        builder.append_link(&mut header, "link", "a.txt").unwrap();
        let tar = scratch.path().join("context.tar");
        std::fs::write(&tar, builder.into_inner().unwrap()).unwrap();
        let context = BuildContext::extract(&tar, scratch.path()).unwrap();
        (scratch, context, tempfile::tempdir().unwrap())
    }

    fn copy(
        context: &BuildContext,
        root: &std::path::Path,
        srcs: &[&str],
        dest: &str,
        owner: (u32, u32),
    ) -> Result<(), CopyError> {
        let patterns: Vec<String> = srcs.iter().map(|s| s.to_string()).collect();
        let found = sources(context, &patterns)?;
        let view = FsView::new(root, &[]).unwrap();
        let destination = Destination {
            path: dest.into(),
            owner,
            extract_archives: false,
        };
        copy_into(context, &found, &destination, &view)
    }

    #[test]
    fn files_go_to_the_destination_or_into_it() {
        let (_scratch, context, root) = fixture();
        copy(&context, root.path(), &["a.txt"], "/app/", (0, 0)).unwrap();
        copy(&context, root.path(), &["a.txt"], "/renamed.txt", (0, 0)).unwrap();
        copy(&context, root.path(), &["tool.sh"], "/app", (0, 0)).unwrap();
        assert_eq!(std::fs::read(root.path().join("app/a.txt")).unwrap(), b"hello\n");
        assert_eq!(
            std::fs::read(root.path().join("renamed.txt")).unwrap(),
            b"hello\n"
        );
        let tool = std::fs::metadata(root.path().join("app/tool.sh")).unwrap();
        assert_eq!(tool.mode() & 0o7777, 0o755);
        assert_eq!(tool.mtime(), 1_500_000_000);
        // A symlink source is copied as its target, under the link's name.
        copy(&context, root.path(), &["link"], "/app/", (0, 0)).unwrap();
        assert_eq!(std::fs::read(root.path().join("app/link")).unwrap(), b"hello\n");
    }

    #[test]
    fn a_directory_copies_its_contents_and_chown_owns_what_is_made() {
        let (_scratch, context, root) = fixture();
        copy(&context, root.path(), &["site"], "/srv/www", (1000, 1001)).unwrap();
        let index = std::fs::metadata(root.path().join("srv/www/index.html")).unwrap();
        assert_eq!((index.uid(), index.gid()), (1000, 1001));
        let css = std::fs::metadata(root.path().join("srv/www/css/main.css")).unwrap();
        assert_eq!((css.uid(), css.gid()), (1000, 1001));
        let made = std::fs::metadata(root.path().join("srv")).unwrap();
        assert_eq!((made.uid(), made.gid(), made.mode() & 0o777), (1000, 1001, 0o755));
        assert!(!root.path().join("srv/www/site").exists());
    }

    #[test]
    fn wildcards_missing_and_outside_sources_answer_as_docker() {
        let (_scratch, context, _root) = fixture();
        let names = |patterns: &[&str]| -> Result<Vec<String>, String> {
            let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
            sources(&context, &patterns)
                .map(|found| found.into_iter().map(|s| s.path).collect())
                .map_err(|e| e.to_string())
        };
        assert_eq!(names(&["*.txt"]), Ok(vec!["a.txt".to_owned()]));
        assert_eq!(
            names(&["site/*.html", "./a.txt"]),
            Ok(vec!["site/index.html".into(), "a.txt".into()])
        );
        assert_eq!(
            names(&["*.nomatch"]),
            Err("no source files were specified".into())
        );
        assert_eq!(
            names(&["nothere"]),
            Err("file not found in build context or excluded by .dockerignore: stat nothere: file does not exist".into())
        );
        assert_eq!(
            names(&["../x"]),
            Err("forbidden path outside the build context: ../x ()".into())
        );
    }

    #[test]
    fn hashes_follow_dockers_scheme() {
        let (_scratch, context, _root) = fixture();
        let one = sources(&context, &["a.txt".into()]).unwrap();
        assert_eq!(
            sources_hash(&one),
            "file:679c43c79a56cffbb3b002bda3050542c152a2f09757a0f1a9578871f7cda00d"
        );
        let dir = sources(&context, &["site".into()]).unwrap();
        assert!(sources_hash(&dir).starts_with("dir:"));
        let both = sources(&context, &["a.txt".into(), "site".into()]).unwrap();
        assert_eq!(
            sources_hash(&both),
            hash_string_slice("multi", &[one[0].hash.clone(), dir[0].hash.clone()])
        );
        assert!(has_wildcards("a*") && !has_wildcards("a\\*") && has_wildcards("[ab]"));
    }

    #[test]
    fn add_extracts_a_local_archive_keeping_its_owners() {
        let scratch = tempfile::tempdir().unwrap();
        let mut inner = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o100600);
        header.set_uid(42);
        header.set_cksum();
        inner.append_data(&mut header, "inner/file", &b"abc"[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &inner.into_inner().unwrap()).unwrap();
        let gz = gz.finish().unwrap();
        let mut outer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(gz.len() as u64);
        header.set_mode(0o100644);
        header.set_cksum();
        outer.append_data(&mut header, "bundle.tar.gz", &gz[..]).unwrap();
        let tar = scratch.path().join("context.tar");
        std::fs::write(&tar, outer.into_inner().unwrap()).unwrap();
        let context = BuildContext::extract(&tar, scratch.path()).unwrap();
        let root = tempfile::tempdir().unwrap();
        let found = sources(&context, &["bundle.tar.gz".into()]).unwrap();
        let view = FsView::new(root.path(), &[]).unwrap();
        let destination = Destination {
            path: "/opt/".into(),
            owner: (0, 0),
            extract_archives: true,
        };
        copy_into(&context, &found, &destination, &view).unwrap();
        let file = std::fs::metadata(root.path().join("opt/inner/file")).unwrap();
        assert_eq!(file.uid(), 42);
        assert!(!root.path().join("opt/bundle.tar.gz").exists());
    }
}
