//! runc's command line beyond the lifecycle: `ps`, `list`, `features`, exec's flags,
//! `--preserve-fds` and the global flags, each compared with what runc does for its own
//! containers.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::*;

/// A Docker-like spec both runtimes can run here (runc refuses Docker's NOFILE above this
/// host's hard limit), with an annotation so `list` has some to show.
fn spec(bundle: &Bundle, id: &str, args: &[&str]) -> Value {
    let mut spec = docker_spec(bundle, id, args);
    spec["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}]);
    spec["annotations"] = json!({"org.berth.test": "cli"});
    spec
}

/// A started `sleep 1000` container of `runtime`.
fn running<'a>(runtime: &'a Runtime, bundle: &Bundle, label: &str) -> ContainerGuard<'a> {
    let id = unique_id(label);
    bundle.write_spec(&spec(bundle, &id, &["/bin/sleep", "1000"]));
    let guard = runtime.create(bundle, &id);
    let out = runtime.output(&["start", &id]);
    assert!(out.status.success(), "{} start: {}", runtime.bin, stderr(&out));
    guard
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "failed: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// `exec --detach`; its stderr goes to a file: the process keeps it, so a pipe would never end.
fn exec_detached(runtime: &Runtime, id: &str, pid_file: &Path, args: &[&str]) {
    let err_path = pid_file.with_extension("stderr");
    let err_file = fs::File::create(&err_path).expect("stderr file");
    let status = runtime
        .command()
        .args(["exec", "--detach", "--pid-file"])
        .arg(pid_file)
        .arg(id)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .status()
        .expect("exec -d");
    let err = fs::read_to_string(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&err_path);
    assert!(status.success(), "{} exec -d: {err}", runtime.bin);
}

// ---- ps ----

/// The column of `title` in a ps table, and each row's cells from it on.
fn ps_rows(table: &str) -> (String, Vec<Vec<String>>) {
    let mut lines = table.lines();
    let header = lines.next().expect("a header").to_string();
    let rows = lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn ps_matches_runc() {
    let look = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let guard = running(runtime, &bundle, "ps");
        let id = guard.id.clone();
        let pid_file = bundle.path().join("exec.pid");
        exec_detached(runtime, &id, &pid_file, &["/bin/sleep", "1001"]);
        let init = runtime.state(&id).expect("state")["pid"].as_i64().expect("pid");
        let exec: i64 = fs::read_to_string(&pid_file)
            .expect("pid file")
            .parse()
            .expect("pid");

        let mut pids: Vec<i64> =
            serde_json::from_value(json_of(&runtime.output(&["ps", "--format", "json", &id])))
                .expect("an array of pids");
        pids.sort();
        let mut want = vec![init, exec];
        want.sort();
        assert_eq!(pids, want, "{} ps --format json", runtime.bin);

        let table = runtime.output(&["ps", &id]);
        assert!(table.status.success(), "{} ps: {}", runtime.bin, stderr(&table));
        let (header, rows) = ps_rows(&stdout(&table));
        // `ps -ef`: UID PID PPID C STIME TTY TIME CMD…
        let cmds: Vec<String> = rows.iter().map(|r| r[7..].join(" ")).collect();
        let row_pids: Vec<i64> = rows.iter().map(|r| r[1].parse().expect("pid")).collect();
        assert_eq!(row_pids.len(), 2, "{}", stdout(&table));
        assert!(row_pids.contains(&init) && row_pids.contains(&exec));

        let custom = runtime.output(&["ps", &id, "-o", "pid,comm"]);
        assert!(
            custom.status.success(),
            "{} ps -o: {}",
            runtime.bin,
            stderr(&custom)
        );
        let (custom_header, custom_rows) = ps_rows(&stdout(&custom));
        let comms: Vec<String> = custom_rows.iter().map(|r| r[1].clone()).collect();
        (
            header,
            cmds,
            custom_header,
            comms,
            stdout(&custom),
            runtime.output(&["ps", &id, "--", "-o", "pid,comm"]),
        )
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(berth.0, runc.0, "ps header");
    assert_eq!(berth.1, runc.1, "ps commands");
    assert_eq!(berth.2, runc.2, "ps -o header");
    assert_eq!(berth.3, runc.3, "ps -o commands");
    // runc 1.1 hands `--` on to ps, which rejects it; berth-runtime takes it as the usual end
    // of its own options, so `ps ID -- -o pid,comm` is the same as `ps ID -o pid,comm`.
    assert!(!runc.5.status.success());
    assert!(berth.5.status.success(), "{}", stderr(&berth.5));
    assert_eq!(stdout(&berth.5), berth.4);
}

#[test]
fn ps_of_a_missing_container_fails_like_runc() {
    for runtime in [Runtime::runc(), Runtime::berth()] {
        let out = runtime.output(&["ps", "no-such-container"]);
        assert_eq!(out.status.code(), Some(1), "{}", runtime.bin);
        assert!(
            stderr(&out).contains("does not exist"),
            "{}: {}",
            runtime.bin,
            stderr(&out)
        );
    }
}

// ---- list ----

/// Check that `table` is Go's tabwriter output (min width 12, padding 3) of its own cells, as
/// `runc list` prints it: every column but the last as wide as its widest cell plus 3.
fn assert_tabwriter_layout(table: &str, columns: usize) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    for row in &rows {
        assert_eq!(row.len(), columns, "{table}");
    }
    let widths: Vec<usize> = (0..columns - 1)
        .map(|c| rows.iter().map(|r| r[c].len() + 3).fold(12, usize::max))
        .collect();
    for (line, row) in table.lines().zip(&rows) {
        let mut want = String::new();
        for (c, cell) in row.iter().enumerate() {
            want.push_str(cell);
            if c + 1 < columns {
                want.push_str(&" ".repeat(widths[c] - cell.len()));
            }
        }
        assert_eq!(line, want);
    }
    rows
}

