//! Writing an overlay upper directory as a layer tar, for `docker commit`.
//!
//! Docker's conventions, so that Docker itself loads what berth commits: names relative, no
//! leading `./` or `/`, directories end in `/`; ustar headers, with PAX records only for what
//! ustar cannot hold (long or non-ASCII names, long link targets, xattrs); whiteout devices
//! become empty `.wh.<name>` files (mode 0600); an opaque directory is followed by an empty
//! `<dir>/.wh..wh..opq` (the directory's permission bits, time 0). Entries are sorted, depth
//! first, and carry no access or change times, so the same tree gives the same bytes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::compression::STREAM_BUFFER;
use super::whiteout::{
    OPAQUE_MARKER, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, is_opaque_value, tar_name_deleting,
};
use super::{LayerError, xattr};

/// What [`diff_layer`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffStats {
    /// Tar entries written (whiteout files and opaque markers included).
    pub entries: u64,
    /// Bytes of regular file content.
    pub size: u64,
    /// Deletions written as `.wh.` files.
    pub whiteouts: u64,
    /// Directories written with `.wh..wh..opq`.
    pub opaque_dirs: u64,
}

/// Write the overlay upper dir `upper` to `out` as a plain layer tar in Docker's form.
pub fn diff_layer(upper: &Path, out: impl Write) -> Result<DiffStats, LayerError> {
    let mut writer = LayerWriter {
        tar: tar::Builder::new(BufWriter::with_capacity(STREAM_BUFFER, out)),
        first_link: HashMap::new(),
        stats: DiffStats::default(),
    };
    let mut pending: Vec<PathBuf> = sorted_children(upper, Path::new(""))?;
    pending.reverse();
    while let Some(rel) = pending.pop() {
        let path = upper.join(&rel);
        let meta = path
            .symlink_metadata()
            .map_err(LayerError::io(format!("stat {}", path.display())))?;
        if meta.is_dir() {
            writer.directory(&path, &rel, &meta)?;
            let mut children = sorted_children(upper, &rel)?;
            children.reverse();
            pending.extend(children);
        } else {
            writer.non_directory(&path, &rel, &meta)?;
        }
    }
    let out = writer
        .tar
        .into_inner()
        .map_err(LayerError::io("write layer tar"))?;
    out.into_inner().map_err(|e| LayerError::Io {
        context: "write layer tar".into(),
        source: e.into_error(),
    })?;
    crate::explain!(
        "archived {} as a layer ({} entries, {} bytes, {} deletions)",
        upper.display(),
        writer.stats.entries,
        writer.stats.size,
        writer.stats.whiteouts
    );
    Ok(writer.stats)
}

/// The children of `upper/rel`, as paths relative to `upper`, sorted by name bytes.
fn sorted_children(upper: &Path, rel: &Path) -> Result<Vec<PathBuf>, LayerError> {
    let dir = upper.join(rel);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(LayerError::io(format!("read {}", dir.display())))? {
        names.push(
            entry
                .map_err(LayerError::io(format!("read {}", dir.display())))?
                .file_name(),
        );
    }
    names.sort_unstable();
    Ok(names.into_iter().map(|name| rel.join(name)).collect())
}

struct LayerWriter<W: Write> {
    tar: tar::Builder<W>,
    /// The first name written for each multiply-linked inode; later names become hardlinks.
    first_link: HashMap<(u64, u64), Vec<u8>>,
    stats: DiffStats,
}

/// One tar entry to write, before it is squeezed into ustar fields and PAX records.
struct Record {
    name: Vec<u8>,
    kind: EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
    link: Option<Vec<u8>>,
    device: Option<(u32, u32)>,
    xattrs: Xattrs,
}

/// Extended attributes, name and value, as a layer carries them.
type Xattrs = Vec<(OsString, Vec<u8>)>;

impl Record {
    fn new(name: Vec<u8>, kind: EntryType, meta: &Metadata) -> Record {
        Record {
            name,
            kind,
            mode: meta.mode() & 0o7777,
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            mtime: u64::try_from(meta.mtime()).unwrap_or(0),
            size: 0,
            link: None,
            device: None,
            xattrs: Vec::new(),
        }
    }
}

