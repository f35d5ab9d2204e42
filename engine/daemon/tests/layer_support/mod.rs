//! Helpers shared by the layer test suites: crafted tars, tree snapshots, mount guards.
#![allow(dead_code)] // each suite uses a different part

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// A temporary directory whose name says it is berth's, so CI's leak check finds any mount
/// a failed test might leave under it.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-layer-test-")
        .tempdir()
        .unwrap()
}

/// These tests create devices, chown and mount: run them as root (CI does).
pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "the layer tests need root");
}

/// A tar written entry by entry, with names the `tar` crate would refuse (`..`, `/abs`).
pub struct RawTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for RawTar {
    fn default() -> Self {
        RawTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }
}

pub struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Option<&'a [u8]>,
    pub data: &'a [u8],
    pub device: Option<(u32, u32)>,
    pub pax: Vec<(&'a str, &'a [u8])>,
}

impl<'a> Entry<'a> {
    pub fn new(name: &'a str, kind: EntryType) -> Entry<'a> {
        let mode = match kind {
            EntryType::Directory => 0o755,
            EntryType::Symlink => 0o777,
            _ => 0o644,
        };
        Entry {
            name: name.as_bytes(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: None,
            data: b"",
            device: None,
            pax: Vec::new(),
        }
    }
    pub fn file(name: &'a str, data: &'a [u8]) -> Entry<'a> {
        Entry {
            data,
            ..Entry::new(name, EntryType::Regular)
        }
    }
    pub fn dir(name: &'a str) -> Entry<'a> {
        Entry::new(name, EntryType::Directory)
    }
    pub fn symlink(name: &'a str, target: &'a str) -> Entry<'a> {
        Entry {
            link: Some(target.as_bytes()),
            ..Entry::new(name, EntryType::Symlink)
        }
    }
    pub fn hardlink(name: &'a str, target: &'a str) -> Entry<'a> {
        Entry {
            link: Some(target.as_bytes()),
            ..Entry::new(name, EntryType::Link)
        }
    }
}

impl RawTar {
    pub fn add(&mut self, entry: Entry) -> &mut Self {
        if !entry.pax.is_empty() {
            self.builder
                .append_pax_extensions(entry.pax.iter().copied())
                .unwrap();
        }
        let mut header = Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..entry.name.len()].copy_from_slice(entry.name);
        if let Some(link) = entry.link {
            old.linkname[..link.len()].copy_from_slice(link);
        }
        header.set_entry_type(entry.kind);
        header.set_mode(entry.mode);
        header.set_uid(entry.uid);
        header.set_gid(entry.gid);
        header.set_mtime(entry.mtime);
        header.set_size(entry.data.len() as u64);
        if let Some((major, minor)) = entry.device {
            header.set_device_major(major).unwrap();
            header.set_device_minor(minor).unwrap();
        }
        header.set_cksum();
        self.builder.append(&header, entry.data).unwrap();
        self
    }

    /// Append through the `tar` crate's own path handling (GNU long names for long paths).
    pub fn add_long_file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(1_600_000_000);
        header.set_size(data.len() as u64);
        self.builder.append_data(&mut header, name, data).unwrap();
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// What a test compares about one file: everything a layer must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds: layers carry whole seconds.
    pub mtime: Option<i64>,
    pub content: Option<Vec<u8>>,
    pub link: Option<PathBuf>,
    pub rdev: u64,
    pub xattrs: BTreeMap<OsString, Vec<u8>>,
}

pub struct SnapshotOptions {
    /// Compare mtimes of directories (overlayfs changes them in the upper dir as it works).
    pub dir_mtimes: bool,
}

/// Every file under `root` (root itself excluded), keyed by relative path. Whiteout times are
/// left out (layers do not carry them), and so are overlayfs's own xattrs except `opaque`.
pub fn snapshot(root: &Path, options: &SnapshotOptions) -> BTreeMap<PathBuf, Node> {
    let mut nodes = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            let path = root.join(&rel);
            let meta = path.symlink_metadata().unwrap();
            let file_type = meta.file_type();
            let whiteout = file_type.is_char_device() && meta.rdev() == 0;
            let kind = if file_type.is_dir() {
                pending.push(rel.clone());
                "dir"
            } else if file_type.is_file() {
                "file"
            } else if file_type.is_symlink() {
                "symlink"
            } else if whiteout {
                "whiteout"
            } else if file_type.is_char_device() {
                "char"
            } else if file_type.is_block_device() {
                "block"
            } else if file_type.is_fifo() {
                "fifo"
            } else {
                "socket"
            };
            let keep_mtime = !whiteout && (options.dir_mtimes || !file_type.is_dir());
            let node = Node {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: keep_mtime.then_some(meta.mtime()),
                content: file_type.is_file().then(|| std::fs::read(&path).unwrap()),
                link: file_type.is_symlink().then(|| std::fs::read_link(&path).unwrap()),
                rdev: meta.rdev(),
                xattrs: xattrs(&path),
            };
            nodes.insert(rel, node);
        }
    }
    nodes
}

fn xattrs(path: &Path) -> BTreeMap<OsString, Vec<u8>> {
    let mut names = vec![0u8; 64 * 1024];
    let len = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    let mut found = BTreeMap::new();
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") && name != b"trusted.overlay.opaque" {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name);
        let mut value = vec![0u8; 64 * 1024];
        let n = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
        value.truncate(n);
        found.insert(name.to_owned(), value);
    }
    found
}

/// Names in a directory, to check that nothing was left beside a refused layer.
pub fn listing(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    names
}

/// Unmounts when dropped, so a failing test leaves no mount behind.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
    }
}

impl MountGuard {
    /// Unmount now through the API under test; the guard then has nothing left to do.
    pub fn unmount(self) {
        berthd::layer::unmount(&self.0).unwrap();
        std::mem::forget(self);
    }
}

/// Is `path` a mount point right now (per /proc/self/mountinfo)?
pub fn is_mounted(path: &Path) -> bool {
    let mut info = String::new();
    std::fs::File::open("/proc/self/mountinfo")
        .unwrap()
        .read_to_string(&mut info)
        .unwrap();
    let wanted = path.to_str().unwrap();
    info.lines().any(|line| line.split(' ').nth(4) == Some(wanted))
}
