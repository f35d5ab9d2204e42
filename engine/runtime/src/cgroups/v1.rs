//! cgroup v1: one directory per controller hierarchy, files named per controller.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::{CgroupError, Layout, create_dir, write_file};

/// A container's v1 cgroup: `(controllers, directory)` for each hierarchy.
#[derive(Debug, Clone)]
pub struct V1Cgroup {
    /// The cgroup path as the spec gave it, cleaned (`/berth/<id>`, or relative).
    pub path: PathBuf,
    /// One directory per hierarchy, with the controllers it carries.
    pub dirs: Vec<(Vec<String>, PathBuf)>,
    /// On a hybrid host, the directory in the unified tree (joined as runc joins it; it also
    /// carries the controllers that only v2 offers there, such as hugetlb on some hosts).
    pub unified: Option<PathBuf>,
}

/// One value for one file of one controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The spec's resource it comes from (`memory`, `network` …), for messages.
    pub resource: &'static str,
    /// The controller whose hierarchy holds the file.
    pub controller: &'static str,
    /// The file name.
    pub file: String,
    /// What to write.
    pub value: String,
    /// Skip quietly when the kernel lacks the file (swap accounting may be off).
    pub optional: bool,
}

fn setting(
    resource: &'static str,
    controller: &'static str,
    file: impl Into<String>,
    value: impl ToString,
) -> Setting {
    Setting {
        resource,
        controller,
        file: file.into(),
        value: value.to_string(),
        optional: false,
    }
}

/// runc's swappiness check: -1 (as the spec's unsigned value: all ones) leaves it alone.
pub fn swappiness(value: Option<u64>) -> Result<Option<u64>, CgroupError> {
    match value {
        None | Some(u64::MAX) => Ok(None),
        Some(v) if v <= 100 => Ok(Some(v)),
        Some(v) => Err(CgroupError::Invalid(format!(
            "invalid memory swappiness value: {v} (valid range is 0-100)"
        ))),
    }
}

/// Kernel memory limits are deprecated by the kernel and ignored by runc, with this warning.
pub fn warn_kernel_memory(resources: &LinuxResources) {
    if let Some(memory) = resources.memory() {
        if memory.kernel().is_some() || memory.kernel_tcp().is_some() {
            tracing::warn!("Kernel memory settings are ignored and will be removed");
        }
    }
}

/// The files to write for the spec's resources, in the order they must be written.
pub fn settings(resources: &LinuxResources) -> Result<Vec<Setting>, CgroupError> {
    let mut out = Vec::new();
    if let Some(memory) = resources.memory() {
        if let Some(limit) = memory.limit().filter(|l| *l != 0) {
            out.push(setting("memory", "memory", "memory.limit_in_bytes", limit));
        }
        // memsw is memory + swap; it must come after the memory limit it cannot be below.
        if let Some(swap) = memory.swap().filter(|s| *s != 0) {
            out.push(Setting {
                optional: true,
                ..setting("memory", "memory", "memory.memsw.limit_in_bytes", swap)
            });
        }
        if let Some(reservation) = memory.reservation().filter(|r| *r != 0) {
            out.push(setting(
                "memory",
                "memory",
                "memory.soft_limit_in_bytes",
                reservation,
            ));
        }
        if let Some(swappiness) = swappiness(memory.swappiness())? {
            out.push(setting("memory", "memory", "memory.swappiness", swappiness));
        }
        if memory.disable_oom_killer() == Some(true) {
            out.push(setting("memory", "memory", "memory.oom_control", 1));
        }
    }
    if let Some(cpu) = resources.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            out.push(setting("cpu", "cpu", "cpu.shares", shares));
        }
        // The period first: a quota is checked against the period in force.
        if let Some(period) = cpu.period().filter(|p| *p != 0) {
            out.push(setting("cpu", "cpu", "cpu.cfs_period_us", period));
        }
        if let Some(quota) = cpu.quota().filter(|q| *q != 0) {
            out.push(setting("cpu", "cpu", "cpu.cfs_quota_us", quota));
        }
        if let Some(period) = cpu.realtime_period().filter(|p| *p != 0) {
            out.push(setting("cpu", "cpu", "cpu.rt_period_us", period));
        }
        if let Some(runtime) = cpu.realtime_runtime().filter(|r| *r != 0) {
            out.push(setting("cpu", "cpu", "cpu.rt_runtime_us", runtime));
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            out.push(setting("cpu", "cpuset", "cpuset.cpus", cpus));
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            out.push(setting("cpu", "cpuset", "cpuset.mems", mems));
        }
    }
    if let Some(pids) = resources.pids() {
        let value = if pids.limit() > 0 {
            pids.limit().to_string()
        } else {
            "max".to_string()
        };
        out.push(setting("pids", "pids", "pids.max", value));
    }
    if let Some(weight) = resources
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        out.push(setting("blockIO", "blkio", "blkio.weight", weight));
    }
    for limit in resources.hugepage_limits().as_deref().unwrap_or(&[]) {
        out.push(setting(
            "hugepageLimits",
            "hugetlb",
            format!("hugetlb.{}.limit_in_bytes", limit.page_size()),
            limit.limit(),
        ));
    }
    if let Some(network) = resources.network() {
        if let Some(class_id) = network.class_id() {
            out.push(setting("network", "net_cls", "net_cls.classid", class_id));
        }
        // One line per interface: the kernel reads one "name priority" pair per write.
        for priority in network.priorities().as_deref().unwrap_or(&[]) {
            out.push(setting(
                "network",
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", priority.name(), priority.priority()),
            ));
        }
    }
    let rules = resources.devices().as_deref().unwrap_or(&[]);
    for rule in rules {
        let file = if rule.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.push(setting("devices", "devices", file, device_rule(rule)));
    }
    if !rules.is_empty() {
        // What every container may use whatever the spec says, as runc adds them: the default
        // devices, /dev/console, the ptys, and mknod of any node (using it is still denied).
        // Docker's specs already allow most of them; writing an allow again changes nothing
        // unless a deny came after it, so only those that would change the outcome are written.
        let written: Vec<String> = rules.iter().map(device_rule).collect();
        let last_deny = rules.iter().rposition(|r| !r.allow());
        for rule in DEFAULT_ALLOWED_DEVICES {
            let already_allowed = rules
                .iter()
                .zip(&written)
                .rposition(|(r, text)| r.allow() && text == rule)
                .is_some_and(|allowed_at| last_deny.is_none_or(|deny| deny < allowed_at));
            if !already_allowed {
                out.push(setting("devices", "devices", "devices.allow", rule));
            }
        }
    }
    Ok(out)
}

