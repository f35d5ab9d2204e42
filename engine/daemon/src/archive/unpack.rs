//! Extracting a tar into a directory of a container, with Docker's rules (`archive.Unpack` run
//! chrooted into the container): names are taken below the directory (an absolute name too),
//! a name that climbs out of it is refused, as are relative symlinks and hard links that point
//! out of it; what is in the way is replaced, a directory merged into. Every path is resolved
//! in the container's scope (see `view`), so a symlink in the tar or in the container leads
//! to the container's own files, never the host's.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::bounded::{BoundedHeaders, TOO_LONG};
use super::view::{ContainerPath, FsView, clean, display};
use crate::layer::{Decompressor, EntryMeta};

/// How an extraction treats what is already there, and whose files it makes.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory and the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Owner of every file made (`copyUIDGID`); `None` keeps the tar's.
    pub owner: Option<(u32, u32)>,
}

/// Why an extraction stopped (Docker's words; the caller prefixes them as Docker does).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// an entry's name leads out of the directory
    #[error("{name:?} is outside of {dest:?}")]
    Outside { name: String, dest: String },
    /// a relative symlink target leads out of the directory
    #[error("invalid symlink {path:?} -> {target:?}")]
    InvalidSymlink { path: String, target: String },
    /// a hard link names a file outside the directory
    #[error("invalid hardlink {target:?} -> {link:?}")]
    InvalidHardlink { target: String, link: String },
    /// `noOverwriteDirNonDir`: a directory where a non-directory was to go
    #[error("cannot overwrite directory {path:?} with non-directory {dest:?}")]
    DirectoryInTheWay { path: String, dest: String },
    /// `noOverwriteDirNonDir`: a non-directory where a directory was to go
    #[error("cannot overwrite non-directory {path:?} with directory {dest:?}")]
    NonDirectoryInTheWay { path: String, dest: String },
    /// a mount point cannot be replaced by a file
    #[error("cannot replace mount point {0:?} with a non-directory")]
    MountPoint(String),
    /// an entry of a type that cannot be made
    #[error("unhandled tar header type {0}")]
    UnhandledType(u8),
    /// the tar could not be read (Go's words for the usual cases)
    #[error("{0}")]
    Read(String),
    /// a file system step failed
    #[error("{step} {path}: {message}")]
    Io {
        step: &'static str,
        path: String,
        message: String,
    },
}

/// A tar that could not be read, in Go's words (also for readers of tars outside this module).
pub fn read_error(error: io::Error) -> ExtractError {
    // The tar crate wraps what the reader said: the whole chain of causes is searched.
    let mut text = error.to_string();
    let mut cause: Option<&dyn std::error::Error> = error.get_ref().map(|e| e as &dyn std::error::Error);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    // Go's words for a record too large, a stream that ends inside a block, a bad header.
    ExtractError::Read(if text.contains(TOO_LONG) {
        TOO_LONG.to_owned()
    } else if error.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("entire block")
        || text.contains("unexpected EOF")
    {
        "unexpected EOF".to_owned()
    } else if matches!(error.kind(), io::ErrorKind::InvalidData | io::ErrorKind::Other) {
        "archive/tar: invalid tar header".to_owned()
    } else {
        crate::go_error::text(&error)
    })
}

fn io_step(step: &'static str, path: &[OsString]) -> impl FnOnce(io::Error) -> ExtractError {
    let path = display(path);
    move |e| ExtractError::Io {
        step,
        path,
        message: crate::go_error::text(&e),
    }
}

fn errno_step(step: &'static str, path: &[OsString]) -> impl FnOnce(Errno) -> ExtractError {
    let io = io_step(step, path);
    move |e| io(e.into())
}

/// Extract `tar` (plain, gzip or zstd) into the directory `dest` of `view`. Stops at the first
/// refused entry; what was extracted before it stays, as with Docker.
pub fn extract(
    view: &FsView,
    dest: &[OsString],
    options: &ExtractOptions,
    tar: impl Read,
) -> Result<(), ExtractError> {
    let stream = Decompressor::new(tar).map_err(read_error)?;
    let stream = BoundedHeaders::new(BufReader::with_capacity(256 * 1024, stream));
    let mut archive = tar::Archive::new(stream);
    let mut extractor = Extractor {
        view,
        dest,
        options,
        dir_times: Vec::new(),
    };
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        extractor.entry(&mut entry)?;
    }
    extractor.finish();
    Ok(())
}

