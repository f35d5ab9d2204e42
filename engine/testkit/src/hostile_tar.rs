//! Tars as a hostile client or layer writes them: raw old-style headers with any name and link
//! target (the tar crate's builder refuses `..` and absolute names, which is exactly what an
//! attack carries). The property tests of every extraction (layers, `docker cp` both ways) feed
//! them in and check nothing lands outside the destination.

/// The kind of a [`raw_tar`] entry: 0 a file (holding `planted`), 1 a directory, 2 a symlink,
/// 3 a hard link, 4 and above a character device.
pub type EntryKind = u8;

/// A tar of `(kind, name, link target)` entries, names and targets cut at 99 bytes.
pub fn raw_tar(entries: &[(EntryKind, String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, name, target) in entries {
        let mut header = tar::Header::new_old();
        let len = name.len().min(99);
        header.as_old_mut().name[..len].copy_from_slice(&name.as_bytes()[..len]);
        let tlen = target.len().min(99);
        header.as_old_mut().linkname[..tlen].copy_from_slice(&target.as_bytes()[..tlen]);
        header.set_mode(0o755);
        let (entry_type, data): (tar::EntryType, &[u8]) = match kind {
            0 => (tar::EntryType::Regular, b"planted"),
            1 => (tar::EntryType::Directory, b""),
            2 => (tar::EntryType::Symlink, b""),
            3 => (tar::EntryType::Link, b""),
            _ => (tar::EntryType::Char, b""),
        };
        header.set_entry_type(entry_type);
        header.set_size(data.len() as u64);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    // The two zero blocks that end an archive.
    out.resize(out.len() + 1024, 0);
    out
}

/// Every path under `dir`, sorted, symlinks not followed: what a property test compares before
/// and after an extraction to see that nothing outside the destination changed.
pub fn listing(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}
