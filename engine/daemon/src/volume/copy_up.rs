//! Copy-up: a new, empty volume mounted over a non-empty image directory first receives the
//! image's files, with their modes and owners, as Docker does (`nocopy` turns it off).
//!
//! The image directory is opened inside the container's root (openat2 `RESOLVE_IN_ROOT`) and
//! walked fd by fd without following a symlink, so an image can't make berthd copy host files.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, Timespec, Timestamps, chownat, fchmod, fchown,
    fstat, futimens, mkdirat, mknodat, openat, openat2, readlinkat, statat, symlinkat, utimensat,
};

use crate::tree;
use rustix::fs::{Gid, Uid};

/// What was copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
}

/// Copy the content of `image_path` (a path inside `rootfs`) into the empty directory `volume`,
/// and give `volume` the image directory's mode and owner. Nothing to copy when the image has no
/// such directory.
pub fn copy_up(rootfs: &Path, image_path: &str, volume: &Path) -> io::Result<Copied> {
    let root = openat(
        rustix::fs::CWD,
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let relative = image_path.trim_start_matches('/');
    let source = match openat2(
        &root,
        if relative.is_empty() { "." } else { relative },
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(Copied::default()),
        Err(e) => return Err(e.into()),
    };
    let target = openat(
        rustix::fs::CWD,
        volume,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = fstat(&source)?;
    // Iterative, one directory open at a time on each side: an image's tree may be any depth.
    let mut copier = Copier {
        target,
        copied: Copied::default(),
    };
    tree::walk_below(source, &mut copier)?;
    let (target, copied) = (copier.target, copier.copied);
    apply_owner_and_mode(&target, &stat)?;
    crate::explain!(
        "copied {} files ({} bytes) from the image's {image_path} into the new volume {}",
        copied.files,
        copied.bytes,
        volume.display()
    );
    Ok(copied)
}

fn apply_owner_and_mode(fd: impl AsFd, stat: &Stat) -> io::Result<()> {
    fchown(
        &fd,
        Some(Uid::from_raw(stat.st_uid)),
        Some(Gid::from_raw(stat.st_gid)),
    )?;
    fchmod(&fd, Mode::from_raw_mode(stat.st_mode))?;
    Ok(())
}

fn times(stat: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: stat.st_atime,
            tv_nsec: stat.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: stat.st_mtime,
            tv_nsec: stat.st_mtime_nsec as _,
        },
    }
}

/// Mirrors the image directory into the volume as the walk goes: an entry is copied when it is
/// seen, a directory made then and given its owner, mode and times when left (its files would
/// change its times); `target` is the volume's directory the walk is in.
struct Copier {
    target: OwnedFd,
    copied: Copied,
}