struct Extractor<'a> {
    view: &'a FsView,
    dest: &'a [OsString],
    options: &'a ExtractOptions,
    /// Directories' times are set last: creating entries in them changes their mtime.
    dir_times: Vec<(ContainerPath, Timestamps)>,
}

/// `dir/name` cleaned, as Go's `filepath.Join` (an absolute `name` goes below `dir` too).
fn join(dir: &[OsString], name: &[u8]) -> ContainerPath {
    let mut text = display(dir).into_bytes();
    text.push(b'/');
    text.extend_from_slice(name);
    clean(&text)
}

impl Extractor<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), ExtractError> {
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(());
        }
        let raw_name = entry.path_bytes().into_owned();
        let path = join(self.dest, &raw_name);
        // `.` (or `/`): the directory itself, which is there already.
        if path.as_slice() == self.dest {
            return Ok(());
        }
        if !path.starts_with(self.dest) {
            return Err(ExtractError::Outside {
                name: String::from_utf8_lossy(&clean_relative(&raw_name)).into_owned(),
                dest: display(self.dest),
            });
        }
        let meta = EntryMeta::read(entry).map_err(read_error)?;
        let (parent, name) = path.split_at(path.len() - 1);
        let name = name[0].clone();
        // The parent as the container sees it (symlinks followed in its scope), made if missing.
        let parent = self
            .view
            .resolve(parent, true)
            .map_err(io_step("lstat", parent))?;
        self.make_dirs(&parent)?;
        let mut target: ContainerPath = parent.clone();
        target.push(name.clone());
        let is_dir_entry = kind == EntryType::Directory;
        if self.view.is_mount_point(&target) {
            if !is_dir_entry {
                return Err(ExtractError::MountPoint(display(&path)));
            }
            let dir = self.view.open_dir(&target).map_err(io_step("open", &target))?;
            self.set_attributes_fd(&dir, &meta, &target)?;
            self.dir_times.push((target, meta.times.clone()));
            return Ok(());
        }
        let dir = self.view.open_dir(&parent).map_err(io_step("open", &parent))?;
        match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(existing) => {
                let existing_is_dir = FileType::from_raw_mode(existing.st_mode) == FileType::Directory;
                if self.options.no_overwrite_dir_non_dir && existing_is_dir && !is_dir_entry {
                    return Err(ExtractError::DirectoryInTheWay {
                        path: display(&path),
                        dest: display(self.dest),
                    });
                }
                if self.options.no_overwrite_dir_non_dir && !existing_is_dir && is_dir_entry {
                    return Err(ExtractError::NonDirectoryInTheWay {
                        path: display(&path),
                        dest: display(self.dest),
                    });
                }
                if !(existing_is_dir && is_dir_entry) {
                    crate::tree::remove_all_at(&dir, &name).map_err(io_step("remove", &target))?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(errno_step("lstat", &target)(e)),
        }
        self.create(entry, kind, &path, &dir, &name, &target, &meta)
    }

    /// Create the missing directories of `path` (0755, as Docker's `MkdirAll`).
    fn make_dirs(&self, path: &[OsString]) -> Result<(), ExtractError> {
        for depth in 1..=path.len() {
            let prefix = &path[..depth];
            match self.view.lstat(prefix) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let parent = self
                        .view
                        .open_dir(&prefix[..depth - 1])
                        .map_err(io_step("mkdir", prefix))?;
                    match rustix::fs::mkdirat(&parent, &prefix[depth - 1], Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(errno_step("mkdir", prefix)(e)),
                    }
                }
                Err(e) => return Err(io_step("mkdir", prefix)(e)),
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        kind: EntryType,
        path: &[OsString],
        dir: &OwnedFd,
        name: &OsStr,
        target: &[OsString],
        meta: &EntryMeta,
    ) -> Result<(), ExtractError> {
        match kind {
            EntryType::Directory => {
                match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(errno_step("mkdir", target)(e)),
                }
                let fd = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno_step("open", target))?;
                self.set_attributes_fd(&fd, meta, target)?;
                self.dir_times.push((target.to_vec(), meta.times.clone()));
                return Ok(());
            }
            EntryType::Regular | EntryType::Continuous => {
                let fd = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno_step("open", target))?;
                let mut file = File::from(fd);
                let copied = io::copy(entry, &mut file).map_err(read_error)?;
                if copied != entry.size() {
                    return Err(ExtractError::Read("unexpected EOF".into()));
                }
                let fd = OwnedFd::from(file);
                self.set_attributes_fd(&fd, meta, target)?;
                rustix::fs::futimens(&fd, &meta.times).map_err(errno_step("chtimes", target))?;
                return Ok(());
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                // Docker's check: a relative target joined to the link's directory stays
                // inside; an absolute one is the container's own path.
                if link.first() != Some(&b'/') && !join(&path[..path.len() - 1], &link).starts_with(self.dest)
                {
                    return Err(ExtractError::InvalidSymlink {
                        path: display(path),
                        target: String::from_utf8_lossy(&link).into_owned(),
                    });
                }
                rustix::fs::symlinkat(OsStr::from_bytes(&link), dir, name)
                    .map_err(errno_step("symlink", target))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let linked = join(self.dest, &link);
                if !linked.starts_with(self.dest) || linked.as_slice() == self.dest {
                    return Err(ExtractError::InvalidHardlink {
                        target: display(&linked),
                        link: String::from_utf8_lossy(&link).into_owned(),
                    });
                }
                let (linked_parent, linked_name) = linked.split_at(linked.len() - 1);
                let linked_parent = self
                    .view
                    .resolve(linked_parent, true)
                    .map_err(io_step("link", &linked))?;
                let from = self
                    .view
                    .open_dir(&linked_parent)
                    .map_err(io_step("link", &linked))?;
                rustix::fs::linkat(&from, &linked_name[0], dir, name, AtFlags::empty())
                    .map_err(errno_step("link", target))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let header = entry.header();
                let (file_type, dev) = match kind {
                    EntryType::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let major = header.device_major().ok().flatten().unwrap_or(0);
                        let minor = header.device_minor().ok().flatten().unwrap_or(0);
                        let file_type = if kind == EntryType::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (file_type, rustix::fs::makedev(major, minor))
                    }
                };
                rustix::fs::mknodat(dir, name, file_type, meta.mode, dev)
                    .map_err(errno_step("mknod", target))?;
            }
            other => return Err(ExtractError::UnhandledType(other.as_byte())),
        }
        // Symlinks and devices: set through the directory's fd and the name.
        self.set_attributes_at(dir, name, meta, target, kind == EntryType::Symlink)
    }

    fn owner(&self, meta: &EntryMeta) -> (Uid, Gid) {
        match self.options.owner {
            Some((uid, gid)) => (Uid::from_raw(uid), Gid::from_raw(gid)),
            None => (meta.uid, meta.gid),
        }
    }

    /// Owner first (chown clears setuid bits), then xattrs, then the mode.
    fn set_attributes_fd(
        &self,
        fd: &OwnedFd,
        meta: &EntryMeta,
        target: &[OsString],
    ) -> Result<(), ExtractError> {
        let (uid, gid) = self.owner(meta);
        rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(errno_step("lchown", target))?;
        for (key, value) in wanted_xattrs(meta) {
            tolerate(rustix::fs::fsetxattr(fd, key, value, XattrFlags::empty()), target)?;
        }
        rustix::fs::fchmod(fd, meta.mode).map_err(errno_step("chmod", target))
    }

    fn set_attributes_at(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &EntryMeta,
        target: &[OsString],
        symlink: bool,
    ) -> Result<(), ExtractError> {
        let (uid, gid) = self.owner(meta);
        rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno_step("lchown", target))?;
        if !meta.xattrs.is_empty() {
            // No `lsetxattrat`: through the directory fd's /proc link, the name not followed.
            let mut proc_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
            proc_path.push(name);
            for (key, value) in wanted_xattrs(meta) {
                tolerate(
                    rustix::fs::lsetxattr(&proc_path, key, value, XattrFlags::empty()),
                    target,
                )?;
            }
        }
        if !symlink {
            rustix::fs::chmodat(dir, name, meta.mode, AtFlags::empty())
                .map_err(errno_step("chmod", target))?;
        }
        rustix::fs::utimensat(dir, name, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno_step("chtimes", target))
    }

    /// Directory times, now that nothing more is made in them. Best effort, as Docker's.
    fn finish(&self) {
        for (path, times) in self.dir_times.iter().rev() {
            if let Ok(fd) = self
                .view
                .open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            {
                let _ = rustix::fs::futimens(&fd, times);
            }
        }
    }
}

