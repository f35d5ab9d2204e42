//! `berth build` beside `docker build` (Docker 20.10's CLI, `DOCKER_BUILDKIT=0`), both against
//! the real Docker daemon: the same builds must send the same query and the same context tar
//! (byte for byte), print the same output (ids redacted) and the same errors with the same
//! exit codes, and make the same images. berthd's own builder is not needed here: the CLI's
//! behaviour is checked against Docker's daemon, which both clients talk to.
//!
//! Every image a test makes carries a tag unique to the test and is removed on drop, also
//! when the test fails.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use crate::common::{TempDir, docker_cli, unique_name};

/// Which client runs a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Docker,
    Berth,
}

const BOTH: [Client; 2] = [Client::Docker, Client::Berth];

/// The daemon both clients talk to.
fn docker_host() -> String {
    berth_testkit::docker_host()
}

/// `client` aimed at `host`, run in `dir`.
fn command(client: Client, host: &str, dir: &Path) -> Command {
    let mut command = match client {
        Client::Docker => {
            let mut command = Command::new(docker_cli());
            command.env("DOCKER_BUILDKIT", "0");
            command
        }
        // Called `docker`, berth speaks as Docker does (`See 'docker build --help'.`).
        Client::Berth => Command::new(berth_named_docker()),
    };
    command.arg("-H").arg(host).current_dir(dir);
    command
}

/// A symlink named `docker` to the berth binary under test.
fn berth_named_docker() -> PathBuf {
    static LINK: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LINK.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("berth-as-docker"));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("docker");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_berth"), &link).unwrap();
        link
    })
    .clone()
}

/// Run `client` with `args` in `dir`, `stdin` fed to it.
fn run_at(client: Client, host: &str, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    run_with(command(client, host, dir), args, stdin)
}

/// Run `command` with `args`, `stdin` fed to it.
fn run_with(mut command: Command, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("the client ends");
    feeder.join().expect("stdin written");
    output
}

fn run(client: Client, dir: &Path, args: &[&str]) -> Output {
    run_at(client, &docker_host(), dir, args, b"")
}

