//! cgroup v1 limits land in the kernel's files; a process past its memory limit is OOM-killed.

use std::fs;
use std::path::Path;

use crate::common::*;

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
        .trim()
        .to_string()
}

#[test]
fn limits_land_in_the_v1_files() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("limits");
    let mut spec = docker_spec(&bundle, &id, &["/bin/sleep", "1000"]);
    spec["linux"]["resources"]["memory"] =
        serde_json::json!({"limit": 67108864, "swap": 134217728, "reservation": 33554432});
    spec["linux"]["resources"]["cpu"] =
        serde_json::json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"});
    spec["linux"]["resources"]["pids"] = serde_json::json!({"limit": 32});
    spec["process"]["oomScoreAdj"] = serde_json::json!(500);
    bundle.write_spec(&spec);
    let _guard = berth.create(&bundle, &id);
    let pid = berth.state(&id).expect("state")["pid"].as_i64().expect("pid");

    let cg = |controller: &str, file: &str| {
        read(
            Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(cgroup_name(&id))
                .join(file),
        )
    };
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(cg("memory", "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(cg("memory", "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(cg("cpu", "cpu.shares"), "512");
    assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cg("cpuset", "cpuset.cpus"), "0");
    assert_eq!(cg("pids", "pids.max"), "32");
    let devices = cg("devices", "devices.list");
    assert!(devices.contains("c 1:3 rwm"), "{devices}");
    assert!(!devices.contains("a *:* rwm"), "{devices}");
    for controller in ["memory", "cpu", "pids", "cpuset", "devices"] {
        assert!(
            cg(controller, "cgroup.procs")
                .lines()
                .any(|l| l == pid.to_string()),
            "init not in the {controller} cgroup"
        );
    }
    assert_eq!(read(format!("/proc/{pid}/oom_score_adj")), "500");
    let limits = read(format!("/proc/{pid}/limits"));
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("nofile line");
    let ceiling = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit")
        .1;
    let expected = ceiling.min(1_048_576).to_string();
    assert_eq!(
        nofile.split_whitespace().skip(3).take(2).collect::<Vec<_>>(),
        vec![expected.as_str(), expected.as_str()],
        "{nofile}"
    );
}

#[test]
fn a_process_past_its_memory_limit_is_oom_killed() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("oom");
    // dd allocates and fills a 64 MiB buffer in a 16 MiB cgroup without swap.
    let mut spec = docker_spec(
        &bundle,
        &id,
        &["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 16777216, "swap": 16777216});
    bundle.write_spec(&spec);
    let _guard = berth.create(&bundle, &id);
    let oom_control = Path::new("/sys/fs/cgroup/memory")
        .join(cgroup_name(&id))
        .join("memory.oom_control");
    let oom_kills = || {
        read(&oom_control)
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .map(|n| n.parse::<u64>().expect("counter"))
            .expect("oom_kill line")
    };
    assert_eq!(oom_kills(), 0);
    let pid = berth.state(&id).expect("state")["pid"].as_i64().expect("pid");
    // The init is not our child: a pidfd tells how it ended only through the counter, so also
    // watch its exit through waitid on the pidfd's process... the kernel's counter is the proof.
    let out = berth.output(&["start", &id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    wait_status(&berth, &id, "stopped");
    assert!(oom_kills() >= 1, "no OOM kill counted for pid {pid}");
}

#[test]
fn an_oom_killed_run_exits_137() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("oom-run");
    let mut spec = docker_spec(
        &bundle,
        &id,
        &["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 16777216, "swap": 16777216});
    bundle.write_spec(&spec);
    let out = berth.run(&bundle, &id);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
}

/// `/proc/PID/cgroup` of a container, with its id made generic so two runtimes compare.
fn cgroup_lines(runtime: &Runtime, id: &str) -> String {
    let pid = runtime.state(id).expect("state")["pid"].as_i64().expect("pid");
    read(format!("/proc/{pid}/cgroup")).replace(id, "ID")
}

/// Removes, when dropped, every empty cgroup directory with this name (runc's `delete` leaves
/// the parents of a nested `cgroupsPath` behind).
struct ParentCleanup(String);

impl Drop for ParentCleanup {
    fn drop(&mut self) {
        fn walk(dir: &Path, name: &str, depth: usize) {
            let Ok(entries) = fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                if entry.file_name().to_string_lossy() == name {
                    let _ = fs::remove_dir(&path);
                } else if depth > 0 {
                    walk(&path, name, depth - 1);
                }
            }
        }
        walk(Path::new("/sys/fs/cgroup"), &self.0, 4);
    }
}

#[test]
fn a_relative_cgroups_path_lands_where_runc_puts_it() {
    let places: Vec<String> = both_runtimes()
        .iter()
        .map(|runtime| {
            let bundle = Bundle::new();
            let id = unique_id("relpath");
            let _parents = ParentCleanup(cgroup_name(&id));
            let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
            // Relative: from the runtime's own cgroup in each hierarchy (this test's memory
            // cgroup may be a sub-cgroup, which is the point).
            spec["linux"]["cgroupsPath"] = serde_json::json!(format!("{}/x/../c", cgroup_name(&id)));
            bundle.write_spec(&spec);
            let _guard = runtime.create(&bundle, &id);
            let lines = cgroup_lines(runtime, &id);
            // The runtime's own cgroup is this test process's.
            let own = read("/proc/self/cgroup");
            for line in lines.lines() {
                let (prefix, path) = line.rsplit_once(':').expect("cgroup line");
                let own_path = own
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(':'))
                    .expect("own line");
                let want = Path::new(own_path).join("berth-ID/c");
                assert_eq!(Path::new(path), want, "{}: {line}", runtime.bin);
            }
            lines
        })
        .collect();
    assert_eq!(places[1], places[0], "berth-runtime's cgroups differ from runc's");
}

#[test]
fn swappiness_is_written_and_checked_like_runc() {
    if !host_is_v1() {
        eprintln!("skipped: memory.swappiness is a cgroup v1 file");
        return;
    }
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("swappiness");
        let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864, "swappiness": 30});
        bundle.write_spec(&spec);
        let guard = runtime.create(&bundle, &id);
        assert_eq!(
            read(v1_file("memory", &id, "memory.swappiness")),
            "30",
            "{}",
            runtime.bin
        );
        drop(guard);

        let id = unique_id("swappiness-bad");
        spec["linux"]["resources"]["memory"] = serde_json::json!({"swappiness": 200});
        spec["linux"]["cgroupsPath"] = serde_json::json!(format!("/{}", cgroup_name(&id)));
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let (created, err) = try_create(&runtime, &bundle, &id);
        assert!(!created, "{} accepted swappiness 200", runtime.bin);
        assert!(
            err.contains("invalid memory swappiness value: 200 (valid range is 0-100)"),
            "{}: {}",
            runtime.bin,
            err
        );
    }
}

