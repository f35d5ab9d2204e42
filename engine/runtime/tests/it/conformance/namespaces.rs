//! config-linux.md, Namespaces: new ones, joined ones, inherited ones, and the errors.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{expect_create_error, name, namespaces, probe, runtimes};
use crate::common::*;

/// The namespace kinds of `/proc/<pid>/ns/`, and the spec's name for each.
const KINDS: [(&str, &str); 7] = [
    ("pid", "pid"),
    ("net", "network"),
    ("mnt", "mount"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("cgroup", "cgroup"),
    ("user", "user"),
];

/// Prints `<kind>=<namespace>` for each kind, as the container sees itself.
const PRINT_NAMESPACES: &str =
    "for ns in pid net mnt ipc uts cgroup user; do echo \"$ns=$(readlink /proc/self/ns/$ns)\"; done";

/// The namespace of `kind` that process `pid` is in (e.g. `net:[4026531840]`).
fn ns_of(pid: &str, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .expect("read namespace link")
        .to_string_lossy()
        .into_owned()
}

/// "If `path` is not specified, the runtime MUST create a new container namespace of type `type`."
#[test]
fn a_namespace_without_a_path_is_new() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-ns-new", PRINT_NAMESPACES, |bundle, spec| {
            // The mapped root is nobody on the host: it must be able to reach its rootfs.
            fs::set_permissions(bundle.path(), PermissionsExt::from_mode(0o755)).expect("chmod bundle");
            namespaces(spec).extend([json!({"type": "cgroup"}), json!({"type": "user"})]);
            spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            // The ping range names gids the mapping does not have.
            spec["linux"].as_object_mut().expect("linux").remove("sysctl");
        });
        for (kind, spec_name) in KINDS {
            assert_ne!(
                probe.get(kind),
                ns_of("self", kind),
                "{}: a `{spec_name}` namespace without a path MUST be new",
                probe.runtime
            );
        }
    }
}

/// "If a namespace type is not specified in the `namespaces` array, the container MUST inherit
/// the runtime namespace of that type."
#[test]
fn an_unlisted_namespace_is_inherited() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-ns-inherit", PRINT_NAMESPACES, |_, spec| {
            *namespaces(spec) = vec![json!({"type": "mount"})];
            // Without their namespaces the hostname and the net sysctls would touch the host.
            let linux = spec["linux"].as_object_mut().expect("linux");
            linux.remove("sysctl");
            spec.as_object_mut().expect("spec").remove("hostname");
        });
        for (kind, spec_name) in KINDS {
            if kind == "mnt" {
                continue;
            }
            assert_eq!(
                probe.get(kind),
                ns_of("self", kind),
                "{}: an unlisted `{spec_name}` namespace MUST be the runtime's",
                probe.runtime
            );
        }
    }
}

/// A host process in namespaces of its own (made by util-linux's `unshare`), killed on drop.
struct Holder {
    unshare: Child,
    /// The pid of `sleep`, the process inside the new namespaces.
    pid: String,
}

