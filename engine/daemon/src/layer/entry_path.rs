//! Names inside a layer tar, cleaned and checked before anything touches the disk.
//!
//! These checks are lexical; the kernel-side guarantee that no symlink is followed while
//! unpacking comes from `root` (openat2 with `RESOLVE_NO_SYMLINKS`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Refusal;

/// Clean an entry name into a relative path: drop `.` and empty components (`./a//b/` is
/// `a/b`), refuse absolute names and any `..`. The layer root itself is the empty path.
pub(crate) fn clean_entry_path(raw: &[u8]) -> Result<PathBuf, Refusal> {
    if raw.first() == Some(&b'/') {
        return Err(Refusal::AbsolutePath);
    }
    let mut path = PathBuf::new();
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(Refusal::LeavesRoot),
            name => path.push(OsStr::from_bytes(name)),
        }
    }
    Ok(path)
}

/// Docker's rule for symlinks: the target joined to the link's directory must stay under the
/// layer root. Absolute targets are allowed: they are resolved inside the container's root.
pub(crate) fn check_symlink_target(entry: &Path, target: &[u8]) -> Result<(), Refusal> {
    if target.first() == Some(&b'/') {
        return Ok(());
    }
    let mut depth = entry.parent().map_or(0, |dir| dir.components().count());
    for component in target.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." if depth == 0 => {
                return Err(Refusal::SymlinkLeavesRoot(
                    String::from_utf8_lossy(target).into_owned(),
                ));
            }
            b".." => depth -= 1,
            _ => depth += 1,
        }
    }
    Ok(())
}

/// A hardlink names another entry of the same layer, so its target is cleaned like an entry
/// name; absolute targets and `..` are refused.
pub(crate) fn clean_hardlink_target(target: &[u8]) -> Result<PathBuf, Refusal> {
    let leaves = || Refusal::HardlinkLeavesRoot(String::from_utf8_lossy(target).into_owned());
    let path = clean_entry_path(target).map_err(|_| leaves())?;
    if path.as_os_str().is_empty() {
        return Err(leaves());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_names() {
        assert_eq!(clean_entry_path(b"./a//b/./c/").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean_entry_path(b"etc/passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(clean_entry_path(b"./").unwrap(), Path::new(""));
        assert_eq!(clean_entry_path(b".").unwrap(), Path::new(""));
    }

    #[test]
    fn refuses_absolute_and_dotdot() {
        assert_eq!(clean_entry_path(b"/abs"), Err(Refusal::AbsolutePath));
        assert_eq!(clean_entry_path(b"../x"), Err(Refusal::LeavesRoot));
        assert_eq!(clean_entry_path(b"a/../../x"), Err(Refusal::LeavesRoot));
        // Even a `..` that would stay inside: a layer has no reason to write one.
        assert_eq!(clean_entry_path(b"a/../b"), Err(Refusal::LeavesRoot));
        assert_eq!(clean_entry_path(b"a/.."), Err(Refusal::LeavesRoot));
    }

    #[test]
    fn symlink_targets_follow_dockers_rule() {
        let ok = |entry: &str, target: &str| check_symlink_target(Path::new(entry), target.as_bytes());
        assert_eq!(ok("bin/sh", "/bin/busybox"), Ok(()));
        assert_eq!(ok("bin/sh", "busybox"), Ok(()));
        assert_eq!(ok("usr/lib/x", "../../etc/x"), Ok(()));
        assert_eq!(ok("a", "./b/../c"), Ok(()));
        assert!(matches!(ok("b", "../../.."), Err(Refusal::SymlinkLeavesRoot(t)) if t == "../../.."));
        assert!(ok("usr/lib/x", "../../../etc").is_err());
        // Climbing out and back in is refused too: the target passes outside on the way.
        assert!(ok("a/l", "../../a/x").is_err());
    }

    #[test]
    fn hardlink_targets_stay_in_the_layer() {
        assert_eq!(
            clean_hardlink_target(b"./bin/busybox").unwrap(),
            Path::new("bin/busybox")
        );
        let refused = |t: &str| matches!(clean_hardlink_target(t.as_bytes()), Err(Refusal::HardlinkLeavesRoot(x)) if x == t);
        assert!(refused("../outside"));
        assert!(refused("/etc/passwd"));
        assert!(refused("a/../../x"));
        assert!(refused("./"));
    }
}
