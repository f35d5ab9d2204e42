//! `docker diff`: what a container's upper directory changed relative to its image layers.
//!
//! The rules are those of the Docker 20.10 daemon this lab compares against (run on the same
//! machine, overlay2 driver):
//! - a path in the upper dir that the layers below do not show is **A**dded;
//! - a path they do show is **C**hanged if its type, mode, owner or device differ, or, for a
//!   non-directory, its size, mtime or symlink target (a file merely copied up is unchanged);
//! - a whiteout is a **D**eletion; an opaque directory (recreated after `rm -rf`) is C, and
//!   every entry the layers below had directly in it, and the upper dir has not, is D;
//! - every directory above a change is C unless it is itself A or D.
//!
//! "The layers below show" follows overlayfs: layers are searched top first, a whiteout or a
//! non-directory parent hides deeper layers, and so does an opaque parent directory.
//! The result is sorted by path, parents before their contents.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::LayerError;
use super::root::{Blocked, Root};
use super::whiteout::{OPAQUE_XATTR, is_opaque_value, is_whiteout};

/// Kinds of change, numbered as the Engine API numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    /// The number in `GET /containers/{id}/changes`.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The letter `docker diff` prints: C, A or D.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute inside the container: `/etc/passwd`.
    pub path: PathBuf,
    pub kind: ChangeKind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path.display())
    }
}

impl From<&Change> for berth_api::types::ContainerChange {
    fn from(change: &Change) -> Self {
        berth_api::types::ContainerChange {
            path: change.path.to_string_lossy().into_owned(),
            kind: change.kind.code(),
        }
    }
}

/// The changes in `upper` relative to `lowers` (top first), sorted by path.
pub fn changes(upper: &Path, lowers: &[&Path]) -> Result<Vec<Change>, LayerError> {
    let io_error = |what: &Path| {
        let context = format!("compare {}", what.display());
        move |source| LayerError::Io { context, source }
    };
    let lowers = Lowers {
        roots: lowers
            .iter()
            .map(|l| Root::open(l).map_err(io_error(l)))
            .collect::<Result<_, _>>()?,
    };
    let mut found: BTreeMap<PathBuf, ChangeKind> = BTreeMap::new();
    let mut pending = children(upper, Path::new("")).map_err(io_error(upper))?;
    while let Some(rel) = pending.pop() {
        let path = upper.join(&rel);
        let stat = rustix::fs::lstat(&path).map_err(|e| io_error(&path)(e.into()))?;
        let below = lowers.find(&rel).map_err(io_error(&path))?;
        if is_whiteout(&stat) {
            if below.is_some() {
                found.insert(rel, ChangeKind::Deleted);
            }
            continue;
        }
        match &below {
            None => {
                found.insert(rel.clone(), ChangeKind::Added);
            }
            Some(lower) if differs(&stat, &path, lower, &lowers, &rel).map_err(io_error(&path))? => {
                found.insert(rel.clone(), ChangeKind::Modified);
            }
            Some(_) => {}
        }
        if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
            continue;
        }
        let lower_is_dir = below
            .as_ref()
            .is_some_and(|l| FileType::from_raw_mode(l.st_mode) == FileType::Directory);
        if lower_is_dir && is_opaque(&path).map_err(io_error(&path))? {
            for name in lowers.merged_children(&rel).map_err(io_error(&path))? {
                let child = rel.join(&name);
                match rustix::fs::lstat(upper.join(&child)) {
                    Err(Errno::NOENT) => {
                        found.insert(child, ChangeKind::Deleted);
                    }
                    Ok(_) => {}
                    Err(e) => return Err(io_error(&upper.join(&child))(e.into())),
                }
            }
        }
        pending.extend(children(upper, &rel).map_err(io_error(&path))?);
    }
    // A change inside a directory changes the directory.
    let changed: Vec<PathBuf> = found.keys().cloned().collect();
    for path in changed {
        for parent in path.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()) {
            found.entry(parent.to_owned()).or_insert(ChangeKind::Modified);
        }
    }
    Ok(found
        .into_iter()
        .map(|(rel, kind)| Change {
            path: Path::new("/").join(rel),
            kind,
        })
        .collect())
}

