//! cgroup v1: one directory per controller hierarchy, files named per controller.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::{CgroupError, V1Hierarchy, create_dir, write_file};

/// A container's v1 cgroup: `(controllers, directory)` for each hierarchy.
#[derive(Debug, Clone)]
pub struct V1Cgroup {
    /// The cgroup path relative to each hierarchy's root (`berth/<id>`).
    pub path: PathBuf,
    /// One directory per hierarchy, with the controllers it carries.
    pub dirs: Vec<(Vec<String>, PathBuf)>,
}

/// One value for one file of one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The controller whose hierarchy holds the file.
    pub controller: &'static str,
    /// The file name.
    pub file: &'static str,
    /// What to write.
    pub value: String,
    /// Skip quietly when the kernel lacks the file (swap accounting may be off).
    pub optional: bool,
}

fn setting(controller: &'static str, file: &'static str, value: impl ToString) -> Setting {
    Setting {
        controller,
        file,
        value: value.to_string(),
        optional: false,
    }
}

/// The files to write for the spec's resources, in the order they must be written.
pub fn settings(resources: &LinuxResources) -> Vec<Setting> {
    let mut out = Vec::new();
    if let Some(memory) = resources.memory() {
        if let Some(limit) = memory.limit().filter(|l| *l != 0) {
            out.push(setting("memory", "memory.limit_in_bytes", limit));
        }
        // memsw is memory + swap; it must come after the memory limit it cannot be below.
        if let Some(swap) = memory.swap().filter(|s| *s != 0) {
            out.push(Setting {
                optional: true,
                ..setting("memory", "memory.memsw.limit_in_bytes", swap)
            });
        }
        if let Some(reservation) = memory.reservation().filter(|r| *r != 0) {
            out.push(setting("memory", "memory.soft_limit_in_bytes", reservation));
        }
        if let Some(swappiness) = memory.swappiness().filter(|s| *s <= 100) {
            out.push(setting("memory", "memory.swappiness", swappiness));
        }
        if memory.disable_oom_killer() == Some(true) {
            out.push(setting("memory", "memory.oom_control", 1));
        }
    }
    if let Some(cpu) = resources.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            out.push(setting("cpu", "cpu.shares", shares));
        }
        // The period first: a quota is checked against the period in force.
        if let Some(period) = cpu.period().filter(|p| *p != 0) {
            out.push(setting("cpu", "cpu.cfs_period_us", period));
        }
        if let Some(quota) = cpu.quota().filter(|q| *q != 0) {
            out.push(setting("cpu", "cpu.cfs_quota_us", quota));
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            out.push(setting("cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            out.push(setting("cpuset", "cpuset.mems", mems));
        }
    }
    if let Some(pids) = resources.pids() {
        let value = if pids.limit() > 0 {
            pids.limit().to_string()
        } else {
            "max".to_string()
        };
        out.push(setting("pids", "pids.max", value));
    }
    if let Some(weight) = resources
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        out.push(setting("blkio", "blkio.weight", weight));
    }
    let rules = resources.devices().as_deref().unwrap_or(&[]);
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.push(setting("devices", file, device_rule(rule)));
    }
    if !rules.is_empty() {
        // What every container may use whatever the spec says, as runc adds them: the default
        // devices, /dev/console, the ptys, and mknod of any node (using it is still denied).
        for rule in DEFAULT_ALLOWED_DEVICES {
            out.push(setting("devices", "devices.allow", rule));
        }
    }
    out
}

/// The device rules runc appends to every container's (libcontainer's `AllowedDevices`).
pub const DEFAULT_ALLOWED_DEVICES: [&str; 12] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 5:1 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

/// A device rule as the devices controller reads it: `c 1:3 rwm`, `a *:* rwm`.
pub fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let typ = match rule.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let number = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = rule.access().clone().unwrap_or_else(|| "rwm".to_string());
    format!("{typ} {}:{} {access}", number(rule.major()), number(rule.minor()))
}

impl V1Cgroup {
    /// Make the directory in every hierarchy, named ones (`name=systemd`) included, as runc does.
    pub fn create(hierarchies: &[V1Hierarchy], path: &Path) -> Result<Self, CgroupError> {
        let mut dirs = Vec::new();
        for hierarchy in hierarchies {
            let dir = hierarchy.mountpoint.join(path);
            if hierarchy.has("cpuset") {
                create_cpuset_dirs(&hierarchy.mountpoint, path)?;
            } else {
                create_dir(&dir)?;
            }
            dirs.push((hierarchy.controllers.clone(), dir));
        }
        Ok(Self {
            path: path.to_path_buf(),
            dirs,
        })
    }

    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(controllers, _)| controllers.iter().any(|c| c == controller))
            .map(|(_, dir)| dir.as_path())
    }

    /// Write the limits.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        for setting in settings(resources) {
            let Some(dir) = self.dir_of(setting.controller) else {
                tracing::warn!(
                    "the {} controller is not mounted: {} not set",
                    setting.controller,
                    setting.file
                );
                continue;
            };
            let file = dir.join(setting.file);
            if setting.optional && !file.exists() {
                crate::explain!("skipped {}: the kernel does not offer it", file.display());
                continue;
            }
            write_file(&file, &setting.value)?;
        }
        Ok(())
    }
}

/// A new cpuset cgroup starts with no cpus and no memory nodes, and no process may join it until
/// it has some: every level we create inherits its parent's.
fn create_cpuset_dirs(mountpoint: &Path, path: &Path) -> Result<(), CgroupError> {
    let mut dir = mountpoint.to_path_buf();
    for component in path.components() {
        let parent = dir.clone();
        dir.push(component);
        create_dir(&dir)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let current = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if current.trim().is_empty() {
                let inherited =
                    fs::read_to_string(parent.join(file)).map_err(|source| CgroupError::Read {
                        path: parent.join(file),
                        source,
                    })?;
                write_file(&dir.join(file), inherited.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).expect("resources")
    }

    #[test]
    fn docker_memory_cpu_pids_map_to_v1_files() {
        let r = resources(
            r#"{"memory":{"limit":104857600,"swap":209715200},
                "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
                "pids":{"limit":64}}"#,
        );
        let got: Vec<(&str, String)> = settings(&r).into_iter().map(|s| (s.file, s.value)).collect();
        assert_eq!(
            got,
            vec![
                ("memory.limit_in_bytes", "104857600".to_string()),
                ("memory.memsw.limit_in_bytes", "209715200".to_string()),
                ("cpu.shares", "512".to_string()),
                ("cpu.cfs_period_us", "100000".to_string()),
                ("cpu.cfs_quota_us", "50000".to_string()),
                ("cpuset.cpus", "0".to_string()),
                ("pids.max", "64".to_string()),
            ]
        );
    }

    #[test]
    fn docker_device_rules() {
        let r = resources(
            r#"{"devices":[{"allow":false,"access":"rwm"},
                           {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                           {"allow":true,"type":"c","major":136,"access":"rwm"}]}"#,
        );
        let got: Vec<(&str, String)> = settings(&r).into_iter().map(|s| (s.file, s.value)).collect();
        assert_eq!(
            got[..3],
            [
                ("devices.deny", "a *:* rwm".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 136:* rwm".to_string()),
            ]
        );
        assert_eq!(got.len(), 3 + DEFAULT_ALLOWED_DEVICES.len());
    }

    #[test]
    fn unlimited_pids_write_max() {
        let r = resources(r#"{"pids":{"limit":0}}"#);
        assert_eq!(settings(&r)[0].value, "max");
    }
}
