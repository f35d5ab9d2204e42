//! The same Docker-like bundle run by runc and by berth-runtime shows the same view from inside.

use crate::common::*;

/// What the container reports about itself.
const VIEW: &str = r#"
grep -E '^(CapEff|CapBnd|CapPrm|CapInh|NoNewPrivs|Seccomp):' /proc/self/status
echo "hostname=$(hostname)"
echo "uid=$(id -u) gid=$(id -g)"
echo "pid=$$"
echo "dev=$(ls /dev | tr '\n' ' ')"
echo "kcore=$(cat /proc/kcore | wc -c)"
echo "nofile=$(ulimit -n)"
echo "cwd=$(pwd)"
echo "home=$HOME"
echo "mounts=$(awk '{print $2":"$3}' /proc/self/mounts | grep -v cgroup | sort | tr '\n' ' ')"
"#;

#[test]
fn view_from_inside_matches_runc() {
    let view = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let id = unique_id("view");
        let mut spec = docker_spec(&id, &["/bin/sh", "-c", VIEW]);
        // runc refuses Docker's NOFILE 1048576 above this host's hard limit (berth-runtime
        // clamps it, see the cgroups tests); compare with a request both can honour.
        spec["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]);
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        assert!(
            out.status.success(),
            "{} run failed: {}",
            runtime.bin,
            stderr(&out)
        );
        stdout(&out)
    };
    let runc = view(&Runtime::runc());
    let berth = view(&Runtime::berth());
    assert_eq!(berth, runc, "berth-runtime's view differs from runc's");
    // And the view is the one Docker promises.
    assert!(berth.contains("CapEff:\t00000000a80425fb"), "{berth}");
    assert!(berth.contains("NoNewPrivs:\t0"), "{berth}");
    assert!(berth.contains("Seccomp:\t2"), "{berth}");
    assert!(berth.contains("hostname=berthtest"), "{berth}");
    assert!(berth.contains("pid=1\n"), "{berth}");
    assert!(berth.contains("kcore=0\n"), "{berth}");
}
