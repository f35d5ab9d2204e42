//! A context directory written as the tar docker/cli sends (`archive.TarWithOptions`): the
//! directory's entries, never the directory itself, in name order with each directory before
//! what it holds; symlinks kept as links; a file seen again through a hard link written as a
//! link to its first name; sockets left out.
//!
//! The headers are those of Docker's `FileInfoHeader` through Go's tar writer, because the
//! daemon's cache keys for COPY and ADD are sums over them: the mode keeps the file type bits
//! (`0100644`, `040755`, `0120777`), the owner is 0:0 when `chown` says so (the build context)
//! but the user and group names stay those of the file's real owner, mtimes are whole seconds,
//! USTAR with Go's prefix split for long names and a PAX record when even that cannot hold one.
//!
//! What `.dockerignore` leaves out is decided by its [`PatternMatcher`] (berth-api's
//! `dockerignore`); the walker only asks it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_api::dockerignore::PatternMatcher;

/// A Dockerfile from elsewhere (stdin, or `-f` outside the context) added to the tar as
/// docker/cli's `AddDockerfileToBuildContext` does: under `name` (`.dockerfile.<20 hex>`),
/// mode 0600, owned by 0:0, and listed in `.dockerignore` so that it reaches no image.
///
/// docker/cli's tar rewriter closes its pipe before its tar writer, so what it sends then
/// ends right after the last entry's data: no padding, no end-of-archive blocks. The same
/// bytes go here, so that the size shown and the daemon's reading are those of Docker's.
pub struct AddedDockerfile {
    pub name: String,
    pub content: Vec<u8>,
}

/// How the tar is made.
pub struct TarOptions<'a> {
    /// The context's `.dockerignore` rules.
    pub excludes: &'a PatternMatcher,
    /// The owner every entry gets (docker/cli's `ChownOpts`), or `None` to keep the real one.
    pub chown: Option<(u64, u64)>,
    pub added_dockerfile: Option<&'a AddedDockerfile>,
}

/// Write the context under `root` to `out` as a tar.
pub fn write(root: &Path, options: &TarOptions<'_>, out: impl Write) -> io::Result<()> {
    let mut writer = Writer {
        builder: tar::Builder::new(Cut { out, cut: false }),
        options,
        names: OwnerNames::read(),
        seen_inodes: HashMap::new(),
        saw_dockerignore: false,
    };
    walk(root, options.excludes, &mut |path, relative, meta| {
        writer.add(path, relative, meta)
    })?;
    writer.finish()
}

/// docker/cli's `ValidateContextDirectory`: every file that will be sent can be read.
pub fn check_readable(root: &Path, excludes: &PatternMatcher) -> Result<(), String> {
    let mut visit = |path: &Path, _relative: &str, meta: &Metadata| -> io::Result<()> {
        let kind = meta.file_type();
        if kind.is_dir() || kind.is_symlink() || kind.is_fifo() {
            return Ok(());
        }
        match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(io::Error::other(format!(
                "no permission to read from '{}'",
                path.display()
            ))),
            _ => Ok(()),
        }
    };
    walk(root, excludes, &mut visit).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => format!("can't stat '{}'", root.display()),
        _ => e.to_string(),
    })
}

