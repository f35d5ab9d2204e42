//! config-linux.md, Devices: the spec's devices and the default ones.

use serde_json::json;

use super::{expect_create_error, probe, runtimes};

/// "`devices` (array of objects, OPTIONAL) lists devices that MUST be available in the
/// container" (with their `type`, `major`, `minor`, `fileMode`, `uid` and `gid`, and a `path`
/// that "MAY be anywhere in the container filesystem").
#[test]
fn the_spec_devices_are_available() {
    for runtime in runtimes() {
        let script = "for d in /dev/fuse /dev/loop-conf /dev/fifo-conf /opt/null; do \
                      stat -c '%n=%F %t:%T %a %u:%g' $d; done";
        let probe = probe(&runtime, "cf-dev", script, |_, spec| {
            spec["linux"]["devices"] = json!([
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 1001},
                {"path": "/dev/loop-conf", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 0},
                {"path": "/dev/fifo-conf", "type": "p", "fileMode": 0o620},
                {"path": "/opt/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
            ]);
        });
        // stat prints major and minor in hex.
        probe.expect(
            "/dev/fuse",
            "character special file a:e5 640 1000:1001",
            "a char device",
        );
        probe.expect(
            "/dev/loop-conf",
            "block special file 7:c8 600 0:0",
            "a block device",
        );
        probe.expect("/dev/fifo-conf", "fifo 0:0 620 0:0", "a fifo");
        probe.expect(
            "/opt/null",
            "character special file 1:3 666 0:0",
            "a device outside /dev",
        );
    }
}

/// "In addition to any devices configured with this setting, the runtime MUST also supply:
/// /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty, /dev/ptmx" (and they
/// work: null swallows, zero reads zeros, full is full).
#[test]
fn the_default_devices_are_supplied() {
    for runtime in runtimes() {
        let script = r#"
for d in null zero full random urandom tty; do stat -c "$d=%F %t:%T" /dev/$d; done
echo "ptmx=$(readlink /dev/ptmx || stat -c '%F %t:%T' /dev/ptmx)"
echo "null-write=$(echo x > /dev/null && echo ok)"
echo "zero-read=$(head -c 4 /dev/zero | od -An -tx1 | tr -d ' ')"
echo "full-write=$(echo x 2>/dev/null > /dev/full && echo ok || echo ENOSPC)"
echo "urandom-read=$(head -c 16 /dev/urandom | wc -c)"
"#;
        let probe = probe(&runtime, "cf-dev-default", script, |_, _| {});
        for (dev, numbers) in [
            ("null", "1:3"),
            ("zero", "1:5"),
            ("full", "1:7"),
            ("random", "1:8"),
            ("urandom", "1:9"),
            ("tty", "5:0"),
        ] {
            probe.expect(
                dev,
                &format!("character special file {numbers}"),
                "a default device",
            );
        }
        // "A bind-mount or symlink of the container's /dev/pts/ptmx".
        probe.expect("ptmx", "pts/ptmx", "/dev/ptmx is the container's /dev/pts/ptmx");
        probe.expect("null-write", "ok", "/dev/null works");
        probe.expect("zero-read", "00000000", "/dev/zero works");
        probe.expect("full-write", "ENOSPC", "/dev/full works");
        probe.expect("urandom-read", "16", "/dev/urandom works");
    }
}

/// The links runc (and so Docker) put in /dev: /dev/fd and the three standard streams (a
/// convention, not a MUST of the spec; programs reading `/dev/stdin` rely on it).
#[test]
fn dev_has_the_fd_and_stdio_links() {
    for runtime in runtimes() {
        let script = "for l in fd stdin stdout stderr; do echo \"$l=$(readlink /dev/$l)\"; done";
        let probe = probe(&runtime, "cf-dev-links", script, |_, _| {});
        probe.expect("fd", "/proc/self/fd", "/dev/fd");
        probe.expect("stdin", "/proc/self/fd/0", "/dev/stdin");
        probe.expect("stdout", "/proc/self/fd/1", "/dev/stdout");
        probe.expect("stderr", "/proc/self/fd/2", "/dev/stderr");
    }
}

/// "If a file already exists at `path` that does not match the requested device, the runtime
/// MUST generate an error."
#[test]
#[ignore = "issue 16: neither runc 1.1.5 nor berth-runtime refuse (runc keeps the file, berth-runtime replaces it)"]
fn a_device_path_holding_another_file_is_an_error() {
    for runtime in runtimes() {
        expect_create_error(
            &runtime,
            "cf-dev-clash",
            "a regular file at the device's path",
            |bundle, spec| {
                std::fs::create_dir_all(bundle.rootfs().join("opt")).expect("opt");
                std::fs::write(bundle.rootfs().join("opt/occupied"), "a file").expect("file");
                spec["linux"]["devices"] =
                    json!([{"path": "/opt/occupied", "type": "c", "major": 1, "minor": 3}]);
            },
        );
    }
}