/// The real Docker daemon through its own CLI, expecting success.
fn docker_ok(args: &[&str]) -> String {
    let output = run(Client::Docker, Path::new("/"), args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Ids (12 or 64 hex digits), `.dockerfile.<20 hex>` names and the program's name made
/// alike, so that two runs compare.
fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if matches!(run.len(), 12 | 20 | 64) {
            out.push_str("<id>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else if c.is_ascii_alphanumeric() {
            // Part of a longer word: not an id.
            out.push_str(&run);
            run.clear();
            out.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Exit code, stdout and stderr, redacted, carriage returns shown as `\r` (progress lines
/// end in them): what must be the same for both clients.
fn outcome(output: &Output) -> String {
    let shown = |bytes: &[u8]| redact(&text(bytes)).replace('\r', "\\r");
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        shown(&output.stdout),
        shown(&output.stderr)
    )
}

/// Images made by a test (tags or ids), removed from Docker on drop.
struct Images(Vec<String>);

impl Images {
    fn tag(&mut self, prefix: &str) -> String {
        let tag = unique_name(prefix);
        self.0.push(tag.clone());
        tag
    }

    /// The images a build printed (`Successfully built <id>`, or `-q`'s `sha256:<id>`).
    fn adopt(&mut self, output: &Output) {
        for line in text(&output.stdout).lines() {
            let id = line
                .strip_prefix("Successfully built ")
                .or_else(|| line.strip_prefix("sha256:"));
            if let Some(id) = id {
                self.0.push(id.trim().to_owned());
            }
        }
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = run(
                Client::Docker,
                Path::new("/"),
                &[
                    &["rmi", "-f"],
                    &self.0.iter().map(String::as_str).collect::<Vec<_>>()[..],
                ]
                .concat(),
            );
        }
    }
}

/// A context directory with `files` (`name`, content; a name ending in `/` is a directory).
fn context(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new("berth-build-ctx");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(dir_name) = name.strip_suffix('/') {
            std::fs::create_dir_all(dir.path().join(dir_name)).unwrap();
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
    dir
}

/// One HTTP request a client made, as the daemon received it.
#[derive(Debug, Clone)]
struct Request {
    /// `POST /v1.41/build?…`
    line: String,
    body: Vec<u8>,
}

/// What a client sent on one connection.
type Log = Arc<Mutex<Vec<u8>>>;

/// A socket between a client and Docker's that records what the client sends.
struct Recorder {
    dir: TempDir,
    connections: Arc<Mutex<Vec<Log>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let dir = TempDir::new("berth-build-proxy");
        let listener = UnixListener::bind(dir.path().join("docker.sock")).expect("bind the recorder");
        let connections: Arc<Mutex<Vec<Log>>> = Arc::default();
        let recorded = connections.clone();
        let daemon = docker_host().trim_start_matches("unix://").to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut upstream) = UnixStream::connect(&daemon) else {
                    return;
                };
                let log: Log = Arc::default();
                recorded.lock().unwrap().push(log.clone());
                let (mut client_reader, mut upstream_writer) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buffer = [0; 65536];
                    // Logged before it is passed on: a daemon that refuses a request early
                    // closes the connection while the body is still coming.
                    while let Ok(n) = client_reader.read(&mut buffer) {
                        log.lock().unwrap().extend_from_slice(&buffer[..n]);
                        if n == 0 || upstream_writer.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = upstream_writer.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut upstream, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Recorder { dir, connections }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    /// The requests recorded so far (then forgotten), in the order connections were made.
    fn take(&self) -> Vec<Request> {
        let connections = std::mem::take(&mut *self.connections.lock().unwrap());
        connections
            .iter()
            .flat_map(|log| parse_requests(&log.lock().unwrap()))
            .collect()
    }

    /// The one `POST …/build` recorded.
    fn build_request(&self) -> Request {
        let builds: Vec<Request> = self
            .take()
            .into_iter()
            .filter(|r| r.line.contains("/build"))
            .collect();
        assert_eq!(builds.len(), 1, "one build request: {builds:?}");
        builds[0].clone()
    }
}

/// HTTP/1.1 requests one after another on a connection; bodies chunked or sized.
fn parse_requests(mut bytes: &[u8]) -> Vec<Request> {
    let mut requests = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = text(&bytes[..end]);
        bytes = &bytes[end + 4..];
        let mut lines = head.lines();
        let line = lines.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            while let Some(size_end) = bytes.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(text(&bytes[..size_end]).trim(), 16).unwrap_or(0);
                bytes = &bytes[size_end + 2..];
                if size == 0 {
                    bytes = bytes.get(2..).unwrap_or_default();
                    break;
                }
                // A body cut short (the daemon stopped reading) ends here.
                let Some(chunk) = bytes.get(..size) else {
                    body.extend_from_slice(bytes);
                    bytes = &[];
                    break;
                };
                body.extend_from_slice(chunk);
                bytes = bytes.get(size + 2..).unwrap_or_default();
            }
        } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let length = length.min(bytes.len());
            body.extend_from_slice(&bytes[..length]);
            bytes = &bytes[length..];
        }
        requests.push(Request { line, body });
    }
    requests
}

/// Run `args` with each client through a recorder: (outcome, build request) per client.
fn recorded(dir: &Path, args: &[&str], stdin: &[u8]) -> Vec<(Output, Request)> {
    BOTH.iter()
        .map(|&client| {
            let recorder = Recorder::start();
            let output = run_at(client, &recorder.host(), dir, args, stdin);
            (output, recorder.build_request())
        })
        .collect()
}

/// The tar entries' headers (name, mode, uid, gid, user, group, size, mtime, type, link).
fn tar_listing(tar: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let h = entry.header();
            format!(
                "{} {:o} {}:{} {}:{} {} {} {:?} {:?}",
                text(&entry.path_bytes()),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.username().unwrap().unwrap_or_default(),
                h.groupname().unwrap().unwrap_or_default(),
                h.size().unwrap(),
                h.mtime().unwrap(),
                h.entry_type(),
                entry.link_name().unwrap(),
            )
        })
        .collect()
}

const DOCKERFILE: &str = "FROM busybox\nARG GREETING=hello\nCOPY . /ctx/\nRUN echo \"$GREETING from RUN\" && ls /ctx\nLABEL stage=test\n";

