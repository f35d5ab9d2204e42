//! Overlay mounts: stacking unpacked layers (read-only) under a container's writable dir.
//!
//! `mount -t overlay overlay -o lowerdir=TOP:…:BOTTOM,upperdir=U,workdir=W TARGET`.
//! The kernel copies mount options into one page (4096 bytes on x86_64), so an image with many
//! layers under long paths does not fit. Docker's overlay2 keeps short symlinks under `l/` and
//! mounts from a re-executed helper that chdir'd into its data root. We use the same relative
//! paths trick without symlinks or a helper process: a short-lived thread unshares its
//! file-system context (`unshare(CLONE_FS)`: its own working directory, nothing else), changes
//! into the lower layers' common parent and mounts with paths relative to it. Other threads of
//! the daemon never see the directory change. With the store's `<64-hex>/diff` names that is
//! about 70 bytes per layer: some 55 layers; more are refused with a clear error.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};

use super::LayerError;

/// Mount an overlay at `target`: `lowers` are read-only layers, top first; writes go to
/// `upper`; `work` is overlayfs's scratch dir (empty, on the same file system as `upper`).
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<(), LayerError> {
    let options = OverlayOptions {
        lowers,
        upper: Some((upper, work)),
        extra: writable_extras(),
    };
    mount(&options, target, MountFlags::empty())?;
    crate::explain!(
        "mounted overlay at {} with {} lower layers",
        target.display(),
        lowers.len()
    );
    Ok(())
}

/// Mount a read-only view of `lowers` (top first) at `target`, without a writable layer.
/// overlayfs wants two lower layers at least when there is no upper; a single layer is
/// bind-mounted read-only instead, which shows the same files.
pub fn mount_overlay_readonly(lowers: &[PathBuf], target: &Path) -> Result<(), LayerError> {
    if let [only] = lowers {
        let error = |source: Errno| LayerError::Mount {
            target: target.to_owned(),
            source: source.into(),
        };
        rustix::mount::mount_bind(only, target).map_err(error)?;
        if let Err(e) = rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "") {
            let _ = rustix::mount::unmount(target, UnmountFlags::DETACH);
            return Err(error(e));
        }
        crate::explain!(
            "bind-mounted the only layer {} read-only at {}",
            only.display(),
            target.display()
        );
        return Ok(());
    }
    let options = OverlayOptions {
        lowers,
        upper: None,
        extra: Vec::new(),
    };
    mount(&options, target, MountFlags::RDONLY)?;
    crate::explain!(
        "mounted read-only overlay at {} with {} lower layers",
        target.display(),
        lowers.len()
    );
    Ok(())
}

/// Unmount an overlay (or the read-only bind mount of one layer). A mount still busy (a
/// process has its cwd there) is detached: it disappears now and is freed when released.
pub fn unmount(target: &Path) -> Result<(), LayerError> {
    let error = |source: Errno| LayerError::Unmount {
        target: target.to_owned(),
        source: source.into(),
    };
    // Detached, not unmounted: a plain umount waits out an RCU grace period (milliseconds, on
    // every container's exit), a detach lets the kernel free the mount after it. Either way the
    // mount is gone from the tree at once, and freed when no process uses it any more.
    rustix::mount::unmount(target, UnmountFlags::DETACH).map_err(error)?;
    crate::explain!("unmounted {}", target.display());
    Ok(())
}

/// Options for writable mounts, each only when this kernel knows it (its module parameter
/// exists): `index=off` as Docker does (the inode index ties an upper dir to its lowers and
/// breaks layers shared between images); `redirect_dir=off` and `metacopy=off` so that the
/// upper dir holds whole files and plain directories, which is what `diff_layer` can archive.
fn writable_extras() -> Vec<&'static str> {
    [
        ("index", "index=off"),
        ("redirect_dir", "redirect_dir=off"),
        ("metacopy", "metacopy=off"),
    ]
    .into_iter()
    .filter(|(parameter, _)| {
        Path::new("/sys/module/overlay/parameters")
            .join(parameter)
            .exists()
    })
    .map(|(_, option)| option)
    .collect()
}

struct OverlayOptions<'a> {
    lowers: &'a [PathBuf],
    upper: Option<(&'a Path, &'a Path)>,
    extra: Vec<&'static str>,
}

impl OverlayOptions<'_> {
    /// The `-o` string; lower paths relative to `base` when one is given.
    fn render(&self, base: Option<&Path>) -> Result<String, LayerError> {
        let mut lowers = Vec::with_capacity(self.lowers.len());
        for lower in self.lowers {
            let shown = match base {
                Some(base) => lower.strip_prefix(base).unwrap_or(lower),
                None => lower,
            };
            lowers.push(option_path(lower, shown)?);
        }
        let mut options = vec![format!("lowerdir={}", lowers.join(":"))];
        if let Some((upper, work)) = self.upper {
            options.push(format!("upperdir={}", option_path(upper, upper)?));
            options.push(format!("workdir={}", option_path(work, work)?));
        }
        options.extend(self.extra.iter().map(|o| o.to_string()));
        Ok(options.join(","))
    }
}

