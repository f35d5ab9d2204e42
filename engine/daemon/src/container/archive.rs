//! `docker cp` and `docker export` on the container's side: `HEAD`/`GET`/`PUT
//! /containers/{id}/archive` and `GET /containers/{id}/export`, running or not.
//!
//! A container that is not running has no root file system mounted: it is mounted for the
//! copy and unmounted after, even when the copy fails or the client goes away. The lifecycle
//! lock is held meanwhile (as dockerd holds the container's lock), so no start mounts the same
//! writable layer twice. Paths are Docker's: the last component is not followed (unless the
//! path ends in `/`), `/.` means a directory's contents, volumes and binds are seen through.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mounts::MountKind;
use super::{Container, ContainerError, Containers, user};
use crate::archive::{self, ContainerPath, ExtractOptions, FsView, MountSpot, PackSpec, PathStat};
use crate::layer;

/// What `PUT /containers/{id}/archive` was asked to do besides extracting.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractRequest {
    pub no_overwrite_dir_non_dir: bool,
    pub copy_uid_gid: bool,
}

/// A container's file system opened for a copy: its lifecycle held, its root mounted for as
/// long as this lives when it was not mounted already.
pub struct OpenedFs {
    view: FsView,
    /// Unmounted on drop: the root this copy mounted.
    mounted: Option<PathBuf>,
    short_id: String,
    record: super::ContainerRecord,
    rootfs: PathBuf,
    _lifecycle: tokio::sync::OwnedMutexGuard<()>,
}

impl OpenedFs {
    /// The container's files, as its processes see them.
    pub fn view(&self) -> &FsView {
        &self.view
    }
}

impl Drop for OpenedFs {
    fn drop(&mut self) {
        if let Some(rootfs) = self.mounted.take() {
            if let Err(e) = layer::unmount(&rootfs) {
                tracing::warn!("{e}");
            }
            crate::explain!(
                "unmounted the root file system of container {} after the copy",
                self.short_id
            );
        }
    }
}

/// A path's tar, ready to stream: the container stays opened until it is written.
pub struct PathArchive {
    pub stat: PathStat,
    fs: OpenedFs,
    top: ContainerPath,
    name: String,
}

impl PathArchive {
    /// Write the tar to `out` (blocking).
    pub fn write_to<W: Write>(self, out: W) -> io::Result<W> {
        let spec = PackSpec {
            top: &self.top,
            name: Some(&self.name),
        };
        archive::pack(&self.fs.view, &spec, out)
    }
}

/// A container's whole file system as a tar, ready to stream.
pub struct Export {
    fs: OpenedFs,
}

impl Export {
    /// Write the tar to `out` (blocking).
    pub fn write_to<W: Write>(self, out: W) -> io::Result<W> {
        let spec = PackSpec { top: &[], name: None };
        archive::pack(&self.fs.view, &spec, out)
    }
}

/// `path` as Docker takes it: absolute in the container, cleaned, but keeping a trailing `/`
/// or `/.` (they change what is copied). Go's `PreserveTrailingDotOrSeparator`.
fn absolute(path: &str) -> String {
    let mut cleaned = archive::display(&archive::clean(path.as_bytes()));
    if base(path) == "." && base(&cleaned) != "." {
        if !cleaned.ends_with('/') {
            cleaned.push('/');
        }
        cleaned.push('.');
    }
    if path.ends_with('/') && !cleaned.ends_with('/') {
        cleaned.push('/');
    }
    cleaned
}

/// Go's `filepath.Base`: the last element, `/` for the root.
fn base(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// A requested path resolved as Docker's `ResolvePath`: its directory with every symlink
/// followed, then its last element as it is (not followed; `.` is the directory itself).
fn resolve_requested(view: &FsView, absolute: &str) -> io::Result<ContainerPath> {
    let (dir, last) = absolute.rsplit_once('/').unwrap_or(("", absolute));
    let mut resolved = view.resolve(&archive::clean(dir.as_bytes()), true)?;
    if !last.is_empty() && last != "." {
        resolved.push(OsString::from(last));
    }
    Ok(resolved)
}

/// Whether `path` has a file system of its own mounted on it.
fn is_mounted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (path.metadata(), path.join("..").metadata()) {
        (Ok(dir), Ok(parent)) => dir.dev() != parent.dev(),
        _ => false,
    }
}