#[test]
fn a_build_sends_what_docker_sends_and_prints_what_it_prints() {
    let dir = context(&[
        ("Dockerfile", DOCKERFILE),
        ("a.txt", "a\n"),
        ("sub/b.txt", "b\n"),
        ("sub/empty/", ""),
    ]);
    std::os::unix::fs::symlink("a.txt", dir.path().join("link")).unwrap();
    std::fs::set_permissions(
        dir.path().join("sub/b.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::hard_link(dir.path().join("a.txt"), dir.path().join("sub/hard")).unwrap();
    let mut images = Images(Vec::new());
    let tag = images.tag("berth-build-same");
    let args = [
        "build",
        "--no-cache",
        "-t",
        &tag,
        "--build-arg",
        "GREETING=hi",
        "--build-arg",
        "BERTH_TEST_UNSET",
        "--label",
        "a=b",
        "--label",
        "c",
        "--add-host",
        "h:10.0.0.1",
        "--cache-from",
        "x,y",
        "-m",
        "64m",
        "--ulimit",
        "nofile=100:200",
        "--cpu-shares",
        "2",
        "--shm-size",
        "2m",
        ".",
    ];
    let runs = recorded(dir.path(), &args, b"");
    let (docker, berth) = (&runs[0], &runs[1]);
    // Both built with the same tag: Docker's image lost it to berth's, and is removed by id.
    images.adopt(&docker.0);
    images.adopt(&berth.0);
    assert_eq!(berth.1.line, docker.1.line, "the query");
    assert_eq!(
        tar_listing(&berth.1.body),
        tar_listing(&docker.1.body),
        "the tar's headers"
    );
    assert!(berth.1.body == docker.1.body, "the tar, byte for byte");
    assert_eq!(outcome(&berth.0), outcome(&docker.0));
    insta::assert_snapshot!("build_output", outcome(&berth.0).replace(&tag, "<tag>"));
}

#[test]
fn every_flag_reaches_the_daemon_as_docker_sends_it() {
    let dir = context(&[(
        "Dockerfile",
        "FROM busybox AS base\nRUN true\nFROM base AS final\nRUN false\n",
    )]);
    let mut images = Images(Vec::new());
    let tag = images.tag("berth-build-flags");
    let iidfile = dir.path().join("iid").display().to_string();
    // A build the daemon runs (to its `base` stage), and one it refuses (security options)
    // before it pulls or runs anything.
    let builds: [Vec<&str>; 2] = [
        vec![
            "build",
            "-q",
            "-t",
            &tag,
            "--target",
            "base",
            "--network",
            "none",
            "--force-rm",
            "--no-cache",
            "--isolation",
            "default",
            "--cpuset-cpus",
            "0",
            "--cpu-period",
            "100000",
            "--cpu-quota",
            "50000",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--iidfile",
            &iidfile,
            "--platform",
            "Linux/AMD64",
            ".",
        ],
        vec![
            "build",
            "--security-opt",
            "no-new-privileges",
            "--pull",
            "--rm=false",
            "--compress",
            "--stream",
            "--cgroup-parent",
            "p",
            "--cpuset-mems",
            "0",
            "-f",
            "Dockerfile",
            ".",
        ],
    ];
    for args in builds {
        let runs = recorded(dir.path(), &args, b"");
        let (docker, berth) = (&runs[0], &runs[1]);
        images.adopt(&docker.0);
        images.adopt(&berth.0);
        assert_eq!(berth.1.line, docker.1.line, "{args:?}");
        if args.contains(&"--compress") {
            // Go's gzip and flate2 compress differently: only the sizes shown differ.
            assert!(berth.1.body.starts_with(&[0x1f, 0x8b]), "a gzipped context");
            assert_eq!(
                without_progress(&outcome(&berth.0)),
                without_progress(&outcome(&docker.0))
            );
        } else {
            assert_eq!(outcome(&berth.0), outcome(&docker.0), "{args:?}");
        }
    }
}

#[test]
fn configured_proxies_become_build_args() {
    let dir = context(&[("Dockerfile", "FROM busybox\n")]);
    // One config file for both: Docker's (DOCKER_CONFIG) and berth's (BERTH_CONFIG).
    let config = TempDir::new("berth-build-config");
    let proxies = r#"{"proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost"}}}"#;
    std::fs::write(config.path().join("config.json"), proxies).unwrap();
    let mut images = Images(Vec::new());
    let lines: Vec<String> = BOTH
        .iter()
        .map(|&client| {
            let recorder = Recorder::start();
            let mut command = command(client, &recorder.host(), dir.path());
            command
                .env("DOCKER_CONFIG", config.path())
                .env("BERTH_CONFIG", config.path());
            let output = run_with(
                command,
                &["build", "-q", "--build-arg", "no_proxy=mine", "."],
                b"",
            );
            images.adopt(&output);
            assert!(output.status.success(), "{client:?}: {}", text(&output.stderr));
            recorder.build_request().line
        })
        .collect();
    assert_eq!(lines[1], lines[0]);
    assert!(
        lines[1].contains("HTTP_PROXY%22%3A%22http%3A%2F%2Fproxy%3A3128"),
        "{}",
        lines[1]
    );
}

#[test]
fn squash_needs_an_experimental_daemon() {
    let dir = context(&[("Dockerfile", "FROM busybox\n")]);
    let [docker, berth] = BOTH.map(|client| {
        let recorder = Recorder::start();
        let output = run_at(
            client,
            &recorder.host(),
            dir.path(),
            &["build", "--squash", "."],
            b"",
        );
        let builds = recorder
            .take()
            .into_iter()
            .filter(|r| r.line.contains("/build"))
            .count();
        (output, builds)
    });
    assert_eq!(outcome(&berth.0), outcome(&docker.0));
    assert_eq!((berth.1, docker.1), (0, 0), "nothing is sent");
    assert!(
        text(&berth.0.stderr)
            .contains("\"--squash\" is only supported on a Docker daemon with experimental features enabled"),
        "{}",
        outcome(&berth.0)
    );
}

#[test]
fn copy_cache_keys_are_those_of_docker() {
    // COPY's history line carries the daemon's sum over the tar headers: any difference in
    // name, mode, owner or type changes it.
    let dir = context(&[
        ("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"),
        ("f", "1\n"),
        ("d/g", "2\n"),
    ]);
    std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
    let mut images = Images(Vec::new());
    let created_by: Vec<String> = BOTH
        .iter()
        .map(|&client| {
            let tag = images.tag("berth-build-cache");
            let output = run(
                client,
                dir.path(),
                &["build", "--no-cache", "-q", "-t", &tag, "."],
            );
            assert!(output.status.success(), "{client:?}: {}", text(&output.stderr));
            docker_ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", &tag])
        })
        .collect();
    assert!(created_by[0].contains("COPY dir:"), "{}", created_by[0]);
    assert_eq!(created_by[1], created_by[0]);
}

#[test]
fn failures_read_and_exit_as_docker_does() {
    let failing = context(&[("Dockerfile", "FROM busybox\nRUN echo about to fail && exit 3\n")]);
    let unparsable = context(&[("Dockerfile", "FROM busybox\nFOO bar\n")]);
    let empty = context(&[("README", "no Dockerfile here\n")]);
    let missing = format!("{}/nope", empty.path().display());
    let cases: Vec<(&str, &Path, Vec<&str>)> = vec![
        (
            "failing_run",
            failing.path(),
            vec!["build", "--no-cache", "--force-rm", "."],
        ),
        (
            "failing_run_quiet",
            failing.path(),
            vec!["build", "--no-cache", "--force-rm", "-q", "."],
        ),
        ("parse_error", unparsable.path(), vec!["build", "."]),
        ("parse_error_quiet", unparsable.path(), vec!["build", "-q", "."]),
        ("no_dockerfile", empty.path(), vec!["build", "."]),
        ("no_such_file", empty.path(), vec!["build", "-f", "Nope", "."]),
        ("no_context", empty.path(), vec!["build", &missing]),
        ("context_is_a_file", empty.path(), vec!["build", "README"]),
        ("bad_tag", empty.path(), vec!["build", "-t", "Bad:tag", "."]),
        ("bad_memory", empty.path(), vec!["build", "-m", "lots", "."]),
        (
            "bad_build_arg",
            empty.path(),
            vec!["build", "--build-arg", "=x", "."],
        ),
        ("stdin_twice", empty.path(), vec!["build", "-f", "-", "-"]),
        ("no_argument", empty.path(), vec!["build"]),
    ];
    let mut report = String::new();
    for (name, dir, args) in cases {
        let [docker, berth] = BOTH.map(|client| run(client, dir, &args));
        let here = empty.path().display().to_string();
        let berth = outcome(&berth).replace(&here, "<dir>");
        let docker = outcome(&docker).replace(&here, "<dir>");
        assert_eq!(berth, docker, "{name}: {args:?}");
        let typed = args.join(" ").replace(&here, "<dir>");
        report.push_str(&format!("=== {name}: {typed}\n{berth}\n"));
    }
    insta::assert_snapshot!("build_failures", report);
}

#[test]
fn quiet_prints_the_id_and_iidfile_keeps_it() {
    let dir = context(&[("Dockerfile", "FROM busybox\nRUN echo quiet\n")]);
    let mut images = Images(Vec::new());
    let tag = images.tag("berth-build-quiet");
    // Docker builds first; berth's build of the same context then finds every step cached
    // and ends at the same image.
    let mut ids = Vec::new();
    for client in BOTH {
        for quiet in [true, false] {
            let iidfile = dir.path().join(format!("iid-{client:?}-{quiet}"));
            let iid = iidfile.display().to_string();
            std::fs::write(&iidfile, "stale").unwrap();
            let mut args = vec!["build", "-t", &tag, "--iidfile", &iid, "."];
            if quiet {
                args.insert(1, "-q");
            }
            let output = run(client, dir.path(), &args);
            assert!(output.status.success(), "{client:?}: {}", text(&output.stderr));
            let written = std::fs::read_to_string(&iidfile).unwrap();
            if quiet {
                assert_eq!(text(&output.stdout), written, "-q prints the id alone");
            }
            ids.push((written, quiet));
        }
    }
    let docker = &ids[..2];
    let berth = &ids[2..];
    assert_eq!(berth, docker);
    assert!(
        docker[0].0.starts_with("sha256:") && docker[0].0.ends_with('\n'),
        "{:?}",
        docker[0]
    );
    assert!(!docker[1].0.ends_with('\n'), "{:?}", docker[1]);
}

#[test]
fn dockerignore_leaves_files_out_but_sends_the_build_files() {
    let dir = context(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . | sort\"]\n",
        ),
        (
            ".dockerignore",
            "# comment\nsecret*\nlogs\n!logs/keep.log\nDockerfile\n.dockerignore\n*/*.tmp\n",
        ),
        ("secret.key", "s\n"),
        ("logs/a.log", "a\n"),
        ("logs/keep.log", "k\n"),
        ("src/main.c", "int main;\n"),
        ("src/x.tmp", "t\n"),
        ("keep.txt", "k\n"),
    ]);
    let mut images = Images(Vec::new());
    let mut listings = Vec::new();
    for client in BOTH {
        let tag = images.tag("berth-build-ignore");
        let recorder = Recorder::start();
        let output = run_at(
            client,
            &recorder.host(),
            dir.path(),
            &["build", "-q", "-t", &tag, "."],
            b"",
        );
        assert!(output.status.success(), "{client:?}: {}", text(&output.stderr));
        let sent = tar_listing(&recorder.build_request().body);
        let in_image = docker_ok(&["run", "--rm", &tag]);
        listings.push((sent, in_image));
    }
    assert_eq!(listings[1], listings[0]);
    let (sent, in_image) = &listings[1];
    let names: Vec<&str> = sent.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            ".dockerignore",
            "Dockerfile",
            "keep.txt",
            "logs/keep.log",
            "src/",
            "src/main.c"
        ]
    );
    assert_eq!(
        in_image,
        ".\n./keep.txt\n./logs\n./logs/keep.log\n./src\n./src/main.c\n"
    );
}

