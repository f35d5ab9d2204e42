//! Whiteouts: how a layer says "this was deleted", in its two spellings.
//!
//! In a tar (AUFS form, what images carry): an empty file `.wh.<name>` deletes `<name>` from
//! the layers below, and `.wh..wh..opq` in a directory hides everything the layers below had
//! in it. On disk (overlayfs form, what the kernel reads): a character device 0/0 named
//! `<name>`, and the xattr `trusted.overlay.opaque=y` on the directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Stat};

/// Prefix of a whiteout file in a tar: `.wh.<name>` deletes `<name>`.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The file in a tar that makes its directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Prefix of AUFS's own bookkeeping files (`.wh..wh.plnk`, `.wh..wh.aufs`): never content.
const META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs reads to treat a directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// overlayfs's own xattrs (opaque, origin, redirect…): kernel bookkeeping, never layer content.
pub(crate) const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// What a file name in a layer tar means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TarName<'a> {
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// `.wh.<name>`: `<name>` is deleted.
    Deletes(&'a OsStr),
    /// Other `.wh..wh.` files: AUFS bookkeeping, skipped.
    AufsMeta,
    /// An ordinary name.
    Plain,
}

/// Read the meaning of a file name from a layer tar.
pub(crate) fn classify(name: &OsStr) -> TarName<'_> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE_MARKER.as_bytes() {
        TarName::Opaque
    } else if bytes.starts_with(META_PREFIX.as_bytes()) {
        TarName::AufsMeta
    } else if let Some(deleted) = bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        if deleted.is_empty() {
            TarName::AufsMeta
        } else {
            TarName::Deletes(OsStr::from_bytes(deleted))
        }
    } else {
        TarName::Plain
    }
}

/// The tar name that deletes `name`: `.wh.<name>`.
pub(crate) fn tar_name_deleting(name: &OsStr) -> OsString {
    let mut tar_name = OsString::from(WHITEOUT_PREFIX);
    tar_name.push(name);
    tar_name
}

/// Is this an overlayfs whiteout: a character device with device number 0/0?
pub(crate) fn is_whiteout(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::CharacterDevice && stat.st_rdev == 0
}

/// Is this value of [`OPAQUE_XATTR`] the one that makes a directory opaque?
pub(crate) fn is_opaque_value(value: &[u8]) -> bool {
    value == b"y"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_names_map_to_overlay_meanings() {
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), TarName::Opaque);
        assert_eq!(
            classify(OsStr::new(".wh.passwd")),
            TarName::Deletes(OsStr::new("passwd"))
        );
        assert_eq!(
            classify(OsStr::new(".wh..hidden")),
            TarName::Deletes(OsStr::new(".hidden"))
        );
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), TarName::AufsMeta);
        assert_eq!(classify(OsStr::new(".wh.")), TarName::AufsMeta);
        assert_eq!(classify(OsStr::new("passwd")), TarName::Plain);
        assert_eq!(classify(OsStr::new("x.wh.y")), TarName::Plain);
    }

    #[test]
    fn deleting_name_round_trips() {
        let name = tar_name_deleting(OsStr::new("passwd"));
        assert_eq!(name, ".wh.passwd");
        assert_eq!(classify(&name), TarName::Deletes(OsStr::new("passwd")));
    }
}
