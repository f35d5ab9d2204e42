//! config.md, Process: cwd, env, args, terminal, rlimits, user, capabilities,
//! noNewPrivileges and oomScoreAdj.

use std::fs;
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::json;

use super::{base_spec, expect_create_error, name, probe, runtimes};
use crate::common::*;

/// "`cwd` (string, REQUIRED) is the working directory that will be set for the executable."
#[test]
fn cwd_is_the_working_directory() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-cwd", "echo \"cwd=$(pwd)\"", |_, spec| {
            spec["process"]["cwd"] = json!("/etc");
        });
        probe.expect("cwd", "/etc", "the working directory set for the executable");
    }
}

/// "`cwd` … This value MUST be an absolute path." (and "Runtimes MUST generate an error when
/// invalid or unsupported values are encountered")
#[test]
fn a_relative_cwd_is_an_error() {
    for runtime in runtimes() {
        expect_create_error(&runtime, "cf-cwd-rel", "a relative cwd", |_, spec| {
            spec["process"]["cwd"] = json!("etc");
        });
    }
}

/// "`env` (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's `environ`."
#[test]
fn env_is_the_environment() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-env", "env", |_, spec| {
            spec["process"]["env"] = json!(["PATH=/bin", "GREETING=hello world", "EMPTY=", "HOME=/root"]);
        });
        probe.expect("PATH", "/bin", "env is the environment");
        probe.expect("GREETING", "hello world", "env is the environment");
        probe.expect("EMPTY", "", "env is the environment");
        probe.expect("HOME", "/root", "env is the environment");
    }
}

/// "`args` … with similar semantics to `execvp`'s *argv* … at least one entry is REQUIRED, and
/// that entry is used with the same semantics as `execvp`'s *file*" (so it is looked up in PATH).
#[test]
fn args_are_the_argv_and_the_first_is_searched_in_path() {
    let program = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv%d=%s\n", i, argv[i]);
    return 0;
}
"#;
    for runtime in runtimes() {
        let bundle = Bundle::new();
        bundle.add_c_program("show-args", program);
        let tools = bundle.rootfs().join("opt/tools");
        fs::create_dir_all(&tools).expect("tools dir");
        fs::rename(bundle.rootfs().join("bin/show-args"), tools.join("show-args")).expect("move program");
        let id = unique_id("cf-args");
        let mut spec = base_spec(&bundle, &id, &["show-args", "a b", ""]);
        spec["process"]["env"] = json!(["PATH=/nowhere:/opt/tools:/bin"]);
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        let rt = name(&runtime);
        assert!(out.status.success(), "{rt}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "argc=3\nargv0=show-args\nargv1=a b\nargv2=\n",
            "{rt}: args[0] is found in PATH and argv is args"
        );
    }
}

/// "This specification extends the IEEE standard in that at least one entry is REQUIRED" (an
/// empty `args` is an error).
#[test]
fn empty_args_are_an_error() {
    for runtime in runtimes() {
        // runc refuses at create; a runtime may instead refuse at start: either way nothing runs.
        let bundle = Bundle::new();
        let id = unique_id("cf-noargs");
        let mut spec = base_spec(&bundle, &id, &[]);
        spec["process"]["args"] = json!([]);
        bundle.write_spec(&spec);
        let out = runtime.run(&bundle, &id);
        assert!(!out.status.success(), "{}: empty args ran", name(&runtime));
    }
}

/// "`terminal` (bool, OPTIONAL) specifies whether a terminal is attached to the process, defaults
/// to false" (without one, the process gets the runtime's own stdin, stdout and stderr).
#[test]
fn without_a_terminal_stdio_is_inherited() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let bundle = Bundle::new();
        let id = unique_id("cf-stdio");
        let script = "read line; echo \"out:$line\"; echo \"err:$line\" >&2; \
                      [ -t 0 ] && echo tty0; [ -t 1 ] && echo tty1; exit 0";
        let mut spec = base_spec(&bundle, &id, &["/bin/sh", "-c", script]);
        spec["process"]["terminal"] = json!(false);
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        let mut child = runtime
            .command()
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"piped\n")
            .expect("write stdin");
        let out = child.wait_with_output().expect("run");
        assert!(out.status.success(), "{rt}: {}", stderr(&out));
        assert_eq!(stdout(&out), "out:piped\n", "{rt}: stdout");
        assert_eq!(stderr(&out), "err:piped\n", "{rt}: stderr");
    }
}