#[test]
fn a_dockerfile_from_outside_the_context_or_stdin() {
    let dir = context(&[
        ("ctx/a.txt", "a\n"),
        ("ctx/.dockerignore", "*.md\n"),
        ("ctx/x.md", "x\n"),
    ]);
    let dockerfile = "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n";
    std::fs::write(dir.path().join("outside.Dockerfile"), dockerfile).unwrap();
    let bare = context(&[("a.txt", "a\n")]);
    let mut images = Images(Vec::new());
    let cases: Vec<(&Path, Vec<&str>, &[u8])> = vec![
        (
            dir.path(),
            vec!["build", "--no-cache", "-f", "outside.Dockerfile", "ctx"],
            b"",
        ),
        (
            dir.path(),
            vec!["build", "--no-cache", "-f", "-", "ctx"],
            dockerfile.as_bytes(),
        ),
        (
            bare.path(),
            vec!["build", "--no-cache", "-f", "-", "."],
            dockerfile.as_bytes(),
        ),
    ];
    for (at, args, stdin) in cases {
        let [docker, berth] = BOTH.map(|client| {
            let recorder = Recorder::start();
            let output = run_at(client, &recorder.host(), at, &args, stdin);
            (output, recorder.build_request())
        });
        images.adopt(&docker.0);
        images.adopt(&berth.0);
        assert_eq!(outcome(&berth.0), outcome(&docker.0), "{args:?}");
        assert!(docker.0.status.success(), "{}", text(&docker.0.stderr));
        assert_eq!(redact(&berth.1.line), redact(&docker.1.line), "{args:?}");
        // The Dockerfile rides along under a random name, listed in .dockerignore; the tar
        // then ends right after its data, as docker/cli's does.
        assert_eq!(berth.1.body.len(), docker.1.body.len(), "{args:?}");
        assert!(
            berth.1.line.contains("dockerfile=.dockerfile."),
            "{}",
            berth.1.line
        );
    }
}

