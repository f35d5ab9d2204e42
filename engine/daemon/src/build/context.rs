//! The build context: the tar a client sends with `POST /build` (plain, gzip, bzip2 or xz),
//! extracted into a private directory that is removed when the build ends, with the TarSum of
//! each of its files ([`super::tarsum`]) for the cache keys of COPY and ADD.
//!
//! The tar is extracted with the same rules as `docker cp` into a container ([`crate::archive`]):
//! no entry, symlink or hard link can lead out of the context's directory. Paths the build asks
//! for (`COPY ../x`, a symlink to `/etc/passwd`) are resolved in the context's scope too, so they
//! name the context's own files, never the host's.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::tarsum::{self, FileSums};
use crate::archive::{self, BoundedHeaders, ContainerPath, ExtractOptions, FsView};
use crate::layer::Decompressor;

/// Why a context could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// the tar could not be read or extracted
    #[error("{0}")]
    Extract(String),
    /// the Dockerfile named is not in the context (Docker's words)
    #[error("Cannot locate specified Dockerfile: {0}")]
    NoDockerfile(String),
    /// the Dockerfile is empty
    #[error("the Dockerfile ({0}) cannot be empty")]
    EmptyDockerfile(String),
    /// a file system step failed
    #[error("{0}")]
    Io(String),
}

/// An extracted build context. Dropping it removes its directory.
#[derive(Debug)]
pub struct BuildContext {
    root: PathBuf,
    view: FsView,
    sums: FileSums,
}

impl Drop for BuildContext {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("remove build context {}: {e}", self.root.display());
        }
    }
}

impl BuildContext {
    /// Extract the context in `tar_file` (as received, compressed or not) into a new directory
    /// under `scratch`.
    pub fn extract(tar_file: &Path, scratch: &Path) -> Result<BuildContext, ContextError> {
        let root = scratch.join(format!("build-{}", &crate::id::new_id()[..16]));
        std::fs::create_dir_all(&root)
            .map_err(|e| ContextError::Io(format!("create {}: {e}", root.display())))?;
        let opened = (|| {
            let view = FsView::new(&root, &[]).map_err(|e| ContextError::Io(e.to_string()))?;
            if let Err(e) = archive::extract(&view, &[], &ExtractOptions::default(), open(tar_file)?) {
                // Docker reads the first header before it starts extracting: a stream that has
                // none gets the reader's bare words, a later failure the extractor's prefix.
                let started = std::fs::read_dir(&root).is_ok_and(|mut d| d.next().is_some());
                return Err(ContextError::Extract(match started {
                    true => format!("Error processing tar file(exit status 1): {e}"),
                    false => e.to_string(),
                }));
            }
            let sums = tarsum::file_sums(uncompressed(tar_file)?)
                .map_err(|e| ContextError::Extract(read_error(e)))?;
            Ok((view, sums))
        })();
        match opened {
            Ok((view, sums)) => {
                crate::explain!(
                    "extracted the build context into {} ({} entries)",
                    root.display(),
                    sums.len()
                );
                Ok(BuildContext { root, view, sums })
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                Err(e)
            }
        }
    }

    /// The directory holding the context's files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The context seen as a file system whose root is the context: for scoped lookups.
    pub fn view(&self) -> &FsView {
        &self.view
    }

    /// `path` resolved in the context's scope (symlinks followed, `..` stopped at the root).
    pub fn resolve(&self, path: &str) -> io::Result<ContainerPath> {
        self.view.resolve(&archive::clean(path.as_bytes()), true)
    }

    /// The TarSum of the file at `path` (after following symlinks in scope, as what is copied is
    /// the target), or `path` itself when the tar had no entry for it (Docker's fallback).
    pub fn hash(&self, path: &str) -> String {
        let resolved = self
            .resolve(path)
            .map(|p| relative_text(&p))
            .unwrap_or_else(|_| path.to_owned());
        self.sums
            .get(&resolved)
            .cloned()
            .unwrap_or_else(|| path.to_owned())
    }

