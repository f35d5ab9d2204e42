//! The explain traces the concept chapters show, captured from a real engine:
//! `cargo xtask book --capture-traces` (as root) starts a private berthd, loads the lab images,
//! runs a few `berth` commands per trace and writes what the engine said it asked of the kernel
//! (`berth events --explain`) to `book/src/traces/<name>.txt`. Chapters show them with
//! `{{#trace NAME EXCERPT}}`, annotated excerpts kept beside them in `<name>.toml`
//! ([`super::trace_excerpts`]).
//!
//! The private daemon's temporary roots, its bridge and its subnet are shown as berthd's defaults
//! (`/var/lib/berth`, `/run/berth`, the bridge `berth0` on `10.66.0.0/16`), so every trace and
//! the chapters around them name the same default network; everything else is as the engine
//! said it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use regex::Regex;

use super::Paths;
use crate::demo::PrivateBerthd;
use crate::util::{run, target_dir};

/// The private daemon's bridge and the second octet of its subnet (`10.94.0.0/24`): apart from a
/// berthd already running on the machine (`berth0`, `10.66.0.0/16`), shown as that one.
const BOOK_BRIDGE: &str = "berth-book";
const BOOK_SUBNET: u8 = 94;

/// One trace: the commands run, and whose explain events are kept.
struct Trace {
    name: &'static str,
    /// What the trace shows, for its header.
    about: &'static str,
    commands: Vec<Vec<String>>,
    /// The container whose events are kept; `None` keeps everything the daemon did.
    container: Option<&'static str>,
    /// Run after the events are read; their failures are ignored.
    cleanup: Vec<Vec<String>>,
    /// The lines the chapter is about; the others are counted, not shown.
    keep: fn(&str) -> bool,
}

fn all(_: &str) -> bool {
    true
}

/// berthd's own lines: what the daemon does around the runtime.
fn daemon_lines(line: &str) -> bool {
    line.starts_with("berthd:")
}

/// A container's life as the daemon and the shim see it, and the signals the runtime sends.
fn lifecycle_lines(line: &str) -> bool {
    !line.starts_with("berth-runtime:")
        || ["sent ", "started the container", "cloned the container"]
            .iter()
            .any(|w| line.contains(w))
}

/// The namespaces, and what is mounted and hidden inside them.
fn namespace_lines(line: &str) -> bool {
    [
        "namespace",
        "hostname",
        "mounted",
        "pivoted",
        "masked",
        "read-only",
        "veth",
        "sysctl",
    ]
    .iter()
    .any(|w| line.contains(w))
}

/// The cgroups and the limits written into them (the device rules left out).
fn cgroup_lines(line: &str) -> bool {
    line.contains("cgroup") && !line.contains("/devices/") && !line.contains("cgroup.procs")
}

/// The volume, and the mounts around it.
fn volume_lines(line: &str) -> bool {
    ["volume", "overlay", "bind-mounted", "unmounted", "/data"]
        .iter()
        .any(|w| line.contains(w))
}

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// The build's own lines: its steps, the containers they run in, the layers they commit.
fn build_lines(line: &str) -> bool {
    line.starts_with("berthd:") && !line.contains("cgroup")
}

/// The build context of the `build` trace: a Dockerfile whose steps make a layer each way.
const BUILD_DOCKERFILE: &str =
    "FROM busybox\nCOPY greeting.txt /\nRUN wc -c /greeting.txt\nCMD [\"cat\", \"/greeting.txt\"]\n";