/// A path as it may appear in overlay options: no separators, valid UTF-8 (our paths are).
fn option_path(original: &Path, shown: &Path) -> Result<String, LayerError> {
    let bytes = shown.as_os_str().as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_empty() && !text.contains([',', ':', '\\']) => Ok(text.to_owned()),
        _ => Err(LayerError::UnmountablePath(original.to_owned())),
    }
}

/// The deepest directory that contains every path (all absolute).
fn common_parent(paths: &[PathBuf]) -> PathBuf {
    let mut common = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for path in paths {
        while !path.starts_with(&common) {
            if !common.pop() {
                break;
            }
        }
    }
    common
}

/// The largest mount data the kernel accepts: one page, NUL included.
fn options_limit() -> usize {
    rustix::param::page_size() - 1
}

fn mount(options: &OverlayOptions, target: &Path, flags: MountFlags) -> Result<(), LayerError> {
    if options.lowers.is_empty() {
        return Err(LayerError::NoLowerLayers(target.to_owned()));
    }
    let error = |source: io::Error| LayerError::Mount {
        target: target.to_owned(),
        source,
    };
    let target = std::path::absolute(target).map_err(error)?;
    let lowers: Vec<PathBuf> = options
        .lowers
        .iter()
        .map(std::path::absolute)
        .collect::<io::Result<_>>()
        .map_err(error)?;
    let upper = match options.upper {
        Some((upper, work)) => Some((
            std::path::absolute(upper).map_err(error)?,
            std::path::absolute(work).map_err(error)?,
        )),
        None => None,
    };
    let absolute = OverlayOptions {
        lowers: &lowers,
        upper: upper.as_ref().map(|(u, w)| (u.as_path(), w.as_path())),
        extra: options.extra.clone(),
    };
    let limit = options_limit();
    let data = absolute.render(None)?;
    if data.len() <= limit {
        return mount_syscall(&target, &data, flags).map_err(error);
    }
    let base = common_parent(&lowers);
    let relative = absolute.render(Some(&base))?;
    if relative.len() > limit {
        return Err(LayerError::TooManyLayers {
            target,
            layers: lowers.len(),
            needed: relative.len(),
            limit,
        });
    }
    crate::explain!(
        "overlay options for {} layers exceed a page: mounting with paths relative to {}",
        lowers.len(),
        base.display()
    );
    mount_from(&base, &target, &relative, flags).map_err(error)
}

fn mount_syscall(target: &Path, data: &str, flags: MountFlags) -> io::Result<()> {
    let data = CString::new(data).map_err(io::Error::other)?;
    Ok(rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        flags,
        data.as_c_str(),
    )?)
}

/// Mount from a thread whose working directory is `base`, so relative lower paths resolve
/// there. `unshare(CLONE_FS)` gives the thread its own cwd; the rest of the process keeps its.
fn mount_from(base: &Path, target: &Path, data: &str, flags: MountFlags) -> io::Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
                std::env::set_current_dir(base)?;
                mount_syscall(target, data, flags)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("overlay mount thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn renders_options_top_first() {
        let lowers = paths(&["/l/b/diff", "/l/a/diff"]);
        let options = OverlayOptions {
            lowers: &lowers,
            upper: Some((Path::new("/c/upper"), Path::new("/c/work"))),
            extra: vec!["index=off"],
        };
        assert_eq!(
            options.render(None).unwrap(),
            "lowerdir=/l/b/diff:/l/a/diff,upperdir=/c/upper,workdir=/c/work,index=off"
        );
        assert_eq!(
            options.render(Some(Path::new("/l"))).unwrap(),
            "lowerdir=b/diff:a/diff,upperdir=/c/upper,workdir=/c/work,index=off"
        );
    }

    #[test]
    fn refuses_paths_with_separators() {
        let lowers = paths(&["/l/a:b"]);
        let options = OverlayOptions {
            lowers: &lowers,
            upper: None,
            extra: Vec::new(),
        };
        assert!(matches!(
            options.render(None),
            Err(LayerError::UnmountablePath(_))
        ));
    }

    #[test]
    fn finds_the_common_parent() {
        assert_eq!(
            common_parent(&paths(&["/r/layers/a/diff", "/r/layers/b/diff"])),
            Path::new("/r/layers")
        );
        assert_eq!(
            common_parent(&paths(&["/r/layers/a/diff"])),
            Path::new("/r/layers/a")
        );
        assert_eq!(common_parent(&paths(&["/x/a", "/y/b"])), Path::new("/"));
    }
}
