//! Layers: the tars images are made of, unpacked into directories that overlayfs stacks.
//!
//! An image layer is a tar (plain, gzip or zstd) of the files one build step added, changed or
//! deleted. Deletions travel as AUFS-style *whiteout* files, because tar has no way to say "gone":
//!
//! | in the tar                | on disk (overlayfs form)                         |
//! |---------------------------|--------------------------------------------------|
//! | `dir/.wh.name`            | `dir/name`, a character device 0/0 (a whiteout)  |
//! | `dir/.wh..wh..opq`        | `dir` gets xattr `trusted.overlay.opaque=y`      |
//!
//! The interface:
//!
//! - [`apply_layer`]`(dest, tar) -> AppliedLayer`: unpack a layer into a new directory `dest`,
//!   safely (see below), computing its diff id (sha256 of the uncompressed tar) and the digest of
//!   the bytes as received. A refused or broken layer leaves nothing behind.
//! - [`diff_layer`]`(upper, out) -> DiffStats`: the reverse, for `docker commit`: write an overlay
//!   upper dir as a plain layer tar in Docker's form (sorted, deterministic, whiteouts as `.wh.`).
//! - [`changes`]`(upper, lowers) -> Vec<Change>`: what `docker diff` prints (A/C/D).
//! - [`mount_overlay`], [`mount_overlay_readonly`], [`unmount`]: stack unpacked layers.
//! - [`Compression::detect`], [`decompress`]: recognise and undo gzip, zstd, bzip2 and xz.
//!
//! Safety of [`apply_layer`]: a layer is untrusted input. Entries with absolute paths or `..`
//! are refused; so are hardlinks that name anything outside the layer and relative symlinks
//! whose target climbs above the layer root (Docker's rule; absolute symlink targets such as
//! `/bin/sh -> /bin/busybox` are normal and allowed: they resolve inside the container).
//! Every file is created relative to a directory fd opened with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_SYMLINKS)`, so a symlink planted by an earlier entry (`a -> /etc`, then
//! `a/passwd`) is never followed: the entry is refused instead.
//!
//! What this module does not do: keep track of layers (the store does, keyed by chain id),
//! decide where layers live, or run anything inside them.

mod apply;
mod changes;
mod compression;
mod diff;
mod entry_meta;
mod entry_path;
mod overlay;
mod root;
mod whiteout;
mod xattr;

use std::io;
use std::path::PathBuf;

pub use apply::{AppliedLayer, apply_layer};
pub use changes::{Change, ChangeKind, changes};
pub use compression::{Compression, Decompressor, decompress};
pub use diff::{DiffStats, diff_layer};
pub(crate) use entry_meta::EntryMeta;
pub use overlay::{mount_overlay, mount_overlay_readonly, unmount};
pub use whiteout::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};

/// Why a layer entry was refused: each reason is a way a tar could reach outside its layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// the entry's path is absolute
    #[error("absolute path")]
    AbsolutePath,
    /// the entry's path has a `..` component
    #[error("path leaves the layer root")]
    LeavesRoot,
    /// a parent of the entry is a symlink, which is never followed while unpacking
    #[error("path goes through a symlink")]
    ThroughSymlink,
    /// a parent of the entry is not a directory
    #[error("parent is not a directory")]
    ParentNotDirectory,
    /// a relative symlink target climbs above the layer root
    #[error("symlink target {0:?} leaves the layer root")]
    SymlinkLeavesRoot(String),
    /// a hardlink target is absolute or climbs above the layer root
    #[error("hardlink target {0:?} leaves the layer root")]
    HardlinkLeavesRoot(String),
    /// a hardlink names a file that is not in the layer
    #[error("hardlink target {0:?} is not in the layer")]
    HardlinkMissing(String),
    /// tar entry types a layer cannot hold
    #[error("unsupported entry type {0}")]
    UnsupportedType(String),
}

/// Errors of the layer module.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// a layer entry was refused; nothing of the layer was kept
    #[error("refusing layer entry {entry:?}: {reason}")]
    Refused { entry: String, reason: Refusal },
    /// the directory to unpack into exists already
    #[error("layer directory already exists: {0}")]
    DestinationExists(PathBuf),
    /// the layer could not be read: truncated, corrupt, or not a tar
    #[error("read layer: {0}")]
    Read(#[source] io::Error),
    /// a file system step failed
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// an overlay needs at least one lower layer
    #[error("overlay mount at {0} needs at least one lower layer")]
    NoLowerLayers(PathBuf),
    /// overlay splits its options at `,` and `:`; such paths cannot be lower layers
    #[error("cannot use {0} in an overlay mount: the path contains ',', ':' or '\\'")]
    UnmountablePath(PathBuf),
    /// the mount options do not fit in a page even with relative paths
    #[error(
        "overlay mount at {target} has too many lower layers ({layers}): options need {needed} bytes, the limit is {limit}"
    )]
    TooManyLayers {
        target: PathBuf,
        layers: usize,
        needed: usize,
        limit: usize,
    },
    /// mount(2) failed
    #[error("mount overlay at {target}: {source}")]
    Mount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
    /// umount(2) failed
    #[error("unmount {target}: {source}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl LayerError {
    /// A closure for `map_err` that names the step that failed.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> LayerError {
        let context = context.into();
        move |source| LayerError::Io { context, source }
    }
}
