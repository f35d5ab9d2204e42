//! Writing a path of a container as a tar, as Docker's `TarWithOptions` writes it: a
//! directory first, then its entries sorted by name (Go's `filepath.Walk`), directories named
//! with a trailing `/`, symlinks never followed, a file seen again through another hard link
//! written as a link to the first name, sockets left out. Mount points are walked into.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, OFlags, Stat};
use tar::{EntryType, Header};

use super::view::{ContainerPath, FsView};

/// The only xattr Docker's archives carry.
const CAPABILITY_XATTR: &str = "security.capability";

/// What to write and how to name it.
pub struct PackSpec<'a> {
    /// The container path to write (not followed if it is a symlink).
    pub top: &'a [OsString],
    /// The name the top entry gets in the tar (its children are `<name>/<child>`); `None`
    /// leaves the top out and names its children from the top (`bin/sh`), as `export` does.
    pub name: Option<&'a str>,
}

/// Write `spec.top` and everything under it to `out` as a tar; returns `out`.
pub fn pack<W: Write>(view: &FsView, spec: &PackSpec, out: W) -> io::Result<W> {
    let mut packer = Packer {
        view,
        builder: tar::Builder::new(out),
        links: HashMap::new(),
        spec,
    };
    let top = view.lstat(spec.top)?;
    if spec.name.is_some() {
        packer.entry(spec.top, &[], &top)?;
    }
    if FileType::from_raw_mode(top.st_mode) == FileType::Directory {
        packer.walk()?;
    }
    packer.builder.into_inner()
}

struct Packer<'a, W: Write> {
    view: &'a FsView,
    builder: tar::Builder<W>,
    /// (device, inode) of files with several links → the name first written.
    links: HashMap<(u64, u64), Vec<u8>>,
    spec: &'a PackSpec<'a>,
}

