//! The local side of `cp`: a host path written as a tar (Docker's `TarWithOptions` of one
//! resource: a directory first, then its entries in name order, symlinks not followed), and a
//! tar from a container extracted into a host directory (Docker's client-side `Untar`:
//! owners not kept, a directory never replaced by a file nor the reverse).
//!
//! A container's tar is not trusted: every path is opened below the destination with
//! `openat2(RESOLVE_IN_ROOT)`, so a symlink in the tar (`x -> /etc`, then `x/passwd`) leads
//! back inside the destination, never to the host's own files.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// Write `path` (not followed if it is a symlink) and what is under it to `out`, the top
/// entry named `name` and the others `name/…`.
pub fn write_tar(path: &Path, name: &str, out: impl Write) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let top = std::fs::symlink_metadata(path)?;
    append(&mut builder, path, name, &top)?;
    if top.is_dir() {
        let mut stack: Vec<(PathBuf, String, std::vec::IntoIter<OsString>)> =
            vec![(path.to_owned(), name.to_owned(), sorted_names(path)?.into_iter())];
        while let Some((dir, dir_name, names)) = stack.last_mut() {
            let Some(child) = names.next() else {
                stack.pop();
                continue;
            };
            let child_path = dir.join(&child);
            let child_name = format!("{dir_name}/{}", child.to_string_lossy());
            let meta = std::fs::symlink_metadata(&child_path)?;
            append(&mut builder, &child_path, &child_name, &meta)?;
            if meta.is_dir() {
                let names = sorted_names(&child_path)?;
                stack.push((child_path, child_name, names.into_iter()));
            }
        }
    }
    builder.into_inner()?.flush()
}

fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    meta: &std::fs::Metadata,
) -> io::Result<()> {
    let file_type = meta.file_type();
    if std::os::unix::fs::FileTypeExt::is_socket(&file_type) {
        return Ok(()); // as Docker: sockets are left out
    }
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    let name = if meta.is_dir() {
        format!("{name}/")
    } else {
        name.to_owned()
    };
    if file_type.is_symlink() {
        let target = std::fs::read_link(path)?;
        header.set_size(0);
        return builder.append_link(&mut header, &name, target);
    }
    if file_type.is_file() {
        let file = File::open(path)?;
        // Exactly the size read above, even if the file changes meanwhile.
        let content = file.take(meta.len()).chain(io::repeat(0)).take(meta.len());
        return builder.append_data(&mut header, &name, content);
    }
    header.set_size(0);
    builder.append_data(&mut header, &name, io::empty())
}

