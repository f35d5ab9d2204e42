//! cgroup v2: one directory in the unified tree; controllers are enabled level by level through
//! each parent's `cgroup.subtree_control`, and the files have v2 names and units.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::{CgroupError, create_dir, write_file};

/// The controllers a container's cgroup needs, when the host offers them.
const WANTED: [&str; 6] = ["cpu", "cpuset", "hugetlb", "io", "memory", "pids"];

/// A container's v2 cgroup.
#[derive(Debug, Clone)]
pub struct V2Cgroup {
    /// The directory (`/sys/fs/cgroup/berth/<id>`).
    pub dir: PathBuf,
}

/// v1's cpu.shares (2…262144) onto v2's cpu.weight (1…10000), the conversion runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// The files to write for the spec's resources: `(file, value)` in order. Resources v2 has no
/// controller for at all (net_cls, net_prio) are an error naming the controller.
pub fn settings(resources: &LinuxResources) -> Result<Vec<(String, String)>, CgroupError> {
    if let Some(network) = resources.network() {
        let controller = if network.class_id().is_some() {
            "net_cls"
        } else {
            "net_prio"
        };
        return Err(CgroupError::MissingController {
            resource: "network",
            controller: controller.to_string(),
        });
    }
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |file: &str, value: String| out.push((file.to_string(), value));
    let max_or = |v: i64| {
        if v < 0 { "max".to_string() } else { v.to_string() }
    };
    if let Some(memory) = resources.memory() {
        let limit = memory.limit().filter(|l| *l != 0);
        if let Some(limit) = limit {
            push("memory.max", max_or(limit));
        }
        // The spec's swap is memory + swap (v1's memsw); v2 limits swap alone.
        match (memory.swap().filter(|s| *s != 0), limit) {
            (Some(-1), _) => push("memory.swap.max", "max".to_string()),
            (Some(swap), Some(limit)) if limit > 0 && swap >= limit => {
                push("memory.swap.max", (swap - limit).to_string())
            }
            _ => {}
        }
        if let Some(reservation) = memory.reservation().filter(|r| *r != 0) {
            push("memory.low", max_or(reservation));
        }
        if memory.disable_oom_killer() == Some(true) {
            push("memory.oom.group", "0".to_string());
        }
        if super::v1::swappiness(memory.swappiness())?.is_some() {
            // runc's fs2 driver ignores it too: v2 has no per-cgroup swappiness.
            tracing::warn!("memory.swappiness has no cgroup v2 file; not applied");
        }
    }
    if let Some(cpu) = resources.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s != 0) {
            push("cpu.weight", shares_to_weight(shares).to_string());
        }
        let quota = cpu.quota().filter(|q| *q != 0);
        let period = cpu.period().filter(|p| *p != 0);
        if quota.is_some() || period.is_some() {
            let quota = match quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            push("cpu.max", format!("{quota} {}", period.unwrap_or(100_000)));
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            push("cpuset.cpus", cpus.clone());
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            push("cpuset.mems", mems.clone());
        }
    }
    if let Some(pids) = resources.pids() {
        let value = if pids.limit() > 0 {
            pids.limit().to_string()
        } else {
            "max".to_string()
        };
        push("pids.max", value);
    }
    for limit in resources.hugepage_limits().as_deref().unwrap_or(&[]) {
        push(
            &format!("hugetlb.{}.max", limit.page_size()),
            limit.limit().to_string(),
        );
    }
    if let Some(unified) = resources.unified() {
        let mut keys: Vec<_> = unified.iter().collect();
        keys.sort();
        for (file, value) in keys {
            push(file, value.clone());
        }
    }
    Ok(out)
}

/// The controller a v2 file belongs to (`memory.max` → `memory`).
fn controller_of(file: &str) -> &str {
    file.split('.').next().unwrap_or(file)
}

impl V2Cgroup {
    /// Make `root/path`, enabling the wanted controllers on every level above it.
    pub fn create(root: &Path, path: &Path) -> Result<Self, CgroupError> {
        let mut dir = root.to_path_buf();
        for component in path.components() {
            enable_controllers(&dir)?;
            dir.push(component);
            create_dir(&dir)?;
        }
        Ok(Self { dir })
    }

    /// Write the limits.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        if resources.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            tracing::warn!("device rules need an eBPF program on cgroup v2; not applied");
        }
        super::v1::warn_kernel_memory(resources);
        for (file, value) in settings(resources)? {
            let path = self.dir.join(&file);
            if let Err(err) = write_file(&path, &value) {
                // A file that is not there because its controller is not: say which.
                let controller = controller_of(&file);
                let offered = fs::read_to_string(self.dir.join("cgroup.controllers")).unwrap_or_default();
                if !path.exists() && !offered.split_whitespace().any(|c| c == controller) {
                    return Err(CgroupError::MissingController {
                        resource: resource_of(controller),
                        controller: controller.to_string(),
                    });
                }
                return Err(err);
            }
        }
        Ok(())
    }
}

/// The spec's resource a v2 controller serves, for messages.
fn resource_of(controller: &str) -> &'static str {
    match controller {
        "memory" => "memory",
        "cpu" | "cpuset" => "cpu",
        "pids" => "pids",
        "io" => "blockIO",
        "hugetlb" => "hugepageLimits",
        _ => "unified",
    }
}

