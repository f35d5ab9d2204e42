//! OCI mount options → `mount(2)` flags, propagation changes and filesystem data, as runc reads
//! them: known words set or clear flags, propagation words become separate mount calls, and every
//! other word (`mode=755`, `size=65536k`, `newinstance`) is passed to the filesystem.

use nix::mount::MsFlags;

/// A parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call.
    pub flags: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific data, comma-separated.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
        }
    }
}

impl MountOptions {
    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The flags a bind mount needs a second, remount call for (ro, nosuid, …).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }
}

/// Parse an OCI option list.
pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut parsed = MountOptions::default();
    let mut data = Vec::new();
    for option in options {
        let option = option.as_ref();
        if let Some((clear, flag)) = flag_of(option) {
            if clear {
                parsed.flags.remove(flag);
            } else {
                parsed.flags.insert(flag);
            }
        } else if let Some(propagation) = propagation_of(option) {
            parsed.propagation.push(propagation);
        } else if !option.is_empty() {
            data.push(option);
        }
    }
    parsed.data = data.join(",");
    parsed
}

/// Every flag word, as runc reads it: `(word, clears, flag)`. `clears` words (`rw`, `dev`) remove the
/// flag their opposite sets. The `features` command lists these words.
pub const FLAG_WORDS: &[(&str, bool, MsFlags)] = &[
    ("defaults", false, MsFlags::empty()),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("atime", true, MsFlags::MS_NOATIME),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("silent", false, MsFlags::MS_SILENT),
    ("loud", true, MsFlags::MS_SILENT),
];

/// Every propagation word and the flags of the separate mount call it becomes.
pub const PROPAGATION_WORDS: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// `(clears, flag)` for a flag word.
fn flag_of(option: &str) -> Option<(bool, MsFlags)> {
    FLAG_WORDS
        .iter()
        .find(|(word, _, _)| *word == option)
        .map(|&(_, clears, flag)| (clears, flag))
}

/// The mount flags of a propagation word.
pub fn propagation_of(option: &str) -> Option<MsFlags> {
    PROPAGATION_WORDS
        .iter()
        .find(|(word, _)| *word == option)
        .map(|&(_, flag)| flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_dev_pts_options() {
        let parsed = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(parsed.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(parsed.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        assert!(parsed.propagation.is_empty());
    }

    #[test]
    fn bind_with_propagation_and_read_only() {
        let parsed = parse(&["rbind", "rprivate", "ro"]);
        assert!(parsed.is_bind());
        assert_eq!(parsed.remount_flags(), MsFlags::MS_RDONLY);
        assert_eq!(parsed.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(parsed.data, "");
    }

    #[test]
    fn later_words_override_earlier_ones() {
        let parsed = parse(&["ro", "rw", "nodev", "dev"]);
        assert_eq!(parsed.flags, MsFlags::empty());
    }
}
