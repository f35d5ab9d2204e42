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
echo "groups=$(id -G) etc=$(cat /etc/hostname /etc/hosts /etc/resolv.conf | tr '\n' ' ')"
echo "sysctl=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
echo "mounts=$(awk '{print $2":"$3}' /proc/self/mounts | grep -v cgroup | sort | tr '\n' ' ')"
"#;

#[test]
fn view_from_inside_matches_runc() {
    let view = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let id = unique_id("view");
        let mut spec = docker_spec(&bundle, &id, &["/bin/sh", "-c", VIEW]);
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

#[test]
fn user_namespace_view_matches_runc() {
    let script = "id; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /dev/null; \
                  grep -E '^Cap(Eff|Bnd):' /proc/self/status; hostname; echo pid=$$; \
                  ls /sys/fs/cgroup | tr '\\n' ' '";
    let view = |runtime: &Runtime| {
        let bundle = Bundle::new();
        // The mapped root is nobody on the host: it must be able to reach its rootfs.
        std::fs::set_permissions(bundle.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod bundle");
        let id = unique_id("userns");
        let mut spec = docker_spec(&bundle, &id, &["/bin/sh", "-c", script]);
        spec["process"]["rlimits"] = serde_json::json!([]);
        let linux = &mut spec["linux"];
        // The ping range names gids the mapping does not have.
        linux.as_object_mut().expect("linux").remove("sysctl");
        linux["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
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
    assert!(berth.contains("0     100000      65536"), "{berth}");
}

#[test]
fn read_only_root_and_no_pivot_match_runc() {
    let script = "if touch /x 2>/dev/null; then echo root=rw; else echo root=ro; fi; \
                  if touch /dev/shm/x; then echo shm=rw; fi; \
                  awk '$2 == \"/\" {print $4}' /proc/self/mounts | cut -d, -f1";
    let view = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let id = unique_id("ro");
        let mut spec = docker_spec(&bundle, &id, &["/bin/sh", "-c", script]);
        spec["process"]["rlimits"] = serde_json::json!([]);
        spec["root"]["readonly"] = serde_json::json!(true);
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime,
            id: id.clone(),
        };
        let out = runtime
            .command()
            .args(["run", "--no-pivot", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
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
    assert_eq!(berth, runc);
    assert_eq!(berth, "root=ro\nshm=rw\nro\n");
}