impl Containers {
    /// Open a container's file system for a copy: the lifecycle lock, the root mounted if it
    /// is not, and (`with_mounts`) its volumes, binds and /etc files over it.
    async fn open_fs(
        &self,
        container: &Arc<Container>,
        with_mounts: bool,
    ) -> Result<OpenedFs, ContainerError> {
        let lifecycle = container.lifecycle.clone().lock_owned().await;
        let record = container.record();
        let paths = container.paths.clone();
        let lowers = {
            let mut lowers = vec![paths.init_layer()];
            if let Some(top) = &record.top_layer {
                lowers.extend(self.inner.images.store().layers.lower_dirs(top)?);
            }
            lowers
        };
        tokio::task::spawn_blocking(move || {
            let rootfs = paths.rootfs();
            let short_id = record.short_id().to_owned();
            let mut fs_mounted = None;
            if !is_mounted(&rootfs) {
                std::fs::create_dir_all(&rootfs)?;
                layer::mount_overlay(&lowers, &paths.upper(), &paths.work(), &rootfs)
                    .map_err(|e| ContainerError::Internal(e.to_string()))?;
                crate::explain!(
                    container = %record.id,
                    "mounted the root file system of container {short_id}, which is not running, for the copy"
                );
                fs_mounted = Some(rootfs.clone());
            }
            // From here on, dropping `opened` unmounts what was mounted.
            let mut spots = Vec::new();
            if with_mounts {
                spots.extend(
                    [
                        ("/etc/resolv.conf", paths.resolv_conf()),
                        ("/etc/hostname", paths.hostname()),
                        ("/etc/hosts", paths.hosts()),
                    ]
                    .into_iter()
                    .map(|(destination, source)| MountSpot {
                        destination: destination.into(),
                        source,
                        rw: true,
                    }),
                );
                spots.extend(
                    record
                        .mounts
                        .iter()
                        .filter(|m| matches!(m.kind, MountKind::Volume | MountKind::Bind))
                        .map(|m| MountSpot {
                            destination: m.destination.clone(),
                            source: PathBuf::from(&m.source),
                            rw: m.rw,
                        }),
                );
            }
            let view = match FsView::new(&rootfs, &spots) {
                Ok(view) => view,
                Err(e) => {
                    if let Some(rootfs) = &fs_mounted {
                        let _ = layer::unmount(rootfs);
                    }
                    return Err(ContainerError::Internal(e.to_string()));
                }
            };
            Ok(OpenedFs {
                view,
                mounted: fs_mounted,
                short_id,
                record,
                rootfs,
                _lifecycle: lifecycle,
            })
        })
        .await?
    }

    /// The container's root file system without its volumes, mounted while the result lives
    /// (the builder's COPY and ADD write into a step's container through it).
    pub async fn open_root_fs(&self, name: &str) -> Result<OpenedFs, ContainerError> {
        let container = self.get(name)?;
        self.open_fs(&container, false).await
    }

    /// `HEAD /containers/{id}/archive?path=…`: the stat of a path.
    pub async fn stat_path(&self, name: &str, path: &str) -> Result<PathStat, ContainerError> {
        let container = self.get(name)?;
        let fs = self.open_fs(&container, true).await?;
        let (name, path) = (name.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || stat_of(&fs, &name, &path).map(|(stat, _)| stat)).await?
    }

    /// `GET /containers/{id}/archive?path=…`: the stat, and the path's tar to stream.
    pub async fn archive_path(&self, name: &str, path: &str) -> Result<PathArchive, ContainerError> {
        let container = self.get(name)?;
        let fs = self.open_fs(&container, true).await?;
        let (name, path) = (name.to_owned(), path.to_owned());
        let archive = tokio::task::spawn_blocking(move || {
            let (stat, top) = stat_of(&fs, &name, &path)?;
            let name = match base(&absolute(&path)).as_str() {
                // The root's entries are `/`, `/bin/`…, as Docker's rebase makes them.
                "/" => String::new(),
                other => other.to_owned(),
            };
            Ok::<_, ContainerError>(PathArchive { stat, fs, top, name })
        })
        .await??;
        self.event(&container, "archive-path", &[]);
        Ok(archive)
    }

