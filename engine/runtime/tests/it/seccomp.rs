//! Docker's default seccomp profile, as berthd passes it: unshare, mount and keyctl get EPERM.

use crate::common::*;

const PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    printf("%s=%s\n", name, rc == 0 ? "ok" : strerrorname_np(errno));
}

int main(void) {
    report("unshare", unshare(CLONE_NEWNS));
    report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    /* KEYCTL_JOIN_SESSION_KEYRING with a new anonymous keyring */
    report("keyctl", syscall(SYS_keyctl, 1, NULL) < 0 ? -1 : 0);
    report("getpid", getpid() > 0 ? 0 : -1);
    return 0;
}
"#;

#[test]
fn default_profile_refuses_unshare_mount_and_keyctl() {
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    bundle.add_c_program("probe", PROBE);
    let id = unique_id("seccomp");
    bundle.write_spec(&docker_spec(&bundle, &id, &["/bin/probe"]));
    let out = berth.run(&bundle, &id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "unshare=EPERM\nmount=EPERM\nkeyctl=EPERM\ngetpid=ok\n"
    );
}

#[test]
fn without_the_profile_the_same_probe_gets_past_seccomp() {
    // The control: with no seccomp section, keyctl works and unshare/mount fail only for lack
    // of CAP_SYS_ADMIN (also EPERM), so keyctl is the syscall that proves the filter acts.
    let berth = Runtime::berth();
    let bundle = Bundle::new();
    bundle.add_c_program("probe", PROBE);
    let id = unique_id("noseccomp");
    let mut spec = docker_spec(&bundle, &id, &["/bin/probe"]);
    spec["linux"].as_object_mut().expect("linux").remove("seccomp");
    bundle.write_spec(&spec);
    let out = berth.run(&bundle, &id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("keyctl=ok\n"), "{}", stdout(&out));
}