/// Go's `filepath.Walk` below `root` (names sorted, not following symlinks), skipping what
/// `excludes` leaves out the way `TarWithOptions` does.
fn walk(
    root: &Path,
    excludes: &PatternMatcher,
    visit: &mut dyn FnMut(&Path, &str, &Metadata) -> io::Result<()>,
) -> io::Result<()> {
    let mut stack: Vec<(PathBuf, String, std::vec::IntoIter<OsString>)> =
        vec![(root.to_owned(), String::new(), sorted_names(root)?.into_iter())];
    while let Some((dir, prefix, names)) = stack.last_mut() {
        let Some(name) = names.next() else {
            stack.pop();
            continue;
        };
        let path = dir.join(&name);
        let relative = format!("{prefix}{}", String::from_utf8_lossy(name.as_bytes()));
        let meta = std::fs::symlink_metadata(&path)?;
        if excludes.matches(&relative) {
            // An excluded directory is still walked when an exception may bring back
            // something below it; its own entry is not written.
            if meta.is_dir() && !excludes.can_skip_directory(&relative) {
                let names = sorted_names(&path)?;
                stack.push((path, format!("{relative}/"), names.into_iter()));
            }
            continue;
        }
        visit(&path, &relative, &meta)?;
        if meta.is_dir() {
            let names = sorted_names(&path)?;
            stack.push((path, format!("{relative}/"), names.into_iter()));
        }
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// A writer that can be cut: what comes after is dropped (the end of a tar Docker never sends).
struct Cut<W: Write> {
    out: W,
    cut: bool,
}

impl<W: Write> Write for Cut<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.cut {
            return Ok(data.len());
        }
        self.out.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

struct Writer<'a, W: Write> {
    builder: tar::Builder<Cut<W>>,
    options: &'a TarOptions<'a>,
    names: OwnerNames,
    /// (device, inode) → the name a file was first written under.
    seen_inodes: HashMap<(u64, u64), String>,
    saw_dockerignore: bool,
}

impl<W: Write> Writer<'_, W> {
    fn add(&mut self, path: &Path, relative: &str, meta: &Metadata) -> io::Result<()> {
        let kind = meta.file_type();
        if kind.is_socket() {
            return Ok(()); // Go's tar has no type for sockets: Docker leaves them out
        }
        let name = if kind.is_dir() {
            format!("{relative}/")
        } else {
            relative.to_owned()
        };
        let mut header = tar::Header::new_ustar();
        header.set_mode(meta.mode());
        let (uid, gid) = self
            .options
            .chown
            .unwrap_or((meta.uid().into(), meta.gid().into()));
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(meta.mtime().max(0) as u64);
        header.set_size(0);
        header.set_device_major(0)?;
        header.set_device_minor(0)?;
        header.set_username(self.names.user(meta.uid()))?;
        header.set_groupname(self.names.group(meta.gid()))?;
        let mut link = None;
        let kind_flag = if kind.is_dir() {
            tar::EntryType::Directory
        } else if kind.is_symlink() {
            link = Some(std::fs::read_link(path)?.as_os_str().as_bytes().to_vec());
            tar::EntryType::Symlink
        } else if kind.is_fifo() {
            tar::EntryType::Fifo
        } else if kind.is_char_device() || kind.is_block_device() {
            header.set_device_major(libc::major(meta.rdev()))?;
            header.set_device_minor(libc::minor(meta.rdev()))?;
            if kind.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            }
        } else {
            tar::EntryType::Regular
        };
        header.set_entry_type(kind_flag);
        // A second name of the same file: a hard link to the first.
        if !kind.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.seen_inodes.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                link = Some(first.as_bytes().to_vec());
            } else {
                self.seen_inodes.insert(key, name.clone());
            }
        }
        if header.entry_type() == tar::EntryType::Regular && relative == ".dockerignore" {
            self.saw_dockerignore = true;
            let mut content = std::fs::read(path)?;
            if let Some(added) = self.options.added_dockerfile {
                content.extend_from_slice(format!("\n{}\n", added.name).as_bytes());
            }
            header.set_size(content.len() as u64);
            return self.append(header, &name, link.as_deref(), &content[..]);
        }
        if header.entry_type() == tar::EntryType::Regular {
            header.set_size(meta.len());
            // Exactly the size stat gave, even if the file changes meanwhile.
            let content = File::open(path)?
                .take(meta.len())
                .chain(io::repeat(0))
                .take(meta.len());
            return self.append(header, &name, link.as_deref(), content);
        }
        self.append(header, &name, link.as_deref(), io::empty())
    }

    /// One entry: the name (and link target) in USTAR fields when Go's writer would put them
    /// there, else in a PAX record before it.
    fn append(
        &mut self,
        mut header: tar::Header,
        name: &str,
        link: Option<&[u8]>,
        data: impl Read,
    ) -> io::Result<()> {
        let mut pax: Vec<(&str, &[u8])> = Vec::new();
        let ustar = header.as_ustar_mut().expect("a USTAR header");
        match split_ustar_path(name) {
            Some((prefix, rest)) => {
                ustar.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
                ustar.name[..rest.len()].copy_from_slice(rest.as_bytes());
            }
            None => {
                let shown: Vec<u8> = name.bytes().filter(u8::is_ascii).take(100).collect();
                ustar.name[..shown.len()].copy_from_slice(&shown);
                pax.push(("path", name.as_bytes()));
            }
        }
        if let Some(link) = link {
            if link.len() <= 100 && link.is_ascii() {
                ustar.linkname[..link.len()].copy_from_slice(link);
            } else {
                pax.push(("linkpath", link));
            }
        }
        if !pax.is_empty() {
            self.builder.append_pax_extensions(pax)?;
        }
        set_go_checksum(&mut header);
        self.builder.append(&header, data)
    }

    fn finish(mut self) -> io::Result<()> {
        if let Some(added) = self.options.added_dockerfile {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let plain = |name: &str, size: usize| -> io::Result<tar::Header> {
                let mut header = tar::Header::new_ustar();
                header.as_ustar_mut().expect("a USTAR header").name[..name.len()]
                    .copy_from_slice(name.as_bytes());
                header.set_mode(0o600);
                header.set_uid(0);
                header.set_gid(0);
                header.set_mtime(now);
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size as u64);
                header.set_device_major(0)?;
                header.set_device_minor(0)?;
                set_go_checksum(&mut header);
                Ok(header)
            };
            let mut last = (plain(&added.name, added.content.len())?, added.content.clone());
            if !self.saw_dockerignore {
                self.builder.append(&last.0, &last.1[..])?;
                let ignore = format!(".dockerignore\n{}\n", added.name).into_bytes();
                last = (plain(".dockerignore", ignore.len())?, ignore);
            }
            // The last entry unpadded, and nothing after it (see `AddedDockerfile`).
            let out = self.builder.get_mut();
            out.write_all(last.0.as_bytes())?;
            out.write_all(&last.1)?;
            out.cut = true;
        }
        self.builder.into_inner()?.out.flush()
    }
}

