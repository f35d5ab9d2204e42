//! Named network namespaces: a new namespace kept alive by a bind mount of its nsfs file at
//! `<exec-root>/netns/<short id>` (what `ip netns add` does under /run/netns), so it outlives
//! berthd and the runtime can join it by path.
//!
//! berthd never moves its own threads between namespaces: each step that must happen inside
//! one runs on a short-lived thread that enters it and then ends.

use std::fs::File;
use std::io;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// Make a new network namespace and pin it at `path` (an empty file is created for the mount).
pub fn create(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::create(path)?;
    let target = path.to_owned();
    let made = std::thread::spawn(move || -> io::Result<()> {
        // This thread alone moves to the new namespace; it ends right after the mount.
        nix::sched::unshare(CloneFlags::CLONE_NEWNET)?;
        nix::mount::mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?;
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made?;
    crate::explain!("created network namespace {}", path.display());
    Ok(())
}

/// Unpin a namespace (the kernel frees it when its last process is gone) and remove the file.
/// Missing is fine: removing twice is not an error.
pub fn remove(path: &Path) -> io::Result<()> {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) => crate::explain!("removed network namespace {}", path.display()),
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => {}
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `path` is a pinned namespace (a mount point of nsfs) rather than a plain file.
pub fn is_pinned(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Run `f` on a thread that has entered the namespace `netns`; its sockets stay in that
/// namespace after the thread ends.
pub fn run_in<T: Send>(netns: &File, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::setns(netns, CloneFlags::CLONE_NEWNET)?;
                f()
            })
            .join()
            .map_err(|_| io::Error::other("the namespace thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_namespace_is_new_and_goes_away_on_remove() {
        // The tests run as root (CI does): without it this fails, it does not pass.
        assert!(nix::unistd::geteuid().is_root(), "this test needs root");
        let dir = tempfile::Builder::new()
            .prefix("berth-netns-test")
            .tempdir()
            .unwrap();
        let path = dir.path().join("ns");
        /// Unpins the namespace even when an assertion fails.
        struct Pinned<'a>(&'a Path);
        impl Drop for Pinned<'_> {
            fn drop(&mut self) {
                let _ = remove(self.0);
            }
        }
        create(&path).unwrap();
        let _pinned = Pinned(&path);
        assert!(is_pinned(&path));
        let inode = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        let ours = inode("/proc/self/ns/net").unwrap();
        let file = File::open(&path).unwrap();
        let inside = run_in(&file, || inode("/proc/thread-self/ns/net")).unwrap();
        assert_ne!(inside, ours, "the thread ran in another namespace");
        assert_eq!(
            inode("/proc/thread-self/ns/net").unwrap(),
            ours,
            "berthd's thread stayed home"
        );
        drop(file);
        remove(&path).unwrap();
        assert!(!path.exists());
        remove(&path).unwrap();
    }
}
