//! `berth stats` beside `docker stats` (20.10) on the same machine: the same table (header,
//! columns, units) for a running and a created container, the same `--format` fields, `-a`,
//! `--no-trunc`, the same error for a missing container, the live mode's redraw, and the real
//! docker CLI reading berthd's stats.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{TestDaemon, docker, docker_cli, docker_ok, unique_name};

/// A Docker container, removed when dropped (also when the test fails).
struct OnDocker(String);

impl Drop for OnDocker {
    fn drop(&mut self) {
        let _ = docker().args(["rm", "-f", &self.0]).output();
    }
}

/// A table's cells by row, columns split where Docker's tabwriter pads (two spaces or more).
fn cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// A cell with what differs between two engines' containers written alike: ids, percentages
/// and sizes, whose kind of unit stays (`1.5MiB` → `NiB`, `426B` → `NB`): the two containers
/// do not send the same packets (berthd's sends a few at start, Docker's none).
fn redact(cell: &str, ids: &[&str]) -> String {
    if ids.iter().any(|id| id.starts_with(cell) && cell.len() >= 12) {
        return "ID".into();
    }
    cell.split(" / ")
        .map(|part| {
            let digits = part.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
            let unit = &part[digits.len()..];
            if !digits.is_empty() && digits.parse::<f64>().is_ok() && !unit.is_empty() {
                format!(
                    "N{}",
                    if unit.ends_with("iB") {
                        "iB"
                    } else {
                        &unit[unit.len() - 1..]
                    }
                )
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

fn redacted(table: &str, ids: &[&str]) -> Vec<Vec<String>> {
    cells(table)
        .into_iter()
        .map(|row| row.iter().map(|c| redact(c, ids)).collect())
        .collect()
}

#[test]
fn stats_tables_and_formats_are_dockers() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let (web, idle) = (unique_name("berth-stats-web"), unique_name("berth-stats-idle"));
    let _theirs_web = OnDocker(web.clone());
    let _theirs_idle = OnDocker(idle.clone());
    let ours_web = daemon.ok(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"]);
    let ours_idle = daemon.ok(&["create", "--name", &idle, "busybox"]);
    let theirs_web = docker_ok(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"]);
    let theirs_idle = docker_ok(&["create", "--name", &idle, "busybox"]);
    let ids = [
        ours_web.trim(),
        ours_idle.trim(),
        theirs_web.trim(),
        theirs_idle.trim(),
    ];

    // The default table: Docker's header, the running container's units, the created one's zeros.
    let ours = daemon.ok(&["stats", "--no-stream", &web, &idle]);
    let theirs = docker_ok(&["stats", "--no-stream", &web, &idle]);
    assert_eq!(redacted(&ours, &ids), redacted(&theirs, &ids), "{ours}\n{theirs}");
    assert!(ours.contains(" / 23.") || ours.contains("iB / "), "{ours}");

    // Every field of the template, with --no-trunc.
    let format = "{{.Container}}|{{.Name}}|{{.ID}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}";
    let ours = daemon.ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        format,
        &web,
        &idle,
    ]);
    let theirs = docker_ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        format,
        &web,
        &idle,
    ]);
    let fields = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split('|').map(|c| redact(c, &ids)).collect())
            .collect()
    };
    assert_eq!(fields(&ours), fields(&theirs), "{ours}\n{theirs}");
    assert!(
        ours.contains(ours_web.trim()),
        "--no-trunc shows the full id: {ours}"
    );
    // The created container: all zeros, on both.
    assert_eq!(
        ours.lines()
            .nth(1)
            .map(|l| l.split('|').skip(3).collect::<Vec<_>>().join("|")),
        Some("0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0".to_owned())
    );

    // A table of chosen columns, and the management form.
    let table = "table {{.Name}}\t{{.PIDs}}";
    let ours = daemon.ok(&["container", "stats", "--no-stream", "--format", table, &web]);
    let theirs = docker_ok(&["container", "stats", "--no-stream", "--format", table, &web]);
    assert_eq!(ours, theirs);

    // Without names: the running ones, or all with -a (newest first), shown by short id.
    let listed = daemon.ok(&["stats", "--no-stream", "--format", "{{.Container}} {{.Name}}"]);
    assert_eq!(listed.trim(), format!("{} {web}", &ours_web.trim()[..12]));
    let all = daemon.ok(&["stats", "-a", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(all, format!("{idle}\n{web}\n"));
}

#[test]
fn a_missing_container_fails_as_in_docker() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let missing = unique_name("berth-stats-missing");
    let ours = daemon
        .berth()
        .args(["stats", "--no-stream", &missing])
        .output()
        .expect("berth");
    let theirs = docker()
        .args(["stats", "--no-stream", &missing])
        .output()
        .expect("docker");
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.stdout, theirs.stdout);
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
}

/// The first frame a live `stats` drew within `wait`, then the command killed.
fn first_frame(mut command: Command, wait: Duration) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(wait);
    let _ = child.kill();
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let _ = child.wait();
    // Up to the next clear-screen: each frame begins with one.
    let end = out
        .get(1..)
        .and_then(|rest| rest.find("\x1b[2J"))
        .map_or(out.len(), |at| at + 1);
    out[..end].to_owned()
}

#[test]
fn the_live_table_is_redrawn_as_docker_redraws_it() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let web = unique_name("berth-stats-live");
    let _theirs = OnDocker(web.clone());
    let ours_id = daemon.ok(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"]);
    let theirs_id = docker_ok(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"]);
    let ids = [ours_id.trim(), theirs_id.trim()];
    let format = ["--format", "table {{.Name}}\t{{.MemUsage}}\t{{.PIDs}}"];

    let mut ours = daemon.berth();
    ours.arg("stats").args(format).arg(&web);
    let mut theirs = docker();
    theirs.arg("stats").args(format).arg(&web);
    let (ours, theirs) = (
        first_frame(ours, Duration::from_millis(2500)),
        first_frame(theirs, Duration::from_millis(4000)),
    );
    assert!(ours.starts_with("\x1b[2J\x1b[H"), "{ours:?}");
    // The bytes alike once sizes are written alike.
    let plain = |frame: &str| {
        frame
            .split('\n')
            .map(|line| {
                line.split("  ")
                    .map(|cell| redact(cell.trim(), &ids))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&ours), plain(&theirs), "{ours:?}\n{theirs:?}");
}

#[test]
fn the_docker_cli_reads_berthds_stats() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let web = unique_name("berth-stats-dockercli");
    daemon.ok(&["run", "-d", "--name", &web, "busybox", "sleep", "1000"]);
    let output = Command::new(docker_cli())
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", daemon.root.join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .args([
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}} {{.MemUsage}}",
            &web,
        ])
        .output()
        .expect("docker");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields[..2], [web.as_str(), "1"], "{text}");
    assert!(fields[2].ends_with("iB") && fields[2] != "0B", "{text}");
}
