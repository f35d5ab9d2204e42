//! The user a container process runs as.

use std::path::Path;

use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

/// Errors while switching user.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// cannot switch to the container's user
    #[error("cannot switch to uid {uid}, gid {gid}: {source}")]
    Switch {
        /// Target uid.
        uid: u32,
        /// Target gid.
        gid: u32,
        /// What failed.
        source: nix::Error,
    },
}

/// Become the spec's user and groups, keeping the permitted capabilities across the switch so
/// that the spec's capability sets can be applied afterwards.
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<(), UserError> {
    let err = |source| UserError::Switch {
        uid: user.uid(),
        gid: user.gid(),
        source,
    };
    // SAFETY: plain prctl with integer arguments; keeps permitted caps across setuid.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(err(nix::Error::last()));
    }
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if setgroups_allowed {
        nix::unistd::setgroups(&groups).map_err(err)?;
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresgid(gid, gid, gid).map_err(err)?;
    nix::unistd::setresuid(uid, uid, uid).map_err(err)?;
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) } != 0 {
        return Err(err(nix::Error::last()));
    }
    crate::explain!(
        "switched to uid {}, gid {}, additional groups {:?}",
        user.uid(),
        user.gid(),
        user.additional_gids().clone().unwrap_or_default()
    );
    Ok(())
}

/// The home directory of `uid` in a passwd file's text; `/` when it has none.
pub fn home_in_passwd(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 6 && fields[2].parse::<u32>().ok() == Some(uid)).then(|| fields[5].to_string())
        })
        .next()
        .filter(|home| !home.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// Add `HOME` to an environment that lacks it, from the container's /etc/passwd, as runc does.
pub fn ensure_home(env: &mut Vec<String>, uid: u32) {
    if env.iter().any(|kv| kv.starts_with("HOME=")) {
        return;
    }
    let passwd = std::fs::read_to_string(Path::new("/etc/passwd")).unwrap_or_default();
    env.push(format!("HOME={}", home_in_passwd(&passwd, uid)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_passwd_or_defaults_to_root() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\nnohome:x:7:7:::\n";
        assert_eq!(home_in_passwd(passwd, 0), "/root");
        assert_eq!(home_in_passwd(passwd, 33), "/var/www");
        assert_eq!(home_in_passwd(passwd, 7), "/");
        assert_eq!(home_in_passwd(passwd, 1000), "/");
    }
}