fn traces(port: u16, registry: &str) -> Vec<Trace> {
    vec![
        Trace {
            name: "load",
            about: "loading the lab images: blobs stored, layers unpacked",
            commands: vec![],
            container: None,
            cleanup: vec![],
            keep: all,
        },
        Trace {
            name: "run",
            about: "a container's whole life: create, start, exit",
            commands: vec![vec![
                "run".into(),
                "--name".into(),
                "trace-run".into(),
                "busybox".into(),
                "echo".into(),
                "hello from a container".into(),
            ]],
            container: Some("trace-run"),
            cleanup: vec![argv("rm trace-run")],
            keep: all,
        },
        Trace {
            name: "lifecycle",
            about: "create, start, stop (a PID 1 that ignores SIGTERM), start again, kill",
            commands: vec![
                argv("create --name trace-life busybox sleep 600"),
                argv("start trace-life"),
                argv("stop -t 1 trace-life"),
                argv("start trace-life"),
                argv("kill trace-life"),
            ],
            container: Some("trace-life"),
            cleanup: vec![argv("rm trace-life")],
            keep: lifecycle_lines,
        },
        Trace {
            name: "namespaces",
            about: "a container with its own hostname (-h box)",
            commands: vec![argv("run --name trace-ns -h box busybox hostname")],
            container: Some("trace-ns"),
            cleanup: vec![argv("rm trace-ns")],
            keep: namespace_lines,
        },
        Trace {
            name: "cgroups",
            about: "limits: --memory 64m --cpus 0.5 --pids-limit 64",
            commands: vec![argv(
                "run --name trace-limits --memory 64m --cpus 0.5 --pids-limit 64 busybox true",
            )],
            container: Some("trace-limits"),
            cleanup: vec![argv("rm trace-limits")],
            keep: cgroup_lines,
        },
        Trace {
            name: "volume",
            about: "a named volume mounted into a container",
            commands: vec![
                argv("volume create trace-data"),
                vec![
                    "run".into(),
                    "--name".into(),
                    "trace-volume".into(),
                    "-v".into(),
                    "trace-data:/data".into(),
                    "busybox".into(),
                    "sh".into(),
                    "-c".into(),
                    "echo kept > /data/file".into(),
                ],
            ],
            container: Some("trace-volume"),
            cleanup: vec![argv("rm trace-volume"), argv("volume rm trace-data")],
            keep: volume_lines,
        },
        Trace {
            name: "ports",
            about: "a published port: -p HOST:80 on the default bridge, then stop",
            commands: vec![
                argv(&format!("run -d --name trace-web -p {port}:80 httpd:2.4")),
                argv("stop trace-web"),
            ],
            container: Some("trace-web"),
            cleanup: vec![argv("rm trace-web")],
            keep: daemon_lines,
        },
        Trace {
            name: "commit",
            about: "a container's changes committed as a new image layer",
            commands: vec![
                vec![
                    "run".into(),
                    "--name".into(),
                    "trace-commit".into(),
                    "busybox".into(),
                    "sh".into(),
                    "-c".into(),
                    "echo hi > /greeting".into(),
                ],
                argv("commit trace-commit trace/greeting:v1"),
            ],
            container: Some("trace-commit"),
            cleanup: vec![argv("rm trace-commit"), argv("rmi trace/greeting:v1")],
            keep: daemon_lines,
        },
        Trace {
            name: "build",
            about: "docker build: COPY makes a layer, RUN runs a container and commits it",
            // berth runs in the build context's directory, so `.` is it.
            commands: vec![argv("build -t trace/build:v1 .")],
            container: None,
            cleanup: vec![argv("rmi trace/build:v1")],
            keep: build_lines,
        },
        Trace {
            name: "registry",
            about: "push to a registry on this machine, remove the image, pull it back",
            commands: vec![
                argv(&format!("tag busybox {registry}/lab/busybox:v1")),
                argv(&format!("push {registry}/lab/busybox:v1")),
                argv(&format!("rmi {registry}/lab/busybox:v1")),
                argv(&format!("pull {registry}/lab/busybox:v1")),
            ],
            container: None,
            cleanup: vec![argv(&format!("rmi {registry}/lab/busybox:v1"))],
            keep: all,
        },
    ]
}

