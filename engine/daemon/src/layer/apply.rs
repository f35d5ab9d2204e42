//! Unpacking a layer tar into a new directory: streaming, safely, whiteouts converted.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Timestamps, XattrFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::compression::{Decompressor, STREAM_BUFFER};
use super::entry_meta::EntryMeta;
use super::entry_path::{check_symlink_target, clean_entry_path, clean_hardlink_target};
use super::root::{Blocked, Root, remove_all_at};
use super::whiteout::{self, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, TarName};
use super::{LayerError, Refusal};
use crate::digest::{Digest, DigestReader};

/// What unpacking a layer found out about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedLayer {
    /// sha256 of the uncompressed tar: the layer's name in an image config (`rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the bytes read (compressed or not): the layer's blob digest in a manifest.
    pub compressed_digest: Digest,
    /// Bytes of regular file content, as Docker counts a layer's size.
    pub size: u64,
    /// Entries created on disk (files, directories, links, devices, whiteouts).
    pub files: u64,
}

/// Unpack `layer`, a tar that may be gzip- or zstd-compressed (detected by its first bytes),
/// into `dest`, which must not exist. The layer is unpacked into a hidden sibling directory
/// that is renamed to `dest` only when every entry was applied; a refused or broken layer
/// leaves nothing. Needs root: entries keep their owners, devices are created.
pub fn apply_layer(dest: &Path, layer: impl Read) -> Result<AppliedLayer, LayerError> {
    match dest.symlink_metadata() {
        Ok(_) => return Err(LayerError::DestinationExists(dest.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(LayerError::Io {
                context: format!("stat {}", dest.display()),
                source: e,
            });
        }
    }
    let staging = Staging::create_beside(dest)?;
    let applied = unpack(&staging.path, layer)?;
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        &staging.path,
        rustix::fs::CWD,
        dest,
        RenameFlags::NOREPLACE,
    )
    .map_err(|e| match e {
        Errno::EXIST | Errno::NOTEMPTY => LayerError::DestinationExists(dest.to_owned()),
        e => LayerError::Io {
            context: format!("rename unpacked layer to {}", dest.display()),
            source: e.into(),
        },
    })?;
    staging.keep();
    crate::explain!(
        "unpacked layer {} ({} files, {} bytes)",
        applied.diff_id,
        applied.files,
        applied.size
    );
    Ok(applied)
}

/// The hidden directory a layer is unpacked into; removed unless it was renamed into place.
struct Staging {
    path: PathBuf,
    kept: bool,
}