impl tree::Visitor for Copier {
    fn entry(
        &mut self,
        source: &OwnedFd,
        name: &CStr,
        stat: &Stat,
        root_dev: u64,
    ) -> io::Result<tree::Descend> {
        let target = &self.target;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                mkdirat(target, name, Mode::from_raw_mode(stat.st_mode))?;
                self.copied.files += 1;
                // A filesystem mounted inside the image directory is not the image's.
                return Ok(if stat.st_dev == root_dev {
                    tree::Descend::Yes
                } else {
                    tree::Descend::No
                });
            }
            FileType::RegularFile => {
                let from = openat(
                    source,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                let to = openat(
                    target,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(stat.st_mode),
                )?;
                let (mut from, mut to) = (File::from(from), File::from(to));
                self.copied.bytes += io::copy(&mut from, &mut to)?;
                apply_owner_and_mode(&to, stat)?;
                futimens(&to, &times(stat))?;
            }
            FileType::Symlink => {
                let link = readlinkat(source, name, Vec::new())?;
                symlinkat(link.as_c_str(), target, name)?;
                chownat(
                    target,
                    name,
                    Some(Uid::from_raw(stat.st_uid)),
                    Some(Gid::from_raw(stat.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
                utimensat(target, name, &times(stat), AtFlags::SYMLINK_NOFOLLOW)?;
            }
            kind => {
                // Devices, fifos and sockets, as they are.
                mknodat(
                    target,
                    name,
                    kind,
                    Mode::from_raw_mode(stat.st_mode),
                    stat.st_rdev,
                )?;
                chownat(
                    target,
                    name,
                    Some(Uid::from_raw(stat.st_uid)),
                    Some(Gid::from_raw(stat.st_gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
            }
        }
        self.copied.files += 1;
        Ok(tree::Descend::No)
    }

    fn enter(&mut self, _source: &OwnedFd, name: &CStr) -> io::Result<()> {
        self.target = openat(&self.target, name, DIR_FLAGS, Mode::empty())?;
        Ok(())
    }

    fn leave(&mut self, source: &OwnedFd, name: &CStr) -> io::Result<()> {
        // The volume is new and no container runs on it yet: `..` is where the walk came from.
        self.target = openat(&self.target, c"..", DIR_FLAGS, Mode::empty())?;
        let stat = statat(source, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let dir = openat(&self.target, name, DIR_FLAGS, Mode::empty())?;
        apply_owner_and_mode(&dir, &stat)?;
        futimens(&dir, &times(&stat))?;
        Ok(())
    }
}

/// How a directory is opened: never through a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copies_files_dirs_links_owners_and_modes() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("var/lib/db");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("PG_VERSION"), "12\n").unwrap();
        std::fs::write(data.join("sub/file"), "x").unwrap();
        std::os::unix::fs::symlink("PG_VERSION", data.join("link")).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&data, Some(999), Some(999)).unwrap();
        std::os::unix::fs::chown(data.join("PG_VERSION"), Some(999), Some(999)).unwrap();
        let volume = tempfile::tempdir().unwrap();
        let copied = copy_up(root.path(), "/var/lib/db", volume.path()).unwrap();
        assert_eq!(copied, Copied { files: 4, bytes: 4 });
        assert_eq!(
            std::fs::read_to_string(volume.path().join("PG_VERSION")).unwrap(),
            "12\n"
        );
        assert_eq!(
            std::fs::read_link(volume.path().join("link")).unwrap(),
            Path::new("PG_VERSION")
        );
        let meta = std::fs::metadata(volume.path()).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (999, 999, 0o700));
        assert_eq!(
            std::fs::metadata(volume.path().join("PG_VERSION")).unwrap().uid(),
            999
        );
        // An image without the directory gives an empty volume.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            copy_up(root.path(), "/nowhere", other.path()).unwrap(),
            Copied::default()
        );
    }

    #[test]
    fn an_image_directory_of_any_depth_is_copied() {
        let root = tempfile::tempdir_in("/dev/shm").unwrap();
        let mut path = root.path().join("data");
        std::fs::create_dir(&path).unwrap();
        // 3,000 levels: deeper than a recursive copy's stack would go on a small thread.
        let mut dir = openat(rustix::fs::CWD, &path, DIR_FLAGS, Mode::empty()).unwrap();
        for _ in 0..3_000 {
            mkdirat(&dir, c"d", Mode::from_raw_mode(0o700)).unwrap();
            dir = openat(&dir, c"d", DIR_FLAGS, Mode::empty()).unwrap();
        }
        path.push("d");
        let volume = tempfile::tempdir_in("/dev/shm").unwrap();
        let copied = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn({
                let (root, volume) = (root.path().to_owned(), volume.path().to_owned());
                move || copy_up(&root, "/data", &volume)
            })
            .unwrap()
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(copied.files, 3_000);
        let top = std::fs::metadata(volume.path().join("d")).unwrap();
        assert_eq!(top.mode() & 0o7777, 0o700, "each directory gets its mode");
        crate::tree::remove_all(volume.path().join("d")).unwrap();
        crate::tree::remove_all(root.path().join("data")).unwrap();
    }

    #[test]
    fn a_symlinked_image_directory_is_resolved_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        // /data -> /etc in the image must mean the image's /etc, never the host's.
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/only-in-image"), "mine").unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("data")).unwrap();
        let volume = tempfile::tempdir().unwrap();
        copy_up(root.path(), "/data", volume.path()).unwrap();
        let names: Vec<_> = std::fs::read_dir(volume.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["only-in-image"], "the host's /etc was not copied");
    }
}