/// The `/proc/self/limits` rows a probe prints, as `<name>=<soft>/<hard>`.
const PRINT_LIMITS: &str = r#"awk '
/^Max open files/     { print "nofile=" $4 "/" $5 }
/^Max core file size/ { print "core=" $5 "/" $6 }
/^Max processes/      { print "nproc=" $3 "/" $4 }
/^Max msgqueue size/  { print "msgqueue=" $4 "/" $5 }
' /proc/self/limits"#;

/// "`soft` … `rlim.rlim_cur` MUST match the configured value"; "`hard` … `rlim.rlim_max` MUST
/// match the configured value".
#[test]
fn rlimits_are_set() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-rlimits", PRINT_LIMITS, |_, spec| {
            spec["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
                {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
                {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 16384},
            ]);
        });
        probe.expect("nofile", "1000/2000", "rlim_cur and rlim_max MUST match");
        probe.expect("core", "0/4096", "rlim_cur and rlim_max MUST match");
        probe.expect("nproc", "500/600", "rlim_cur and rlim_max MUST match");
        probe.expect("msgqueue", "8192/16384", "rlim_cur and rlim_max MUST match");
    }
}

/// "The runtime MUST generate an error for any values which cannot be mapped to a relevant kernel
/// interface."
#[test]
fn an_unknown_rlimit_type_is_an_error() {
    for runtime in runtimes() {
        expect_create_error(&runtime, "cf-rlimit-bad", "RLIMIT_NO_SUCH_THING", |_, spec| {
            spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NO_SUCH_THING", "soft": 1, "hard": 1}]);
        });
    }
}

/// "If `rlimits` contains duplicated entries with same `type`, the runtime MUST generate an error."
#[test]
#[ignore = "issue 16: runc 1.1.5 accepts duplicated rlimits (the last one wins), so there is no reference"]
fn duplicated_rlimits_are_an_error() {
    for runtime in runtimes() {
        expect_create_error(
            &runtime,
            "cf-rlimit-dup",
            "two RLIMIT_NOFILE entries",
            |_, spec| {
                spec["process"]["rlimits"] = json!([
                    {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
                    {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                ]);
            },
        );
    }
}

/// "`uid` … `gid` … `additionalGids` … to be added to the process", "`umask` … of the user".
#[test]
fn the_user_is_uid_gid_additional_gids_and_umask() {
    for runtime in runtimes() {
        let script = r#"
awk '/^(Uid|Gid|Groups):/ { sub(":", "", $1); $1 = $1 "="; print }' /proc/self/status | sed 's/= /=/'
echo "umask=$(umask)"
touch /home/user/made; echo "mode=$(stat -c %a /home/user/made)"
"#;
        let probe = probe(&runtime, "cf-user", script, |bundle, spec| {
            let home = bundle.rootfs().join("home/user");
            fs::create_dir_all(&home).expect("home");
            std::os::unix::fs::chown(&home, Some(1000), Some(1001)).expect("chown home");
            spec["process"]["user"] =
                json!({"uid": 1000, "gid": 1001, "additionalGids": [1002, 1003], "umask": 0o027});
        });
        probe.expect("Uid", "1000 1000 1000 1000", "uid (real, effective, saved, fs)");
        probe.expect("Gid", "1001 1001 1001 1001", "gid (real, effective, saved, fs)");
        probe.expect("Groups", "1002 1003", "additionalGids added to the process");
        probe.expect("umask", "0027", "umask of the user");
        probe.expect("mode", "640", "files are made under the umask");
    }
}

/// The `/proc/self/status` capability lines, as `CapInh=…` etc.
const PRINT_CAPS: &str = "awk '/^Cap/ { sub(\":\", \"=\", $1); print $1 $2 }' /proc/self/status";

/// The `/proc/<pid>/status` mask of capability numbers.
fn mask(caps: &[u32]) -> String {
    format!("{:016x}", caps.iter().fold(0u64, |m, c| m | 1 << c))
}

const CHOWN: u32 = 0;
const KILL: u32 = 5;
const SETUID: u32 = 7;
const NET_RAW: u32 = 13;

/// "`capabilities` … `effective`, `bounding`, `inheritable`, `permitted`, `ambient` … kept for
/// the process" (as root: the program's permitted and effective sets are its bounding set, by
/// execve's rules for uid 0 in capabilities(7)).
#[test]
fn capability_sets_for_root() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-caps-root", PRINT_CAPS, |_, spec| {
            spec["process"]["capabilities"] = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
                "permitted": ["CAP_CHOWN", "CAP_KILL"],
                "effective": ["CAP_CHOWN"],
                "inheritable": ["CAP_KILL"],
            });
        });
        let bounding = mask(&[CHOWN, KILL, NET_RAW, SETUID]);
        probe.expect("CapBnd", &bounding, "the bounding set is kept");
        probe.expect("CapInh", &mask(&[KILL]), "the inheritable set is kept");
        probe.expect("CapPrm", &bounding, "root's permitted set after execve");
        probe.expect("CapEff", &bounding, "root's effective set after execve");
        probe.expect("CapAmb", &mask(&[]), "no ambient set asked for");
    }
}

