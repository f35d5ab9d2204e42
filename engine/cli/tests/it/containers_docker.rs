//! The real Docker CLI (Debian's docker.io 20.10 client) against berthd: `DOCKER_HOST` points
//! at the test daemon's socket, and Docker's own commands do the work.

use std::process::{Command, Output};

use crate::common::{TempDir, TestDaemon, docker_cli};
use crate::containers_common::PtySession;

/// `docker ARGS` against this berthd, with a config dir of its own (no credentials, no context).
fn docker(daemon: &TestDaemon) -> Command {
    let mut command = Command::new(docker_cli());
    command
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", daemon.root.join("docker-config"))
        .env_remove("DOCKER_CONTEXT");
    command
}

fn docker_output(daemon: &TestDaemon, args: &[&str]) -> Output {
    docker(daemon).args(args).output().expect("run the docker CLI")
}

fn docker_ok(daemon: &TestDaemon, args: &[&str]) -> String {
    let output = docker_output(daemon, args);
    assert!(
        output.status.success(),
        "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}\nberthd: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        daemon.log().lines().rev().take(20).collect::<Vec<_>>().join("\n"),
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn the_docker_cli_drives_berthd() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();

    let images = docker_ok(&daemon, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.lines().any(|l| l == "busybox:latest"), "{images}");

    // run --rm, with Docker's exit code handling.
    assert_eq!(
        docker_ok(&daemon, &["run", "--rm", "busybox", "echo", "hello"]),
        "hello\n"
    );
    let failed = docker_output(&daemon, &["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(failed.status.code(), Some(3));
    assert_eq!(docker_ok(&daemon, &["ps", "-aq"]), "");

    // run -d, ps, logs, exec, inspect.
    let id = docker_ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo booted; sleep 1000",
        ],
    );
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64);
    let ps = docker_ok(&daemon, &["ps"]);
    let mut lines = ps.lines();
    assert_eq!(
        lines.next().map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ])
    );
    let row = lines.next().unwrap_or_default();
    assert!(
        row.starts_with(&id[..12]) && row.ends_with("web") && row.contains("Up "),
        "{ps}"
    );
    let mut logged = String::new();
    for _ in 0..100 {
        logged = docker_ok(&daemon, &["logs", "web"]);
        if !logged.is_empty() {
            break;
        }
    }
    assert_eq!(logged, "booted\n");
    assert_eq!(
        docker_ok(&daemon, &["exec", "web", "cat", "/etc/hostname"]),
        format!("{}\n", &id[..12])
    );
    let exec_failed = docker_output(&daemon, &["exec", "web", "sh", "-c", "exit 6"]);
    assert_eq!(exec_failed.status.code(), Some(6));
    assert_eq!(
        docker_ok(
            &daemon,
            &[
                "inspect",
                "-f",
                "{{.Name}} {{.State.Status}} {{json .Config.Cmd}}",
                "web"
            ]
        ),
        "/web running [\"sh\",\"-c\",\"echo booted; sleep 1000\"]\n"
    );
    let inspected: serde_json::Value =
        serde_json::from_str(&docker_ok(&daemon, &["inspect", "web"])).expect("inspect is JSON");
    assert_eq!(inspected[0]["Id"], id.as_str());

    // exec -it under a pty.
    let mut command = docker(&daemon);
    command.args(["exec", "-it", "web", "sh"]);
    let mut session = PtySession::spawn(command, 24, 80);
    assert!(session.output.wait_for("# "), "{:?}", session.output.text);
    session.type_text("echo in-tty; exit 2\n");
    assert!(
        session.output.wait_for("\nin-tty\r\n"),
        "{:?}",
        session.output.text
    );
    assert_eq!(session.wait().code(), Some(2), "{:?}", session.output.text);

    // commit: the container's changes become an image that runs.
    docker_ok(&daemon, &["exec", "web", "sh", "-c", "echo committed > /note"]);
    let image = docker_ok(
        &daemon,
        &[
            "commit",
            "-m",
            "a note",
            "-c",
            "CMD [\"cat\", \"/note\"]",
            "web",
            "noted:v1",
        ],
    );
    assert!(image.starts_with("sha256:"), "{image}");
    assert_eq!(docker_ok(&daemon, &["run", "--rm", "noted:v1"]), "committed\n");
    let images = docker_ok(
        &daemon,
        &["images", "noted", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    assert_eq!(images, "noted:v1\n");

    // stop and rm.
    assert_eq!(docker_ok(&daemon, &["stop", "-t", "1", "web"]), "web\n");
    assert_eq!(
        docker_ok(
            &daemon,
            &["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web"]
        ),
        "exited 137\n"
    );
    assert_eq!(docker_ok(&daemon, &["rm", "web"]), "web\n");
    assert_eq!(docker_ok(&daemon, &["ps", "-aq"]), "");
    let gone = docker_output(&daemon, &["rm", "web"]);
    assert_eq!(gone.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "Error: No such container: web\n"
    );
}

#[test]
fn docker_and_berth_print_the_same_errors() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["run", "-d", "--name", "taken", "busybox", "sleep", "1000"]);
    for args in [
        &["rm", "taken"][..],
        &["stop", "nosuch"],
        &["kill", "nosuch"],
        &["pause", "nosuch"],
        &["unpause", "taken"],
        &["logs", "nosuch"],
        &["exec", "nosuch", "true"],
        &["rename", "nosuch", "x"],
        &["top", "nosuch"],
        &["diff", "nosuch"],
        &["port", "taken", "80"],
        &["inspect", "nosuch"],
        &["inspect", "-f", "{{.Nope}}", "taken"],
        &["wait", "nosuch"],
        &["commit", "nosuch"],
        &["attach", "nosuch"],
        &["create", "--name", "taken", "busybox"],
        &["update", "taken"],
        &["update", "-m", "1k", "taken"],
        &["update", "--restart", "always", "nosuch"],
        &["update", "--cpu-shares", "512", "taken", "nosuch", "gone"],
    ] {
        let docker = docker_output(&daemon, args);
        let berth = daemon.output(args);
        assert_eq!(
            (berth.status.code(), String::from_utf8_lossy(&berth.stderr)),
            (docker.status.code(), String::from_utf8_lossy(&docker.stderr)),
            "{args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&berth.stdout),
            String::from_utf8_lossy(&docker.stdout),
            "{args:?}"
        );
    }
}