#[test]
fn stdin_contexts_a_dockerfile_or_a_tar() {
    let dir = context(&[
        ("Dockerfile", "FROM busybox\nCOPY a.txt /\nRUN cat /a.txt\n"),
        ("a.txt", "from the tar\n"),
    ]);
    // Tars that end with their two zero blocks (no record padding): Docker's daemon stops
    // reading at the end of the archive, and only a client that reached the end of its
    // input prints the `Sending build context` line.
    // Fixed times, so that the compressed size in the snapshot is the same every run.
    for name in ["", "Dockerfile", "a.txt"] {
        let file = std::fs::File::open(dir.path().join(name)).unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000))
            .unwrap();
    }
    let tar_of = |gzip: bool| {
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_dir_all(".", dir.path()).unwrap();
        let tar = builder.into_inner().unwrap();
        if !gzip {
            return tar;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&tar).unwrap();
        encoder.finish().unwrap()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dockerfile", b"FROM busybox\nRUN echo from stdin\n".to_vec()),
        ("tar", tar_of(false)),
        ("tar.gz", tar_of(true)),
    ];
    let mut images = Images(Vec::new());
    let mut report = String::new();
    for (name, stdin) in cases {
        let [docker, berth] = BOTH.map(|client| {
            run_at(
                client,
                &docker_host(),
                dir.path(),
                &["build", "--no-cache", "-"],
                &stdin,
            )
        });
        images.adopt(&docker);
        images.adopt(&berth);
        assert!(docker.status.success(), "{name}: {}", text(&docker.stderr));
        assert_eq!(outcome(&berth), outcome(&docker), "{name}");
        report.push_str(&format!("=== {name}\n{}\n", outcome(&berth)));
    }
    insta::assert_snapshot!("build_stdin", report);
}