impl<W: Write> Packer<'_, W> {
    /// Depth first, each directory's entries in byte order (Go's `filepath.Walk`). A
    /// directory's names are read whole, so one directory is open at a time at most.
    fn walk(&mut self) -> io::Result<()> {
        let mut stack: Vec<(ContainerPath, std::vec::IntoIter<OsString>)> =
            vec![(Vec::new(), self.list(&[])?.into_iter())];
        while let Some((relative, children)) = stack.last_mut() {
            let Some(name) = children.next() else {
                stack.pop();
                continue;
            };
            let mut child_relative = relative.clone();
            child_relative.push(name);
            let child = self.path_of(&child_relative);
            let stat = match self.view.lstat(&child) {
                Ok(stat) => stat,
                // Gone since the listing (a running container): as if never there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            self.entry(&child, &child_relative, &stat)?;
            if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
                let children = self.list(&child_relative)?;
                stack.push((child_relative, children.into_iter()));
            }
        }
        Ok(())
    }

    /// The container path of a path below the top.
    fn path_of(&self, relative: &[OsString]) -> ContainerPath {
        self.spec.top.iter().chain(relative).cloned().collect()
    }

    /// The names in a directory below the top, sorted.
    fn list(&self, relative: &[OsString]) -> io::Result<Vec<OsString>> {
        let dir = self.view.open(
            &self.path_of(relative),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        )?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(std::ffi::OsStr::from_bytes(name).to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The entry's name in the tar: the top's name, then `/` and the path below the top.
    fn name(spec: &PackSpec, relative: &[OsString], is_dir: bool) -> Vec<u8> {
        let mut name: Vec<u8> = match spec.name {
            Some(top) => top.as_bytes().to_vec(),
            None => Vec::new(),
        };
        for (i, component) in relative.iter().enumerate() {
            if i > 0 || spec.name.is_some() {
                name.push(b'/');
            }
            name.extend_from_slice(component.as_bytes());
        }
        if is_dir && name.last() != Some(&b'/') {
            name.push(b'/');
        }
        name
    }

    fn entry(&mut self, path: &[OsString], relative: &[OsString], stat: &Stat) -> io::Result<()> {
        let file_type = FileType::from_raw_mode(stat.st_mode);
        if file_type == FileType::Socket {
            return Ok(()); // Docker skips sockets too
        }
        let name = Self::name(self.spec, relative, file_type == FileType::Directory);
        let mut header = Header::new_gnu();
        header.set_mode(stat.st_mode & (libc::S_IFMT | 0o7777));
        header.set_uid(u64::from(stat.st_uid));
        header.set_gid(u64::from(stat.st_gid));
        header.set_mtime(stat.st_mtime.max(0) as u64);
        header.set_size(0);
        let mut link_name: Option<Vec<u8>> = None;
        if file_type != FileType::Directory && stat.st_nlink > 1 {
            let key = (stat.st_dev, stat.st_ino);
            if let Some(first) = self.links.get(&key) {
                header.set_entry_type(EntryType::Link);
                link_name = Some(first.clone());
                return self.append(header, &name, link_name.as_deref(), &[], io::empty());
            }
            self.links.insert(key, name.clone());
        }
        match file_type {
            FileType::Directory => header.set_entry_type(EntryType::Directory),
            FileType::Symlink => {
                header.set_entry_type(EntryType::Symlink);
                let fd = self.view.open(path, OFlags::PATH | OFlags::NOFOLLOW)?;
                link_name = Some(rustix::fs::readlinkat(&fd, "", Vec::new())?.into_bytes());
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                header.set_entry_type(match file_type {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                });
                if file_type != FileType::Fifo {
                    header.set_device_major(rustix::fs::major(stat.st_rdev))?;
                    header.set_device_minor(rustix::fs::minor(stat.st_rdev))?;
                }
            }
            FileType::RegularFile => {
                header.set_entry_type(EntryType::Regular);
                let size = stat.st_size.max(0) as u64;
                header.set_size(size);
                let file = std::fs::File::from(
                    self.view
                        .open(path, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY)?,
                );
                let mut pax = Vec::new();
                let mut value = [0u8; 256];
                if let Ok(len) = rustix::fs::fgetxattr(&file, CAPABILITY_XATTR, &mut value[..]) {
                    pax.push((format!("SCHILY.xattr.{CAPABILITY_XATTR}"), value[..len].to_vec()));
                }
                // Exactly `size` bytes even if the file changes meanwhile (a running
                // container): cut at the size, or padded with zeros.
                let content = file.take(size).chain(io::repeat(0)).take(size);
                return self.append(header, &name, None, &pax, content);
            }
            _ => return Ok(()),
        }
        self.append(header, &name, link_name.as_deref(), &[], io::empty())
    }

    /// Write one entry: GNU long-name records for names that do not fit the header, PAX
    /// records for xattrs, then the header and content.
    fn append(
        &mut self,
        mut header: Header,
        name: &[u8],
        link_name: Option<&[u8]>,
        pax: &[(String, Vec<u8>)],
        content: impl Read,
    ) -> io::Result<()> {
        if !pax.is_empty() {
            let mut records = Vec::new();
            for (key, value) in pax {
                records.extend(pax_record(key.as_bytes(), value));
            }
            let mut pax_header = Header::new_ustar();
            pax_header.set_entry_type(EntryType::XHeader);
            set_short(&mut pax_header.as_old_mut().name, b"PaxHeaders/entry");
            pax_header.set_mode(0o644);
            pax_header.set_size(records.len() as u64);
            pax_header.set_cksum();
            self.builder.append(&pax_header, &records[..])?;
        }
        let gnu = header.as_gnu_mut().expect("a GNU header");
        if name.len() > gnu.name.len() {
            self.long_name(EntryType::GNULongName, name)?;
        }
        set_short(&mut header.as_gnu_mut().expect("a GNU header").name, name);
        if let Some(target) = link_name {
            let gnu = header.as_gnu_mut().expect("a GNU header");
            if target.len() > gnu.linkname.len() {
                self.long_name(EntryType::GNULongLink, target)?;
            }
            set_short(&mut header.as_gnu_mut().expect("a GNU header").linkname, target);
        }
        header.set_cksum();
        self.builder.append(&header, content)
    }

    fn long_name(&mut self, kind: EntryType, name: &[u8]) -> io::Result<()> {
        let mut header = Header::new_gnu();
        set_short(
            &mut header.as_gnu_mut().expect("a GNU header").name,
            b"././@LongLink",
        );
        header.set_mode(0o644);
        header.set_entry_type(kind);
        let mut data = name.to_vec();
        data.push(0);
        header.set_size(data.len() as u64);
        header.set_cksum();
        self.builder.append(&header, &data[..])
    }
}

/// Copy as much of `value` as fits into a header field (the rest went to a long-name record).
fn set_short(field: &mut [u8], value: &[u8]) {
    let len = value.len().min(field.len());
    field.fill(0);
    field[..len].copy_from_slice(&value[..len]);
}

/// One PAX record: `"<length> <key>=<value>\n"`, the length counting itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    let mut record = format!("{length} ").into_bytes();
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}
