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