/// Why an extraction stopped, in Docker's words.
#[derive(Debug, thiserror::Error)]
pub enum UntarError {
    /// an entry's name leads out of the destination
    #[error("{name:?} is outside of {dest:?}")]
    Outside { name: String, dest: String },
    /// a relative symlink target leads out of the destination
    #[error("invalid symlink {path:?} -> {target:?}")]
    InvalidSymlink { path: String, target: String },
    /// a hard link names a file outside the destination
    #[error("invalid hardlink {target:?} -> {link:?}")]
    InvalidHardlink { target: String, link: String },
    /// a directory where a non-directory was to go
    #[error("cannot overwrite directory {path:?} with non-directory {dest:?}")]
    DirectoryInTheWay { path: String, dest: String },
    /// a non-directory where a directory was to go
    #[error("cannot overwrite non-directory {path:?} with directory {dest:?}")]
    NonDirectoryInTheWay { path: String, dest: String },
    /// reading the tar or writing a file failed
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<Errno> for UntarError {
    fn from(e: Errno) -> UntarError {
        UntarError::Io(e.into())
    }
}

/// Docker's `RebaseArchiveEntries` rename: the first `old` in a name becomes `new` (`/`
/// stands for the empty string, so names keep their leading `/`).
pub type Rename = (String, String);

fn rename(name: &str, renames: &[Rename]) -> String {
    let mut name = name.to_owned();
    for (old, new) in renames {
        let old = if old == "/" { "" } else { old.as_str() };
        name = name.replacen(old, new, 1);
    }
    name
}

/// Components of `path` cleaned lexically, `..` stopping at the top (Go's `Clean` of a path
/// joined below a directory).
fn clean(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts
}

/// Whether `name` joined below the destination stays below it (Go's `filepath.Rel` check).
fn climbs_out(name: &str) -> bool {
    let mut depth: i64 = 0;
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// `openat2` below `root`, as if it were `/`.
fn open_below(root: &OwnedFd, path: &str, flags: OFlag) -> Result<OwnedFd, Errno> {
    let path = if path.is_empty() { "." } else { path };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = nix::fcntl::openat2(root.as_raw_fd(), path, how)?;
    // SAFETY: `openat2` returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Extract `tar` into the directory `dest`, names renamed by `renames` first.
pub fn untar(tar: impl Read, dest: &Path, renames: &[Rename]) -> Result<(), UntarError> {
    let root = File::open(dest)?;
    let root = OwnedFd::from(root);
    let dest_text = dest.display().to_string();
    let mut archive = tar::Archive::new(tar);
    let mut dir_times = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = rename(&raw, renames);
        if climbs_out(&name) {
            return Err(UntarError::Outside {
                name: clean(&name).join("/"),
                dest: dest_text,
            });
        }
        let parts = clean(&name);
        let Some((last, parents)) = parts.split_last() else {
            continue; // the destination itself
        };
        let shown = format!("{}/{}", dest_text.trim_end_matches('/'), parts.join("/"));
        // Missing parents are made (0755), each below the destination.
        for depth in 1..=parents.len() {
            let prefix = parents[..depth].join("/");
            if let Err(Errno::ENOENT) = open_below(&root, &prefix, OFlag::O_PATH) {
                let parent = open_below(&root, &parents[..depth - 1].join("/"), OFlag::O_DIRECTORY)?;
                match nix::sys::stat::mkdirat(
                    Some(parent.as_raw_fd()),
                    parents[depth - 1],
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let dir = open_below(&root, &parents.join("/"), OFlag::O_DIRECTORY | OFlag::O_RDONLY)?;
        let is_dir_entry = kind == tar::EntryType::Directory;
        match nix::sys::stat::fstatat(Some(dir.as_raw_fd()), *last, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(existing) => {
                let existing_is_dir =
                    SFlag::from_bits_truncate(existing.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
                if existing_is_dir && !is_dir_entry {
                    return Err(UntarError::DirectoryInTheWay {
                        path: shown,
                        dest: dest_text,
                    });
                }
                if !existing_is_dir && is_dir_entry {
                    return Err(UntarError::NonDirectoryInTheWay {
                        path: shown,
                        dest: dest_text,
                    });
                }
                if !existing_is_dir {
                    nix::unistd::unlinkat(
                        Some(dir.as_raw_fd()),
                        *last,
                        nix::unistd::UnlinkatFlags::NoRemoveDir,
                    )?;
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let mode = Mode::from_bits_truncate(entry.header().mode()? & 0o7777);
        let mtime = entry.header().mtime().unwrap_or(0) as i64;
        let times = [TimeSpec::new(mtime, 0), TimeSpec::new(mtime, 0)];
        match kind {
            tar::EntryType::Directory => {
                match nix::sys::stat::mkdirat(Some(dir.as_raw_fd()), *last, mode) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                dir_times.push((parts.join("/"), times));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = nix::fcntl::openat(
                    Some(dir.as_raw_fd()),
                    *last,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                // SAFETY: `openat` returned a fresh fd that nothing else owns.
                let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
                io::copy(&mut entry, &mut file)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let joined = format!("{}/{target}", parents.join("/"));
                if !target.starts_with('/') && climbs_out(&joined) {
                    return Err(UntarError::InvalidSymlink { path: shown, target });
                }
                nix::unistd::symlinkat(target.as_str(), Some(dir.as_raw_fd()), *last)?;
            }
            tar::EntryType::Link => {
                let link = rename(&entry.link_name()?.unwrap_or_default().to_string_lossy(), renames);
                let linked = clean(&link);
                if climbs_out(&link) || linked.is_empty() {
                    return Err(UntarError::InvalidHardlink {
                        target: format!("{}/{}", dest_text.trim_end_matches('/'), linked.join("/")),
                        link,
                    });
                }
                let (linked_name, linked_parents) = linked.split_last().expect("not empty");
                let from = open_below(
                    &root,
                    &linked_parents.join("/"),
                    OFlag::O_DIRECTORY | OFlag::O_RDONLY,
                )?;
                nix::unistd::linkat(
                    Some(from.as_raw_fd()),
                    *linked_name,
                    Some(dir.as_raw_fd()),
                    *last,
                    AtFlags::empty(),
                )?;
                continue;
            }
            tar::EntryType::Fifo => {
                nix::sys::stat::mknodat(Some(dir.as_raw_fd()), *last, SFlag::S_IFIFO, mode, 0)?;
            }
            // Devices need privileges a copy should not assume; Docker's client makes them
            // only as root. Left out rather than failing the copy.
            _ => continue,
        }
        if kind != tar::EntryType::Symlink {
            nix::sys::stat::fchmodat(Some(dir.as_raw_fd()), *last, mode, FchmodatFlags::NoFollowSymlink)
                .or_else(|e| if e == Errno::EOPNOTSUPP { Ok(()) } else { Err(e) })?;
        }
        if kind != tar::EntryType::Directory {
            nix::sys::stat::utimensat(
                Some(dir.as_raw_fd()),
                *last,
                &times[0],
                &times[1],
                UtimensatFlags::NoFollowSymlink,
            )?;
        }
    }
    for (path, times) in dir_times.iter().rev() {
        if let Ok(fd) = open_below(
            &root,
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_NOFOLLOW,
        ) {
            let _ = nix::sys::stat::futimens(fd.as_raw_fd(), &times[0], &times[1]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_and_climbs_as_docker() {
        let renames = vec![("d".to_owned(), "out".to_owned())];
        assert_eq!(rename("d/sub/b", &renames), "out/sub/b");
        assert_eq!(rename("/bin/sh", &[("/".to_owned(), "x".to_owned())]), "x/bin/sh");
        assert!(climbs_out("../x"));
        assert!(climbs_out("a/../../x"));
        assert!(!climbs_out("a/../b"));
        assert!(!climbs_out("/abs/x"));
    }

    #[test]
    fn a_symlink_in_the_tar_leads_back_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "x", outside.display().to_string())
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        builder.append_data(&mut header, "x/planted", &b"p"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        // The link leads to `dest/<outside's path>`, which is not there: refused, and
        // nothing is written where the link points on the host.
        assert!(untar(&tar[..], &dest, &[]).is_err());
        assert!(!outside.join("planted").exists(), "written through the symlink");
    }
}

/// Property tests: whatever a container's tar holds — `..`, absolute names, symlinks out of
/// the destination and files written through them — extracting it answers, and nothing
/// outside the destination changes.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn entry() -> impl Strategy<Value = (u8, String, String)> {
        let piece = prop_oneof![
            "[a-c]{1,2}",
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just("ln".to_owned())
        ];
        let name = (any::<bool>(), prop::collection::vec(piece, 1..5))
            .prop_map(|(absolute, parts)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")));
        let target = prop_oneof![
            Just("/".to_owned()),
            Just("../../..".to_owned()),
            // The test's own directory beside the destination, written in at run time.
            Just("OUTSIDE".to_owned()),
            Just("ln/ln".to_owned()),
            "[a-c]{1,2}",
        ];
        (0u8..4, name, target)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn a_containers_tar_stays_in_the_destination(entries in prop::collection::vec(entry(), 1..10)) {
            let tmp = tempfile::tempdir().unwrap();
            let dest = tmp.path().join("dest");
            std::fs::create_dir(&dest).unwrap();
            std::fs::write(tmp.path().join("keep"), "x").unwrap();
            let outside = |all: Vec<PathBuf>| -> Vec<PathBuf> {
                all.into_iter().filter(|p| !p.starts_with(&dest)).collect()
            };
            let before = outside(berth_testkit::hostile_tar::listing(tmp.path()));
            let here = tmp.path().display().to_string();
            let entries: Vec<_> = entries
                .into_iter()
                .map(|(kind, name, target)| (kind, name, target.replace("OUTSIDE", &here)))
                .collect();
            let _ = untar(&berth_testkit::hostile_tar::raw_tar(&entries)[..], &dest, &[]);
            prop_assert_eq!(outside(berth_testkit::hostile_tar::listing(tmp.path())), before);
            prop_assert_eq!(std::fs::read_to_string(tmp.path().join("keep")).unwrap(), "x");
        }
    }
}
