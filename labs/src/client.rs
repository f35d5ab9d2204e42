//! The `docker` of the lab's shell: the chosen client — berth's CLI, or the real docker CLI —
//! with the lab's labels added to everything a command creates.
//!
//! `lab` is its own wrapper: the session's `bin/docker` is a symbolic link to the `lab`
//! executable, and `lab` started under the name `docker` adds `--label berth.lab=<id>
//! --label berth.lab.run=<run>` after `run`, `create`, `volume create` and `network create`, then
//! executes the real client. So `lab reset` can remove exactly what a lab made, and a trainee
//! still types the guide's commands. (Images committed from a container carry its labels.)
//!
//! A named volume that `run` or `create` would make by itself (`-v web:/data` when `web` does
//! not exist) is created first, with the labels, since an engine makes such volumes without
//! any label.

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
    for volume in implicit_volumes(&args) {
        create_volume_if_missing(&client, &args, &volume, &labels);
    }
    std::process::Command::new(client)
        .arg0("docker")
        .args(labelled_args(&args, &labels))
        .exec()
}

/// `client volume create --label … name`, unless the volume exists; quiet either way (the
/// command itself reports any problem with the volume).
fn create_volume_if_missing(client: &OsString, args: &[OsString], name: &str, labels: &[String]) {
    use std::process::{Command, Stdio};
    let globals = global_options(args);
    let quiet = |command: &mut Command| {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if quiet(
        Command::new(client)
            .args(globals)
            .args(["volume", "inspect", name]),
    ) {
        return;
    }
    let label_args = labels.iter().flat_map(|l| ["--label", l.as_str()]);
    quiet(
        Command::new(client)
            .args(globals)
            .args(["volume", "create"])
            .args(label_args)
            .arg(name),
    );
}

/// The global options before the command (`-H unix:///x`; some take the next argument).
fn global_options(args: &[OsString]) -> &[OsString] {
    let mut i = 0;
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
    &args[..i.min(args.len())]
}

/// `docker run`/`create` flags that take no value (the others take the next argument, unless
/// given as `--flag=value`).
const BOOLEAN_FLAGS: &[&str] = &[
    "--detach",
    "--interactive",
    "--tty",
    "--rm",
    "--init",
    "--privileged",
    "--read-only",
    "--publish-all",
    "--no-healthcheck",
    "--oom-kill-disable",
    "--disable-content-trust",
    "--sig-proxy",
    "--help",
    "--quiet",
];

/// Short flags that take a value (`-v x:y`, `-p8080:80`); the other letters are booleans.
const SHORT_WITH_VALUE: &str = "acehlmpuvw";

/// Named volumes a `run` or `create` mounts (`-v name:/path`, `--mount source=name,…` of type
/// volume), read from its options up to the image.
pub fn implicit_volumes(args: &[OsString]) -> Vec<String> {
    let Some(start) = creating_subcommand_end(args) else {
        return Vec::new();
    };
    let first = args.get(start - 1).and_then(|a| a.to_str()).unwrap_or_default();
    if !matches!(first, "run" | "create") {
        return Vec::new();
    }
    let words: Vec<&str> = args[start..].iter().filter_map(|a| a.to_str()).collect();
    let mut volumes = Vec::new();
    let mut i = 0;
    while let Some(word) = words.get(i).copied() {
        i += 1;
        let (flag, value) = if let Some(long) = word.strip_prefix("--") {
            if long.is_empty() {
                break;
            }
            match long.split_once('=') {
                Some((name, value)) => (format!("--{name}"), Some(value.to_owned())),
                None if BOOLEAN_FLAGS.contains(&word) => continue,
                None => {
                    i += 1;
                    (word.to_owned(), words.get(i - 1).map(|v| (*v).to_owned()))
                }
            }
        } else if let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) {
            // A cluster (`-dit`, `-v` `x:y`, `-p8080:80`): the first letter that takes a value
            // takes the rest of the word, or the next argument.
            match letters
                .char_indices()
                .find(|(_, c)| SHORT_WITH_VALUE.contains(*c))
            {
                None => continue,
                Some((at, letter)) => {
                    let rest = &letters[at + letter.len_utf8()..];
                    let value = if rest.is_empty() {
                        i += 1;
                        words.get(i - 1).map(|v| (*v).to_owned())
                    } else {
                        Some(rest.to_owned())
                    };
                    (format!("-{letter}"), value)
                }
            }
        } else {
            // The image: what follows is the container's command.
            break;
        };
        let Some(value) = value else { break };
        let named = match flag.as_str() {
            "-v" | "--volume" => volume_source(&value),
            "--mount" => mount_source(&value),
            _ => None,
        };
        volumes.extend(named);
    }
    volumes
}

/// The volume a `-v` names: `name:/path[:opts]`, not a host path (`/x`, `./x`, `~/x`).
fn volume_source(spec: &str) -> Option<String> {
    let (source, _) = spec.split_once(':')?;
    is_volume_name(source).then(|| source.to_owned())
}

/// The volume a `--mount` names: `type=volume` (the default) with `source=` or `src=`.
fn mount_source(spec: &str) -> Option<String> {
    let mut kind = "volume";
    let mut source = None;
    for field in spec.split(',') {
        match field.split_once('=') {
            Some(("type", value)) => kind = value,
            Some(("source" | "src", value)) => source = Some(value),
            _ => {}
        }
    }
    source
        .filter(|s| kind == "volume" && is_volume_name(s))
        .map(str::to_owned)
}

/// Docker's volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn is_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
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
    let i = global_options(args).len();
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
    fn named_volumes_a_run_would_make_are_found() {
        let volumes = |args: &str| -> Vec<String> {
            let args: Vec<OsString> = args.split_whitespace().map(OsString::from).collect();
            implicit_volumes(&args)
        };
        assert_eq!(volumes("run -d -v web:/usr/share/nginx/html nginx"), ["web"]);
        assert_eq!(volumes("run --volume=data:/data:ro busybox"), ["data"]);
        assert_eq!(
            volumes("create --mount type=volume,source=db,target=/var/lib/db -v /host:/x postgres"),
            ["db"]
        );
        assert_eq!(volumes("run -dit -p8080:80 -vcache:/c busybox"), ["cache"]);
        assert_eq!(volumes("container run --rm -e A=1 -v logs:/l busybox"), ["logs"]);
        // Host paths, anonymous volumes, other kinds, and anything after the image are not.
        assert!(volumes("run -v $(pwd)/web:/x -v /data -v ./x:/y busybox").is_empty());
        assert!(volumes("run --mount type=bind,source=/x,target=/y busybox").is_empty());
        assert!(volumes("run busybox ls -v x:y").is_empty());
        assert!(volumes("run --name web -e X nginx -v a:b").is_empty());
        assert!(volumes("volume create web").is_empty());
        assert!(volumes("ps -v x:y").is_empty());
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