/// Capture every trace into `book/src/traces/`.
pub fn capture(paths: &Paths) -> anyhow::Result<()> {
    let bin = crate::util::build_engine(crate::util::Profile::Debug)?;
    let target = target_dir()?;
    let images = target.join("lab-images.tar");
    if !images.is_file() {
        run(Command::new("cargo").args(["xtask", "images"]))?;
    }
    let registry = Registry::start()?;
    let daemon = PrivateBerthd::start(&bin, BOOK_BRIDGE, BOOK_SUBNET)?;
    let build_context = tempfile_dir("berth-book-build")?;
    std::fs::write(build_context.0.join("Dockerfile"), BUILD_DOCKERFILE)?;
    std::fs::write(
        build_context.0.join("greeting.txt"),
        "hello from the build context\n",
    )?;
    let berth = |args: &[String]| -> anyhow::Result<String> {
        let output = Command::new(bin.join("berth"))
            .current_dir(&build_context.0)
            .args(["-H", &daemon.host()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run berth {}", args.join(" ")))?;
        ensure!(
            output.status.success(),
            "berth {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let out_dir = paths.book.join("src/traces");
    std::fs::create_dir_all(&out_dir)?;
    let free_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut load_since = Some(now());
    berth(&["load".into(), "-i".into(), images.display().to_string()])?;
    for trace in traces(free_port, &registry.address) {
        let since = load_since.take().unwrap_or_else(now);
        for command in &trace.commands {
            berth(command)?;
        }
        let mut explain = vec![
            "events".to_owned(),
            "--explain".into(),
            "--since".into(),
            format!("{since:.6}"),
            "--until".into(),
            format!("{:.6}", now()),
        ];
        if let Some(container) = trace.container {
            explain.extend(["--filter".into(), format!("container={container}")]);
        }
        let events = berth(&explain)?;
        for command in &trace.cleanup {
            let _ = berth(command);
        }
        let text = render(&trace, &events, &daemon.root);
        let file = out_dir.join(format!("{}.txt", trace.name));
        std::fs::write(&file, text).with_context(|| format!("write {}", file.display()))?;
        println!("book: captured {}", file.display());
    }
    drop(daemon);
    drop(registry);
    Ok(())
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir(prefix: &str) -> anyhow::Result<TempDir> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(TempDir(dir))
}

/// The trace file: the commands as a reader would type them, then the events.
fn render(trace: &Trace, events: &str, daemon_root: &Path) -> String {
    let mut text = format!("# {}\n", trace.about);
    if trace.commands.is_empty() {
        text.push_str("$ berth load -i lab-images.tar\n");
    }
    for command in &trace.commands {
        let shown: Vec<String> = command
            .iter()
            .map(|a| {
                if a.contains(' ') || a.contains('>') {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        text.push_str(&format!("$ berth {}\n", shown.join(" ")));
    }
    let explain = match trace.container {
        Some(container) => format!("$ berth events --explain --filter container={container} …\n"),
        None => "$ berth events --explain …\n".to_owned(),
    };
    text.push_str(&explain);
    let events = redact(events, daemon_root);
    let (kept, left_out): (Vec<&str>, Vec<&str>) = events.lines().partition(|l| (trace.keep)(l));
    for line in kept {
        text.push_str(line);
        text.push('\n');
    }
    if !left_out.is_empty() {
        text.push_str(&format!(
            "… and {} lines about other things, left out here\n",
            left_out.len()
        ));
    }
    text
}
/// The private daemon's roots, bridge and subnet shown as berthd's defaults; a container's
/// 64-digit id shortened to its 12-digit short id and `…` (digests, `sha256:…`, stay whole).
fn redact(events: &str, daemon_root: &Path) -> String {
    static LONG_ID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(sha256:)?\b([0-9a-f]{12})[0-9a-f]{52}\b").expect("a valid regex"));
    static BOOK_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\b10\.{BOOK_SUBNET}\.(\d+\.\d+)(/24)?\b")).expect("a valid regex")
    });
    let root = daemon_root.display().to_string();
    let events = events
        .replace(&format!("{root}/data"), "/var/lib/berth")
        .replace(&format!("{root}/exec"), "/run/berth")
        .replace(&root, "/run/berth-book")
        .replace(&format!("bridge {BOOK_BRIDGE}"), "bridge berth0")
        // The bridge's nftables tables are named after it.
        .replace(&format!("berth-{BOOK_BRIDGE}"), "berth-berth0");
    let events = BOOK_ADDRESS.replace_all(&events, |c: &regex::Captures| {
        let prefix = if c.get(2).is_some() { "/16" } else { "" };
        format!("10.66.{}{prefix}", &c[1])
    });
    LONG_ID
        .replace_all(&events, |c: &regex::Captures| match c.get(1) {
            Some(_) => c[0].to_owned(),
            None => format!("{}…", &c[2]),
        })
        .into_owned()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Debian's docker-registry on a free loopback port, storing in a temporary folder; stopped
/// and removed when dropped.
struct Registry {
    child: Child,
    dir: PathBuf,
    address: String,
}

impl Registry {
    fn start() -> anyhow::Result<Registry> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let dir = std::env::temp_dir().join(format!("berth-book-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\nlog:\n  level: error\n",
                dir.join("data").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start docker-registry (apt-get install docker-registry)")?;
        let registry = Registry { child, dir, address };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&registry.address).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "docker-registry did not listen on {} within 10 s",
                    registry.address
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_shows_its_commands_and_the_defaults_roots() {
        let trace = Trace {
            name: "t",
            about: "a volume",
            commands: vec![vec![
                "run".into(),
                "busybox".into(),
                "sh".into(),
                "-c".into(),
                "echo a > /f".into(),
            ]],
            container: Some("c"),
            cleanup: vec![],
            keep: volume_lines,
        };
        let id = "8b3fc3a8c45eb7adc9dbb23248453cfca382336c43b0377e9df537520a4df9d2";
        let text = render(
            &trace,
            &format!(
                "berthd: bound volume v (/tmp/x/data/volumes/v/_data) at /data\n\
                 berth-shim: wrote /tmp/x/exec/c/1/log\n\
                 berthd: unmounted /tmp/x/data/containers/{id}/layer/merged\n\
                 berthd: committed it as image sha256:{id}\n"
            ),
            Path::new("/tmp/x"),
        );
        assert_eq!(
            text,
            format!(
                "# a volume\n$ berth run busybox sh -c 'echo a > /f'\n\
                 $ berth events --explain --filter container=c …\n\
                 berthd: bound volume v (/var/lib/berth/volumes/v/_data) at /data\n\
                 berthd: unmounted /var/lib/berth/containers/8b3fc3a8c45e…/layer/merged\n\
                 … and 2 lines about other things, left out here\n"
            )
        );
        assert!(redact(&format!("image sha256:{id}"), Path::new("/x")).ends_with(id));
    }

    #[test]
    fn the_private_bridge_and_subnet_are_shown_as_the_default_ones() {
        let events = "berthd: created veth pair v1 (on bridge berth-book) and eth0\n\
                      berthd: gave eth0 the address 10.94.0.2/24\n\
                      berthd: added the default route via 10.94.0.1\n\
                      berthd: userland proxy listens on 0.0.0.0:8080/tcp for 10.94.0.2:80\n\
                      berthd: wrote nftables table ip berth-berth-book: forwarding\n\
                      berthd: left 110.94.0.2 alone\n";
        assert_eq!(
            redact(events, Path::new("/tmp/berth-book-1")),
            "berthd: created veth pair v1 (on bridge berth0) and eth0\n\
             berthd: gave eth0 the address 10.66.0.2/16\n\
             berthd: added the default route via 10.66.0.1\n\
             berthd: userland proxy listens on 0.0.0.0:8080/tcp for 10.66.0.2:80\n\
             berthd: wrote nftables table ip berth-berth0: forwarding\n\
             berthd: left 110.94.0.2 alone\n"
        );
    }
}