/// The children of `upper/rel`, relative to `upper`.
fn children(upper: &Path, rel: &Path) -> io::Result<Vec<PathBuf>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(upper.join(rel))? {
        names.push(rel.join(entry?.file_name()));
    }
    Ok(names)
}

fn is_opaque(path: &Path) -> io::Result<bool> {
    let mut value = [0u8; 8];
    match rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut value[..]) {
        Ok(n) => Ok(is_opaque_value(&value[..n])),
        Err(Errno::NODATA | Errno::NOTSUP | Errno::RANGE) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_opaque_fd(dir: &OwnedFd) -> io::Result<bool> {
    let mut value = [0u8; 8];
    match rustix::fs::fgetxattr(dir, OPAQUE_XATTR, &mut value[..]) {
        Ok(n) => Ok(is_opaque_value(&value[..n])),
        Err(Errno::NODATA | Errno::NOTSUP | Errno::RANGE) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Docker's test for "this file changed": type and permissions, owner, device number, and
/// for non-directories size, modification time and symlink target.
fn differs(upper: &Stat, upper_path: &Path, lower: &Stat, lowers: &Lowers, rel: &Path) -> io::Result<bool> {
    if upper.st_mode != lower.st_mode
        || upper.st_uid != lower.st_uid
        || upper.st_gid != lower.st_gid
        || upper.st_rdev != lower.st_rdev
    {
        return Ok(true);
    }
    match FileType::from_raw_mode(upper.st_mode) {
        FileType::Directory => Ok(false),
        file_type => {
            // Docker's sameFsTime: equal seconds, and equal nanoseconds unless one side has none.
            let same_time = upper.st_mtime == lower.st_mtime
                && (upper.st_mtime_nsec == lower.st_mtime_nsec
                    || upper.st_mtime_nsec == 0
                    || lower.st_mtime_nsec == 0);
            if !same_time || upper.st_size != lower.st_size {
                return Ok(true);
            }
            if file_type == FileType::Symlink {
                let upper_target = std::fs::read_link(upper_path)?;
                return Ok(lowers
                    .link_target(rel)?
                    .is_none_or(|lower_target| lower_target != upper_target));
            }
            Ok(false)
        }
    }
}

/// The image layers below an upper dir, top first, read as overlayfs merges them.
struct Lowers {
    roots: Vec<Root>,
}

/// What one lower layer says about a path.
enum InLayer {
    /// The path is there (maybe as a whiteout).
    Found { stat: Stat, opaque_above: bool },
    /// Not there; deeper layers still count unless a parent here is opaque.
    Missing { opaque_above: bool },
    /// A parent here is a whiteout or not a directory: deeper layers cannot show the path.
    Hidden,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Lowers {
    /// Walk `rel` in one layer one component at a time, never following a symlink.
    fn look_up(root: &Root, rel: &Path) -> io::Result<InLayer> {
        let names: Vec<&OsStr> = rel.iter().collect();
        let Some((last, parents)) = names.split_last() else {
            return Ok(InLayer::Hidden);
        };
        let mut dir = rustix::io::dup(root.fd())?;
        let mut opaque_above = false;
        for name in parents {
            let stat = match rustix::fs::statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(Errno::NOENT) => return Ok(InLayer::Missing { opaque_above }),
                Err(e) => return Err(e.into()),
            };
            if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
                return Ok(InLayer::Hidden); // a whiteout, a file or a symlink in the way
            }
            dir = rustix::fs::openat(&dir, *name, DIR_FLAGS, Mode::empty())?;
            opaque_above |= is_opaque_fd(&dir)?;
        }
        match rustix::fs::statat(&dir, *last, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(InLayer::Found { stat, opaque_above }),
            Err(Errno::NOENT) => Ok(InLayer::Missing { opaque_above }),
            Err(e) => Err(e.into()),
        }
    }

    /// The entry the merged lower layers show at `rel`, with the layer it comes from.
    fn find_in(&self, rel: &Path) -> io::Result<Option<(Stat, &Root)>> {
        for root in &self.roots {
            match Self::look_up(root, rel)? {
                InLayer::Found { stat, .. } if is_whiteout(&stat) => return Ok(None),
                InLayer::Found { stat, .. } => return Ok(Some((stat, root))),
                InLayer::Missing { opaque_above: false } => continue,
                InLayer::Missing { opaque_above: true } | InLayer::Hidden => return Ok(None),
            }
        }
        Ok(None)
    }

    fn find(&self, rel: &Path) -> io::Result<Option<Stat>> {
        Ok(self.find_in(rel)?.map(|(stat, _)| stat))
    }

    fn link_target(&self, rel: &Path) -> io::Result<Option<PathBuf>> {
        let Some((_, root)) = self.find_in(rel)? else {
            return Ok(None);
        };
        let parent = root
            .open_dir(rel.parent().unwrap_or(Path::new("")), false)
            .map_err(blocked_to_io)?;
        let target = rustix::fs::readlinkat(&parent, rel.file_name().unwrap_or_default(), Vec::new())?;
        Ok(Some(PathBuf::from(OsStr::from_bytes(target.as_bytes()))))
    }

    /// The names the merged lower layers show in directory `rel`.
    fn merged_children(&self, rel: &Path) -> io::Result<BTreeSet<OsString>> {
        let mut names = BTreeSet::new();
        let mut whited_out: HashSet<OsString> = HashSet::new();
        for root in &self.roots {
            let opaque_above = match Self::look_up(root, rel)? {
                InLayer::Found { stat, opaque_above }
                    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory =>
                {
                    opaque_above
                }
                InLayer::Found { .. } | InLayer::Hidden => break, // a whiteout or a file hides the rest
                InLayer::Missing { opaque_above } => {
                    if opaque_above {
                        break;
                    }
                    continue;
                }
            };
            let dir = root.open_dir(rel, false).map_err(blocked_to_io)?;
            for entry in rustix::fs::Dir::read_from(&dir)? {
                let entry = entry?;
                let name = OsStr::from_bytes(entry.file_name().to_bytes());
                if name == "." || name == ".." {
                    continue;
                }
                let stat = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                if is_whiteout(&stat) {
                    whited_out.insert(name.to_owned());
                } else if !whited_out.contains(name) {
                    names.insert(name.to_owned());
                }
            }
            if opaque_above || is_opaque_fd(&dir)? {
                break;
            }
        }
        Ok(names)
    }
}

fn blocked_to_io(blocked: Blocked) -> io::Error {
    match blocked {
        Blocked::Io(e) => e,
        Blocked::Refused(reason) => io::Error::other(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_print_and_number_like_docker() {
        let change = Change {
            path: PathBuf::from("/etc/passwd"),
            kind: ChangeKind::Modified,
        };
        assert_eq!(change.to_string(), "C /etc/passwd");
        let api: berth_api::types::ContainerChange = (&change).into();
        assert_eq!((api.path.as_str(), api.kind), ("/etc/passwd", 0));
        assert_eq!((ChangeKind::Added.code(), ChangeKind::Deleted.letter()), (1, 'D'));
    }

    #[test]
    fn an_upper_over_no_layers_is_all_additions() {
        let upper = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(upper.path().join("a/b")).unwrap();
        std::fs::write(upper.path().join("a/b/f"), b"x").unwrap();
        std::fs::write(upper.path().join("a.txt"), b"x").unwrap();
        let lines: Vec<String> = changes(upper.path(), &[])
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(lines, ["A /a", "A /a/b", "A /a/b/f", "A /a.txt"]);
    }
}
