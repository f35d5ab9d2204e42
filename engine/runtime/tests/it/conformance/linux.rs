//! config.md's `root`, and config-linux.md's sysctl, maskedPaths, readonlyPaths and
//! rootfsPropagation.

use std::fs;

use serde_json::json;

use super::{HostMount, base_spec, expect_create_error, mountinfo_line, name, probe, runtimes};
use crate::common::*;

/// "`sysctl` (object, OPTIONAL) allows kernel parameters to be modified at runtime for the
/// container" (in the container's namespaces: the host keeps its values).
#[test]
fn sysctls_are_set_in_the_container() {
    let host_before = fs::read_to_string("/proc/sys/net/core/somaxconn").expect("host somaxconn");
    for runtime in runtimes() {
        let script = "for k in kernel/shmmax net/ipv4/ip_forward net/core/somaxconn; do \
                      echo \"$k=$(cat /proc/sys/$k)\"; done";
        let probe = probe(&runtime, "cf-sysctl", script, |_, spec| {
            spec["linux"]["sysctl"] = json!({
                "kernel.shmmax": "123456789",
                "net.ipv4.ip_forward": "1",
                "net.core.somaxconn": "321",
            });
        });
        probe.expect("kernel/shmmax", "123456789", "an ipc sysctl is set");
        probe.expect("net/ipv4/ip_forward", "1", "a net sysctl is set");
        probe.expect("net/core/somaxconn", "321", "a net sysctl is set");
    }
    let host_after = fs::read_to_string("/proc/sys/net/core/somaxconn").expect("host somaxconn");
    assert_eq!(host_after, host_before, "the host's somaxconn changed");
}

/// "`maskedPaths` (array of strings, OPTIONAL) will mask over the provided paths inside the
/// container so that they cannot be read."
#[test]
fn masked_paths_cannot_be_read() {
    for runtime in runtimes() {
        let script = r#"
echo "kcore=$(cat /proc/kcore | wc -c)"
echo "secret=$(cat /etc/secret)"
echo "private=$(ls /opt/private | wc -l)"
echo "firmware=$(ls /sys/firmware | wc -l)"
"#;
        let probe = probe(&runtime, "cf-masked", script, |bundle, spec| {
            fs::write(bundle.rootfs().join("etc/secret"), "the secret").expect("secret");
            fs::create_dir_all(bundle.rootfs().join("opt/private")).expect("private dir");
            fs::write(bundle.rootfs().join("opt/private/key"), "key").expect("key");
            spec["linux"]["maskedPaths"] =
                json!(["/proc/kcore", "/etc/secret", "/opt/private", "/sys/firmware"]);
        });
        probe.expect("kcore", "0", "a masked proc file reads nothing");
        probe.expect("secret", "", "a masked file reads nothing");
        probe.expect("private", "0", "a masked directory lists nothing");
        probe.expect("firmware", "0", "a masked sysfs directory lists nothing");
    }
}

/// "`readonlyPaths` (array of strings, OPTIONAL) will set the provided paths as readonly inside
/// the container."
#[test]
fn readonly_paths_cannot_be_written() {
    for runtime in runtimes() {
        let script = r#"
w() { if (echo x > "$1") 2>/dev/null; then echo "$2=writable"; else echo "$2=read-only"; fi; }
w /data/new data
w /data2/new data2
w /proc/sys/kernel/shmmax procsys
w /proc/sysrq-trigger sysrq
"#;
        let probe = probe(&runtime, "cf-readonly", script, |bundle, spec| {
            for dir in ["data", "data2"] {
                fs::create_dir_all(bundle.rootfs().join(dir)).expect("dir");
            }
            spec["linux"]["readonlyPaths"] = json!(["/data", "/proc/sys", "/proc/sysrq-trigger"]);
        });
        probe.expect("data", "read-only", "a read-only directory of the rootfs");
        probe.expect("data2", "writable", "a directory not listed stays writable");
        probe.expect("procsys", "read-only", "/proc/sys read-only");
        probe.expect("sysrq", "read-only", "a read-only proc file");
    }
}

/// "`readonly` (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the
/// container" (the mounts on it keep their own options).
#[test]
fn a_readonly_root_is_read_only() {
    for runtime in runtimes() {
        let script = r#"
if touch /new 2>/dev/null; then echo root=writable; else echo root=read-only; fi
if touch /tmp/new 2>/dev/null; then echo tmp=writable; else echo tmp=read-only; fi
"#;
        let probe = probe(&runtime, "cf-roroot", script, |_, spec| {
            spec["root"]["readonly"] = json!(true);
            spec["mounts"]
                .as_array_mut()
                .expect("mounts")
                .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
        });
        probe.expect("root", "read-only", "the root filesystem MUST be read-only");
        probe.expect("tmp", "writable", "a tmpfs on a read-only root stays writable");
    }
}

/// "`root` … `path` … is either an absolute path or a relative path to the bundle" and "A
/// directory MUST exist at the path declared by the field" (so a missing one is an error).
#[test]
fn the_root_path_is_absolute_or_relative_to_the_bundle_and_must_exist() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-rootpath", "echo ok=yes", |bundle, spec| {
            spec["root"]["path"] = json!(bundle.rootfs());
        });
        probe.expect("ok", "yes", "an absolute root path");
        expect_create_error(
            &runtime,
            "cf-rootpath-missing",
            "a missing root directory",
            |_, spec| {
                spec["root"]["path"] = json!("no-such-rootfs");
            },
        );
    }
}

/// "`rootfsPropagation` (string, OPTIONAL) sets the rootfs's mount propagation" (`private`:
/// "the rootfs mount doesn't receive mount propagation events from the host", even when the
/// rootfs sits in a shared host mount). runc 1.1.5 leaves the final root private whatever the
/// value, so `shared`, `slave` and `unbindable` have no reference to compare with.
#[test]
fn rootfs_propagation_private_is_private() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let bundle = Bundle::new();
        // The rootfs in a shared peer group of its own on the host.
        let shared = HostMount::bind_self(&bundle.rootfs(), "--make-shared");
        let id = unique_id("cf-rootprop");
        let mut spec = base_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        spec["linux"]["rootfsPropagation"] = json!("private");
        bundle.write_spec(&spec);
        let guard = runtime.create(&bundle, &id);
        let pid = runtime.state(&guard.id).expect("state")["pid"]
            .as_i64()
            .expect("pid");
        // A mount made on the host in the rootfs afterwards must not reach the container.
        let late = shared.target.join("tmp");
        let _late = HostMount::tmpfs(&late, None);
        let mountinfo = fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
        let root = mountinfo_line(&mountinfo, "/").unwrap_or_else(|| panic!("{rt}: no / in {mountinfo}"));
        let tags: Vec<&str> = root.split(" - ").next().unwrap().split(' ').skip(6).collect();
        assert!(
            !tags
                .iter()
                .any(|t| t.starts_with("shared:") || t.starts_with("master:")),
            "{rt}: rootfsPropagation private: root mount {root}"
        );
        assert!(
            mountinfo_line(&mountinfo, "/tmp").is_none(),
            "{rt}: a host mount reached the private rootfs:\n{mountinfo}"
        );
    }
}