/// An outcome without the client's progress draws (`Downloading …\r`, `Sending …\r\r\n`).
fn without_progress(outcome: &str) -> String {
    outcome
        .split_inclusive('\n')
        .filter_map(|line| match line.rfind("\\r") {
            Some(last) if line.starts_with("Downloading") || line.starts_with("Sending") => {
                Some(&line[last + 2..]).filter(|rest| *rest != "\n")
            }
            _ => Some(line),
        })
        .collect()
}

#[test]
fn url_contexts_are_downloaded_by_the_client() {
    let site = context(&[
        ("Dockerfile", "FROM busybox\nRUN echo from a url\n"),
        ("ctx/Dockerfile", "FROM busybox\nCOPY f /\n"),
        ("ctx/f", "f\n"),
    ]);
    let tar = Command::new("tar")
        .args([
            "-C",
            &site.path().join("ctx").display().to_string(),
            "-c",
            "-f",
            "ctx.tar",
            ".",
        ])
        .current_dir(site.path())
        .output()
        .unwrap();
    assert!(tar.status.success());
    std::fs::rename(site.path().join("ctx/ctx.tar"), site.path().join("ctx.tar")).ok();
    let server = berth_testkit::FileServer::serve(site.path());
    let base = server.base();
    let mut images = Images(Vec::new());
    let mut report = String::new();
    for (name, path, quiet) in [
        ("dockerfile", "Dockerfile", false),
        ("tar", "ctx.tar", false),
        ("missing", "nope", false),
        ("missing_quiet", "nope", true),
    ] {
        let url = format!("{base}/{path}");
        let mut args = vec!["build", "--no-cache"];
        if quiet {
            args.push("-q");
        }
        args.push(&url);
        let [docker, berth] = BOTH.map(|client| run(client, site.path(), &args));
        images.adopt(&docker);
        images.adopt(&berth);
        let (mut docker, mut berth) = (outcome(&docker), outcome(&berth));
        if name == "tar" {
            // How far docker/cli reads a downloaded tar before the daemon answers is a race
            // (the daemon stops at the archive's end): its progress draws are left out.
            (docker, berth) = (without_progress(&docker), without_progress(&berth));
        }
        // The Python server's error page names its version: compare up to it.
        let cut = |s: &str| {
            s.split("<!DOCTYPE")
                .next()
                .unwrap_or(s)
                .replace(&base, "http://<server>")
        };
        assert_eq!(cut(&berth), cut(&docker), "{name}");
        report.push_str(&format!("=== {name}\n{}\n", cut(&berth)));
    }
    insta::assert_snapshot!("build_url", report);
}