/// Enable one controller on every level of the tree above `dir` (for hugetlb in the unified
/// tree of a hybrid host, which is enabled only when a container asks for it).
pub fn enable_controller_down_to(dir: &Path, controller: &str) -> Result<(), CgroupError> {
    let mut levels: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|p| p.join("cgroup.controllers").exists())
        .collect();
    levels.reverse();
    for level in levels {
        let enabled = fs::read_to_string(level.join("cgroup.subtree_control")).unwrap_or_default();
        if !enabled.split_whitespace().any(|c| c == controller) {
            write_file(&level.join("cgroup.subtree_control"), &format!("+{controller}"))?;
        }
    }
    Ok(())
}

/// Enable, in `dir`'s `cgroup.subtree_control`, the wanted controllers that `dir` has.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available_path = dir.join("cgroup.controllers");
    let available = fs::read_to_string(&available_path).map_err(|source| CgroupError::Read {
        path: available_path,
        source,
    })?;
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| WANTED.contains(c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_file(&dir.join("cgroup.subtree_control"), &missing.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory laid out like a cgroup2 mount's root, as far as these writers look.
    fn fake_cgroupfs(controllers: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(root.path().join("cgroup.controllers"), controllers).expect("controllers");
        fs::write(root.path().join("cgroup.subtree_control"), "").expect("subtree_control");
        root
    }

    fn resources(json: &str) -> LinuxResources {
        serde_json::from_str(json).expect("resources")
    }

    #[test]
    fn creating_enables_the_offered_controllers() {
        let root = fake_cgroupfs("cpuset cpu io memory hugetlb pids rdma misc");
        // The kernel fills cgroup.controllers of each new level; the fake does it by hand.
        fs::create_dir(root.path().join("berth")).expect("mkdir");
        fs::write(root.path().join("berth/cgroup.controllers"), "cpu memory pids").expect("w");
        let cg = V2Cgroup::create(root.path(), Path::new("berth/c1")).expect("create");
        assert_eq!(cg.dir, root.path().join("berth/c1"));
        assert!(cg.dir.is_dir());
        let top = fs::read_to_string(root.path().join("cgroup.subtree_control")).expect("read");
        assert_eq!(top, "+cpuset +cpu +io +memory +hugetlb +pids");
        let mid = fs::read_to_string(root.path().join("berth/cgroup.subtree_control")).expect("read");
        assert_eq!(mid, "+cpu +memory +pids");
    }

    #[test]
    fn limits_land_in_v2_files() {
        let root = fake_cgroupfs("cpu memory pids cpuset");
        let cg = V2Cgroup::create(root.path(), Path::new("c2")).expect("create");
        cg.apply(&resources(
            r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":52428800},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1","mems":"0"},
                "pids":{"limit":100}}"#,
        ))
        .expect("apply");
        let read = |f: &str| fs::read_to_string(cg.dir.join(f)).expect(f);
        assert_eq!(read("memory.max"), "104857600");
        assert_eq!(read("memory.swap.max"), "104857600");
        assert_eq!(read("memory.low"), "52428800");
        assert_eq!(read("cpu.weight"), "39");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("cpuset.cpus"), "0-1");
        assert_eq!(read("cpuset.mems"), "0");
        assert_eq!(read("pids.max"), "100");
    }

    #[test]
    fn unlimited_values_are_written_as_max() {
        let r = resources(r#"{"memory":{"limit":-1,"swap":-1},"cpu":{"quota":-1},"pids":{"limit":-1}}"#);
        assert_eq!(
            settings(&r).expect("settings"),
            vec![
                ("memory.max".to_string(), "max".to_string()),
                ("memory.swap.max".to_string(), "max".to_string()),
                ("cpu.max".to_string(), "max 100000".to_string()),
                ("pids.max".to_string(), "max".to_string()),
            ]
        );
    }

    #[test]
    fn hugetlb_goes_to_v2_files_and_net_cls_is_refused() {
        let r = resources(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#);
        assert_eq!(
            settings(&r).expect("settings"),
            vec![("hugetlb.2MB.max".to_string(), "4194304".to_string())]
        );
        let r = resources(r#"{"network":{"classID":1}}"#);
        assert_eq!(
            settings(&r).expect_err("no net_cls").to_string(),
            "cannot apply linux.resources.network: the net_cls cgroup controller is not available on this host"
        );
    }

    #[test]
    fn a_write_to_a_controller_the_cgroup_lacks_names_it() {
        let root = fake_cgroupfs("cpu memory pids");
        let cg = V2Cgroup::create(root.path(), Path::new("c3")).expect("create");
        fs::write(cg.dir.join("cgroup.controllers"), "cpu memory pids").expect("w");
        // A fake cgroupfs accepts any file, so take the directory away under the write.
        let cg = V2Cgroup {
            dir: cg.dir.join("gone"),
        };
        let err = cg
            .apply(&resources(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#))
            .expect_err("no hugetlb");
        assert!(matches!(err, CgroupError::MissingController { .. }), "{err}");
    }

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
