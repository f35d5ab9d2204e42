//! config.md, Mounts: order, types, destinations, the Linux mount options, bind mounts and their
//! propagation.

use std::fs;

use serde_json::{Value, json};

use super::{HostMount, mountinfo_line, name, probe, run_host, runtimes};
use crate::common::*;

/// Append mounts to the spec's list.
fn add_mounts(spec: &mut Value, mounts: impl IntoIterator<Item = Value>) {
    spec["mounts"].as_array_mut().expect("mounts").extend(mounts);
}

/// "The runtime MUST mount entries in the listed order."
#[test]
fn mounts_are_made_in_the_listed_order() {
    for runtime in runtimes() {
        let host = tempfile::tempdir().expect("host dirs");
        for dir in ["first", "second"] {
            fs::create_dir(host.path().join(dir)).expect("dir");
            fs::write(host.path().join(dir).join(dir), "").expect("file");
        }
        let script = "echo \"top=$(ls /m | tr '\\n' ' ')\"; echo \"inner=$(ls /m/inner)\"";
        let probe = probe(&runtime, "cf-mnt-order", script, |_, spec| {
            add_mounts(
                spec,
                [
                    json!({"destination": "/m", "type": "bind", "source": host.path().join("first"), "options": ["bind"]}),
                    json!({"destination": "/m", "type": "bind", "source": host.path().join("second"), "options": ["bind"]}),
                    // Only possible after the mount above: /m/inner exists nowhere before it.
                    json!({"destination": "/m/inner", "type": "bind", "source": host.path().join("first"), "options": ["bind"]}),
                ],
            );
        });
        probe.expect("top", "inner second ", "the later mount of /m is on top");
        probe.expect("inner", "first", "mounts MUST be made in the listed order");
    }
}

/// "All of the properties configured in `config.json` except for `process` MUST be applied"
/// (each mount `type`: proc, sysfs, devpts, tmpfs, mqueue, cgroup, bind).
#[test]
fn each_mount_type_is_mounted() {
    for runtime in runtimes() {
        let script = "awk '{print $2 \"=\" $3}' /proc/self/mounts";
        let probe = probe(&runtime, "cf-mnt-types", script, |_, spec| {
            add_mounts(
                spec,
                [json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})],
            );
        });
        for (dest, fstype) in [
            ("/proc", "proc"),
            ("/sys", "sysfs"),
            ("/dev", "tmpfs"),
            ("/dev/pts", "devpts"),
            ("/dev/shm", "tmpfs"),
            ("/dev/mqueue", "mqueue"),
            ("/tmp", "tmpfs"),
        ] {
            probe.expect(dest, fstype, "the mount of this type MUST be applied");
        }
        // The bind-mounted /etc/hostname shows the file system it comes from, not "bind".
        let host_fs = fs_type_of(std::env::temp_dir().to_str().unwrap());
        probe.expect("/etc/hostname", &host_fs, "the bind mount MUST be applied");
    }
}

/// The type of the host file system holding `path` (per `stat -f`).
fn fs_type_of(path: &str) -> String {
    let out = std::process::Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "--target", path])
        .output()
        .expect("findmnt");
    stdout(&out).trim().to_string()
}

/// "All of the properties configured in `config.json` except for `process` MUST be applied"
/// (a destination missing from the rootfs is made, as a directory or as a file for a file).
#[test]
fn a_missing_destination_is_created() {
    for runtime in runtimes() {
        let host = tempfile::tempdir().expect("host dir");
        let file = host.path().join("file");
        fs::write(&file, "from the host\n").expect("file");
        let script = "echo \"deep=$(stat -c %F /new/deep/dir)\"; echo \"file=$(cat /new/file)\"";
        let probe = probe(&runtime, "cf-mnt-dest", script, |_, spec| {
            add_mounts(
                spec,
                [
                    json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs"}),
                    json!({"destination": "/new/file", "type": "bind", "source": file, "options": ["bind"]}),
                ],
            );
        });
        probe.expect("deep", "directory", "a missing mount point directory is created");
        probe.expect("file", "from the host", "a missing file mount point is created");
    }
}

/// "For compatibility with old tools and configurations, it MAY be a relative path, in which case
/// it MUST be interpreted as relative to "/"."
#[test]
fn a_relative_destination_is_relative_to_the_root() {
    for runtime in runtimes() {
        let script = "cd /tmp; echo \"rel=$(awk '$2 == \"/rel/dir\" {print $3}' /proc/self/mounts)\"";
        let probe = probe(&runtime, "cf-mnt-rel", script, |_, spec| {
            add_mounts(
                spec,
                [json!({"destination": "rel/dir", "type": "tmpfs", "source": "tmpfs"})],
            );
        });
        probe.expect("rel", "tmpfs", "a relative destination MUST be relative to /");
    }
}

