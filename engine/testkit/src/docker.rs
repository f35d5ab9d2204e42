use std::path::PathBuf;
use std::process::Command;

/// The real Docker daemon's address: `DOCKER_HOST` (CI starts one), else Docker's default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Debian's docker.io client (20.10) when installed, else whatever `docker` is on PATH (this
/// machine's /usr/local/bin/docker is a 28.x client: the comparisons are with 20.10).
pub fn docker_cli() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("docker")
    }
}

/// The docker CLI aimed at the real Docker daemon.
pub fn docker() -> Command {
    let mut command = Command::new(docker_cli());
    command.arg("-H").arg(docker_host());
    command
}

/// Run the real docker CLI, expecting success; returns stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let output = docker()
        .args(args)
        .output()
        .expect("run docker (apt-get install docker.io)");
    assert!(
        output.status.success(),
        "docker {args:?} failed (is dockerd running? CI starts it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