/// When memory and memsw both change and memsw grows past the memory limit in force, memsw must
/// be written first or the kernel refuses the new memory limit (runc's `setMemoryAndSwap`).
fn order_memory_and_swap(settings: &mut [Setting], current_limit: Option<u64>) {
    let position = |file: &str| settings.iter().position(|s| s.file == file);
    let (Some(memory), Some(swap)) = (
        position("memory.limit_in_bytes"),
        position("memory.memsw.limit_in_bytes"),
    ) else {
        return;
    };
    let new_swap = settings[swap].value.parse::<i64>().unwrap_or(0);
    let grows =
        new_swap == -1 || current_limit.is_some_and(|cur| i64::try_from(cur).is_ok_and(|c| c < new_swap));
    if grows && swap > memory {
        settings.swap(memory, swap);
    }
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
    /// Make the directory in every hierarchy, named ones (`name=systemd`) included, and on a
    /// hybrid host in the unified tree too, as runc does.
    pub fn create(layout: &Layout, path: &Path) -> Result<Self, CgroupError> {
        let mut dirs = Vec::new();
        for hierarchy in &layout.v1 {
            let dir = hierarchy.dir_for(path);
            if hierarchy.has("cpuset") {
                create_cpuset_dirs(&hierarchy.mountpoint, &dir)?;
            } else {
                create_dir(&dir)?;
            }
            dirs.push((hierarchy.controllers.clone(), dir));
        }
        let unified = layout.v2_dir_for(path);
        if let Some(dir) = &unified {
            create_dir(dir)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            dirs,
            unified,
        })
    }

    /// The directory of the hierarchy carrying `controller`.
    pub fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(controllers, _)| controllers.iter().any(|c| c == controller))
            .map(|(_, dir)| dir.as_path())
    }

    /// Write the limits. A resource whose controller the host lacks is an error naming it.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        warn_kernel_memory(resources);
        let mut settings = settings(resources)?;
        if let Some(dir) = self.dir_of("memory") {
            let current = fs::read_to_string(dir.join("memory.limit_in_bytes")).ok();
            order_memory_and_swap(&mut settings, current.and_then(|c| c.trim().parse().ok()));
        }
        for setting in settings {
            let Some(dir) = self.dir_of(setting.controller) else {
                if setting.controller == "hugetlb" {
                    self.apply_unified_hugetlb(&setting)?;
                    continue;
                }
                return Err(CgroupError::MissingController {
                    resource: setting.resource,
                    controller: setting.controller.to_string(),
                });
            };
            let file = dir.join(&setting.file);
            if setting.optional && !file.exists() {
                crate::explain!("skipped {}: the kernel does not offer it", file.display());
                continue;
            }
            write_file(&file, &setting.value)?;
        }
        Ok(())
    }

    /// A hybrid host may offer hugetlb only in the unified tree: limit it there, in v2's file.
    fn apply_unified_hugetlb(&self, setting: &Setting) -> Result<(), CgroupError> {
        let missing = || CgroupError::MissingController {
            resource: setting.resource,
            controller: setting.controller.to_string(),
        };
        let dir = self.unified.as_ref().ok_or_else(missing)?;
        let file = setting.file.replace(".limit_in_bytes", ".max");
        if !dir.join(&file).exists() {
            super::v2::enable_controller_down_to(dir, "hugetlb").map_err(|_| missing())?;
        }
        write_file(&dir.join(file), &setting.value)
    }
}