/// A git daemon serving the repositories under a directory on 127.0.0.1, stopped on drop.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn serve(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base_path = format!("--base-path={}", base.display());
        let child = Command::new("git")
            .args([
                "daemon",
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &base_path,
            ])
            .arg(format!("--port={port}"))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn git_contexts_are_cloned_by_the_client() {
    let base = context(&[
        ("src/Dockerfile", "FROM busybox\nCOPY . /g/\nRUN ls -a /g\n"),
        (
            "src/sub/Dockerfile",
            "FROM busybox\nRUN echo from the subdirectory\n",
        ),
    ]);
    let git = |dir: &Path, args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.email=t@example.org", "-c", "user.name=t"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(output.status.success(), "git {args:?}: {}", text(&output.stderr));
    };
    let src = base.path().join("src");
    git(&src, &["init", "-q", "-b", "master"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-q", "-m", "a context"]);
    git(base.path(), &["clone", "-q", "--bare", "src", "repo.git"]);
    let daemon = GitDaemon::serve(base.path());
    let url = format!("git://127.0.0.1:{}/repo.git", daemon.port);
    let mut images = Images(Vec::new());
    let mut report = String::new();
    for (name, fragment, quiet) in [
        ("master", "", false),
        ("subdirectory", "#master:sub", true),
        ("no_such_ref", "#nope", false),
    ] {
        let context = format!("{url}{fragment}");
        let mut args = vec!["build", "--no-cache"];
        if quiet {
            args.push("-q");
        }
        args.push(&context);
        let [docker, berth] = BOTH.map(|client| run(client, base.path(), &args));
        images.adopt(&docker);
        images.adopt(&berth);
        let (docker, berth) = (outcome(&docker), outcome(&berth));
        assert_eq!(berth, docker, "{name}");
        // The clone's .git (commit times and all) makes the size vary from run to run.
        let shown: String = berth
            .replace(&url, "git://<server>/repo.git")
            .split_inclusive('\n')
            .map(|line| {
                if line.starts_with("Sending build context") {
                    "Sending build context to Docker daemon <size>\n"
                } else {
                    line
                }
            })
            .collect();
        report.push_str(&format!("=== {name}\n{shown}\n"));
    }
    insta::assert_snapshot!("build_git", report);
}

#[test]
fn builder_prune_asks_and_reports_as_docker_does() {
    let empty = TempDir::new("berth-build-prune");
    // Answered "no": nothing is pruned, the prompt and the total are printed.
    let [docker, berth] = BOTH.map(|client| {
        run_at(
            client,
            &docker_host(),
            empty.path(),
            &["builder", "prune"],
            b"n\n",
        )
    });
    assert_eq!(outcome(&berth), outcome(&docker));
    assert_eq!(
        text(&berth.stdout),
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] Total reclaimed space: 0B\n"
    );
    // The query, with a filter no cache record passes (older than a hundred years), so that
    // the shared daemon's cache is left alone.
    let args = [
        "builder",
        "prune",
        "-a",
        "-f",
        "--filter",
        "until=876000h",
        "--keep-storage",
        "1g",
    ];
    let mut lines = Vec::new();
    for client in BOTH {
        let recorder = Recorder::start();
        let output = run_at(client, &recorder.host(), empty.path(), &args, b"");
        assert!(output.status.success(), "{client:?}: {}", text(&output.stderr));
        let prune: Vec<String> = recorder
            .take()
            .into_iter()
            .map(|r| r.line)
            .filter(|l| l.contains("/build/prune"))
            .collect();
        lines.push((prune, text(&output.stdout)));
    }
    assert_eq!(lines[1], lines[0]);
}

