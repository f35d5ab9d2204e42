//! The local driver's options, as `docker volume create -o` takes them on Linux: `type`, `device`
//! and `o` describe a filesystem that is mounted over the volume's `_data` while containers use
//! it (`-o type=tmpfs -o device=tmpfs -o o=size=100m`, or `-o type=none -o o=bind -o device=/srv`).
//! The words of `o` are mount(8)'s: flags (`ro`, `bind`, `nosuid`, …) and filesystem data.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use berth_runtime::mount_options;
use nix::mount::{MntFlags, MsFlags};

/// The option keys Docker's local driver knows; `size` needs quota support, which berth lacks
/// (as Docker on a file system without project quotas).
const KNOWN: [&str; 4] = ["type", "o", "device", "size"];

/// Options that only make sense with others, checked in this order.
const REQUIRES: [(&str, &[&str]); 3] = [
    ("device", &["type"]),
    ("type", &["device"]),
    ("o", &["device", "type"]),
];

/// Check options as Docker's local driver does; the error is Docker's message.
pub fn validate(options: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(unknown) = options.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("invalid option: {unknown:?}"));
    }
    if let Some(size) = options.get("size") {
        let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        match digits.parse::<f64>() {
            Err(_) => return Err(format!("invalid size: '{size}'")),
            Ok(bytes) if bytes > 0.0 => return Err("quota size requested but no quota support".into()),
            Ok(_) => {}
        }
    }
    for (option, required) in REQUIRES {
        if options.contains_key(option) {
            if let Some(missing) = required.iter().find(|r| !options.contains_key(**r)) {
                return Err(format!("missing required option: {missing:?}"));
            }
        }
    }
    Ok(())
}

/// What to mount over a volume's `_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMount {
    pub fs_type: String,
    pub device: String,
    pub options: String,
}

impl DeviceMount {
    /// The mount a volume's options describe, if any (a plain volume has none).
    pub fn from_options(options: Option<&BTreeMap<String, String>>) -> Option<DeviceMount> {
        let options = options?;
        let get = |key: &str| options.get(key).cloned().unwrap_or_default();
        let mount = DeviceMount {
            fs_type: get("type"),
            device: get("device"),
            options: get("o"),
        };
        (!mount.fs_type.is_empty() || !mount.device.is_empty()).then_some(mount)
    }

    /// Mount it at `target`, as Docker's `mount.Mount` does: the flags and data of `o`, then any
    /// propagation change, then a read-only remount for a read-only bind (a bind ignores `ro`).
    /// The error reads as Docker's: `mount DEVICE:TARGET[, flags: 0x…]: no such device`.
    pub fn mount(&self, target: &Path) -> Result<(), String> {
        let words: Vec<&str> = self.options.split(',').collect();
        let parsed = mount_options::parse(&words);
        let flags = match parsed.flags.bits() {
            0 => String::new(),
            bits => format!(", flags: {bits:#x}"),
        };
        self.mount_parsed(target, &parsed).map_err(|e| {
            let text = crate::go_error::text(&e);
            format!("mount {}:{}{flags}: {text}", self.device, target.display())
        })
    }

    fn mount_parsed(&self, target: &Path, parsed: &mount_options::MountOptions) -> io::Result<()> {
        let data = (!parsed.data.is_empty()).then_some(parsed.data.as_str());
        nix::mount::mount(
            Some(self.device.as_str()),
            target,
            Some(self.fs_type.as_str()),
            parsed.flags,
            data,
        )?;
        let rest = (|| {
            for propagation in &parsed.propagation {
                nix::mount::mount(None::<&str>, target, None::<&str>, *propagation, None::<&str>)?;
            }
            if parsed.is_bind() && parsed.flags.contains(MsFlags::MS_RDONLY) {
                let flags = parsed.flags | MsFlags::MS_REMOUNT;
                nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)?;
            }
            Ok::<_, nix::Error>(())
        })();
        if let Err(e) = rest {
            let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
            return Err(e.into());
        }
        Ok(())
    }
}

/// Unmount what is mounted at `target` (lazily when busy: a container still holding it keeps
/// its own reference).
pub fn unmount(target: &Path) -> io::Result<()> {
    match nix::mount::umount2(target, MntFlags::empty()) {
        Err(nix::Error::EBUSY) => Ok(nix::mount::umount2(target, MntFlags::MNT_DETACH)?),
        other => Ok(other?),
    }
}

/// Is something mounted exactly at `path`? Read from `/proc/self/mountinfo`, whose fifth field
/// is the mount point with spaces and the like escaped in octal.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy();
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|point| unescape_octal(point) == wanted)
}

/// `/a\040b` → `/a b`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_with_dockers_messages() {
        let check = |pairs: &[(&str, &str)]| validate(&options(pairs));
        assert_eq!(check(&[("foo", "bar")]).unwrap_err(), "invalid option: \"foo\"");
        assert_eq!(
            check(&[("type", "tmpfs")]).unwrap_err(),
            "missing required option: \"device\""
        );
        assert_eq!(
            check(&[("device", "tmpfs")]).unwrap_err(),
            "missing required option: \"type\""
        );
        assert_eq!(
            check(&[("o", "size=1m")]).unwrap_err(),
            "missing required option: \"device\""
        );
        assert_eq!(
            check(&[("size", "10m")]).unwrap_err(),
            "quota size requested but no quota support"
        );
        assert!(check(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]).is_ok());
        assert!(check(&[]).is_ok());
    }

    #[test]
    fn only_type_or_device_means_a_mount() {
        assert_eq!(DeviceMount::from_options(None), None);
        assert_eq!(DeviceMount::from_options(Some(&options(&[]))), None);
        let tmpfs = options(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m,uid=1000")]);
        assert_eq!(
            DeviceMount::from_options(Some(&tmpfs)),
            Some(DeviceMount {
                fs_type: "tmpfs".into(),
                device: "tmpfs".into(),
                options: "size=1m,uid=1000".into()
            })
        );
    }

    #[test]
    fn mountinfo_escapes_are_read_back() {
        assert_eq!(unescape_octal(r"/var/lib/a\040b/_data"), "/var/lib/a b/_data");
        assert_eq!(unescape_octal(r"/x\\y"), r"/x\\y");
        assert!(is_mount_point(Path::new("/proc")));
        assert!(!is_mount_point(Path::new("/proc/self")));
    }
}