/// A new cpuset cgroup starts with no cpus and no memory nodes, and no process may join it until
/// it has some: every level we create inherits its parent's.
///
/// Levels are made one `mkdir` at a time, each set up before the next: another container's
/// `delete` removes the shared parent (`berth`) when it empties, and a `mkdir -p` racing with
/// that would make it again *without* cpus or memory nodes (the kernel then refuses every
/// process with ENOSPC). When a level vanishes under us, or we meet one that another `create`
/// has made but not set up yet, the walk starts again from the top.
fn create_cpuset_dirs(mountpoint: &Path, target: &Path) -> Result<(), CgroupError> {
    const ATTEMPTS: usize = 10;
    let below = target.strip_prefix(mountpoint).unwrap_or(target);
    let mut attempt = 0;
    loop {
        match create_cpuset_levels(mountpoint, below) {
            Err(Walk::Raced(_)) if attempt + 1 < ATTEMPTS => attempt += 1,
            Err(Walk::Raced(error) | Walk::Failed(error)) => return Err(error),
            Ok(()) => return Ok(()),
        }
    }
}

/// Why a walk down the cpuset levels stopped.
enum Walk {
    /// Another container's create or delete changed a level under us: worth another walk.
    Raced(CgroupError),
    Failed(CgroupError),
}