impl<W: Write> LayerWriter<W> {
    fn directory(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<(), LayerError> {
        let mut name = rel.as_os_str().as_bytes().to_vec();
        name.push(b'/');
        let mut record = Record::new(name.clone(), EntryType::Directory, meta);
        let (xattrs, opaque) = content_xattrs(path)?;
        record.xattrs = xattrs;
        self.append(&record, io::empty())?;
        if opaque {
            // Docker's marker: the directory's permission bits and owner, no time.
            name.extend_from_slice(OPAQUE_MARKER.as_bytes());
            let mut marker = Record::new(name, EntryType::Regular, meta);
            marker.mode = meta.mode() & 0o777;
            marker.mtime = 0;
            self.append(&marker, io::empty())?;
            self.stats.opaque_dirs += 1;
        }
        Ok(())
    }

    fn non_directory(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<(), LayerError> {
        let name = rel.as_os_str().as_bytes().to_vec();
        let file_type = meta.file_type();
        if file_type.is_char_device() && meta.rdev() == 0 {
            // A whiteout. Since Linux 5.8 overlayfs hardlinks whiteouts to one shared inode,
            // so this check comes before the hardlink one.
            let deleted = rel.file_name().unwrap_or_default();
            let tar_name = rel.with_file_name(tar_name_deleting(deleted));
            let mut record = Record::new(tar_name.into_os_string().into_vec(), EntryType::Regular, meta);
            record.mode = 0o600;
            self.stats.whiteouts += 1;
            return self.append(&record, io::empty());
        }
        if file_type.is_socket() {
            return Ok(()); // tar cannot hold sockets; Docker skips them too
        }
        if meta.nlink() > 1 {
            let inode = (meta.dev(), meta.ino());
            if let Some(first) = self.first_link.get(&inode) {
                let mut record = Record::new(name, EntryType::Link, meta);
                record.link = Some(first.clone());
                return self.append(&record, io::empty());
            }
            self.first_link.insert(inode, name.clone());
        }
        let (xattrs, _) = content_xattrs(path)?;
        if file_type.is_file() {
            let mut record = Record::new(name, EntryType::Regular, meta);
            record.size = meta.len();
            record.xattrs = xattrs;
            let file = File::open(path).map_err(LayerError::io(format!("open {}", path.display())))?;
            self.stats.size += record.size;
            return self.append(
                &record,
                ExactLength {
                    inner: file.take(record.size),
                    left: record.size,
                },
            );
        }
        let mut record = if file_type.is_symlink() {
            let target =
                std::fs::read_link(path).map_err(LayerError::io(format!("read link {}", path.display())))?;
            let mut record = Record::new(name, EntryType::Symlink, meta);
            record.link = Some(target.into_os_string().into_vec());
            record
        } else if file_type.is_fifo() {
            Record::new(name, EntryType::Fifo, meta)
        } else {
            let kind = if file_type.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            };
            let mut record = Record::new(name, kind, meta);
            record.device = Some((rustix::fs::major(meta.rdev()), rustix::fs::minor(meta.rdev())));
            record
        };
        record.xattrs = xattrs;
        self.append(&record, io::empty())
    }

    fn append(&mut self, record: &Record, data: impl Read) -> Result<(), LayerError> {
        let context = || format!("write {:?} to layer tar", String::from_utf8_lossy(&record.name));
        let (header, pax) = ustar_header(record);
        if !pax.is_empty() {
            self.tar
                .append_pax_extensions(pax.iter().map(|(key, value)| (key.as_str(), value.as_slice())))
                .map_err(|e| LayerError::Io {
                    context: context(),
                    source: e,
                })?;
        }
        self.tar.append(&header, data).map_err(|e| LayerError::Io {
            context: context(),
            source: e,
        })?;
        self.stats.entries += 1;
        Ok(())
    }
}

/// The xattrs a layer carries for this file (sorted, overlayfs's own left out), and whether
/// it is an opaque directory.
fn content_xattrs(path: &Path) -> Result<(Xattrs, bool), LayerError> {
    let context = || format!("read xattrs of {}", path.display());
    let mut names = xattr::list(path).map_err(|e| LayerError::Io {
        context: context(),
        source: e,
    })?;
    names.sort();
    let mut xattrs = Vec::new();
    let mut opaque = false;
    for name in names {
        let Some(value) = xattr::get(path, &name).map_err(|e| LayerError::Io {
            context: context(),
            source: e,
        })?
        else {
            continue;
        };
        if name == OPAQUE_XATTR {
            opaque = is_opaque_value(&value);
        } else if !name.as_bytes().starts_with(OVERLAY_XATTR_PREFIX.as_bytes()) {
            xattrs.push((name, value));
        }
    }
    Ok((xattrs, opaque))
}

/// Field sizes of a ustar header.
const NAME_LEN: usize = 100;
const PREFIX_LEN: usize = 155;

/// Fill a ustar header; what does not fit goes to PAX records (key, value), as Go's tar does.
fn ustar_header(record: &Record) -> (Header, Vec<(String, Vec<u8>)>) {
    let mut pax = Vec::new();
    let mut header = Header::new_ustar();
    let ustar = header.as_ustar_mut().expect("a new ustar header is ustar");
    match split_ustar_name(&record.name) {
        Some((prefix, name)) => {
            ustar.prefix[..prefix.len()].copy_from_slice(prefix);
            ustar.name[..name.len()].copy_from_slice(name);
        }
        None => {
            pax.push(("path".to_owned(), record.name.clone()));
            let cut = record.name.len().min(NAME_LEN);
            ustar.name[..cut].copy_from_slice(&record.name[..cut]);
        }
    }
    if let Some(link) = &record.link {
        if link.len() <= NAME_LEN && link.is_ascii() {
            ustar.linkname[..link.len()].copy_from_slice(link);
        } else {
            pax.push(("linkpath".to_owned(), link.clone()));
            let cut = link.len().min(NAME_LEN);
            ustar.linkname[..cut].copy_from_slice(&link[..cut]);
        }
    }
    for (key, value) in &record.xattrs {
        pax.push((format!("SCHILY.xattr.{}", key.to_string_lossy()), value.clone()));
    }
    header.set_entry_type(record.kind);
    header.set_mode(record.mode);
    header.set_uid(record.uid);
    header.set_gid(record.gid);
    header.set_mtime(record.mtime);
    header.set_size(record.size);
    if let Some((major, minor)) = record.device {
        // Only fails for headers that are not ustar or GNU.
        let _ = header.set_device_major(major);
        let _ = header.set_device_minor(minor);
    }
    header.set_cksum();
    (header, pax)
}

/// Split a name into ustar's prefix and name fields, as Go's `splitUSTARPath` does: whole if
/// it fits in 100 bytes, else at a `/` leaving at most 155 bytes before and 100 after.
/// `None` when it cannot fit, or is not ASCII (PAX carries it then).
fn split_ustar_name(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= NAME_LEN {
        return Some((&[], name));
    }
    let mut end = name.len().min(PREFIX_LEN + 1);
    if end == name.len() && name[end - 1] == b'/' {
        end -= 1; // a directory's trailing slash cannot be the split point
    }
    let slash = name[..end].iter().rposition(|&b| b == b'/')?;
    let (prefix, rest) = (&name[..slash], &name[slash + 1..]);
    (slash > 0 && !rest.is_empty() && rest.len() <= NAME_LEN && prefix.len() <= PREFIX_LEN)
        .then_some((prefix, rest))
}

/// Reads exactly `left` bytes or fails: a file that shrinks while it is archived would
/// otherwise leave a tar whose header promises more than it holds.
struct ExactLength<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactLength<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_like_go() {
        assert_eq!(
            split_ustar_name(b"etc/passwd"),
            Some((&b""[..], &b"etc/passwd"[..]))
        );
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let (prefix, name) = split_ustar_name(long.as_bytes()).unwrap();
        assert_eq!((prefix.len(), name.len()), (120, 50));
        // A long directory name keeps its trailing slash in the name field.
        let dir = format!("{}/{}/", "d".repeat(120), "e".repeat(20));
        let (prefix, name) = split_ustar_name(dir.as_bytes()).unwrap();
        assert_eq!(
            (prefix, name),
            (
                "d".repeat(120).as_bytes(),
                format!("{}/", "e".repeat(20)).as_bytes()
            )
        );
        assert_eq!(split_ustar_name("f".repeat(101).as_bytes()), None);
        assert_eq!(
            split_ustar_name(format!("{}/{}", "d".repeat(10), "f".repeat(101)).as_bytes()),
            None
        );
        assert_eq!(split_ustar_name("é".as_bytes()), None);
    }