/// "`ambient` (array of strings, OPTIONAL) the `ambient` field is an array of ambient
/// capabilities that are kept for the process" (for a non-root user, what survives execve is
/// the ambient set, which needs the permitted and inheritable sets to hold it).
#[test]
fn capability_sets_for_a_user_with_ambient_capabilities() {
    for runtime in runtimes() {
        let probe = probe(&runtime, "cf-caps-ambient", PRINT_CAPS, |_, spec| {
            spec["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            spec["process"]["capabilities"] = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
                "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "inheritable": ["CAP_CHOWN", "CAP_KILL"],
                "ambient": ["CAP_KILL"],
            });
        });
        probe.expect(
            "CapBnd",
            &mask(&[CHOWN, KILL, NET_RAW, SETUID]),
            "the bounding set is kept",
        );
        probe.expect("CapInh", &mask(&[CHOWN, KILL]), "the inheritable set is kept");
        probe.expect("CapAmb", &mask(&[KILL]), "the ambient set is kept");
        probe.expect(
            "CapPrm",
            &mask(&[KILL]),
            "a user's permitted set after execve is the ambient set",
        );
        probe.expect(
            "CapEff",
            &mask(&[KILL]),
            "a user's effective set after execve is the ambient set",
        );
    }
}

/// "setting `noNewPrivileges` to true prevents the process from gaining additional privileges"
/// (the kernel's no_new_privs bit, shown as NoNewPrivs in /proc/self/status).
#[test]
fn no_new_privileges_sets_the_bit() {
    for runtime in runtimes() {
        for (asked, bit) in [(true, "1"), (false, "0")] {
            let probe = probe(
                &runtime,
                "cf-nnp",
                "awk '/^NoNewPrivs/ { print \"nnp=\" $2 }' /proc/self/status",
                |_, spec| {
                    spec["process"]["noNewPrivileges"] = json!(asked);
                },
            );
            probe.expect("nnp", bit, &format!("noNewPrivileges {asked}"));
        }
    }
}

/// "If `oomScoreAdj` is set, the runtime MUST set `oom_score_adj` to the given value."
#[test]
fn oom_score_adj_is_set() {
    for runtime in runtimes() {
        let probe = probe(
            &runtime,
            "cf-oom",
            "echo \"adj=$(cat /proc/self/oom_score_adj)\"",
            |_, spec| {
                spec["process"]["oomScoreAdj"] = json!(123);
            },
        );
        probe.expect("adj", "123", "oom_score_adj MUST be set to the given value");
    }
}

/// "If `oomScoreAdj` is not set, the runtime MUST NOT change the value of `oom_score_adj`."
#[test]
fn an_unset_oom_score_adj_is_left_alone() {
    for runtime in runtimes() {
        let rt = name(&runtime);
        let bundle = Bundle::new();
        let id = unique_id("cf-oom-unset");
        let mut spec = base_spec(&bundle, &id, &["/bin/cat", "/proc/self/oom_score_adj"]);
        spec["process"]
            .as_object_mut()
            .expect("process")
            .remove("oomScoreAdj");
        bundle.write_spec(&spec);
        let _guard = ContainerGuard {
            runtime: &runtime,
            id: id.clone(),
        };
        // The runtime is started with oom_score_adj 7 (not the default 0), so a runtime that writes
        // any value of its own shows.
        let out = Command::new("/bin/sh")
            .args([
                "-c",
                "echo 7 > /proc/self/oom_score_adj && exec \"$@\"",
                "sh",
                runtime.bin,
            ])
            .arg("--root")
            .arg(runtime.root.path())
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert!(out.status.success(), "{rt}: {}", stderr(&out));
        assert_eq!(stdout(&out), "7\n", "{rt}: oom_score_adj MUST NOT be changed");
    }
}