#[test]
fn build_is_also_image_build_and_builder_build() {
    let dir = context(&[("Dockerfile", "FROM busybox\nLABEL built=here\n")]);
    let mut images = Images(Vec::new());
    for path in [&["image", "build"][..], &["builder", "build"][..]] {
        let args = [path, &["-q", "."][..]].concat();
        let [docker, berth] = BOTH.map(|client| run(client, dir.path(), &args));
        images.adopt(&docker);
        images.adopt(&berth);
        assert!(docker.status.success(), "{}", text(&docker.stderr));
        assert_eq!(outcome(&berth), outcome(&docker), "{args:?}");
    }
}

/// The builds above again, now against berthd's own builder: `docker build` (Docker 20.10's
/// CLI) and `berth build` aimed at a private berthd print what `docker build` prints against
/// Docker — output, failures, exit codes — and make images that run alike.
#[test]
fn berthd_builds_what_docker_builds_for_both_clients() {
    let daemon = crate::common::TestDaemon::start();
    daemon.load_stand_in_images();
    let ours = daemon.host();
    let outside = context(&[
        ("ctx/a.txt", "a\n"),
        ("ctx/.dockerignore", "*.md\n"),
        ("ctx/x.md", "x\n"),
        ("ctx/keep/b.txt", "b\n"),
    ]);
    let dockerfile = "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\nCMD [\"cat\", \"/ctx/a.txt\"]\n";
    std::fs::write(outside.path().join("outside.Dockerfile"), dockerfile).unwrap();
    std::fs::write(outside.path().join("ctx/Dockerfile"), dockerfile).unwrap();
    let failing = context(&[("Dockerfile", "FROM busybox\nRUN echo before; exit 7\n")]);
    let mut images = Images(Vec::new());
    let tag = images.tag("berth-build-on-berthd");
    let cases: Vec<(&Path, Vec<&str>, &[u8])> = vec![
        (
            outside.path(),
            vec!["build", "--no-cache", "--force-rm", "-t", &tag, "ctx"],
            b"",
        ),
        (
            outside.path(),
            vec!["build", "--no-cache", "-f", "outside.Dockerfile", "ctx"],
            b"",
        ),
        (
            outside.path(),
            vec!["build", "--no-cache", "-f", "-", "ctx"],
            dockerfile.as_bytes(),
        ),
        (outside.path(), vec!["build", "-q", "-t", &tag, "ctx"], b""),
        (
            failing.path(),
            vec!["build", "--no-cache", "--force-rm", "."],
            b"",
        ),
        (
            failing.path(),
            vec!["build", "--no-cache", "--force-rm", "-f", "Nope", "."],
            b"",
        ),
    ];
    for (at, args, stdin) in cases {
        let theirs = run_at(Client::Docker, &docker_host(), at, &args, stdin);
        images.adopt(&theirs);
        for client in BOTH {
            let output = run_at(client, &ours, at, &args, stdin);
            assert_eq!(
                outcome(&output),
                outcome(&theirs),
                "{client:?} on berthd: {args:?}"
            );
        }
    }
    // What was built runs alike.
    let on_berthd = run_at(Client::Berth, &ours, Path::new("/"), &["run", "--rm", &tag], b"");
    let on_docker = run_at(
        Client::Docker,
        &docker_host(),
        Path::new("/"),
        &["run", "--rm", &tag],
        b"",
    );
    assert_eq!(text(&on_berthd.stdout), "a\n");
    assert_eq!(outcome(&on_berthd), outcome(&on_docker));
}
