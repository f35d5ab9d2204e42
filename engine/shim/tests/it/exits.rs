//! Exit codes, the exit record, OOM kills, and the cleanup after init exits.

use berth_shim::ExitStatus;

use crate::support::{TestContainer, container, finish_wait, start_wait, wait_for_exit};

/// After init's exit: the shim is gone with its socket and pid file, the runtime forgot the
/// container, its cgroups are removed, and exit.json says what `wait` said.
fn assert_cleaned_up(c: &TestContainer, shim_pid: i32, waited: &ExitStatus) {
    wait_for_exit(shim_pid);
    let state = c.state();
    assert!(!state.socket().exists(), "shim.sock left behind");
    assert!(!state.shim_pid().exists(), "shim.pid left behind");
    assert_eq!(
        ExitStatus::read_from_state_dir(state.dir()).unwrap().as_ref(),
        Some(waited)
    );
    assert!(!c.runtime_knows_it(), "the runtime still has {}", c.id);
    assert_eq!(c.cgroup_dirs(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn exit_code_zero_is_recorded() {
    let c = container("exit0", &["true"]).create();
    let shim = c.shim_pid();
    c.client().start().unwrap();
    let exit = c.client().wait_init().unwrap();
    assert_eq!((exit.exit_code, exit.oom_killed), (0, false));
    chrono::DateTime::parse_from_rfc3339(&exit.finished_at).unwrap();
    assert_cleaned_up(&c, shim, &exit);
}

#[test]
fn exit_code_three_is_recorded() {
    let c = container("exit3", &["sh", "-c", "exit 3"]).create();
    let shim = c.shim_pid();
    c.client().start().unwrap();
    let exit = c.client().wait_init().unwrap();
    assert_eq!((exit.exit_code, exit.oom_killed), (3, false));
    assert_cleaned_up(&c, shim, &exit);
}

#[test]
fn sigkill_gives_137() {
    let c = container("sigkill", &["sleep", "100000"]).create();
    let shim = c.shim_pid();
    let client = c.client();
    client.start().unwrap();
    // A waiter on the socket is answered when init is reaped.
    let waiter = start_wait(&client, "init");
    client.kill(9, false).unwrap();
    let exit = finish_wait(waiter);
    assert_eq!((exit.exit_code, exit.oom_killed), (137, false));
    assert_cleaned_up(&c, shim, &exit);
}

#[test]
fn a_created_container_can_be_killed_before_start() {
    let c = container("killcreated", &["sleep", "100000"]).create();
    let shim = c.shim_pid();
    let client = c.client();
    client.kill(9, false).unwrap();
    let exit = client.wait_init().unwrap();
    assert_eq!(exit.exit_code, 137);
    assert_cleaned_up(&c, shim, &exit);
}

#[test]
fn oom_kill_gives_137_and_oom_killed() {
    // The shell itself (init) grows past 16 MiB holding 64 MiB of output in a variable.
    let script = "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived";
    let c = container("oom", &["sh", "-c", script])
        .memory_limit(16 << 20)
        .create();
    let shim = c.shim_pid();
    c.client().start().unwrap();
    let exit = c.client().wait_init().unwrap();
    assert_eq!((exit.exit_code, exit.oom_killed), (137, true));
    assert!(!c.log_lines().iter().any(|(line, _)| line.contains("survived")));
    assert_cleaned_up(&c, shim, &exit);
}

#[test]
fn waiting_after_the_exit_reads_exit_json() {
    let c = container("late", &["sh", "-c", "exit 42"]).create();
    let shim = c.shim_pid();
    c.client().start().unwrap();
    // Nobody listens: the shim records the exit and leaves; berthd reads exit.json.
    wait_for_exit(shim);
    let exit = ExitStatus::read_from_state_dir(c.state().dir())
        .unwrap()
        .expect("exit.json");
    assert_eq!((exit.exit_code, exit.oom_killed), (42, false));
    assert!(c.client().state().is_err(), "the socket should be gone");
}

#[test]
fn kill_all_reaches_every_process() {
    // pid 1 of a pid namespace ignores signals it has no handler for, except SIGKILL.
    let c = container("killall", &["sh", "-c", "sleep 100000 & sleep 100000"]).create();
    let shim = c.shim_pid();
    let client = c.client();
    client.start().unwrap();
    let waiter = start_wait(&client, "init");
    client.kill(9, true).unwrap();
    let exit = finish_wait(waiter);
    assert_eq!(exit.exit_code, 137);
    assert_cleaned_up(&c, shim, &exit);
}
