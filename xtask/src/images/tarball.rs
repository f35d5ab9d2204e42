//! Deterministic tar writing: the same entries always give the same bytes.
//!
//! Every entry is owned by root (uid/gid 0, no user or group names) and carries one fixed
//! modification time, so nothing about the machine or the moment of the build leaks into a
//! layer or the archive. The caller decides the order (sorted, parents first).

use std::io;

/// A tar archive built in memory with fixed owners and times.
pub struct DeterministicTar {
    builder: tar::Builder<Vec<u8>>,
    mtime: u64,
}

impl DeterministicTar {
    /// An empty archive whose entries all get `mtime` (seconds since the epoch).
    pub fn new(mtime: u64) -> Self {
        Self {
            builder: tar::Builder::new(Vec::new()),
            mtime,
        }
    }

    /// A directory; `path` is relative, without a trailing slash.
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Directory, mode, 0);
        self.builder
            .append_data(&mut header, format!("{path}/"), io::empty())
    }

    /// A regular file with its contents.
    pub fn file(&mut self, path: &str, mode: u32, contents: &[u8]) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Regular, mode, contents.len() as u64);
        self.builder.append_data(&mut header, path, contents)
    }

    /// A hard link to `target`, an entry written earlier in the same archive.
    pub fn hard_link(&mut self, path: &str, mode: u32, target: &str) -> io::Result<()> {
        let mut header = self.header(tar::EntryType::Link, mode, 0);
        self.builder.append_link(&mut header, path, target)
    }

    /// The finished archive (with tar's two zero blocks at the end).
    pub fn finish(self) -> io::Result<Vec<u8>> {
        self.builder.into_inner()
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        // GNU headers, as Docker writes them; names longer than 100 bytes get GNU long-name entries.
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.mtime);
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(mtime: u64) -> Vec<u8> {
        let mut tar = DeterministicTar::new(mtime);
        tar.dir("bin", 0o755).unwrap();
        tar.file("bin/[", 0o755, b"binary").unwrap();
        tar.hard_link("bin/busybox", 0o755, "bin/[").unwrap();
        tar.finish().unwrap()
    }

    #[test]
    fn same_entries_give_same_bytes() {
        assert_eq!(sample(1_577_836_800), sample(1_577_836_800));
        assert_ne!(sample(1_577_836_800), sample(1_577_836_801));
    }

    #[test]
    fn entries_read_back_with_root_owner_and_fixed_time() {
        let bytes = sample(1_577_836_800);
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, tar::EntryType, u64, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    header.entry_type(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("bin/".to_string(), tar::EntryType::Directory, 0, 0, 1_577_836_800),
                ("bin/[".to_string(), tar::EntryType::Regular, 0, 0, 1_577_836_800),
                (
                    "bin/busybox".to_string(),
                    tar::EntryType::Link,
                    0,
                    0,
                    1_577_836_800
                ),
            ]
        );
    }
}