/// A name cleaned as Go's `filepath.Clean` does, for messages (`../../x` stays that).
fn clean_relative(name: &[u8]) -> Vec<u8> {
    let absolute = name.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." if parts.last().is_some_and(|p| *p != b"..") => {
                parts.pop();
            }
            b".." if absolute => {}
            part => parts.push(part),
        }
    }
    let mut out = if absolute { b"/".to_vec() } else { Vec::new() };
    out.extend(parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// The entry's xattrs except overlayfs's own, which would rewire the container's overlay.
fn wanted_xattrs(meta: &EntryMeta) -> impl Iterator<Item = (&OsStr, &[u8])> {
    meta.xattrs
        .iter()
        .filter(|(key, _)| !key.starts_with(b"trusted.overlay."))
        .map(|(key, value)| (OsStr::from_bytes(key), value.as_slice()))
}

/// File systems that refuse some xattrs (ENOTSUP, EPERM) do not stop an extraction.
fn tolerate(result: rustix::io::Result<()>, target: &[OsString]) -> Result<(), ExtractError> {
    match result {
        Ok(()) | Err(Errno::NOTSUP | Errno::PERM) => Ok(()),
        Err(e) => Err(errno_step("lsetxattr", target)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_clean_as_go_cleans_them() {
        assert_eq!(clean_relative(b"../../escape"), b"../../escape");
        assert_eq!(clean_relative(b"a/../../x"), b"../x");
        assert_eq!(clean_relative(b"/abs/./x/"), b"/abs/x");
        assert_eq!(clean_relative(b"./"), b".");
    }

    #[test]
    fn joins_keep_absolute_names_below_the_directory() {
        let dest = clean(b"/tmp");
        assert_eq!(display(&join(&dest, b"/abs/x")), "/tmp/abs/x");
        assert_eq!(display(&join(&dest, b"../../escape")), "/escape");
    }
}

/// Property tests: whatever entries a client uploads — `..`, absolute names, symlinks out of
/// the container and files written through them, links to nowhere — the extraction answers,
/// and nothing outside the container's root changes.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::archive::view::FsView;

    fn entry() -> impl Strategy<Value = (u8, String, String)> {
        let piece = prop_oneof![
            "[a-c]{1,2}",
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("ln".to_owned()),
        ];
        let name = (any::<bool>(), prop::collection::vec(piece, 1..5))
            .prop_map(|(absolute, parts)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")));
        let target = prop_oneof![
            Just("/".to_owned()),
            Just("../../..".to_owned()),
            Just("/../outside".to_owned()),
            // The host path of the test's `outside`, written in at run time.
            Just("OUTSIDE".to_owned()),
            Just("ln/ln".to_owned()),
            "[a-c]{1,2}",
        ];
        (0u8..4, name, target)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn hostile_uploads_stay_in_the_container(
            entries in prop::collection::vec(entry(), 1..10),
            into_sub in any::<bool>(),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("root");
            std::fs::create_dir_all(root.join("sub")).unwrap();
            std::os::unix::fs::symlink("/", root.join("sub/ln")).unwrap();
            std::fs::create_dir(tmp.path().join("outside")).unwrap();
            std::fs::write(tmp.path().join("outside/keep"), "x").unwrap();
            let outside = |all: Vec<std::path::PathBuf>| -> Vec<std::path::PathBuf> {
                all.into_iter().filter(|p| !p.starts_with(&root)).collect()
            };
            let before = outside(berth_testkit::hostile_tar::listing(tmp.path()));
            let host_outside = tmp.path().join("outside").display().to_string();
            let entries: Vec<_> = entries
                .into_iter()
                .map(|(kind, name, target)| (kind, name, target.replace("OUTSIDE", &host_outside)))
                .collect();
            let view = FsView::new(&root, &[]).unwrap();
            let dest = if into_sub { clean(b"/sub") } else { clean(b"/") };
            let _ = extract(&view, &dest, &ExtractOptions::default(), &berth_testkit::hostile_tar::raw_tar(&entries)[..]);
            prop_assert_eq!(outside(berth_testkit::hostile_tar::listing(tmp.path())), before);
            prop_assert_eq!(std::fs::read_to_string(tmp.path().join("outside/keep")).unwrap(), "x");
        }

        #[test]
        fn any_bytes_are_answered(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let tmp = tempfile::tempdir().unwrap();
            let view = FsView::new(tmp.path(), &[]).unwrap();
            let _ = extract(&view, &[], &ExtractOptions::default(), &bytes[..]);
        }
    }
}