impl Holder {
    /// `unshare <flags> --fork <program>`; the program must end by exec'ing `sleep`.
    fn new(flags: &[&str], program: &[&str]) -> Self {
        let unshare = Command::new("unshare")
            .args(flags)
            .arg("--fork")
            .args(program)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut holder = Holder {
            unshare,
            pid: String::new(),
        };
        while holder.pid.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            let pids = fs::read_to_string(&children).unwrap_or_default();
            holder.pid = pids.split_whitespace().next().unwrap_or("").to_string();
        }
        assert!(!holder.pid.is_empty(), "unshare {flags:?} made no child");
        // Wait until the child is sleep (not the forked unshare before its exec).
        while Instant::now() < deadline
            && fs::read_to_string(format!("/proc/{}/comm", holder.pid)).unwrap_or_default() != "sleep\n"
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        holder
    }

    fn ns_path(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.pid)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", &self.pid]).status();
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// "The runtime MUST place the container process in the namespace associated with that `path`."
#[test]
fn a_namespace_with_a_path_is_joined() {
    let holder = Holder::new(
        &["--net", "--ipc", "--uts", "--cgroup", "--pid"],
        &["sleep", "1000"],
    );
    let joined = [
        ("net", "network"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("cgroup", "cgroup"),
        ("pid", "pid"),
    ];
    for runtime in runtimes() {
        let script = format!("{PRINT_NAMESPACES}; echo \"first=$(cat /proc/1/comm)\"");
        let probe = probe(&runtime, "cf-ns-join", &script, |_, spec| {
            let list = namespaces(spec);
            list.retain(|ns| ns["type"] == "mount");
            for (kind, spec_name) in joined {
                list.push(json!({"type": spec_name, "path": holder.ns_path(kind)}));
            }
        });
        for (kind, spec_name) in joined {
            assert_eq!(
                probe.get(kind),
                ns_of(&holder.pid, kind),
                "{}: the `{spec_name}` namespace at the path MUST be joined",
                probe.runtime
            );
        }
        // The proc mounted inside shows the joined pid namespace, whose first process is sleep.
        probe.expect("first", "sleep", "the pid namespace at the path MUST be joined");
    }
}

/// "The runtime MUST place the container process in the namespace associated with that `path`"
/// (a user namespace, with the mappings it already has).
#[test]
fn a_user_namespace_with_a_path_is_joined() {
    // A new user namespace, mapped from here (util-linux's own mapping needs newuidmap).
    let holder = Holder::new(&["--user"], &["sleep", "1000"]);
    for map in ["uid_map", "gid_map"] {
        fs::write(format!("/proc/{}/{map}", holder.pid), "0 100000 65536\n").expect("write map");
    }
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-ns-join-user", PRINT_NAMESPACES, |bundle, spec| {
            fs::set_permissions(bundle.path(), PermissionsExt::from_mode(0o755)).expect("chmod bundle");
            namespaces(spec).push(json!({"type": "user", "path": holder.ns_path("user")}));
            // The mappings the joined namespace has.
            spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            spec["linux"].as_object_mut().expect("linux").remove("sysctl");
        });
        assert_eq!(
            probe.get("user"),
            ns_of(&holder.pid, "user"),
            "{}: the user namespace at the path MUST be joined",
            probe.runtime
        );
    }
}

/// "The runtime MUST place the container process in the namespace associated with that `path`"
/// (a mount namespace: the container sees a mount only that namespace has).
#[test]
fn a_mount_namespace_with_a_path_is_joined() {
    for runtime in runtimes() {
        let bundle = Bundle::new();
        let id = unique_id("cf-ns-join-mnt");
        let marker = bundle.rootfs().join("marker");
        fs::create_dir_all(&marker).expect("marker dir");
        // A mount namespace in which (only) the bundle's rootfs/marker is a tmpfs.
        let script = format!("mount -t tmpfs marker {}; exec sleep 1000", marker.display());
        let holder = Holder::new(&["--mount", "--propagation", "private"], &["sh", "-c", &script]);
        std::thread::sleep(Duration::from_millis(200));
        let mut spec = super::base_spec(
            &bundle,
            &id,
            &[
                "/bin/sh",
                "-c",
                "echo \"mnt=$(readlink /proc/self/ns/mnt)\"; grep -c ' /marker ' /proc/self/mountinfo",
            ],
        );
        for ns in namespaces(&mut spec).iter_mut() {
            if ns["type"] == "mount" {
                ns["path"] = json!(holder.ns_path("mnt"));
            }
        }
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        let rt = name(&runtime);
        assert!(out.status.success(), "{rt}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&ns_of(&holder.pid, "mnt")), "{rt}: {text}");
        assert!(text.ends_with("1\n"), "{rt}: the marker mount is missing: {text}");
    }
}

/// "The runtime MUST generate an error if `path` is not associated with a namespace of type `type`."
#[test]
fn a_path_to_another_kind_of_namespace_errors() {
    for runtime in runtimes() {
        expect_create_error(
            &runtime,
            "cf-ns-wrong",
            "a uts namespace given as network",
            |_, spec| {
                for ns in namespaces(spec).iter_mut() {
                    if ns["type"] == "network" {
                        ns["path"] = json!("/proc/1/ns/uts");
                    }
                }
            },
        );
    }
}

/// "If a `namespaces` field contains duplicated namespaces with same `type`, the runtime MUST
/// generate an error."
#[test]
fn duplicated_namespace_types_error() {
    for runtime in runtimes() {
        expect_create_error(&runtime, "cf-ns-dup", "two ipc namespaces", |_, spec| {
            namespaces(spec).push(json!({"type": "ipc"}));
        });
    }
}

/// "`uts` the container will be able to have its own hostname" (`hostname`: "the container's
/// hostname as seen by processes running inside the container"; runc 1.1.5 has no `domainname`).
#[test]
fn the_hostname_is_set_in_the_uts_namespace() {
    let host_name = fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-uts", "echo \"hostname=$(hostname)\"", |_, spec| {
            spec["hostname"] = json!("conformance-host");
        });
        probe.expect("hostname", "conformance-host", "hostname as seen inside");
    }
    let after = fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    assert_eq!(after, host_name, "the host's hostname changed");
}
