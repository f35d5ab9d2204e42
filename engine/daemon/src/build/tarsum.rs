//! The checksum Docker's classic builder keeps for each file of a build context: TarSum
//! version 1 of the file's tar entry as the client sent it. COPY and ADD put it in their cache
//! key and in the image history (`COPY file:<sum> in /app/`), so it must be Docker's to the
//! byte for a build to be cached alike and for `docker history` to read the same.
//!
//! An entry's sum is the SHA-256 of its selected header fields, each written as name then value
//! (`name`, `mode`, `uid`, `gid`, `size`, `typeflag`, `linkname`, `uname`, `gname`, `devmajor`,
//! `devminor`, then the extended attributes by name), followed by its content. TarSum v1 leaves
//! out the modification time; Docker also blanks the user and group names (so that sums didn't
//! change with Go 1.10's tar writer).

use std::collections::HashMap;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// Each entry's sum, by its cleaned path (`dir/file`, `.` for the root). When a tar names a
/// path twice, the first entry's sum is kept, as Docker's `FileInfoSums.GetFile` finds it.
pub type FileSums = HashMap<String, String>;

/// Read the (uncompressed) tar to its end and sum every entry.
pub fn file_sums(tar: impl Read) -> io::Result<FileSums> {
    let mut archive = tar::Archive::new(tar);
    let mut sums = FileSums::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut hasher = Sha256::new();
        let name = entry.path_bytes().into_owned();
        for (key, value) in selected_headers(&mut entry, &name)? {
            hasher.update(key.as_bytes());
            hasher.update(&value);
        }
        io::copy(&mut entry, &mut HashWriter(&mut hasher))?;
        sums.entry(clean_name(&name))
            .or_insert_with(|| hex::encode(hasher.finalize()));
    }
    Ok(sums)
}

/// The header fields TarSum v1 hashes, in its order.
fn selected_headers<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &[u8],
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let header = entry.header();
    let number = |value: io::Result<u64>| value.unwrap_or(0).to_string().into_bytes();
    let mut typeflag = header.entry_type().as_byte();
    // Go's reader reads the old "regular file" flag (NUL) as a file, or a directory when the
    // name ends in a slash.
    if typeflag == 0 {
        typeflag = if name.ends_with(b"/") { b'5' } else { b'0' };
    }
    let mut fields = vec![
        ("name".to_owned(), name.to_vec()),
        ("mode".to_owned(), number(header.mode().map(u64::from))),
        ("uid".to_owned(), number(header.uid())),
        ("gid".to_owned(), number(header.gid())),
        ("size".to_owned(), entry.size().to_string().into_bytes()),
        ("typeflag".to_owned(), vec![typeflag]),
        (
            "linkname".to_owned(),
            entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default(),
        ),
        // Blanked by Docker (see the module comment).
        ("uname".to_owned(), Vec::new()),
        ("gname".to_owned(), Vec::new()),
        (
            "devmajor".to_owned(),
            number(header.device_major().map(|d| u64::from(d.unwrap_or(0)))),
        ),
        (
            "devminor".to_owned(),
            number(header.device_minor().map(|d| u64::from(d.unwrap_or(0)))),
        ),
    ];
    let mut xattrs: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(extensions) = entry.pax_extensions()? {
        for extension in extensions {
            let extension = extension?;
            if let Some(key) = extension.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((
                    String::from_utf8_lossy(key).into_owned(),
                    extension.value_bytes().to_vec(),
                ));
            }
        }
    }
    xattrs.sort();
    fields.extend(xattrs);
    Ok(fields)
}

/// `path.Join(".", path.Join("/", name))`: the entry's path without a leading `/` or `./`,
/// `..` stopped at the root.
fn clean_name(name: &[u8]) -> String {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return ".".to_owned();
    }
    String::from_utf8_lossy(&parts.join(&b'/')).into_owned()
}

/// Docker's `hashStringSlice`: `prefix:` and the SHA-256 of the items joined by commas.
pub fn hash_string_slice(prefix: &str, items: &[String]) -> String {
    format!(
        "{prefix}:{}",
        hex::encode(Sha256::digest(items.join(",").as_bytes()))
    )
}

struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The checksum of a file of a file system (COPY `--from` a stage or an image), as Docker's
/// lazy source sums it: the tar header Go writes for it (named `name`, a directory's with a
/// trailing `/`, its mode with the file type bits, the owner's user and group names as the
/// daemon's host names them) then its content.
pub fn file_hash(
    view: &crate::archive::FsView,
    path: &[std::ffi::OsString],
    name: &str,
) -> io::Result<String> {
    use rustix::fs::FileType;
    let stat = view.lstat(path)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    let (typeflag, size) = match kind {
        FileType::RegularFile => (b'0', stat.st_size as u64),
        FileType::Directory => (b'5', 0),
        FileType::Symlink => (b'2', 0),
        FileType::CharacterDevice => (b'3', 0),
        FileType::BlockDevice => (b'4', 0),
        FileType::Fifo => (b'6', 0),
        _ => (b'0', 0),
    };
    let mut name = name.to_owned();
    if kind == FileType::Directory && !name.ends_with('/') {
        name.push('/');
    }
    let link = if kind == FileType::Symlink {
        let parent = view.open_dir(&path[..path.len().saturating_sub(1)])?;
        let last = path.last().cloned().unwrap_or_default();
        rustix::fs::readlinkat(&parent, last.as_os_str(), Vec::new())?.into_bytes()
    } else {
        Vec::new()
    };
    let (major, minor) = match kind {
        FileType::CharacterDevice | FileType::BlockDevice => (
            u64::from(rustix::fs::major(stat.st_rdev)),
            u64::from(rustix::fs::minor(stat.st_rdev)),
        ),
        _ => (0, 0),
    };
    let mut hasher = Sha256::new();
    let fields: [(&str, Vec<u8>); 11] = [
        ("name", name.into_bytes()),
        ("mode", u64::from(stat.st_mode).to_string().into_bytes()),
        ("uid", stat.st_uid.to_string().into_bytes()),
        ("gid", stat.st_gid.to_string().into_bytes()),
        ("size", size.to_string().into_bytes()),
        ("typeflag", vec![typeflag]),
        ("linkname", link),
        ("uname", host_name("/etc/passwd", stat.st_uid).into_bytes()),
        ("gname", host_name("/etc/group", stat.st_gid).into_bytes()),
        ("devmajor", major.to_string().into_bytes()),
        ("devminor", minor.to_string().into_bytes()),
    ];
    for (key, value) in fields {
        hasher.update(key.as_bytes());
        hasher.update(&value);
    }
    if kind == FileType::RegularFile {
        let mut file = std::fs::File::from(view.open(path, rustix::fs::OFlags::RDONLY)?);
        io::copy(&mut file, &mut HashWriter(&mut hasher))?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The name the host's `file` (/etc/passwd or /etc/group) gives `id`, or nothing: what Go's
/// `tar.FileInfoHeader` looks up for a header's user and group names.
fn host_name(file: &str, id: u32) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2)?.parse::<u32>().ok()? == id).then(|| fields[0].to_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(*mode);
            header.set_mtime(1_600_000_000);
            header.set_username("someone").unwrap();
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn an_entry_sums_its_headers_and_content_but_not_its_time_or_owner_names() {
        let sums = file_sums(&tar_of(&[("a.txt", b"hello\n", 0o644)])[..]).unwrap();
        let mut expected = Sha256::new();
        for (k, v) in [
            ("name", "a.txt"),
            ("mode", "420"),
            ("uid", "0"),
            ("gid", "0"),
            ("size", "6"),
            ("typeflag", "0"),
            ("linkname", ""),
            ("uname", ""),
            ("gname", ""),
            ("devmajor", "0"),
            ("devminor", "0"),
        ] {
            expected.update(k);
            expected.update(v);
        }
        expected.update(b"hello\n");
        assert_eq!(sums["a.txt"], hex::encode(expected.finalize()));
    }

    #[test]
    fn names_are_cleaned_and_the_first_of_two_wins() {
        let sums = file_sums(&tar_of(&[("b", b"one", 0o600), ("b", b"two", 0o600), ("./", b"", 0o755)])[..])
            .unwrap();
        assert_eq!(sums.len(), 2);
        let first = file_sums(&tar_of(&[("b", b"one", 0o600)])[..]).unwrap();
        assert_eq!(sums["b"], first["b"]);
        assert!(sums.contains_key("."));
        assert_eq!(clean_name(b"/x/../y/./z/"), "y/z");
        assert_eq!(clean_name(b"../../a"), "a");
    }

    #[test]
    fn the_sum_of_a_file_the_docker_cli_sent_is_dockers() {
        // `docker build` of a context holding a.txt ("hello\n"), whose CLI writes the file's
        // type bits into the mode (0100644) and owner 0:0; Docker 20.10's history then read
        // `COPY file:679c43c7… in /app/`.
        let sums = file_sums(&tar_of(&[("a.txt", b"hello\n", 0o100644)])[..]).unwrap();
        assert_eq!(
            sums["a.txt"],
            "679c43c79a56cffbb3b002bda3050542c152a2f09757a0f1a9578871f7cda00d"
        );
    }

    #[test]
    fn hash_string_slice_hashes_the_items_joined_by_commas() {
        assert_eq!(
            hash_string_slice("multi", &["a".into(), "b".into()]),
            format!("multi:{}", hex::encode(Sha256::digest(b"a,b")))
        );
    }
}