/// The checksum as Go's tar writer spells it: six octal digits, NUL, space (the tar crate
/// writes seven digits and a NUL; the value is the same).
fn set_go_checksum(header: &mut tar::Header) {
    header.set_cksum();
    let sum = header.cksum().expect("the checksum just written reads back");
    let field = format!("{sum:06o}\0 ");
    header.as_old_mut().cksum.copy_from_slice(field.as_bytes());
}

/// Go's `splitUSTARPath`: a name of at most 100 ASCII bytes as is, a longer one split at a `/`
/// into a prefix of at most 155 and a name of at most 100; `None` when it needs PAX.
fn split_ustar_path(name: &str) -> Option<(&str, &str)> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= 100 {
        return Some(("", name));
    }
    let mut length = name.len();
    if length > 156 {
        length = 156;
    } else if name.as_bytes()[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].rfind('/')?;
    let suffix = name.len() - i - 1;
    (i > 0 && suffix > 0 && suffix <= 100 && i <= 155).then(|| (&name[..i], &name[i + 1..]))
}

/// User and group names by id, from /etc/passwd and /etc/group, as Go's `user.LookupId`
/// fills a header's `Uname` and `Gname`.
struct OwnerNames {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
}

impl OwnerNames {
    fn read() -> OwnerNames {
        let table = |path: &str| -> HashMap<u32, String> {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let mut table = HashMap::new();
            for line in text.lines() {
                let fields: Vec<&str> = line.split(':').collect();
                if let (Some(name), Some(id)) = (fields.first(), fields.get(2).and_then(|id| id.parse().ok()))
                {
                    // The first line for an id wins, as a lookup finds it.
                    table.entry(id).or_insert_with(|| (*name).to_owned());
                }
            }
            table
        };
        OwnerNames {
            users: table("/etc/passwd"),
            groups: table("/etc/group"),
        }
    }

    fn user(&self, uid: u32) -> &str {
        self.users.get(&uid).map_or("", String::as_str)
    }

    fn group(&self, gid: u32) -> &str {
        self.groups.get(&gid).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_split_as_go_splits_them() {
        assert_eq!(split_ustar_path("a/b"), Some(("", "a/b")));
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(20));
        assert_eq!(split_ustar_path(&long), Some((&long[..120], &long[121..])));
        assert_eq!(split_ustar_path(&"x".repeat(101)), None);
        assert_eq!(split_ustar_path("é"), None);
    }
}
