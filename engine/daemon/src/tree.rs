//! Directory trees that containers and images make — a writable layer, a volume's files —
//! walked, sized and removed without trusting their shape.
//!
//! A container can make a tree 20,000 directories deep; a walk that recurses once per level
//! (as `std::fs::remove_dir_all` does) overflows the thread's stack at such depths, and one
//! that keeps a descriptor open per level runs out of them. This walk is iterative: one
//! directory is open at a time, a stack of names remembers the way back, and going back up
//! through `..` is checked against the identity (device, inode) recorded on the way down, so a
//! tree moved while it is walked stops the walk instead of misleading it. Nothing is followed
//! through a symbolic link, and nothing on another filesystem is entered (a mount point in the
//! way is an error for a removal, and not counted in a size).

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat, fstat, openat, statat, unlinkat};

/// How a directory is opened for the walk: never through a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What a visitor wants done with a directory it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Descend {
    Yes,
    No,
}

/// What a walk does at each entry, on going down into a directory, and on leaving it.
pub(crate) trait Visitor {
    /// `name` in the open directory `dir`, with its `lstat` (`root_dev`: the device the walk
    /// started on).
    fn entry(&mut self, dir: &OwnedFd, name: &CStr, stat: &Stat, root_dev: u64) -> io::Result<Descend>;
    /// About to list directory `name` of `parent` (one `entry` said to descend into).
    fn enter(&mut self, _parent: &OwnedFd, _name: &CStr) -> io::Result<()> {
        Ok(())
    }
    /// Every entry of directory `name` (in `parent`) has been visited.
    fn leave(&mut self, parent: &OwnedFd, name: &CStr) -> io::Result<()>;
}

/// One directory on the way down: how to find it again from its parent, and what is left in it.
struct Level {
    name: CString,
    identity: (u64, u64),
    subdirs: Vec<CString>,
}

fn identity(stat: &Stat) -> (u64, u64) {
    (stat.st_dev, stat.st_ino)
}

fn moved() -> io::Error {
    io::Error::other("the directory tree changed while it was walked")
}

/// Visit every entry below directory `name` of `parent`, depth first, then `leave` each
/// directory — `name` last.
fn walk(parent: &OwnedFd, name: &CStr, visitor: &mut dyn Visitor) -> io::Result<()> {
    walk_below(openat(parent, name, DIR_FLAGS, Mode::empty())?, visitor)?;
    visitor.leave(parent, name)
}

/// Visit every entry below the open directory `top`, depth first, leaving each directory below
/// it (not `top` itself).
pub(crate) fn walk_below(top: OwnedFd, visitor: &mut dyn Visitor) -> io::Result<()> {
    let stat = fstat(&top)?;
    let root_dev = stat.st_dev;
    let mut stack = vec![Level {
        name: CString::default(),
        identity: identity(&stat),
        subdirs: list(&top, visitor, root_dev)?,
    }];
    let mut current = top;
    loop {
        let Some(level) = stack.last_mut() else {
            return Ok(());
        };
        if let Some(child) = level.subdirs.pop() {
            let opened = match openat(&current, &child, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                // Gone, or no longer a directory, since it was listed: nothing to descend into.
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let stat = fstat(&opened)?;
            visitor.enter(&current, &child)?;
            let subdirs = list(&opened, visitor, root_dev)?;
            current = opened;
            stack.push(Level {
                name: child,
                identity: identity(&stat),
                subdirs,
            });
            continue;
        }
        // Done with this directory: back up to its parent, and leave it there.
        let done = stack.pop().ok_or_else(moved)?;
        let Some(parent) = stack.last() else {
            return Ok(());
        };
        let up = openat(&current, c"..", DIR_FLAGS, Mode::empty())?;
        if identity(&fstat(&up)?) != parent.identity {
            return Err(moved());
        }
        visitor.leave(&up, &done.name)?;
        current = up;
    }
}

/// Show the visitor every entry of `dir`; answers the subdirectories it wants to descend into.
fn list(dir: &OwnedFd, visitor: &mut dyn Visitor, root_dev: u64) -> io::Result<Vec<CString>> {
    let mut subdirs = Vec::new();
    // Names first, then visits: a visitor may remove entries, which a directory stream being
    // read must not see.
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    for name in names {
        let stat = match statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        if visitor.entry(dir, &name, &stat, root_dev)? == Descend::Yes {
            subdirs.push(name);
        }
    }
    Ok(subdirs)
}

fn is_dir(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::Directory
}

/// Removes as it goes: files when seen, directories when left.
struct Remover;

impl Visitor for Remover {
    fn entry(&mut self, dir: &OwnedFd, name: &CStr, stat: &Stat, root_dev: u64) -> io::Result<Descend> {
        if !is_dir(stat) {
            unlinkat(dir, name, AtFlags::empty())?;
            return Ok(Descend::No);
        }
        if stat.st_dev != root_dev {
            return Err(io::Error::other(format!(
                "{} is a mount point: not removing another filesystem's files",
                name.to_string_lossy()
            )));
        }
        Ok(Descend::Yes)
    }

    fn leave(&mut self, parent: &OwnedFd, name: &CStr) -> io::Result<()> {
        Ok(unlinkat(parent, name, AtFlags::REMOVEDIR)?)
    }
}

/// Counts bytes as Docker's `directory.Size` does: every entry but directories, a hard-linked
/// file once; another filesystem mounted inside is not counted.
#[derive(Default)]
struct Sizer {
    total: u64,
    seen: HashSet<(u64, u64)>,
}

impl Visitor for Sizer {
    fn entry(&mut self, _: &OwnedFd, _: &CStr, stat: &Stat, root_dev: u64) -> io::Result<Descend> {
        if is_dir(stat) {
            return Ok(if stat.st_dev == root_dev {
                Descend::Yes
            } else {
                Descend::No
            });
        }
        if stat.st_nlink < 2 || self.seen.insert(identity(stat)) {
            self.total += stat.st_size.max(0) as u64;
        }
        Ok(Descend::No)
    }

    fn leave(&mut self, _: &OwnedFd, _: &CStr) -> io::Result<()> {
        Ok(())
    }
}

/// The directory containing `path`, open, and `path`'s last component.
fn parent_and_name(path: &Path) -> io::Result<(OwnedFd, CString)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no name", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fd = openat(rustix::fs::CWD, parent, DIR_FLAGS, Mode::empty())?;
    Ok((fd, CString::new(name.as_bytes())?))
}

