//! The `docker` of the lab's shell: the chosen client — berth's CLI, or the real docker CLI —
//! with the lab's labels added to everything a command creates.
//!
//! `lab` is its own wrapper: the session's `bin/docker` is a symbolic link to the `lab`
//! executable, and `lab` started under the name `docker` adds `--label berth.lab=<id>
//! --label berth.lab.run=<run>` after `run`, `create`, `volume create` and `network create`, then
//! executes the real client. So `lab reset` can remove exactly what a lab made, and a trainee
//! still types the guide's commands. (Images committed from a container carry its labels.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The real client's path, for the wrapper.
pub const CLIENT_ENV: &str = "BERTH_LAB_CLIENT";
/// The labels to add, `key=value` separated by newlines, for the wrapper.
pub const LABELS_ENV: &str = "BERTH_LAB_LABELS";

/// Docker's global options that take a value in the next argument.
const GLOBAL_OPTIONS_WITH_VALUE: &[&str] = &[
    "-H",
    "--host",
    "-c",
    "--context",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
];

/// Which client to use, as `--client` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChoice {
    /// berth's CLI (next to `lab`, or on `PATH`).
    Berth,
    /// The docker CLI on `PATH`.
    Docker,
    /// A client at this path.
    Path(PathBuf),
}

impl std::str::FromStr for ClientChoice {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<ClientChoice, Self::Err> {
        Ok(match s {
            "berth" => ClientChoice::Berth,
            "docker" => ClientChoice::Docker,
            path => ClientChoice::Path(PathBuf::from(path)),
        })
    }
}

/// Why the client could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// no client binary
    #[error("no {0} client found: build it (cargo build -p berth) or name one with --client PATH")]
    NotFound(String),
}

impl ClientChoice {
    /// The client's executable.
    pub fn resolve(&self) -> Result<PathBuf, ClientError> {
        match self {
            ClientChoice::Berth => sibling("berth")
                .or_else(|| on_path("berth"))
                .ok_or_else(|| ClientError::NotFound("berth".into())),
            ClientChoice::Docker => on_path("docker").ok_or_else(|| ClientError::NotFound("docker".into())),
            ClientChoice::Path(path) if path.is_file() => Ok(path.clone()),
            ClientChoice::Path(path) => Err(ClientError::NotFound(path.display().to_string())),
        }
    }
}

/// A program installed beside the running `lab` (the same cargo target directory).
pub fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    // Test binaries live one level down, in `deps/`.
    [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

/// `name` on `PATH`, skipping lab's own wrapper directories.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .filter(|p| !is_wrapper(p))
        .find(|p| p.is_file())
}

fn is_wrapper(path: &Path) -> bool {
    std::fs::read_link(path).is_ok_and(|target| target.file_name() == Some("lab".as_ref()))
}

/// Make `bin_dir/docker` the wrapper (a link to the running `lab`).
pub fn install(bin_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(bin_dir)?;
    let link = bin_dir.join("docker");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(std::env::current_exe()?, link)
}

/// Whether this process was started as the wrapper.
pub fn started_as_docker() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "docker"))
        .unwrap_or(false)
}

/// Run as the wrapper: add the labels and become the real client. Returns only on failure.
pub fn exec_as_docker() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some(client) = std::env::var_os(CLIENT_ENV) else {
        return std::io::Error::other(format!("lab's docker wrapper: {CLIENT_ENV} is not set"));
    };
    let labels: Vec<String> = std::env::var(LABELS_ENV)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    std::process::Command::new(client)
        .arg0("docker")
        .args(labelled_args(&args, &labels))
        .exec()
}

/// `args` with `--label L` for each label inserted after a subcommand that creates something.
pub fn labelled_args(args: &[OsString], labels: &[String]) -> Vec<OsString> {
    let mut out: Vec<OsString> = args.to_vec();
    if let Some(at) = creating_subcommand_end(args) {
        let inserted = labels
            .iter()
            .flat_map(|l| [OsString::from("--label"), OsString::from(l)]);
        out.splice(at..at, inserted);
    }
    out
}

/// Where a creating subcommand's own arguments start (`docker -H x run …` → after `run`).
fn creating_subcommand_end(args: &[OsString]) -> Option<usize> {
    let mut i = 0;
    // Global options come before the command; some take the next argument.
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if !arg.starts_with('-') {
            break;
        }
        i += if GLOBAL_OPTIONS_WITH_VALUE.contains(&arg) {
            2
        } else {
            1
        };
    }
    let first = args.get(i)?.to_str()?;
    match first {
        "run" | "create" | "build" => return Some(i + 1),
        "container" | "image" | "volume" | "network" => {}
        _ => return None,
    }
    let second = args.get(i + 1)?.to_str()?;
    let creates = match first {
        "container" => matches!(second, "run" | "create"),
        "image" => second == "build",
        _ => second == "create",
    };
    creates.then_some(i + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(args: &str) -> String {
        let args: Vec<OsString> = args.split_whitespace().map(OsString::from).collect();
        let labels = vec!["berth.lab=x".to_owned(), "berth.lab.run=1".to_owned()];
        labelled_args(&args, &labels)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn creating_commands_get_the_labels() {
        let l = "--label berth.lab=x --label berth.lab.run=1";
        assert_eq!(
            label("run -d --name web httpd:2.4"),
            format!("run {l} -d --name web httpd:2.4")
        );
        assert_eq!(
            label("container create busybox"),
            format!("container create {l} busybox")
        );
        assert_eq!(
            label("volume create website"),
            format!("volume create {l} website")
        );
        assert_eq!(label("network create net"), format!("network create {l} net"));
        assert_eq!(
            label("-H unix:///x run busybox"),
            format!("-H unix:///x run {l} busybox")
        );
        assert_eq!(
            label("--log-level debug create busybox"),
            format!("--log-level debug create {l} busybox")
        );
    }

    #[test]
    fn other_commands_are_left_alone() {
        for args in [
            "ps -a",
            "exec -it web bash",
            "volume ls",
            "network inspect net",
            "container ls",
            "images",
            "inspect run",
            "logs create",
            "",
            "--version",
        ] {
            assert_eq!(label(args), args, "{args}");
        }
    }

    #[test]
    fn choices_parse() {
        assert_eq!("berth".parse::<ClientChoice>().unwrap(), ClientChoice::Berth);
        assert_eq!("docker".parse::<ClientChoice>().unwrap(), ClientChoice::Docker);
        assert_eq!(
            "/usr/bin/docker".parse::<ClientChoice>().unwrap(),
            ClientChoice::Path("/usr/bin/docker".into())
        );
    }
}