/// berth run under the name `docker` (a symlink, as a lab's PATH has it) says `docker` wherever
/// it names itself: the same words, byte for byte, as Docker 20.10's CLI for the same mistakes
/// against the same daemon.
#[test]
fn berth_called_docker_speaks_as_docker() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["create", "--name", "taken", "busybox"]);
    let bin = TempDir::new("berth-as-docker");
    let link = bin.0.join("docker");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).expect("symlink berth as docker");
    let as_docker = |args: &[&str]| {
        Command::new(&link)
            .arg("-H")
            .arg(daemon.host())
            .args(args)
            .output()
            .expect("run berth as docker")
    };
    for args in [
        // Usage errors: a missing argument (with the usage line), an unknown flag.
        &["run"][..],
        &["container", "run"],
        &["ps", "-x"],
        &["run", "--bogus", "busybox"],
        // An unknown command.
        &["nosuchcmd"],
        // Daemon errors as run reports them: `docker: Error response from daemon: ….`.
        &["run", "--memory", "1k", "busybox"],
        &["run", "--name", "taken", "busybox"],
        // The healthcheck flags' own checks.
        &["create", "--no-healthcheck", "--health-cmd", "true", "busybox"],
        &["create", "--health-retries", "-1", "busybox"],
    ] {
        let docker = docker_output(&daemon, args);
        let berth = as_docker(args);
        assert_eq!(
            (berth.status.code(), String::from_utf8_lossy(&berth.stderr)),
            (docker.status.code(), String::from_utf8_lossy(&docker.stderr)),
            "{args:?}"
        );
        assert!(
            docker.stderr.windows(7).any(|w| w == b"docker "),
            "{args:?} names the program"
        );
    }
    // Help names the program too (the layout is clap's, not cobra's).
    let help = String::from_utf8(as_docker(&["run", "--help"]).stdout).expect("utf-8 help");
    assert!(
        help.contains("Usage: docker run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
        "{help}"
    );
    let help = String::from_utf8(as_docker(&["ps", "--help"]).stdout).expect("utf-8 help");
    assert!(help.contains("Usage: docker ps [OPTIONS]"), "{help}");
    // Under its own name it stays berth.
    let own = daemon.output(&["nosuchcmd"]);
    assert_eq!(
        String::from_utf8_lossy(&own.stderr),
        "berth: 'nosuchcmd' is not a berth command.\nSee 'berth --help'\n"
    );
}