impl Staging {
    fn create_beside(dest: &Path) -> Result<Staging, LayerError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = dest.file_name().ok_or_else(|| LayerError::Io {
            context: format!("unpack layer into {}", dest.display()),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a directory name"),
        })?;
        let mut staging_name = OsStr::new(".").to_os_string();
        staging_name.push(name);
        staging_name.push(format!(
            ".unpacking-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let path = dest.with_file_name(staging_name);
        // 0700 while unpacking: nobody else walks a half-made tree.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(LayerError::io(format!("create {}", path.display())))?;
        Ok(Staging { path, kept: false })
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.kept {
            if let Err(e) = crate::tree::remove_all(&self.path) {
                tracing::warn!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Decompress, hash and unpack the whole stream into `dir`.
fn unpack(dir: &Path, layer: impl Read) -> Result<AppliedLayer, LayerError> {
    let mut received = DigestReader::new(layer);
    let decompressor = Decompressor::new(&mut received).map_err(LayerError::Read)?;
    let mut uncompressed = DigestReader::new(decompressor);
    let root = Root::open(dir).map_err(LayerError::io(format!("open {}", dir.display())))?;
    let mut unpacker = Unpacker::new(root);
    {
        let mut archive = tar::Archive::new(BufReader::with_capacity(STREAM_BUFFER, &mut uncompressed));
        for entry in archive.entries().map_err(LayerError::Read)? {
            unpacker.apply(&mut entry.map_err(LayerError::Read)?)?;
        }
        // The end-of-archive blocks and any padding are part of the diff id too.
        io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(LayerError::Read)?;
    }
    unpacker.finish()?;
    let (diff_id, _) = uncompressed.finish();
    // Whatever follows the compressed stream is part of the blob as received.
    io::copy(&mut received, &mut io::sink()).map_err(LayerError::Read)?;
    let (compressed_digest, _) = received.finish();
    Ok(AppliedLayer {
        diff_id,
        compressed_digest,
        size: unpacker.size,
        files: unpacker.files,
    })
}

/// The state of one unpack: the root, directories whose times are set last, counters.
struct Unpacker {
    root: Root,
    /// Creating entries in a directory changes its mtime, so directory times are set at the end.
    dir_times: Vec<(PathBuf, Timestamps)>,
    copy_buffer: Vec<u8>,
    size: u64,
    files: u64,
}

/// The error for a kernel refusal or failure while applying entry `entry`.
fn entry_error(entry: &str, step: &str) -> impl FnOnce(Blocked) -> LayerError {
    move |blocked| match blocked {
        Blocked::Refused(reason) => LayerError::Refused {
            entry: entry.to_owned(),
            reason,
        },
        Blocked::Io(source) => LayerError::Io {
            context: format!("{step} {entry:?}"),
            source,
        },
    }
}

fn errno_error(entry: &str, step: &str) -> impl FnOnce(Errno) -> LayerError {
    move |e| LayerError::Io {
        context: format!("{step} {entry:?}"),
        source: e.into(),
    }
}

fn io_error(entry: &str, step: &str) -> impl FnOnce(io::Error) -> LayerError {
    move |source| LayerError::Io {
        context: format!("{step} {entry:?}"),
        source,
    }
}

impl Unpacker {
    fn new(root: Root) -> Unpacker {
        Unpacker {
            root,
            dir_times: Vec::new(),
            copy_buffer: vec![0; STREAM_BUFFER],
            size: 0,
            files: 0,
        }
    }

    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), LayerError> {
        let raw_name = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw_name).into_owned();
        let refuse = |reason| LayerError::Refused {
            entry: name.clone(),
            reason,
        };
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(()); // global PAX records: Docker ignores them too
        }
        let path = clean_entry_path(&raw_name).map_err(refuse)?;
        // The layer root itself (`./`): Docker keeps the directory it made, so do we.
        let Some(file_name) = path.file_name() else {
            return Ok(());
        };
        let parent_path = path.parent().unwrap_or(Path::new(""));
        let meta = EntryMeta::read(entry).map_err(LayerError::Read)?;
        let parent = self
            .root
            .open_dir(parent_path, true)
            .map_err(entry_error(&name, "open parent of"))?;

        match whiteout::classify(file_name) {
            TarName::Opaque => {
                rustix::fs::fsetxattr(&parent, OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(errno_error(&name, "mark opaque the directory of"))?;
                self.files += 1;
            }
            TarName::Deletes(deleted) => {
                self.remove_existing(&parent, deleted, &name)?;
                rustix::fs::mknodat(&parent, deleted, FileType::CharacterDevice, Mode::empty(), 0)
                    .map_err(errno_error(&name, "create whiteout for"))?;
                rustix::fs::chownat(
                    &parent,
                    deleted,
                    Some(meta.uid),
                    Some(meta.gid),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno_error(&name, "chown whiteout for"))?;
                self.files += 1;
            }
            TarName::AufsMeta => {}
            TarName::Plain => {
                self.create(entry, kind, &path, &parent, file_name, &meta, &name)?;
                self.files += 1;
            }
        }
        Ok(())
    }

    /// Make room for a new entry: anything at `file_name` goes, except a directory that a
    /// directory entry merges into (Docker's rule for repeated names).
    fn remove_existing(
        &mut self,
        parent: &OwnedFd,
        file_name: &OsStr,
        name: &str,
    ) -> Result<bool, LayerError> {
        let stat = match rustix::fs::statat(parent, file_name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => return Ok(false),
            Err(e) => return Err(errno_error(name, "stat")(e)),
        };
        let file_type = FileType::from_raw_mode(stat.st_mode);
        if file_type == FileType::RegularFile && stat.st_nlink == 1 {
            self.size = self.size.saturating_sub(stat.st_size as u64);
        }
        remove_all_at(parent, file_name).map_err(io_error(name, "replace"))?;
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        kind: EntryType,
        path: &Path,
        parent: &OwnedFd,
        file_name: &OsStr,
        meta: &EntryMeta,
        name: &str,
    ) -> Result<(), LayerError> {
        if kind == EntryType::Directory {
            return self.create_dir(path, parent, file_name, meta, name);
        }
        self.remove_existing(parent, file_name, name)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let fd = rustix::fs::openat(
                    parent,
                    file_name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(errno_error(name, "create"))?;
                let mut file = File::from(fd);
                let written =
                    copy_content(entry, &mut file, &mut self.copy_buffer).map_err(io_error(name, "write"))?;
                if kind != EntryType::GNUSparse && written != entry.size() {
                    return Err(LayerError::Read(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("layer ends inside {name:?}: {written} of {} bytes", entry.size()),
                    )));
                }
                self.size += written;
                let fd = OwnedFd::from(file);
                set_owner_xattrs_mode(&fd, meta, name)?;
                rustix::fs::futimens(&fd, &meta.times).map_err(errno_error(name, "set times of"))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                check_symlink_target(path, &target).map_err(|reason| LayerError::Refused {
                    entry: name.to_owned(),
                    reason,
                })?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), parent, file_name)
                    .map_err(errno_error(name, "create symlink"))?;
                self.finish_at(parent, file_name, meta, name, false)?;
            }
            EntryType::Link => {
                let raw_target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let refuse = |reason| LayerError::Refused {
                    entry: name.to_owned(),
                    reason,
                };
                let target = clean_hardlink_target(&raw_target).map_err(refuse)?;
                let target_name = target.file_name().unwrap_or_default();
                let target_dir = self
                    .root
                    .open_dir(target.parent().unwrap_or(Path::new("")), false)
                    .map_err(|blocked| match blocked {
                        Blocked::Io(e) if e.kind() == io::ErrorKind::NotFound => refuse(
                            Refusal::HardlinkMissing(String::from_utf8_lossy(&raw_target).into_owned()),
                        ),
                        other => entry_error(name, "open hardlink target of")(other),
                    })?;
                // Flags 0: linkat never follows a symlink, so a link to a symlink links the symlink.
                rustix::fs::linkat(&target_dir, target_name, parent, file_name, AtFlags::empty()).map_err(
                    |e| match e {
                        Errno::NOENT => refuse(Refusal::HardlinkMissing(
                            String::from_utf8_lossy(&raw_target).into_owned(),
                        )),
                        e => errno_error(name, "create hardlink")(e),
                    },
                )?;
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
                rustix::fs::mknodat(parent, file_name, file_type, meta.mode, dev)
                    .map_err(errno_error(name, "create device"))?;
                self.finish_at(parent, file_name, meta, name, true)?;
            }
            other => {
                let reason = Refusal::UnsupportedType(format!("{other:?}"));
                return Err(LayerError::Refused {
                    entry: name.to_owned(),
                    reason,
                });
            }
        }
        Ok(())
    }

    fn create_dir(
        &mut self,
        path: &Path,
        parent: &OwnedFd,
        file_name: &OsStr,
        meta: &EntryMeta,
        name: &str,
    ) -> Result<(), LayerError> {
        let existing = rustix::fs::statat(parent, file_name, AtFlags::SYMLINK_NOFOLLOW);
        let is_dir =
            matches!(&existing, Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory);
        if !is_dir {
            if existing.is_ok() {
                self.remove_existing(parent, file_name, name)?;
            }
            rustix::fs::mkdirat(parent, file_name, Mode::from_raw_mode(0o700))
                .map_err(errno_error(name, "create directory"))?;
        }
        let fd = rustix::fs::openat(
            parent,
            file_name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_error(name, "open directory"))?;
        set_owner_xattrs_mode(&fd, meta, name)?;
        self.dir_times.push((path.to_owned(), meta.times.clone()));
        Ok(())
    }

    /// Owner, xattrs, mode and times of an entry that cannot be opened to an fd (symlinks,
    /// devices, fifos): set through its parent's fd and name.
    fn finish_at(
        &self,
        parent: &OwnedFd,
        file_name: &OsStr,
        meta: &EntryMeta,
        name: &str,
        chmod: bool,
    ) -> Result<(), LayerError> {
        rustix::fs::chownat(
            parent,
            file_name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno_error(name, "chown"))?;
        if !meta.xattrs.is_empty() {
            // No `lsetxattrat` before Linux 6.13: go through the parent fd's /proc link,
            // which names exactly this directory; the last component is not followed.
            let mut proc_path = PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd()));
            proc_path.push(file_name);
            for (key, value) in wanted_xattrs(meta) {
                tolerate_xattr_error(
                    rustix::fs::lsetxattr(&proc_path, key, value, XattrFlags::empty()),
                    name,
                    key,
                )?;
            }
        }
        if chmod {
            rustix::fs::chmodat(parent, file_name, meta.mode, AtFlags::empty())
                .map_err(errno_error(name, "chmod"))?;
        }
        rustix::fs::utimensat(parent, file_name, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno_error(name, "set times of"))?;
        Ok(())
    }

    /// Set directory times last, now that nothing more is created in them; then open the
    /// root to the world like Docker's layer directories (0755).
    fn finish(&self) -> Result<(), LayerError> {
        for (path, times) in &self.dir_times {
            // A later entry may have replaced the directory (even with a symlink): skip it then.
            if let Ok(fd) = self.root.open_dir(path, false) {
                rustix::fs::futimens(&fd, times)
                    .map_err(errno_error(&path.to_string_lossy(), "set times of directory"))?;
            }
        }
        rustix::fs::fchmod(self.root.fd(), Mode::from_raw_mode(0o755))
            .map_err(errno_error("/", "chmod layer root"))?;
        Ok(())
    }
}