    fn read_back(header: &Header, pax: &[(String, Vec<u8>)]) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut tar = tar::Builder::new(Vec::new());
        if !pax.is_empty() {
            tar.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .unwrap();
        }
        tar.append(header, io::empty()).unwrap();
        let bytes = tar.into_inner().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        (
            entry.path_bytes().into_owned(),
            entry.link_name_bytes().map(|l| l.into_owned()),
        )
    }

    fn record(name: &[u8], kind: EntryType) -> Record {
        Record {
            name: name.to_vec(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
            link: None,
            device: None,
            xattrs: Vec::new(),
        }
    }

    #[test]
    fn long_names_and_links_travel_in_pax() {
        let long_name = format!("{}/", "n".repeat(300));
        let (header, pax) = ustar_header(&record(long_name.as_bytes(), EntryType::Directory));
        assert_eq!(pax, vec![("path".to_owned(), long_name.clone().into_bytes())]);
        assert_eq!(read_back(&header, &pax).0, long_name.as_bytes());

        let mut link = record(b"l", EntryType::Symlink);
        link.link = Some("t".repeat(150).into_bytes());
        link.xattrs = vec![("security.capability".into(), vec![1, 0, 0, 2])];
        let (header, pax) = ustar_header(&link);
        let keys: Vec<&str> = pax.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["linkpath", "SCHILY.xattr.security.capability"]);
        assert_eq!(read_back(&header, &pax).1.unwrap(), "t".repeat(150).as_bytes());
    }

    #[test]
    fn short_names_need_no_pax() {
        let (header, pax) = ustar_header(&record(b"etc/", EntryType::Directory));
        assert!(pax.is_empty());
        assert_eq!(&header.as_ustar().unwrap().name[..5], b"etc/\0");
        assert_eq!(header.as_ustar().unwrap().magic, *b"ustar\0");
    }
}