/// Remove `path` and everything under it (a symlink or file itself when that is what it is).
/// A missing `path` is not an error: there is nothing to remove.
pub fn remove_all(path: impl AsRef<Path>) -> io::Result<()> {
    let (parent, name) = match parent_and_name(path.as_ref()) {
        Ok(found) => found,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    match remove_all_at(&parent, OsStr::from_bytes(name.as_bytes())) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Remove `name` from `dir`, with everything under it if it is a directory. Symlinks are
/// removed, never followed.
pub fn remove_all_at(dir: &impl AsFd, name: &OsStr) -> io::Result<()> {
    let name = CString::new(name.as_bytes())?;
    let stat = statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
    if !is_dir(&stat) {
        return Ok(unlinkat(dir, &name, AtFlags::empty())?);
    }
    // `walk` wants an owned descriptor of the parent; a duplicate keeps the caller's.
    let parent = rustix::io::fcntl_dupfd_cloexec(dir, 0)?;
    walk(&parent, &name, &mut Remover)
}

/// Bytes of the files under `path` (Docker's `directory.Size`: directories not counted, a
/// hard-linked file once); 0 when it cannot be read.
pub fn size(path: impl AsRef<Path>) -> u64 {
    let path = path.as_ref();
    let mut sizer = Sizer::default();
    let walked = parent_and_name(path).and_then(|(parent, name)| walk(&parent, &name, &mut sizer));
    if let Err(e) = walked {
        tracing::debug!("size of {}: {e}", path.display());
    }
    sizer.total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `depth` directories named `d` under `top`, made fd by fd (a path that long
    /// could not be named in one call), with a file at the bottom.
    fn deep_chain(top: &Path, depth: usize) {
        std::fs::create_dir(top).unwrap();
        let mut dir = openat(rustix::fs::CWD, top, DIR_FLAGS, Mode::empty()).unwrap();
        for _ in 0..depth {
            rustix::fs::mkdirat(&dir, c"d", Mode::from_raw_mode(0o755)).unwrap();
            dir = openat(&dir, c"d", DIR_FLAGS, Mode::empty()).unwrap();
        }
        let file = openat(
            &dir,
            c"bottom",
            OFlags::WRONLY | OFlags::CREATE,
            Mode::from_raw_mode(0o644),
        )
        .unwrap();
        rustix::io::write(&file, b"12345").unwrap();
    }

    #[test]
    fn a_tree_deeper_than_any_stack_is_sized_and_removed() {
        // On tmpfs: a disk filesystem takes its time over 20,000 directories, this walk does not.
        let tmp = tempfile::tempdir_in("/dev/shm").unwrap();
        let top = tmp.path().join("deep");
        deep_chain(&top, 20_000);
        // On a thread with a small stack, as a blocking worker's: depth must not matter.
        let sized = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn({
                let top = top.clone();
                move || (size(&top), remove_all(&top))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(sized.0, 5);
        sized.1.unwrap();
        assert!(!top.exists());
    }

    #[test]
    fn removal_keeps_to_its_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        let tree = tmp.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/file"), "y").unwrap();
        std::fs::write(tree.join("top"), "z").unwrap();
        // Links to the outside are removed, not followed.
        std::os::unix::fs::symlink(&outside, tree.join("a/link")).unwrap();
        std::fs::hard_link(outside.join("keep"), tree.join("a/b/hard")).unwrap();
        let link_size = outside.as_os_str().len() as u64;
        assert_eq!(
            size(&tree),
            3 + link_size,
            "y, z, the hard-linked x once, and the symlink's own size"
        );
        remove_all(&tree).unwrap();
        assert!(!tree.exists());
        assert_eq!(std::fs::read_to_string(outside.join("keep")).unwrap(), "x");
        // Nothing there: nothing to do.
        remove_all(&tree).unwrap();
        // A file, or a symlink, is removed as itself.
        std::os::unix::fs::symlink(&outside, tmp.path().join("alone")).unwrap();
        remove_all(tmp.path().join("alone")).unwrap();
        assert!(outside.join("keep").exists());
    }

    #[test]
    fn a_mount_point_inside_stops_the_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("tree");
        let mounted = tree.join("mnt");
        std::fs::create_dir_all(&mounted).unwrap();
        // As root, as the engine's tests run.
        rustix::mount::mount(
            "berth-test",
            &mounted,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .expect("mount a tmpfs (the tests run as root)");
        std::fs::write(mounted.join("precious"), "p").unwrap();
        let error = remove_all(&tree).unwrap_err();
        assert!(error.to_string().contains("mnt is a mount point"), "{error}");
        assert!(mounted.join("precious").exists());
        assert_eq!(size(&tree), 0, "another filesystem is not counted");
        rustix::mount::unmount(&mounted, rustix::mount::UnmountFlags::DETACH).unwrap();
        remove_all(&tree).unwrap();
    }
}