/// The entry's xattrs except overlayfs's own: those would let a tar rewire the overlay
/// (redirects, origins); an opaque directory comes only from `.wh..wh..opq`.
fn wanted_xattrs(meta: &EntryMeta) -> impl Iterator<Item = (&OsStr, &[u8])> {
    meta.xattrs
        .iter()
        .filter(|(key, _)| !key.starts_with(OVERLAY_XATTR_PREFIX.as_bytes()))
        .map(|(key, value)| (OsStr::from_bytes(key), value.as_slice()))
}

/// Like Docker, unpack on file systems that refuse some xattrs (ENOTSUP, EPERM): warn, go on.
fn tolerate_xattr_error(result: rustix::io::Result<()>, name: &str, key: &OsStr) -> Result<(), LayerError> {
    match result {
        Ok(()) => Ok(()),
        Err(e @ (Errno::NOTSUP | Errno::PERM)) => {
            tracing::warn!(
                "skipped xattr {} of layer entry {name:?}: {e}",
                key.to_string_lossy()
            );
            Ok(())
        }
        Err(e) => Err(errno_error(
            name,
            &format!("set xattr {} of", key.to_string_lossy()),
        )(e)),
    }
}

/// Owner first (chown clears setuid bits and file capabilities), then xattrs, then the mode.
fn set_owner_xattrs_mode(fd: &OwnedFd, meta: &EntryMeta, name: &str) -> Result<(), LayerError> {
    rustix::fs::fchown(fd, Some(meta.uid), Some(meta.gid)).map_err(errno_error(name, "chown"))?;
    for (key, value) in wanted_xattrs(meta) {
        tolerate_xattr_error(
            rustix::fs::fsetxattr(fd.as_fd(), key, value, XattrFlags::empty()),
            name,
            key,
        )?;
    }
    rustix::fs::fchmod(fd, meta.mode).map_err(errno_error(name, "chmod"))?;
    Ok(())
}

