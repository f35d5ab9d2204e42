//! Reading extended attributes without following symlinks (the `l*xattr` calls).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use rustix::buffer::spare_capacity;

/// The xattr names of `path` itself (a symlink is not followed). A file system without xattr
/// support has none.
pub(crate) fn list(path: &Path) -> io::Result<Vec<OsString>> {
    let raw = read_sized(
        || rustix::fs::llistxattr_query(path),
        |buf| rustix::fs::llistxattr(path, spare_capacity(buf)),
    )?;
    Ok(raw
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| OsString::from_vec(name.to_vec()))
        .collect())
}

/// The value of xattr `name` of `path` itself, if it has one.
pub(crate) fn get(path: &Path, name: &OsString) -> io::Result<Option<Vec<u8>>> {
    read_sized(
        || rustix::fs::lgetxattr_query(path, name.as_os_str()),
        |buf| rustix::fs::lgetxattr(path, name.as_os_str(), spare_capacity(buf)),
    )
}

/// Ask for the size, then read; again if the value grew in between (ERANGE).
/// `None` when there is no such attribute or the file system has none.
fn read_sized(
    query: impl Fn() -> rustix::io::Result<usize>,
    read: impl Fn(&mut Vec<u8>) -> rustix::io::Result<usize>,
) -> io::Result<Option<Vec<u8>>> {
    loop {
        let size = match query() {
            Ok(size) => size,
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if size == 0 {
            return Ok(Some(Vec::new())); // nothing to read (and rustix wants room to read into)
        }
        let mut buf = Vec::with_capacity(size);
        match read(&mut buf) {
            Ok(_) => return Ok(Some(buf)),
            Err(rustix::io::Errno::RANGE) => continue,
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_xattrs_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        rustix::fs::lsetxattr(&file, "user.berth", b"v", rustix::fs::XattrFlags::empty()).unwrap();
        assert_eq!(list(&file).unwrap(), vec![OsString::from("user.berth")]);
        assert_eq!(get(&file, &"user.berth".into()).unwrap(), Some(b"v".to_vec()));
        assert_eq!(get(&file, &"user.none".into()).unwrap(), None);
    }
}