fn create_cpuset_levels(mountpoint: &Path, below: &Path) -> Result<(), Walk> {
    let mut dir = mountpoint.to_path_buf();
    for component in below.components() {
        let parent = dir.clone();
        dir.push(component);
        match fs::create_dir(&dir) {
            Ok(()) => crate::explain!("created cgroup {}", dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                let raced = source.kind() == std::io::ErrorKind::NotFound;
                let error = CgroupError::Create {
                    path: dir.clone(),
                    source,
                };
                return Err(if raced {
                    Walk::Raced(error)
                } else {
                    Walk::Failed(error)
                });
            }
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let current = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if !current.trim().is_empty() {
                continue;
            }
            let inherited = fs::read_to_string(parent.join(file)).map_err(|source| {
                Walk::Raced(CgroupError::Read {
                    path: parent.join(file),
                    source,
                })
            })?;
            if inherited.trim().is_empty() {
                // The parent was made again by another create that has not set it up yet.
                return Err(Walk::Raced(CgroupError::Read {
                    path: parent.join(file),
                    source: std::io::Error::other("empty: the cgroup is being set up"),
                }));
            }
            write_file(&dir.join(file), inherited.trim()).map_err(|error| match &error {
                CgroupError::Write { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Walk::Raced(error)
                }
                _ => Walk::Failed(error),
            })?;
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

    /// A shared parent another container's create has just made again, not yet set up (empty
    /// `cpuset.cpus` and `cpuset.mems`), is set up from its own parent before the container's
    /// level inherits from it. (A plain directory stands in for the cpuset hierarchy: reading a
    /// missing file reads as empty, as a new cgroup's do.)
    #[test]
    fn cpuset_levels_inherit_through_a_parent_left_empty() {
        let root = std::env::temp_dir().join(format!("berth-cpuset-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("berth")).unwrap();
        std::fs::write(root.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(root.join("cpuset.mems"), "0\n").unwrap();
        std::fs::write(root.join("berth/cpuset.cpus"), "\n").unwrap();

        create_cpuset_dirs(&root, &root.join("berth/c1")).unwrap();
        for level in ["berth", "berth/c1"] {
            let read = |file: &str| std::fs::read_to_string(root.join(level).join(file)).unwrap();
            assert_eq!(read("cpuset.cpus"), "0-1", "{level}");
            assert_eq!(read("cpuset.mems"), "0", "{level}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn docker_memory_cpu_pids_map_to_v1_files() {
        let r = resources(
            r#"{"memory":{"limit":104857600,"swap":209715200},
                "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0"},
                "pids":{"limit":64}}"#,
        );
        let got: Vec<(String, String)> = settings(&r)
            .expect("settings")
            .into_iter()
            .map(|s| (s.file, s.value))
            .collect();
        let got: Vec<(&str, String)> = got.iter().map(|(f, v)| (f.as_str(), v.clone())).collect();
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
        let got: Vec<(String, String)> = settings(&r)
            .expect("settings")
            .into_iter()
            .map(|s| (s.file, s.value))
            .collect();
        let got: Vec<(&str, String)> = got.iter().map(|(f, v)| (f.as_str(), v.clone())).collect();
        assert_eq!(
            got[..3],
            [
                ("devices.deny", "a *:* rwm".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 136:* rwm".to_string()),
            ]
        );
        // c 1:3 and c 136:* are allowed already: runc's defaults add only the other ten.
        assert_eq!(got.len(), 3 + DEFAULT_ALLOWED_DEVICES.len() - 2);
        assert!(
            !got[3..]
                .iter()
                .any(|(_, v)| v == "c 1:3 rwm" || v == "c 136:* rwm")
        );
    }

    #[test]
    fn a_default_device_denied_after_its_allow_is_allowed_again() {
        // runc appends its defaults after the spec's rules, so a later deny of one is undone.
        let r = resources(
            r#"{"devices":[{"allow":false,"access":"rwm"},
                           {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                           {"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#,
        );
        let values: Vec<String> = settings(&r)
            .expect("settings")
            .into_iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(values.last().map(String::as_str), Some("c 10:200 rwm"));
        assert!(values[3..].iter().any(|v| v == "c 1:3 rwm"));
        assert_eq!(values.len(), 3 + DEFAULT_ALLOWED_DEVICES.len());
    }

    #[test]
    fn unlimited_pids_write_max() {
        let r = resources(r#"{"pids":{"limit":0}}"#);
        assert_eq!(settings(&r).expect("settings")[0].value, "max");
    }

    #[test]
    fn network_hugetlb_and_swappiness_map_to_v1_files() {
        let r = resources(
            r#"{"memory":{"swappiness":30},
                "hugepageLimits":[{"pageSize":"2MB","limit":4194304}],
                "network":{"classID":1048577,"priorities":[{"name":"lo","priority":5},{"name":"eth0","priority":7}]}}"#,
        );
        let got: Vec<(&str, String, String)> = settings(&r)
            .expect("settings")
            .into_iter()
            .map(|s| (s.controller, s.file, s.value))
            .collect();
        let want = [
            ("memory", "memory.swappiness", "30"),
            ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"),
            ("net_cls", "net_cls.classid", "1048577"),
            ("net_prio", "net_prio.ifpriomap", "lo 5"),
            ("net_prio", "net_prio.ifpriomap", "eth0 7"),
        ];
        let want: Vec<(&str, String, String)> = want
            .iter()
            .map(|(c, f, v)| (*c, f.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn swappiness_is_checked_like_runc() {
        assert_eq!(swappiness(Some(u64::MAX)).expect("-1 means unset"), None);
        assert_eq!(swappiness(Some(100)).expect("in range"), Some(100));
        let err = swappiness(Some(200)).expect_err("out of range");
        assert_eq!(
            err.to_string(),
            "invalid memory swappiness value: 200 (valid range is 0-100)"
        );
    }

    #[test]
    fn a_missing_controller_is_named() {
        let cg = V1Cgroup {
            path: PathBuf::from("/x"),
            dirs: vec![(vec!["memory".to_string()], PathBuf::from("/nonexistent"))],
            unified: None,
        };
        let err = cg
            .apply(&resources(r#"{"network":{"classID":1}}"#))
            .expect_err("no net_cls");
        assert_eq!(
            err.to_string(),
            "cannot apply linux.resources.network: the net_cls cgroup controller is not available on this host"
        );
    }

    #[test]
    fn growing_swap_is_written_before_memory() {
        let r = resources(r#"{"memory":{"limit":314572800,"swap":419430400}}"#);
        let mut s = settings(&r).expect("settings");
        order_memory_and_swap(&mut s, Some(67108864));
        assert_eq!(s[0].file, "memory.memsw.limit_in_bytes");
        let mut s = settings(&r).expect("settings");
        order_memory_and_swap(&mut s, Some(9_223_372_036_854_771_712));
        assert_eq!(s[0].file, "memory.limit_in_bytes");
    }
}
