//! Docker's own tools driving berthd: the Docker SDK for Python and Debian's docker-compose 1.29
//! (both from apt: `docker-compose` brings `python3-docker`), as a user of them would.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{TempDir, TestDaemon, unique_name};
use crate::network_common::{free_port, http_get};

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"))
}

fn succeeded(output: &Output, daemon: &TestDaemon) -> String {
    assert!(
        output.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}\nberthd: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        daemon.log().lines().rev().take(20).collect::<Vec<_>>().join("\n"),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_docker_sdk_for_python_drives_berthd() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sdk_client.py");
    let output = run(Command::new("python3")
        .arg(script)
        .arg(daemon.host())
        .arg(unique_name("sdk")));
    assert_eq!(succeeded(&output, &daemon), "ok\n");
}

#[test]
fn docker_compose_runs_a_two_service_app() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let app = TempDir::new("berth-compose");
    let port = free_port();
    std::fs::write(
        app.0.join("docker-compose.yml"),
        format!(
            r#"version: "3.8"
services:
  web:
    image: nginx
    ports:
      - "127.0.0.1:{port}:80"
    volumes:
      - site:/usr/share/nginx/html
    networks: [front]
  worker:
    image: busybox
    command: sh -c "echo hello from the worker > /site/index.html; while true; do echo tick; sleep 1; done"
    volumes:
      - site:/site
    networks: [front]
volumes:
  site:
networks:
  front:
"#
        ),
    )
    .expect("write the compose file");
    let project = unique_name("app").replace('-', "");
    let compose = |args: &[&str]| {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(&app.0)
            .env("DOCKER_HOST", daemon.host())
            .env("COMPOSE_PROJECT_NAME", &project)
            .args(args);
        succeeded(&run(&mut command), &daemon)
    };

    compose(&["up", "-d"]);
    let ps = compose(&["ps"]);
    assert_eq!(ps.lines().filter(|l| l.contains(" Up ")).count(), 2, "{ps}");
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    // The worker writes the page into the shared volume; the web service serves it.
    let page = (0..50)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            http_get(([127, 0, 0, 1], port).into())
                .ok()
                .filter(|answer| answer.contains("hello from the worker"))
        })
        .unwrap_or_else(|| panic!("the page never came: {}", compose(&["logs"])));
    assert!(
        page.lines()
            .next()
            .is_some_and(|status| status.ends_with(" 200 OK")),
        "{page}"
    );
    assert!(compose(&["logs", "worker"]).contains("tick"));
    // Service names resolve on the project's network.
    let fetched = compose(&["exec", "-T", "worker", "wget", "-qO-", "http://web/"]);
    assert_eq!(fetched, "hello from the worker\n");

    compose(&["up", "-d", "--scale", "worker=3"]);
    let ps = compose(&["ps"]);
    assert_eq!(ps.lines().filter(|l| l.contains(" Up ")).count(), 4, "{ps}");

    compose(&["down", "-v"]);
    assert_eq!(daemon.ok(&["ps", "-aq"]), "");
    assert!(!daemon.ok(&["volume", "ls", "-q"]).contains(&project));
    assert!(
        !daemon
            .ok(&["network", "ls", "--format", "{{.Name}}"])
            .contains(&project)
    );
}
