//! What a container (or a damaged disk) can put in berthd's way: trees deeper than any stack,
//! a process that names itself "", a record edited on disk. berthd answers, and lives.

use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::support::{TestDaemon, assert_alive, berth};

/// A chain of `depth` directories under `top` (which exists), made fd by fd as a container
/// makes it: no path that long could be named in one call.
fn deep_chain(top: &Path, depth: usize) {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir = rustix::fs::openat(rustix::fs::CWD, top, flags, Mode::empty()).expect("open the top");
    for _ in 0..depth {
        rustix::fs::mkdirat(&dir, c"d", Mode::from_raw_mode(0o755)).expect("mkdir");
        dir = rustix::fs::openat(&dir, c"d", flags, Mode::empty()).expect("open");
    }
}

/// A container of busybox `cmd`, started; answers its id.
fn run(daemon: &TestDaemon, body: serde_json::Value) -> String {
    let created = berth(daemon, "POST", "/containers/create", body.to_string().as_bytes());
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["Id"].as_str().unwrap_or_default().to_owned();
    let started = berth(daemon, "POST", &format!("/containers/{id}/start"), b"");
    assert_eq!(started.status, 204, "{}", started.text());
    id
}

fn upper_dir(daemon: &TestDaemon, id: &str) -> std::path::PathBuf {
    let inspect = berth(daemon, "GET", &format!("/containers/{id}/json"), b"");
    inspect.json()["GraphDriver"]["Data"]["UpperDir"]
        .as_str()
        .map(Into::into)
        .unwrap_or_else(|| panic!("no UpperDir: {}", inspect.text()))
}

#[test]
fn trees_deeper_than_any_stack_are_sized_and_removed() {
    // On tmpfs: a disk filesystem takes tens of seconds over 20,000 directories, berthd does not.
    let mut daemon = TestDaemon::start_in(Path::new("/dev/shm"), &[]);
    daemon.load_stand_in_images();
    // In a volume: listed with its size, pruned.
    let made = berth(&daemon, "POST", "/volumes/create", br#"{"Name": "deep"}"#);
    assert_eq!(made.status, 201, "{}", made.text());
    let mountpoint = made.json()["Mountpoint"].as_str().unwrap_or_default().to_owned();
    deep_chain(Path::new(&mountpoint), 20_000);
    let pruned = berth(&daemon, "POST", "/volumes/prune", b"");
    assert_eq!(pruned.status, 200, "{}", pruned.text());
    assert_eq!(pruned.json()["VolumesDeleted"], serde_json::json!(["deep"]));
    assert!(!Path::new(&mountpoint).exists());
    assert_alive(&mut daemon);

    // In a container's writable layer: sized, looked at, removed.
    let id = run(
        &daemon,
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "600"]}),
    );
    deep_chain(&upper_dir(&daemon, &id), 20_000);
    for path in [
        "/containers/json?all=1&size=1".to_owned(),
        format!("/containers/{id}/json?size=1"),
        format!("/containers/{id}/changes"),
    ] {
        let answer = berth(&daemon, "GET", &path, b"");
        assert!(
            matches!(answer.status, 200 | 500),
            "{path}: {} {}",
            answer.status,
            answer.text()
        );
        assert_alive(&mut daemon);
    }
    let removed = berth(&daemon, "DELETE", &format!("/containers/{id}?force=1"), b"");
    assert_eq!(removed.status, 204, "{}", removed.text());
    assert!(!daemon.data_root().join("containers").join(&id).exists());
    assert_alive(&mut daemon);

    // A `--rm` container with such a layer goes as it exits.
    let id = run(
        &daemon,
        serde_json::json!({"Image": "busybox", "Cmd": ["sleep", "600"], "HostConfig": {"AutoRemove": true}}),
    );
    deep_chain(&upper_dir(&daemon, &id), 20_000);
    let stopped = berth(&daemon, "POST", &format!("/containers/{id}/stop?t=0"), b"");
    assert_eq!(stopped.status, 204, "{}", stopped.text());
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        berth(&daemon, "GET", &format!("/containers/{id}/json"), b"").status == 404
    });
    assert!(gone, "the --rm container stayed");
    assert!(!daemon.data_root().join("containers").join(&id).exists());
    assert_alive(&mut daemon);
}

#[test]
fn a_process_that_names_itself_blank_stays_in_its_columns() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    // The shell renames itself " " (a blank `comm`), then waits.
    let id = run(
        &daemon,
        serde_json::json!({"Image": "busybox", "Cmd": ["sh", "-c", "printf ' ' > /proc/$$/comm; while :; do sleep 1; done"]}),
    );
    let path = format!(
        "/containers/{id}/top?ps_args={}",
        crate::support::encode("-o pid,comm,comm,user")
    );
    let mut top = berth(&daemon, "GET", &path, b"");
    for _ in 0..50 {
        if top.status == 200 && top.json()["Processes"].as_array().is_some_and(|p| p.len() >= 2) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        top = berth(&daemon, "GET", &path, b"");
    }
    assert_eq!(top.status, 200, "{}", top.text());
    let json = top.json();
    assert_eq!(
        json["Titles"],
        serde_json::json!(["PID", "COMMAND", "COMMAND", "USER"])
    );
    let rows = json["Processes"].as_array().cloned().unwrap_or_default();
    assert!(rows.len() >= 2, "{json}");
    for row in &rows {
        assert_eq!(row[3], "root", "every row keeps its USER column: {json}");
    }
    assert!(
        rows.iter().any(|row| row[1] == ""),
        "the blank command is there, blank: {json}"
    );
    assert_alive(&mut daemon);
}

#[test]
fn a_damaged_record_is_skipped_at_start() {
    let mut daemon = TestDaemon::start();
    // A record whose id is too short to be one, and one that is not JSON.
    for (dir, content) in [
        ("short", r#"{"Id": "abc", "Name": "/x"}"#),
        ("garbled", "{not json"),
    ] {
        let dir = daemon.data_root().join("containers").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.v2.json"), content).unwrap();
    }
    daemon.restart();
    assert_alive(&mut daemon);
    let listed = berth(&daemon, "GET", "/containers/json?all=1", b"");
    assert_eq!(listed.json(), serde_json::json!([]), "{}", listed.text());
    assert!(
        daemon.log().contains("skipping"),
        "the skip is logged: {}",
        daemon.log()
    );
}