/// Each tmpfs under /o: its name and its options, the later words overriding the earlier.
const OPTION_MOUNTS: [(&str, &[&str]); 23] = [
    ("ro", &["ro"]),
    ("rw", &["ro", "rw"]),
    ("nosuid", &["nosuid"]),
    ("suid", &["nosuid", "suid"]),
    ("nodev", &["nodev"]),
    ("dev", &["nodev", "dev"]),
    ("noexec", &["noexec"]),
    ("exec", &["noexec", "exec"]),
    ("noatime", &["noatime"]),
    ("atime", &["noatime", "atime"]),
    ("nodiratime", &["nodiratime"]),
    ("diratime", &["nodiratime", "diratime"]),
    ("relatime", &["relatime"]),
    ("norelatime", &["relatime", "norelatime"]),
    ("strictatime", &["strictatime"]),
    ("nostrictatime", &["strictatime", "nostrictatime"]),
    ("sync", &["sync"]),
    ("async", &["sync", "async"]),
    ("dirsync", &["dirsync"]),
    ("lazytime", &["lazytime"]),
    ("nolazytime", &["lazytime", "nolazytime"]),
    ("iversion", &["iversion", "noiversion", "silent", "loud"]),
    ("silent", &["silent"]),
];

/// "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux" (each MUST option
/// of the table: its flag shows in `/proc/self/mountinfo`; `iversion`, `noiversion`, `silent`
/// and `loud` show nowhere, but tmpfs refuses them as data, so the mount succeeding shows they
/// were taken as flags).
#[test]
fn the_must_mount_options_set_their_flags() {
    for runtime in runtimes() {
        // "<name>=<per-mount options>|<super options>" for each mount under /o.
        let script = r#"awk '$5 ~ /^\/o\// { split($0, halves, " - "); split(halves[2], sb, " ");
                              print substr($5, 4) "=" $6 "|" sb[3] }' /proc/self/mountinfo"#;
        let probe = probe(&runtime, "cf-mnt-opts", script, |_, spec| {
            add_mounts(
                spec,
                OPTION_MOUNTS.iter().map(|(dir, options)| {
                    json!({"destination": format!("/o/{dir}"), "type": "tmpfs", "source": "tmpfs", "options": options})
                }),
            );
        });
        let flags = |dir: &str| -> Vec<String> {
            let (per_mount, per_sb) = probe.get(dir).split_once('|').expect("two option lists");
            per_mount
                .split(',')
                .chain(per_sb.split(','))
                .map(str::to_string)
                .collect()
        };
        let has = |dir: &str, flag: &str| flags(dir).iter().any(|f| f == flag);
        let rt = probe.runtime;
        let check = |dir: &str, flag: &str, want: bool| {
            assert_eq!(
                has(dir, flag),
                want,
                "{rt}: option `{dir}`: flag `{flag}` in {:?}",
                flags(dir)
            );
        };
        check("ro", "ro", true);
        check("rw", "rw", true);
        check("rw", "ro", false);
        for (set, clear) in [
            ("nosuid", "suid"),
            ("nodev", "dev"),
            ("noexec", "exec"),
            ("noatime", "atime"),
            ("nodiratime", "diratime"),
            ("sync", "async"),
            ("lazytime", "nolazytime"),
        ] {
            check(set, set, true);
            check(clear, set, false);
        }
        check("dirsync", "dirsync", true);
        check("relatime", "relatime", true);
        // strictatime: neither relatime nor noatime; without it the kernel's default is relatime.
        check("strictatime", "relatime", false);
        check("strictatime", "noatime", false);
        check("nostrictatime", "relatime", true);
        check("norelatime", "relatime", true);
        check("atime", "relatime", true);
        check("iversion", "rw", true);
        check("silent", "rw", true);
    }
}

/// A host directory with a tmpfs mounted on its `sub/`, which holds a file `inner`.
struct SourceWithSubmount {
    sub: HostMount,
    dir: tempfile::TempDir,
}

impl SourceWithSubmount {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("source dir");
        fs::write(dir.path().join("top"), "").expect("top file");
        let sub = HostMount::tmpfs(&dir.path().join("sub"), None);
        fs::write(dir.path().join("sub/inner"), "").expect("inner file");
        SourceWithSubmount { sub, dir }
    }
}