#[test]
fn pause_and_unpause_through_either_cli() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["run", "-d", "--name", "frozen", "busybox", "sleep", "1000"]);
    assert_eq!(daemon.ok(&["pause", "frozen"]), "frozen\n");
    let status = |args: &[&str]| docker_ok(&daemon, args);
    assert_eq!(
        status(&["ps", "--format", "{{.Names}} {{.State}}"]),
        "frozen paused\n"
    );
    assert_eq!(
        status(&["info", "-f", "{{.ContainersPaused}} {{.ContainersRunning}}"]),
        "1 0\n"
    );
    // A second pause fails alike in both CLIs.
    let docker = docker_output(&daemon, &["pause", "frozen"]);
    let berth = daemon.output(&["pause", "frozen"]);
    assert_eq!(
        (berth.status.code(), String::from_utf8_lossy(&berth.stderr)),
        (docker.status.code(), String::from_utf8_lossy(&docker.stderr)),
    );
    // A berthd restarted meanwhile finds it still paused (its processes stayed frozen).
    daemon.restart();
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.State.Status}}", "frozen"]),
        "paused\n"
    );
    assert_eq!(docker_ok(&daemon, &["unpause", "frozen"]), "frozen\n");
    assert_eq!(
        daemon.ok(&[
            "container",
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "frozen"
        ]),
        "running false\n"
    );
}

#[test]
fn update_through_either_cli() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&[
        "run", "-d", "--name", "limited", "--memory", "64m", "busybox", "sleep", "1000",
    ]);
    assert_eq!(
        daemon.ok(&[
            "update",
            "--cpus",
            "0.5",
            "--pids-limit",
            "40",
            "--restart",
            "on-failure:2",
            "limited"
        ]),
        "limited\n"
    );
    assert_eq!(
        docker_ok(
            &daemon,
            &[
                "container",
                "update",
                "-m",
                "96m",
                "--memory-swap",
                "-1",
                "limited"
            ]
        ),
        "limited\n"
    );
    assert_eq!(
        daemon.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
            "limited"
        ]),
        "500000000 40 on-failure:2 100663296 -1\n"
    );
}

#[test]
fn system_df_through_either_cli() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["volume", "create", "dfvol"]);
    daemon.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "dfvol:/data",
        "busybox",
        "sh",
        "-c",
        "echo hello > /data/f; echo 12345 > /w",
    ]);
    daemon.ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    let summary = daemon.ok(&["system", "df"]);
    assert_eq!(summary, docker_ok(&daemon, &["system", "df"]));
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .map(|l| l.split("  ").filter(|c| !c.is_empty()).map(str::trim).collect())
        .collect();
    assert_eq!(rows[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[2], ["Containers", "2", "1", "6B", "6B (100%)"]);
    assert_eq!(rows[3], ["Local Volumes", "1", "1", "6B", "0B (0%)"]);
    let json = "{{json .}}";
    assert_eq!(
        daemon.ok(&["system", "df", "--format", json]),
        docker_ok(&daemon, &["system", "df", "--format", json])
    );
    // -v: the same volume table (the other tables carry times that move while they print).
    let volumes = |text: String| {
        text.split("Local Volumes space usage:")
            .nth(1)
            .and_then(|t| t.split("Build cache").next())
            .map(str::to_owned)
    };
    let verbose = daemon.ok(&["system", "df", "-v"]);
    assert_eq!(
        volumes(verbose.clone()),
        volumes(docker_ok(&daemon, &["system", "df", "-v"]))
    );
    assert!(verbose.contains("\ndfvol         1         6B\n"), "{verbose}");
    assert!(verbose.contains("Images space usage:\n\nREPOSITORY    TAG       IMAGE ID       CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n"), "{verbose}");
}