#[test]
fn list_matches_runc() {
    let look = |runtime: &Runtime| {
        let empty = (
            stdout(&runtime.output(&["list"])),
            stdout(&runtime.output(&["list", "--format", "json"])),
            stdout(&runtime.output(&["list", "-q"])),
        );
        let created_bundle = Bundle::new();
        let created_id = unique_id("ls-created");
        created_bundle.write_spec(&spec(&created_bundle, &created_id, &["/bin/sleep", "1000"]));
        let created = runtime.create(&created_bundle, &created_id);
        let running_bundle = Bundle::new();
        let running = running(runtime, &running_bundle, "ls-running");

        let listed = json_of(&runtime.output(&["list", "-f", "json"]));
        let table = runtime.output(&["list"]);
        assert!(table.status.success(), "{} list: {}", runtime.bin, stderr(&table));
        let rows = assert_tabwriter_layout(&stdout(&table), 6);
        let quiet = runtime.output(&["list", "--quiet"]);
        let mut quiet_ids: Vec<String> = stdout(&quiet).lines().map(str::to_string).collect();
        quiet_ids.sort();
        let mut want_ids = vec![created.id.clone(), running.id.clone()];
        want_ids.sort();
        assert_eq!(quiet_ids, want_ids, "{} list -q", runtime.bin);

        // Each entry agrees with `state`, and with the table's row.
        let mut entries = Vec::new();
        for (guard, bundle) in [(&created, &created_bundle), (&running, &running_bundle)] {
            let entry = listed
                .as_array()
                .expect("an array")
                .iter()
                .find(|e| e["id"] == guard.id.as_str())
                .unwrap_or_else(|| panic!("{} not listed: {listed}", guard.id))
                .clone();
            let state = runtime.state(&guard.id).expect("state");
            for key in [
                "ociVersion",
                "pid",
                "status",
                "bundle",
                "rootfs",
                "created",
                "annotations",
            ] {
                assert_eq!(entry[key], state[key], "{} list {key}", runtime.bin);
            }
            let bundle = fs::canonicalize(bundle.path()).expect("bundle");
            assert_eq!(entry["bundle"], bundle.display().to_string());
            let row = rows.iter().find(|r| r[0] == guard.id).expect("a table row");
            let pid = entry["pid"].to_string();
            let cells = [
                &pid,
                entry["status"].as_str().unwrap_or_default(),
                entry["bundle"].as_str().unwrap_or_default(),
                entry["created"].as_str().unwrap_or_default(),
                entry["owner"].as_str().unwrap_or_default(),
            ];
            assert_eq!(row[1..], cells.map(str::to_string), "{} list row", runtime.bin);
            // What may differ between the runtimes: ids, pids, paths and times.
            let mut entry = entry;
            for key in ["id", "pid", "bundle", "rootfs", "created"] {
                entry[key] = json!(key);
            }
            entries.push(entry);
        }
        let keys: Vec<Vec<String>> = listed
            .as_array()
            .expect("an array")
            .iter()
            .map(|e| e.as_object().expect("an object").keys().cloned().collect())
            .collect();
        (empty, entries, keys, rows[0].clone())
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(berth.0, runc.0, "list of an empty root");
    assert_eq!(berth.1, runc.1, "list entries");
    assert_eq!(berth.2, runc.2, "list JSON keys");
    assert_eq!(berth.3, runc.3, "list header");
}

#[test]
fn ls_is_list() {
    // runc 1.1 has no `ls`; berth-runtime takes it as a short name for `list`.
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let _guard = running(&berth, &bundle, "ls-alias");
    let ls = berth.output(&["ls", "-q"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert_eq!(stdout(&ls), stdout(&berth.output(&["list", "--quiet"])));
}

#[test]
fn list_of_a_root_that_does_not_exist_is_empty() {
    let root = tempfile::tempdir().expect("tempdir");
    for bin in [RUNC, BERTH] {
        let missing = root.path().join(format!("missing-{}", bin.len()));
        let out = Command::new(bin)
            .arg("--root")
            .arg(&missing)
            .arg("list")
            .output()
            .expect("list");
        assert!(out.status.success(), "{bin}: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
    }
}

// ---- features ----

#[test]
fn features_describe_what_the_code_supports() {
    let doc = json_of(&Runtime::berth().output(&["features"]));
    let runc = json_of(&Runtime::runc().output(&["features"]));
    // The spec's required keys, and every section runc fills.
    for key in ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux"] {
        assert!(
            doc[key].is_string() || doc[key].is_array() || doc[key].is_object(),
            "{key}: {doc}"
        );
    }
    for key in [
        "namespaces",
        "capabilities",
        "cgroup",
        "seccomp",
        "apparmor",
        "selinux",
    ] {
        assert!(!doc["linux"][key].is_null(), "linux.{key} missing: {doc}");
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    };

    // From the tables the runtime works from.
    let mut namespaces: Vec<String> = berth_runtime::namespaces::JOIN_ORDER
        .iter()
        .map(|ns| {
            serde_json::to_value(ns)
                .expect("namespace")
                .as_str()
                .expect("name")
                .to_string()
        })
        .collect();
    namespaces.sort();
    assert_eq!(strings(&doc["linux"]["namespaces"]), namespaces);
    assert_eq!(
        strings(&doc["linux"]["capabilities"]),
        berth_runtime::capabilities::known()
    );
    let mut words: Vec<String> = berth_runtime::mount_options::FLAG_WORDS
        .iter()
        .map(|w| w.0.to_string())
        .chain(
            berth_runtime::mount_options::PROPAGATION_WORDS
                .iter()
                .map(|w| w.0.to_string()),
        )
        .collect();
    words.sort();
    assert_eq!(strings(&doc["mountOptions"]), words);
    for option in ["rbind", "rprivate", "ro", "nosuid"] {
        assert!(words.iter().any(|w| w == option), "{option}");
    }

    // Beside runc's: no more than runc knows, except the time namespace runc 1.1 predates.
    let subset = |ours: Vec<String>, theirs: Vec<String>, what: &str| {
        for item in &ours {
            assert!(
                theirs.contains(item) || item == "time",
                "{what}: {item} is not runc's"
            );
        }
    };
    subset(
        strings(&doc["mountOptions"]),
        strings(&runc["mountOptions"]),
        "mountOptions",
    );
    subset(
        strings(&doc["linux"]["namespaces"]),
        strings(&runc["linux"]["namespaces"]),
        "namespaces",
    );
    assert_eq!(doc["linux"]["capabilities"], runc["linux"]["capabilities"]);
    assert_eq!(
        doc["linux"]["seccomp"]["operators"],
        runc["linux"]["seccomp"]["operators"]
    );
    let actions = strings(&doc["linux"]["seccomp"]["actions"]);
    subset(
        actions.clone(),
        strings(&runc["linux"]["seccomp"]["actions"]),
        "seccomp actions",
    );
    assert!(
        !actions.contains(&"SCMP_ACT_NOTIFY".to_string()),
        "notify is refused by the compiler"
    );
    assert_eq!(doc["linux"]["apparmor"]["enabled"], false);
    assert_eq!(doc["linux"]["selinux"]["enabled"], false);
    assert_eq!(doc["linux"]["cgroup"]["systemd"], false);
    assert_eq!(doc["ociVersionMin"], runc["ociVersionMin"]);
}

// ---- exec's flags ----

#[test]
fn exec_flags_match_runc() {
    let script = "id; pwd; echo foo=$FOO; grep -E '^(NoNewPrivs|CapEff|CapBnd|CapAmb):' /proc/self/status";
    let look = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let guard = running(runtime, &bundle, "execflags");
        let id = guard.id.as_str();
        let flags = runtime.output(&[
            "exec",
            "-u",
            "1000:1001",
            "-g",
            "5",
            "-g",
            "6",
            "--cwd",
            "/tmp",
            "-e",
            "FOO=bar",
            "--no-new-privs",
            "--cap",
            "CAP_SYS_ADMIN",
            id,
            "/bin/sh",
            "-c",
            script,
        ]);
        let plain = runtime.output(&["exec", id, "/bin/sh", "-c", script]);
        let user_only = runtime.output(&["exec", "--user", "65534", id, "/bin/id"]);
        let codes = [
            runtime
                .output(&["exec", id, "/bin/sh", "-c", "exit 7"])
                .status
                .code(),
            runtime.output(&["exec", id, "/no/such/program"]).status.code(),
            runtime.output(&["exec", id]).status.code(),
            runtime
                .output(&["exec", "-u", "abc", id, "/bin/true"])
                .status
                .code(),
            runtime
                .output(&["exec", "-g", "-1", id, "/bin/true"])
                .status
                .code(),
            runtime
                .output(&["exec", "--detach", "--tty", id, "/bin/true"])
                .status
                .code(),
            runtime
                .output(&["exec", "--console-socket", "/nonexistent.sock", id, "/bin/true"])
                .status
                .code(),
        ];
        (
            stdout(&flags),
            stderr(&flags),
            stdout(&plain),
            stdout(&user_only),
            codes,
        )
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(
        berth.0, runc.0,
        "exec with flags: berth stderr {} runc stderr {}",
        berth.1, runc.1
    );
    assert!(berth.0.contains("uid=1000 gid=1001"), "{}", berth.0);
    assert!(berth.0.contains("\n/tmp\nfoo=bar\n"), "{}", berth.0);
    assert!(berth.0.contains("NoNewPrivs:\t1"), "{}", berth.0);
    assert_eq!(berth.2, runc.2, "exec without flags");
    assert_eq!(berth.3, runc.3, "exec --user 65534");
    assert_eq!(berth.4, runc.4, "exit codes");
    assert_eq!(berth.4[0], Some(7));
    assert_eq!(berth.4[1], Some(255));
}

#[test]
fn exec_pid_file_is_written_whole() {
    for runtime in [Runtime::runc(), Runtime::berth()] {
        let bundle = Bundle::new();
        let guard = running(&runtime, &bundle, "pidfile");
        let dir = tempfile::tempdir().expect("tempdir");
        let pid_file = dir.path().join("exec.pid");
        exec_detached(&runtime, &guard.id, &pid_file, &["/bin/sleep", "1000"]);
        let text = fs::read_to_string(&pid_file).expect("pid file");
        let pid: i32 = text
            .parse()
            .unwrap_or_else(|_| panic!("{}: not a bare pid: {text:?}", runtime.bin));
        let pids: Vec<i32> =
            serde_json::from_value(json_of(&runtime.output(&["ps", "-f", "json", &guard.id]))).expect("pids");
        assert!(pids.contains(&pid), "{}: {pid} not in {pids:?}", runtime.bin);
        // Renamed into place: nothing else is left in the directory.
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("exec.pid")],
            "{}",
            runtime.bin
        );
    }
}

// ---- --preserve-fds ----

/// Run `runtime args…` with `file` open as its fd 3.
fn with_fd3(runtime: &Runtime, file: &fs::File, args: &[&str]) -> Output {
    let fd = file.as_raw_fd();
    let mut cmd = runtime.command();
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: between fork and exec only dup2 and fcntl run, which are async-signal-safe;
    // `fd` stays open in the parent for the whole call.
    unsafe {
        cmd.pre_exec(move || {
            // When the file already is fd 3, dup2 does nothing and leaves it close-on-exec.
            if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("spawn runtime")
}

#[test]
fn preserve_fds_pass_fd_3_like_runc() {
    let look = |runtime: &Runtime| {
        let data = tempfile::NamedTempFile::new().expect("temp file");
        fs::write(data.path(), "through fd 3\n").expect("write");
        let file = fs::File::open(data.path()).expect("open");
        let run = |preserve: Option<&str>| {
            let bundle = Bundle::new();
            let id = unique_id("preserve");
            bundle.write_spec(&spec(&bundle, &id, &["/bin/cat", "/proc/self/fd/3"]));
            let _guard = ContainerGuard {
                runtime,
                id: id.clone(),
            };
            let mut args = vec!["run"];
            if let Some(n) = preserve {
                args.extend(["--preserve-fds", n]);
            }
            let bundle_path = bundle.path().display().to_string();
            args.extend(["--bundle", &bundle_path, &id]);
            let out = with_fd3(runtime, &file, &args);
            (out.status.success(), stdout(&out))
        };
        let kept = run(Some("1"));
        let closed = run(None);

        // And for exec, into a running container.
        let bundle = Bundle::new();
        let guard = running(runtime, &bundle, "preserve-exec");
        let exec = |preserve: bool| {
            let mut args = vec!["exec"];
            if preserve {
                args.extend(["--preserve-fds", "1"]);
            }
            args.extend([guard.id.as_str(), "/bin/cat", "/proc/self/fd/3"]);
            let out = with_fd3(runtime, &file, &args);
            (out.status.success(), stdout(&out))
        };
        (kept, closed, exec(true), exec(false))
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(berth, runc);
    assert_eq!(
        berth.0,
        (true, "through fd 3\n".to_string()),
        "run --preserve-fds 1"
    );
    assert!(
        !berth.1.0 && berth.1.1.is_empty(),
        "fd 3 must be closed without --preserve-fds"
    );
    assert_eq!(
        berth.2,
        (true, "through fd 3\n".to_string()),
        "exec --preserve-fds 1"
    );
    assert!(!berth.3.0, "fd 3 must be closed in exec without --preserve-fds");
}

/// runc 1.1 only stats `/proc/self/fd/N`, so `--preserve-fds 2` with fd 4 left free passes
/// whatever the Go runtime opened there into the container. berth-runtime checks before it
/// opens anything and refuses.
#[test]
fn a_missing_preserved_fd_is_named() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    let id = unique_id("preserve-missing");
    bundle.write_spec(&spec(&bundle, &id, &["/bin/true"]));
    let _guard = ContainerGuard {
        runtime: &berth,
        id: id.clone(),
    };
    let out = berth
        .command()
        .args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unable to stat preserved-fd 0 (of 1)"),
        "{}",
        stderr(&out)
    );
    assert!(berth.state(&id).is_none(), "nothing was created");

    // With fd 3 given and fd 4 not.
    let file = fs::File::open(bundle.path().join("config.json")).expect("open");
    let bundle_path = bundle.path().display().to_string();
    let out = with_fd3(
        &berth,
        &file,
        &["run", "--preserve-fds", "2", "--bundle", &bundle_path, &id],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unable to stat preserved-fd 1 (of 2)"),
        "{}",
        stderr(&out)
    );
    let out = with_fd3(&berth, &file, &["exec", "--preserve-fds", "2", &id, "/bin/true"]);
    assert_eq!(out.status.code(), Some(255), "exec fails as runc's exec does");
    assert!(
        stderr(&out).contains("unable to stat preserved-fd 1 (of 2)"),
        "{}",
        stderr(&out)
    );
}

// ---- global flags ----

#[test]
fn unsupported_global_flags_are_refused() {
    let berth = Runtime::berth();
    let out = berth.output(&["--systemd-cgroup", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "berth-runtime: --systemd-cgroup is not supported: cgroups are managed through cgroupfs\n"
    );
    let out = berth.output(&["--rootless", "true", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--rootless=true is not supported"),
        "{}",
        stderr(&out)
    );
    for value in ["false", "auto", "0"] {
        let out = berth.output(&["--rootless", value, "list"]);
        assert!(out.status.success(), "--rootless {value}: {}", stderr(&out));
    }
    assert!(!berth.output(&["--rootless", "maybe", "list"]).status.success());
}

#[test]
fn unknown_commands_and_flags_fail_like_runc() {
    for runtime in [Runtime::runc(), Runtime::berth()] {
        let out = runtime.output(&["no-such-command"]);
        assert_eq!(out.status.code(), Some(3), "{}: {}", runtime.bin, stderr(&out));
        assert!(
            stderr(&out).contains("no-such-command"),
            "{}: {}",
            runtime.bin,
            stderr(&out)
        );
        let out = runtime.output(&["list", "--no-such-flag"]);
        assert_eq!(out.status.code(), Some(1), "{}: {}", runtime.bin, stderr(&out));
        assert!(
            stderr(&out).contains("no-such-flag"),
            "{}: {}",
            runtime.bin,
            stderr(&out)
        );
    }
}

/// `exec --tty --detach --console-socket` (what a shim does for `docker exec -it`): the pty's
/// master arrives over the socket and the process runs on its slave, under both runtimes.
#[test]
fn exec_tty_master_arrives_over_the_console_socket_like_runc() {
    use std::io::Read as _;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::net::UnixListener;

    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};

    let look = |runtime: &Runtime| {
        let bundle = Bundle::new();
        let guard = running(runtime, &bundle, "exec-tty");
        let socket = bundle.path().join("console.sock");
        let listener = UnixListener::bind(&socket).expect("bind console socket");
        let pid_file = bundle.path().join("tty.pid");
        let exec = runtime
            .command()
            .args(["exec", "--tty", "--detach", "--console-socket"])
            .arg(&socket)
            .arg("--pid-file")
            .arg(&pid_file)
            .args([guard.id.as_str(), "/bin/sh", "-c", "tty; echo done"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("exec");
        let (conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 64];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg =
            recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).expect("recvmsg");
        let fd = msg
            .cmsgs()
            .expect("cmsgs")
            .find_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            })
            .expect("an fd over the socket");
        // SAFETY: the fd just arrived over SCM_RIGHTS and belongs to us alone.
        let mut master = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let status = exec.wait_with_output().expect("exec").status;
        assert!(status.success(), "{} exec -t -d failed", runtime.bin);
        let mut seen = String::new();
        let mut chunk = [0u8; 256];
        while !seen.contains("done") {
            match master.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&chunk[..n])),
            }
        }
        assert!(fs::read_to_string(&pid_file).is_ok_and(|p| p.parse::<i32>().is_ok()));
        // The slave's number depends on what else the container opened: keep its shape.
        seen.split_whitespace()
            .map(|w| {
                if w.starts_with("/dev/pts/") {
                    "/dev/pts/N"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(berth, runc);
    assert_eq!(berth, "/dev/pts/N done");
}

/// Socket activation: a runtime started with `LISTEN_FDS`/`LISTEN_PID` naming it hands those
/// fds to the container first, with `LISTEN_FDS=N LISTEN_PID=1` in its environment (runc's
/// behaviour for create and run).
#[test]
fn socket_activation_fds_reach_the_container_like_runc() {
    let look = |runtime: &Runtime| {
        let data = tempfile::NamedTempFile::new().expect("temp file");
        fs::write(data.path(), "activated\n").expect("write");
        let bundle = Bundle::new();
        let id = unique_id("listen");
        let script = "echo $LISTEN_FDS $LISTEN_PID; cat /proc/self/fd/3";
        bundle.write_spec(&spec(&bundle, &id, &["/bin/sh", "-c", script]));
        let _guard = ContainerGuard {
            runtime,
            id: id.clone(),
        };
        // The shell's pid is the runtime's once it execs, so LISTEN_PID can name it.
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<"$DATA""#)
            .arg("sh")
            .arg(runtime.bin)
            .arg("--root")
            .arg(runtime.root.path())
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(&id)
            .env("DATA", data.path())
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert!(out.status.success(), "{} run: {}", runtime.bin, stderr(&out));
        stdout(&out)
    };
    let runc = look(&Runtime::runc());
    let berth = look(&Runtime::berth());
    assert_eq!(berth, runc);
    assert_eq!(berth, "1 1\nactivated\n");
}
