//! What `HEAD /containers/{id}/archive` tells of a path: Docker's `ContainerPathStat`, sent
//! base64-encoded in the `X-Docker-Container-Path-Stat` header. `mode` is Go's `os.FileMode`:
//! the permission bits, with the file's type as high bits (a directory is `1 << 31`).

use rustix::fs::{FileType, Stat};
use serde::Serialize;

/// Docker's `types.ContainerPathStat`, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    /// RFC 3339 with nanoseconds, in UTC, as Go marshals a `time.Time`.
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    /// The header value: base64 of the JSON.
    pub fn header_value(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).expect("a path stat serializes");
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

// Go's os.FileMode type bits.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
const MODE_DEVICE: u32 = 1 << 26;
const MODE_NAMED_PIPE: u32 = 1 << 25;
const MODE_SOCKET: u32 = 1 << 24;
const MODE_SETUID: u32 = 1 << 23;
const MODE_SETGID: u32 = 1 << 22;
const MODE_CHAR_DEVICE: u32 = 1 << 21;
const MODE_STICKY: u32 = 1 << 20;

/// `st_mode` as Go's `os.FileMode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => MODE_DIR,
        FileType::Symlink => MODE_SYMLINK,
        FileType::BlockDevice => MODE_DEVICE,
        FileType::CharacterDevice => MODE_DEVICE | MODE_CHAR_DEVICE,
        FileType::Fifo => MODE_NAMED_PIPE,
        FileType::Socket => MODE_SOCKET,
        _ => 0,
    };
    for (bit, go_bit) in [
        (libc::S_ISUID, MODE_SETUID),
        (libc::S_ISGID, MODE_SETGID),
        (libc::S_ISVTX, MODE_STICKY),
    ] {
        if st_mode & bit != 0 {
            mode |= go_bit;
        }
    }
    mode
}

/// A file's modification time as Go marshals it (`2006-01-02T15:04:05.999999999Z`).
pub fn go_time(stat: &Stat) -> String {
    let time = chrono::DateTime::from_timestamp(stat.st_mtime, stat.st_mtime_nsec as u32).unwrap_or_default();
    let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    // RFC3339Nano: the fraction without its trailing zeros, none at all for whole seconds.
    let fraction = format!("{:09}", stat.st_mtime_nsec);
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(fraction);
    }
    text.push('Z');
    text
}

/// The stat of a path whose last component is `name`, with `link_target` (a container path)
/// when it is a symlink.
pub fn path_stat(name: String, stat: &Stat, link_target: String) -> PathStat {
    PathStat {
        name,
        size: stat.st_size,
        mode: go_file_mode(stat.st_mode),
        mtime: go_time(stat),
        link_target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_gos() {
        // What Docker 20.10 answered for a directory, a symlink and a file.
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), 2147484141);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), 134218239);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 420);
        assert_eq!(
            go_file_mode(libc::S_IFDIR | 0o1777),
            MODE_DIR | MODE_STICKY | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            MODE_DEVICE | MODE_CHAR_DEVICE | 0o666
        );
    }
}