/// Whether a v1 hierarchy carries this controller.
fn v1_has(controller: &str) -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|l| l.contains(" - cgroup "))
        .any(|l| {
            l.rsplit(' ')
                .next()
                .is_some_and(|o| o.split(',').any(|c| c == controller))
        })
}

#[test]
fn network_resources_need_net_cls_and_net_prio() {
    let resources = serde_json::json!({"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]});
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("netcls");
        let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["resources"]["network"] = resources.clone();
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let (created, err) = try_create(&runtime, &bundle, &id);
        if v1_has("net_cls") && v1_has("net_prio") {
            assert!(created, "{}: {}", runtime.bin, err);
            assert_eq!(read(v1_file("net_cls", &id, "net_cls.classid")), "1048577");
            assert!(read(v1_file("net_prio", &id, "net_prio.ifpriomap")).contains("lo 5"));
        } else {
            // runc fails too ("cannot set net_cls limit"); berth-runtime names the controller.
            assert!(!created, "{} applied network without net_cls", runtime.bin);
            if runtime.bin == BERTH {
                assert!(
                    err.contains(
                        "cannot apply linux.resources.network: the net_cls cgroup controller is not available on this host"
                    ),
                    "{}",
                    err
                );
            }
        }
    }
}

#[test]
fn hugepage_limits_land_in_the_hugetlb_controller() {
    let size = "2MB";
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").is_dir() {
        eprintln!("skipped: no 2MB huge pages on this host");
        return;
    }
    let unified_offers = fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "hugetlb"));
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("hugetlb");
        let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["resources"]["hugepageLimits"] =
            serde_json::json!([{"pageSize": size, "limit": 4194304}]);
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let (created, err) = try_create(&runtime, &bundle, &id);
        if v1_has("hugetlb") {
            assert!(created, "{}: {}", runtime.bin, err);
            assert_eq!(
                read(v1_file("hugetlb", &id, "hugetlb.2MB.limit_in_bytes")),
                "4194304"
            );
        } else if runtime.bin == BERTH && unified_offers {
            // A hybrid host with hugetlb only in the unified tree: berth-runtime limits it there
            // (runc 1.1's v1 driver cannot, and fails).
            assert!(created, "{}", err);
            let file = Path::new("/sys/fs/cgroup/unified")
                .join(cgroup_name(&id))
                .join("hugetlb.2MB.max");
            assert_eq!(read(file), "4194304");
        } else if runtime.bin == BERTH {
            assert!(
                err.contains("the hugetlb cgroup controller is not available"),
                "{}",
                err
            );
        } else {
            assert!(!created, "runc applied hugetlb without the controller");
        }
    }
}

#[test]
fn kernel_memory_is_ignored_with_runcs_warning() {
    for runtime in both_runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("kmem");
        let mut spec = shared_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["resources"]["memory"] = serde_json::json!({"kernel": 10485760, "kernelTCP": 10485760});
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let (created, err) = try_create(&runtime, &bundle, &id);
        assert!(created, "{}: {}", runtime.bin, err);
        assert!(
            err.contains("Kernel memory settings are ignored and will be removed"),
            "{}: {}",
            runtime.bin,
            err
        );
        if host_is_v1() {
            let tcp = v1_file("memory", &id, "memory.kmem.tcp.limit_in_bytes");
            if tcp.exists() {
                assert_ne!(read(tcp), "10485760", "{} wrote kernelTCP", runtime.bin);
            }
        }
    }
}