/// "`bind` … Bind mount", "`rbind` … Recursive bind mount", and `ro`/`rw` on a bind mount.
#[test]
fn bind_rbind_and_read_only_binds() {
    for runtime in runtimes() {
        let source = SourceWithSubmount::new();
        let src = source.dir.path();
        let script = r#"
echo "bind=$(ls /b | tr '\n' ' ')|$(ls /b/sub)"
echo "rbind=$(ls /rb | tr '\n' ' ')|$(ls /rb/sub)"
if touch /ro/new 2>/dev/null; then echo ro=writable; else echo ro=read-only; fi
if touch /rw/new 2>/dev/null; then echo rw=writable; else echo rw=read-only; fi
"#;
        let probe = probe(&runtime, "cf-mnt-bind", script, |_, spec| {
            add_mounts(
                spec,
                [
                    json!({"destination": "/b", "type": "none", "source": src, "options": ["bind"]}),
                    json!({"destination": "/rb", "type": "none", "source": src, "options": ["rbind"]}),
                    json!({"destination": "/ro", "type": "none", "source": src, "options": ["bind", "ro"]}),
                    json!({"destination": "/rw", "type": "none", "source": src, "options": ["bind", "rw"]}),
                ],
            );
        });
        probe.expect("bind", "sub top |", "a bind mount leaves the submount behind");
        probe.expect(
            "rbind",
            "sub top |inner",
            "a recursive bind mount takes the submount",
        );
        probe.expect("ro", "read-only", "`ro` makes the bind mount read-only");
        probe.expect("rw", "writable", "`rw` leaves the bind mount writable");
        assert!(
            src.join("new").exists(),
            "{}: the rw bind is not the host dir",
            probe.runtime
        );
        drop(source.sub);
    }
}

/// "`private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`, `unbindable`, `runbindable`
/// … Bind mount propagation": each shows in the container's mountinfo, and a mount made on the
/// host afterwards reaches the shared and slave binds only.
#[test]
fn bind_propagation_options() {
    const KINDS: [&str; 8] = [
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ];
    for runtime in runtimes() {
        let rt = name(&runtime);
        let host = tempfile::tempdir().expect("host dir");
        // A shared host mount, so the container's binds of it have a peer group to follow.
        let source = HostMount::tmpfs(&host.path().join("src"), Some("--make-shared"));
        let bundle = Bundle::new();
        let id = unique_id("cf-mnt-prop");
        let mut spec = super::base_spec(&bundle, &id, &["/bin/sleep", "1000"]);
        add_mounts(
            &mut spec,
            KINDS.map(|kind| {
                json!({"destination": format!("/p/{kind}"), "type": "none", "source": source.target, "options": ["rbind", kind]})
            }),
        );
        bundle.write_spec(&spec);
        let guard = runtime.create(&bundle, &id);
        let pid = runtime.state(&guard.id).expect("state")["pid"]
            .as_i64()
            .expect("pid");
        let late = source.target.join("late");
        fs::create_dir(&late).expect("late dir");
        let _late = HostMount::tmpfs(&late, None);
        let mountinfo = fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
        for kind in KINDS {
            let line = mountinfo_line(&mountinfo, &format!("/p/{kind}"))
                .unwrap_or_else(|| panic!("{rt}: no /p/{kind} in\n{mountinfo}"));
            let optional: Vec<&str> = line.split(" - ").next().unwrap().split(' ').skip(6).collect();
            let tag = |prefix: &str| optional.iter().any(|f| f.starts_with(prefix));
            let (shared, slave, unbindable) = (tag("shared:"), tag("master:"), tag("unbindable"));
            // A shared bind may also be a slave of the host's mount (runc's root is an rslave
            // copy of the host's): only its own peer group is asked for.
            let want = match kind.trim_start_matches('r') {
                "shared" => (true, slave, false),
                "slave" => (false, true, false),
                "unbindable" => (false, false, true),
                _ => (false, false, false),
            };
            assert_eq!(
                (shared, slave, unbindable),
                want,
                "{rt}: `{kind}`: (shared, slave, unbindable) of {line}"
            );
            let got_late = mountinfo_line(&mountinfo, &format!("/p/{kind}/late")).is_some();
            assert_eq!(
                got_late,
                shared || slave,
                "{rt}: `{kind}`: a host mount made later propagated: {got_late}"
            );
        }
        drop(guard);
        run_host(&["umount", "-l"], &late);
    }
}