/// `system prune --volumes`: the same report from both CLIs for the same leftovers, ids aside.
#[test]
fn system_prune_through_either_cli() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let leave_leftovers = || {
        daemon.ok(&[
            "run",
            "--name",
            "done",
            "-v",
            "leftover:/data",
            "busybox",
            "sh",
            "-c",
            "echo 12345 > /w; echo 12345 > /data/f",
        ]);
        daemon.ok(&["network", "create", "unused"]);
        daemon.ok(&["run", "-d", "--name", "keeper", "busybox", "sleep", "1000"])
    };
    // Ids differ from one run to the next; the rest must not.
    let report =
        |output: String, ids: &[String]| ids.iter().fold(output, |text, id| text.replace(id.trim(), "ID"));
    let keeper = leave_leftovers();
    let done = daemon.ok(&["inspect", "-f", "{{.Id}}", "done"]);
    let by_docker = report(
        docker_ok(&daemon, &["system", "prune", "-f", "--volumes"]),
        &[done],
    );
    assert_eq!(
        by_docker,
        "Deleted Containers:\nID\n\nDeleted Networks:\nunused\n\nDeleted Volumes:\nleftover\n\nTotal reclaimed space: 12B\n"
    );
    daemon.ok(&["rm", "-f", keeper.trim()]);
    leave_leftovers();
    let done = daemon.ok(&["inspect", "-f", "{{.Id}}", "done"]);
    let by_berth = report(daemon.ok(&["system", "prune", "-f", "--volumes"]), &[done]);
    assert_eq!(by_berth, by_docker);
    // What is in use stays.
    assert_eq!(daemon.ok(&["ps", "--format", "{{.Names}}"]), "keeper\n");
    let refused = daemon.output(&["system", "prune", "-f", "--volumes", "--filter", "until=1h"]);
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        String::from_utf8_lossy(
            &docker_output(
                &daemon,
                &["system", "prune", "-f", "--volumes", "--filter", "until=1h"]
            )
            .stderr
        )
    );
}

#[test]
fn rm_link_through_either_cli() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&["create", "--name", "db", "busybox"]);
    daemon.ok(&[
        "create", "--name", "web", "--link", "db:db", "--link", "db:store", "busybox",
    ]);
    assert_eq!(daemon.ok(&["rm", "--link", "/web/db"]), "/web/db\n");
    assert_eq!(docker_ok(&daemon, &["rm", "--link", "web/store"]), "web/store\n");
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.HostConfig.Links}}", "web"]),
        "[]\n"
    );
    let (berth, docker) = (
        daemon.output(&["rm", "--link", "/web/db"]),
        docker_output(&daemon, &["rm", "--link", "/web/db"]),
    );
    assert_eq!(
        (berth.status.code(), String::from_utf8_lossy(&berth.stderr)),
        (docker.status.code(), String::from_utf8_lossy(&docker.stderr))
    );
    assert_eq!(daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]), "web\ndb\n");
}

#[test]
fn a_healthcheck_from_the_run_flags() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    let status = || daemon.ok(&["inspect", "-f", "{{.State.Health.Status}}", "checked"]);
    let wait_for = |wanted: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while status() != format!("{wanted}\n") {
            assert!(
                std::time::Instant::now() < deadline,
                "never {wanted}: {}",
                status()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    wait_for("unhealthy");
    daemon.ok(&["exec", "checked", "touch", "/tmp/ready"]);
    wait_for("healthy");
    let listed = docker_ok(
        &daemon,
        &[
            "ps",
            "--filter",
            "health=healthy",
            "--format",
            "{{.Names}} {{.Status}}",
        ],
    );
    assert!(
        listed.starts_with("checked Up ") && listed.ends_with(" (healthy)\n"),
        "{listed}"
    );
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{json .Config.Healthcheck}}", "checked"]),
        "{\"Test\":[\"CMD-SHELL\",\"test -e /tmp/ready\"],\"Interval\":200000000,\"Retries\":2}\n"
    );
}
