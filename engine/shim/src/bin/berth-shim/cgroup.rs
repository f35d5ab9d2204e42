//! The container cgroup's OOM-kill counter, read when init exits to tell an OOM kill from any
//! other SIGKILL.
//!
//! The cgroup is `linux.cgroupsPath` of the bundle's config.json (`/berth/<id>`), a path below
//! each hierarchy. cgroup v1 counts kills in `memory/<path>/memory.oom_control` (`oom_kill N`),
//! v2 in `<path>/memory.events`. On a hybrid machine the memory controller sits on v1 and v2 is
//! mounted at `unified`; on a pure v2 machine `/sys/fs/cgroup` itself is v2.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use berth_api::explain::TARGET;
use tracing::info;

/// Where the kernel's cgroup hierarchies are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// `linux.cgroupsPath` from a bundle's config.json, when it is a cgroupfs path (systemd's
/// `slice:prefix:name` form is not one).
pub fn cgroups_path_of_bundle(bundle: &Path) -> Option<String> {
    let text = fs::read(bundle.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let path = config.get("linux")?.get("cgroupsPath")?.as_str()?;
    (!path.is_empty() && !path.contains(':')).then(|| path.to_owned())
}

/// The file that counts OOM kills for the cgroup at `cgroups_path`, under `root`: the first that
/// exists of v2 (when `root` is a v2 mount), v1 memory, hybrid v2 at `unified`.
pub fn oom_counter_file(root: &Path, cgroups_path: &str) -> Option<PathBuf> {
    let relative = Path::new(cgroups_path.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let candidates = if root.join("cgroup.controllers").exists() {
        vec![root.join(relative).join("memory.events")]
    } else {
        vec![
            root.join("memory").join(relative).join("memory.oom_control"),
            root.join("unified").join(relative).join("memory.events"),
        ]
    };
    candidates.into_iter().find(|file| file.exists())
}

/// The `oom_kill` count in a `memory.oom_control` or `memory.events` file.
pub fn read_oom_kills(file: &Path) -> io::Result<u64> {
    let text = fs::read_to_string(file)?;
    let count = parse_oom_kill(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no oom_kill line in {}", file.display()),
        )
    })?;
    info!(target: TARGET, "read oom_kill {count} from {}", file.display());
    Ok(count)
}

fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill ")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_and_v2_counters() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(v1), Some(2));
        assert_eq!(parse_oom_kill(v2), Some(1));
        assert_eq!(parse_oom_kill("oom 1\n"), None);
    }

    #[test]
    fn finds_the_counter_on_a_hybrid_layout() {
        let root = tempfile::tempdir().unwrap();
        let v1 = root.path().join("memory/berth/c1");
        fs::create_dir_all(&v1).unwrap();
        fs::write(v1.join("memory.oom_control"), "oom_kill 1\n").unwrap();
        let file = oom_counter_file(root.path(), "/berth/c1").unwrap();
        assert_eq!(file, v1.join("memory.oom_control"));
        assert_eq!(read_oom_kills(&file).unwrap(), 1);
        // Only the unified (v2) hierarchy has the cgroup: use its memory.events.
        let v2 = root.path().join("unified/berth/c2");
        fs::create_dir_all(&v2).unwrap();
        fs::write(v2.join("memory.events"), "oom_kill 0\n").unwrap();
        assert_eq!(
            oom_counter_file(root.path(), "/berth/c2").unwrap(),
            v2.join("memory.events")
        );
        assert_eq!(oom_counter_file(root.path(), "/berth/none"), None);
    }

    #[test]
    fn finds_the_counter_on_pure_v2() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "memory pids\n").unwrap();
        let cgroup = root.path().join("berth/c1");
        fs::create_dir_all(&cgroup).unwrap();
        fs::write(cgroup.join("memory.events"), "oom_kill 3\n").unwrap();
        assert_eq!(
            oom_counter_file(root.path(), "/berth/c1").unwrap(),
            cgroup.join("memory.events")
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_hierarchy() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(oom_counter_file(root.path(), "/berth/../../etc"), None);
    }

    #[test]
    fn reads_cgroups_path_from_the_bundle() {
        let bundle = tempfile::tempdir().unwrap();
        fs::write(
            bundle.path().join("config.json"),
            r#"{"linux":{"cgroupsPath":"/berth/c1"}}"#,
        )
        .unwrap();
        assert_eq!(
            cgroups_path_of_bundle(bundle.path()).as_deref(),
            Some("/berth/c1")
        );
        fs::write(
            bundle.path().join("config.json"),
            r#"{"linux":{"cgroupsPath":"system.slice:berth:c1"}}"#,
        )
        .unwrap();
        assert_eq!(cgroups_path_of_bundle(bundle.path()), None);
    }
}