    /// `PUT /containers/{id}/archive?path=…`: extract `tar` into the directory at `path`.
    pub async fn extract_to_dir(
        &self,
        name: &str,
        path: &str,
        request: ExtractRequest,
        tar: impl Read + Send + 'static,
    ) -> Result<(), ContainerError> {
        let opened = match self.get(name) {
            Ok(container) => self.open_fs(&container, true).await.map(|fs| (container, fs)),
            Err(e) => Err(e),
        };
        let (container, fs) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || drain(tar)).await;
                return Err(e);
            }
        };
        let (name, path) = (name.to_owned(), path.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut tar = tar;
            let result = extract_into(&fs, &name, &path, request, &mut tar);
            if result.is_err() {
                drain(tar);
            }
            result
        })
        .await??;
        self.event(&container, "extract-to-dir", &[]);
        Ok(())
    }

    /// `GET /containers/{id}/export`: the root file system, without volumes or binds.
    pub async fn export(&self, name: &str) -> Result<Export, ContainerError> {
        let container = self.get(name)?;
        let fs = self.open_fs(&container, false).await?;
        self.event(&container, "export", &[]);
        Ok(Export { fs })
    }
}

/// Read the rest of an upload that was refused, so that the client gets the answer rather than
/// a reset connection.
fn drain(mut tar: impl Read) {
    let _ = io::copy(&mut tar, &mut io::sink());
}

/// Docker's 404 for a path that is not there.
fn not_found(error: io::Error, path: &str, container: &str) -> ContainerError {
    if error.kind() == io::ErrorKind::NotFound {
        ContainerError::FileNotFound {
            path: path.to_owned(),
            container: container.to_owned(),
        }
    } else {
        ContainerError::Internal(error.to_string())
    }
}

/// The stat of a requested path, and where it resolved to.
fn stat_of(fs: &OpenedFs, container: &str, path: &str) -> Result<(PathStat, ContainerPath), ContainerError> {
    let absolute = absolute(path);
    let resolved = resolve_requested(&fs.view, &absolute).map_err(|e| not_found(e, path, container))?;
    let stat = fs.view.lstat(&resolved).map_err(|e| {
        let message = format!(
            "lstat {}: {}",
            archive::display(&resolved),
            crate::go_error::text(&e)
        );
        not_found(io::Error::new(e.kind(), message), path, container)
    })?;
    let link_target = if rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Symlink {
        let target = fs
            .view
            .resolve(&archive::clean(absolute.as_bytes()), true)
            .map_err(|e| not_found(e, path, container))?;
        archive::display(&target)
    } else {
        String::new()
    };
    Ok((archive::path_stat(base(&absolute), &stat, link_target), resolved))
}

/// Docker's checks before an extraction, in its order, then the extraction.
fn extract_into(
    fs: &OpenedFs,
    container: &str,
    path: &str,
    request: ExtractRequest,
    tar: &mut impl Read,
) -> Result<(), ContainerError> {
    let absolute = absolute(path);
    // The last component is followed too: a symlink to a directory is a fine destination.
    let resolved = fs
        .view
        .resolve(&archive::clean(absolute.as_bytes()), true)
        .map_err(|e| not_found(e, path, container))?;
    let stat = fs
        .view
        .lstat(&resolved)
        .map_err(|e| not_found(e, path, container))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::Directory {
        return Err(ContainerError::Internal(
            "extraction point is not a directory".into(),
        ));
    }
    match fs.view.in_mount(&resolved) {
        Some(false) => {
            return Err(ContainerError::Internal(
                "mounted volume is marked read-only".into(),
            ));
        }
        Some(true) => {}
        None if fs.record.host_config.readonly_rootfs => {
            return Err(ContainerError::Internal(
                "container rootfs is marked read-only".into(),
            ));
        }
        None => {}
    }
    let user = &fs.record.config.user;
    let owner = if request.copy_uid_gid && !user.is_empty() {
        let found =
            user::resolve(&fs.rootfs, user, &[]).map_err(|e| ContainerError::Internal(e.to_string()))?;
        Some((found.uid, found.gid))
    } else {
        None
    };
    let options = ExtractOptions {
        no_overwrite_dir_non_dir: request.no_overwrite_dir_non_dir,
        owner,
    };
    archive::extract(&fs.view, &resolved, &options, tar)
        .map_err(|e| ContainerError::Internal(format!("Error processing tar file(exit status 1): {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_what_docker_keeps() {
        assert_eq!(absolute("/d"), "/d");
        assert_eq!(absolute("d/"), "/d/");
        assert_eq!(absolute("/d/."), "/d/.");
        assert_eq!(absolute("/d/./"), "/d/./");
        assert_eq!(absolute("/"), "/");
        assert_eq!(absolute("/."), "/.");
        assert_eq!(absolute("/a/../b"), "/b");
        assert_eq!(base("/d/"), "d");
        assert_eq!(base("/d/."), ".");
        assert_eq!(base("/"), "/");
    }
}