    /// Read the Dockerfile at `name` (relative to the context root).
    pub fn read_dockerfile(&self, name: &str) -> Result<String, ContextError> {
        let missing = || ContextError::NoDockerfile(name.to_owned());
        let resolved = self.resolve(name).map_err(|_| missing())?;
        let fd = self
            .view
            .open(&resolved, rustix::fs::OFlags::RDONLY)
            .map_err(|_| missing())?;
        let mut text = Vec::new();
        File::from(fd)
            .take(MAX_DOCKERFILE)
            .read_to_end(&mut text)
            .map_err(|e| ContextError::Io(format!("read {name}: {e}")))?;
        // Only a file of no bytes at all: one of blank lines is a Dockerfile without
        // instructions, which the parser refuses in its own words.
        if text.is_empty() {
            return Err(ContextError::EmptyDockerfile(name.to_owned()));
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Remove `path` from the context (a Dockerfile or .dockerignore the .dockerignore
    /// excludes, which Docker drops before any COPY can see it).
    pub fn remove(&self, path: &str) -> Result<(), ContextError> {
        let clean = archive::clean(path.as_bytes());
        if clean.is_empty() {
            return Ok(());
        }
        let full: PathBuf = std::iter::once(self.root.as_os_str().to_owned())
            .chain(clean.iter().cloned())
            .collect::<Vec<OsString>>()
            .iter()
            .collect();
        let outcome = match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&full),
            Ok(_) => std::fs::remove_file(&full),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        outcome.map_err(|e| ContextError::Io(format!("remove {path}: {e}")))
    }
}

/// A Dockerfile bigger than this is refused rather than read into memory whole.
const MAX_DOCKERFILE: u64 = 16 << 20;

fn open(tar_file: &Path) -> Result<File, ContextError> {
    File::open(tar_file).map_err(|e| ContextError::Io(format!("open the build context: {e}")))
}

fn uncompressed(tar_file: &Path) -> Result<impl Read, ContextError> {
    let stream = Decompressor::new(BufReader::new(open(tar_file)?))
        .map_err(|e| ContextError::Extract(read_error(e)))?;
    Ok(BoundedHeaders::new(stream))
}

/// Go's words for an unreadable context.
fn read_error(error: io::Error) -> String {
    archive::read_error(error).to_string()
}

/// A context path as the sums name it: `dir/file`, `.` for the root.
fn relative_text(path: &[OsString]) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    path.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_tar(entries: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o100644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        for (name, target) in symlinks {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mode(0o777);
            builder.append_link(&mut header, name, target).unwrap();
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), builder.into_inner().unwrap()).unwrap();
        file
    }

    #[test]
    fn a_context_is_extracted_summed_and_removed_when_dropped() {
        let scratch = tempfile::tempdir().unwrap();
        let tar = context_tar(
            &[("Dockerfile", b"FROM scratch\n"), ("a.txt", b"hello\n")],
            &[("link", "/a.txt"), ("escape", "../../../../etc/passwd")],
        );
        let context = BuildContext::extract(tar.path(), scratch.path()).unwrap();
        let root = context.root().to_owned();
        assert_eq!(std::fs::read(root.join("a.txt")).unwrap(), b"hello\n");
        assert_eq!(context.read_dockerfile("Dockerfile").unwrap(), "FROM scratch\n");
        assert_eq!(
            context.hash("a.txt"),
            "679c43c79a56cffbb3b002bda3050542c152a2f09757a0f1a9578871f7cda00d"
        );
        // A symlink is summed as its target, resolved inside the context.
        assert_eq!(context.hash("link"), context.hash("a.txt"));
        assert_eq!(context.hash("nothing/here"), "nothing/here");
        assert!(matches!(
            context.read_dockerfile("escape"),
            Err(ContextError::NoDockerfile(_))
        ));
        context.remove("Dockerfile").unwrap();
        assert!(!root.join("Dockerfile").exists());
        drop(context);
        assert!(!root.exists());
    }

    #[test]
    fn compressed_contexts_are_read_and_bad_ones_leave_nothing() {
        use std::io::Write;
        let scratch = tempfile::tempdir().unwrap();
        // A Dockerfile longer than a block, so that a cut at 700 bytes falls in its content.
        let long = format!("FROM scratch\n# {}\n", "x".repeat(600));
        let plain = std::fs::read(context_tar(&[("Dockerfile", long.as_bytes())], &[]).path()).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&plain).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bz.finish().unwrap()).unwrap();
        let context = BuildContext::extract(file.path(), scratch.path()).unwrap();
        assert!(context.read_dockerfile("Dockerfile").is_ok());
        assert!(matches!(
            context.read_dockerfile("Dockerfile.missing"),
            Err(ContextError::NoDockerfile(name)) if name == "Dockerfile.missing"
        ));
        drop(context);

        // Docker 20.10's answers to a tar cut inside its first file, and to a few bytes of junk.
        std::fs::write(file.path(), &plain[..700]).unwrap();
        let err = BuildContext::extract(file.path(), scratch.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error processing tar file(exit status 1): unexpected EOF"
        );
        std::fs::write(file.path(), b"garbage\n").unwrap();
        let err = BuildContext::extract(file.path(), scratch.path()).unwrap_err();
        assert_eq!(err.to_string(), "unexpected EOF");
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
