//! Copy-up: a new, empty volume mounted over a non-empty image directory first receives the
//! image's files, with their modes and owners, as Docker does (`nocopy` turns it off).
//!
//! The image directory is opened inside the container's root (openat2 `RESOLVE_IN_ROOT`) and
//! walked fd by fd without following a symlink, so an image can't make berthd copy host files.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Stat, Timespec, Timestamps, chownat, fchmod, fchown,
    fstat, futimens, mkdirat, mknodat, openat, openat2, readlinkat, statat, symlinkat, utimensat,
};
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
    let mut copied = Copied::default();
    copy_dir(&source, &target, &mut copied)?;
    let stat = fstat(&source)?;
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

fn copy_dir(source: &OwnedFd, target: &OwnedFd, copied: &mut Copied) -> io::Result<()> {
    let mut dir = Dir::read_from(source)?;
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let stat = statat(source, name, AtFlags::SYMLINK_NOFOLLOW)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                mkdirat(target, name, Mode::from_raw_mode(stat.st_mode))?;
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let from = openat(source, name, flags, Mode::empty())?;
                let to = openat(target, name, flags, Mode::empty())?;
                copy_dir(&from, &to, copied)?;
                apply_owner_and_mode(&to, &stat)?;
                futimens(&to, &times(&stat))?;
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
                copied.bytes += io::copy(&mut from, &mut to)?;
                apply_owner_and_mode(&to, &stat)?;
                futimens(&to, &times(&stat))?;
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
                utimensat(target, name, &times(&stat), AtFlags::SYMLINK_NOFOLLOW)?;
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
        copied.files += 1;
    }
    Ok(())
}

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