/// Copy an entry's content with a large buffer; returns the bytes copied.
fn copy_content(from: &mut impl Read, to: &mut File, buffer: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let n = match from.read(buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_an_existing_destination_without_touching_it() {
        let tmp = tempfile::tempdir().unwrap();
        let err = apply_layer(tmp.path(), &b""[..]).unwrap_err();
        assert!(matches!(err, LayerError::DestinationExists(_)), "{err}");
    }
}

/// Property tests: whatever bytes or entries a layer brings — names with `..`, absolute paths,
/// symlinks leading out, links to nowhere, garbage — applying it answers, and nothing is
/// written outside the layer's directory.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::apply_layer;

    /// One tar entry: a kind, a name from pieces that include the hostile ones, a link target.
    fn entry() -> impl Strategy<Value = (u8, String, String)> {
        let piece = prop_oneof![
            "[a-z]{1,4}",
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just(".wh.x".to_owned()),
            Just(".wh..wh..opq".to_owned())
        ];
        let name = (any::<bool>(), prop::collection::vec(piece, 1..5))
            .prop_map(|(absolute, parts)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")));
        let target = prop_oneof![
            "[a-z]{1,4}",
            Just("../../outside".to_owned()),
            Just("/etc/passwd".to_owned()),
            Just("..".to_owned())
        ];
        (0u8..5, name, target)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn any_bytes_are_answered(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let tmp = tempfile::tempdir().unwrap();
            let _ = apply_layer(&tmp.path().join("layer"), &bytes[..]);
        }

        #[test]
        fn hostile_entries_stay_inside(entries in prop::collection::vec(entry(), 1..12)) {
            let tmp = tempfile::tempdir().unwrap();
            // What lies beside the layer: it must be exactly as it was after the apply.
            std::fs::create_dir(tmp.path().join("outside")).unwrap();
            std::fs::write(tmp.path().join("outside/keep"), "x").unwrap();
            let layer = tmp.path().join("layer");
            let outside = |all: Vec<std::path::PathBuf>| -> Vec<std::path::PathBuf> {
                all.into_iter().filter(|p| !p.starts_with(&layer)).collect()
            };
            let before = outside(berth_testkit::hostile_tar::listing(tmp.path()));
            let _ = apply_layer(&layer, &berth_testkit::hostile_tar::raw_tar(&entries)[..]);
            prop_assert_eq!(outside(berth_testkit::hostile_tar::listing(tmp.path())), before);
            prop_assert_eq!(std::fs::read_to_string(tmp.path().join("outside/keep")).unwrap(), "x");
        }
    }
}
