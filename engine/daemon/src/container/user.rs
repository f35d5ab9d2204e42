//! `--user name[:group]`: numeric ids from the image's own /etc/passwd and /etc/group, read
//! inside the container's root (a symlink in the image can't make berthd read a host file).

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::sys::stat::Mode;

use super::spec::ProcessUser;

/// Why a user or group could not be resolved (libcontainer's messages, which Docker shows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
}

/// Read `/etc/<name>` of the container's root, resolving every path component inside it.
fn read_in_root(rootfs: &Path, relative: &str) -> String {
    let read = || -> nix::Result<String> {
        let root = open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // SAFETY: `open` returned a fresh fd that nothing else owns.
        let root = unsafe { OwnedFd::from_raw_fd(root) };
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = openat2(root.as_raw_fd(), relative, how)?;
        // SAFETY: `openat2` returned a fresh fd that nothing else owns.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|_| nix::Error::EIO)?;
        Ok(text)
    };
    // A missing file means no names to look up, as for libcontainer.
    read().unwrap_or_default()
}

struct Entry<'a> {
    name: &'a str,
    id: u32,
    /// passwd: the primary gid; group: unused.
    gid: u32,
    /// group: its members.
    members: Vec<&'a str>,
}

fn parse(text: &str, passwd: bool) -> Vec<Entry<'_>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let id = fields.get(2)?.parse().ok()?;
            Some(if passwd {
                Entry {
                    name: fields[0],
                    id,
                    gid: fields.get(3)?.parse().ok()?,
                    members: Vec::new(),
                }
            } else {
                let members = fields
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default();
                Entry {
                    name: fields[0],
                    id,
                    gid: id,
                    members,
                }
            })
        })
        .collect()
}

/// Resolve Docker's user spec (`""`, `name`, `uid`, `name:group`, `uid:gid`…) plus `--group-add`.
pub fn resolve(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<ProcessUser, UserError> {
    let passwd_text = read_in_root(rootfs, "etc/passwd");
    let group_text = read_in_root(rootfs, "etc/group");
    let passwd = parse(&passwd_text, true);
    let groups = parse(&group_text, false);

    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let (uid, mut gid, name) = match passwd
        .iter()
        .find(|e| e.name == user_part || e.id.to_string() == user_part)
    {
        Some(entry) => (entry.id, entry.gid, Some(entry.name)),
        None => match user_part.parse::<u32>() {
            Ok(uid) => (uid, 0, None),
            Err(_) => return Err(UserError::NoUser(user_part.to_owned())),
        },
    };
    let find_group = |g: &str| -> Result<u32, UserError> {
        match groups.iter().find(|e| e.name == g) {
            Some(entry) => Ok(entry.id),
            None => g.parse().map_err(|_| UserError::NoGroup(g.to_owned())),
        }
    };
    let mut additional: Vec<u32> = Vec::new();
    if let Some(group) = group_part.filter(|g| !g.is_empty()) {
        gid = find_group(group)?;
    } else if let Some(name) = name {
        // Supplementary groups the user is a member of (only when no group is named).
        additional.extend(groups.iter().filter(|g| g.members.contains(&name)).map(|g| g.id));
    }
    for extra in group_add {
        additional.push(find_group(extra)?);
    }
    additional.retain(|g| *g != gid);
    additional.dedup();
    Ok(ProcessUser {
        uid,
        gid,
        additional_gids: additional,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nnogroup:x:65534:\npostgres:x:999:\nwheel:x:10:postgres\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn names_and_numbers_resolve() {
        let root = rootfs();
        assert_eq!(
            resolve(root.path(), "", &[]).unwrap(),
            ProcessUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            resolve(root.path(), "postgres", &[]).unwrap(),
            ProcessUser {
                uid: 999,
                gid: 999,
                additional_gids: vec![10]
            }
        );
        assert_eq!(resolve(root.path(), "nobody:root", &[]).unwrap().gid, 0);
        assert_eq!(
            resolve(root.path(), "1234:5678", &[]).unwrap(),
            ProcessUser {
                uid: 1234,
                gid: 5678,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            resolve(root.path(), "0", &["wheel".into()])
                .unwrap()
                .additional_gids,
            vec![10]
        );
        assert_eq!(
            resolve(root.path(), "ghost", &[]).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve(root.path(), "root:ghosts", &[]).unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
    }

    #[test]
    fn a_symlinked_passwd_is_read_inside_the_root() {
        let root = rootfs();
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        // Pointing at the host's /etc/passwd must resolve to the container's own path instead.
        std::os::unix::fs::symlink("/etc/passwd-in-root", root.path().join("etc/passwd")).unwrap();
        std::fs::write(root.path().join("etc/passwd-in-root"), "app:x:42:42::/:/bin/sh\n").unwrap();
        assert_eq!(resolve(root.path(), "app", &[]).unwrap().uid, 42);
        assert!(
            resolve(root.path(), "daemon", &[]).is_err(),
            "the host's users are not visible"
        );
    }
}
