//! The event stream (`GET /events`) compared with Docker 20.10's: the same docker commands
//! against a private berthd and against the real dockerd, and the events each gives back for the
//! time they took: type, action and the attributes that matter, in order. Also the `volume`,
//! `network`, `type` and `image` filters, `since`/`until` values dockerd refuses or takes as far
//! future, and pull and push through a local registry.
//!
//! The real dockerd is shared (other tests and labs use it): everything made there has a unique
//! name and is removed on the way out, and only the events of what this test made are compared.
//!
//! Docker emits nothing in these sequences that berthd leaves out. One thing is left to chance
//! by dockerd itself: a container with several volumes logs their `mount`s and `unmount`s in Go
//! map order, so each container here mounts at most one volume.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::{TempDir, TestDaemon, docker_cli, unique_name};
use crate::registry_support::{BuiltImage, Compression, Registry, oci_layout, skopeo_copy, tar_of};

/// The real dockerd's socket (`DOCKER_HOST`, as CI sets it).
fn dockerd_socket() -> PathBuf {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    PathBuf::from(host.trim_start_matches("unix://"))
}

/// An engine under test, driven by the real docker CLI (the same client for both, so only the
/// daemons differ) and asked for its events over raw HTTP.
struct Engine {
    socket: PathBuf,
    /// The docker CLI's config dir: no credentials, no context.
    config: TempDir,
}

/// An HTTP answer: status and body (de-chunked), and whether the server ended it.
struct Answer {
    status: u16,
    body: String,
    ended: bool,
}

impl Engine {
    fn new(socket: PathBuf) -> Engine {
        Engine {
            socket,
            config: TempDir::new("berth-events-docker-config"),
        }
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new(docker_cli())
            .env("DOCKER_CONFIG", &self.config.0)
            .env_remove("DOCKER_CONTEXT")
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .output()
            .expect("run the docker CLI")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.docker(args);
        assert!(
            output.status.success(),
            "docker {args:?} against {} failed:\n{}",
            self.socket.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `GET path`, reading until the server ends the answer or `wait` passes without a byte.
    fn get(&self, path: &str, wait: Duration) -> Answer {
        let mut stream = UnixStream::connect(&self.socket).expect("connect to the engine");
        stream.set_read_timeout(Some(wait)).expect("set a read timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let ended = loop {
            match stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break false;
                }
                Err(e) => panic!("read from the engine: {e}"),
            }
        };
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP status line: {head}"));
        let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
        Answer {
            status,
            body: if chunked { dechunk(body) } else { body.to_owned() },
            ended,
        }
    }

    /// The events between two times (`secs.nanos`), with a `filters` JSON if given.
    fn events(&self, since: &str, until: &str, filters: Option<&str>) -> Vec<Value> {
        let mut path = format!("/events?since={since}&until={until}");
        if let Some(filters) = filters {
            path.push_str("&filters=");
            path.push_str(&percent_encode(filters));
        }
        let answer = self.get(&path, Duration::from_secs(10));
        assert!(answer.ended && answer.status == 200, "{path}: {}", answer.body);
        answer
            .body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("an event as JSON"))
            .collect()
    }
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Now as `since`/`until` take it.
fn now() -> String {
    let now = chrono::Utc::now();
    format!("{}.{:09}", now.timestamp(), now.timestamp_subsec_nanos())
}

/// Removes what the test made in the shared dockerd, whatever happened.
struct DockerLeftovers<'a> {
    engine: &'a Engine,
    containers: Vec<String>,
    volumes: Vec<String>,
    images: std::cell::RefCell<Vec<String>>,
}

impl Drop for DockerLeftovers<'_> {
    fn drop(&mut self) {
        let run = |args: Vec<&str>| {
            let _ = self.engine.docker(&args);
        };
        let mut rm = vec!["rm", "-f", "-v"];
        rm.extend(self.containers.iter().map(String::as_str));
        run(rm);
        let mut rmi = vec!["rmi", "-f"];
        let images = self.images.borrow();
        rmi.extend(images.iter().map(String::as_str));
        run(rmi);
        let mut volume_rm = vec!["volume", "rm", "-f"];
        volume_rm.extend(self.volumes.iter().map(String::as_str));
        run(volume_rm);
    }
}

/// The attributes compared by value; any other (an image's labels) only by its presence, since
/// the lab images in the two daemons may come from different builds.
const KEY_ATTRIBUTES: &[&str] = &[
    "comment",
    "container",
    "destination",
    "driver",
    "exitCode",
    "image",
    "imageID",
    "imageRef",
    "name",
    "propagation",
    "read/write",
    "reclaimed",
    "type",
];

/// Stable stand-ins for ids (64 hex digits) in order of first appearance, and for the test's
/// unique prefix, so two daemons' events read alike.
#[derive(Default)]
struct Redactions {
    ids: BTreeMap<String, String>,
    replace: Vec<(String, String)>,
}

impl Redactions {
    fn new(replace: &[(&str, &str)]) -> Redactions {
        Redactions {
            ids: BTreeMap::new(),
            replace: replace
                .iter()
                .map(|(from, to)| ((*from).to_owned(), (*to).to_owned()))
                .collect(),
        }
    }

    fn text(&mut self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let run = rest.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len());
            if run == 64 {
                let next = format!("<id{}>", self.ids.len() + 1);
                out.push_str(self.ids.entry(rest[..run].to_owned()).or_insert(next));
            } else {
                out.push_str(&rest[..run]);
            }
            rest = &rest[run..];
        }
        out.push_str(rest);
        for (from, to) in &self.replace {
            out = out.replace(from.as_str(), to);
        }
        out
    }

    /// `TYPE ACTION ACTOR {k=v, …}`, and Docker's legacy fields (`status`, `id`, `from`).
    fn event(&mut self, event: &Value) -> String {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut line = format!(
            "{} {} {}",
            text(&event["Type"]),
            text(&event["Action"]),
            self.text(&text(&event["Actor"]["ID"]))
        );
        let mut pairs = Vec::new();
        for (key, value) in event["Actor"]["Attributes"].as_object().into_iter().flatten() {
            if KEY_ATTRIBUTES.contains(&key.as_str()) {
                pairs.push(format!("{key}={}", self.text(&text(value))));
            } else {
                pairs.push(format!("{key}=…"));
            }
        }
        line.push_str(&format!(" {{{}}}", pairs.join(", ")));
        for legacy in ["status", "id", "from"] {
            if let Some(value) = event[legacy].as_str() {
                line.push_str(&format!(" {legacy}={}", self.text(value)));
            }
        }
        line
    }

    fn events(&mut self, events: &[Value]) -> Vec<String> {
        events.iter().map(|e| self.event(e)).collect()
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The events about what the test made (names starting with `unique`), out of a shared daemon's
/// stream: its containers, their networks' connects and volumes (anonymous ones too), the images
/// tagged with its names (and later named by their ids), and the references it pulled or pushed.
/// Which ids are the test's is learnt from `context`, the whole stream of the time (a filtered
/// stream may lack the events that name them).
fn made_by(events: &[Value], context: &[Value], unique: &str) -> Vec<Value> {
    let attribute = |e: &Value, key: &str| text(&e["Actor"]["Attributes"][key]).to_owned();
    let containers: BTreeSet<String> = context
        .iter()
        .filter(|e| e["Type"] == "container" && attribute(e, "name").starts_with(unique))
        .map(|e| text(&e["Actor"]["ID"]).to_owned())
        .collect();
    let mut images: BTreeSet<String> = context
        .iter()
        .filter(|e| e["Type"] == "image" && attribute(e, "name").contains(unique))
        .map(|e| text(&e["Actor"]["ID"]).to_owned())
        .collect();
    images.extend(
        context
            .iter()
            .filter(|e| e["Action"] == "commit" && containers.contains(text(&e["Actor"]["ID"])))
            .map(|e| attribute(e, "imageID")),
    );
    let volumes: BTreeSet<String> = context
        .iter()
        .filter(|e| e["Type"] == "volume" && containers.contains(&attribute(e, "container")))
        .map(|e| text(&e["Actor"]["ID"]).to_owned())
        .collect();
    events
        .iter()
        .filter(|e| {
            let actor = text(&e["Actor"]["ID"]);
            match text(&e["Type"]) {
                "container" => containers.contains(actor),
                "network" => containers.contains(&attribute(e, "container")),
                "volume" => actor.starts_with(unique) || volumes.contains(actor),
                "image" => images.contains(actor) || actor.contains(unique),
                _ => false,
            }
        })
        .cloned()
        .collect()
}

/// `(Type, Action)` of each event.
fn actions(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (text(&e["Type"]).to_owned(), text(&e["Action"]).to_owned()))
        .collect()
}

/// Volumes (named, implicit, anonymous from an image's VOLUME), a commit, tag, save, rmi and
/// load: the same commands on both daemons, the same events.
#[test]
fn volume_image_and_container_events_are_dockers() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let unique = unique_name("berthev");
    let name = |what: &str| format!("{unique}-{what}");
    let berthd = Engine::new(daemon.socket.clone());
    let dockerd = Engine::new(dockerd_socket());
    let leftovers = DockerLeftovers {
        engine: &dockerd,
        containers: ["c1", "c2", "c3"].iter().map(|c| name(c)).collect(),
        volumes: ["named", "implicit"].iter().map(|v| name(v)).collect(),
        images: std::cell::RefCell::new(vec![name("repo:v1"), name("repo:v2")]),
    };
    let archive_dir = TempDir::new("berth-events-archive");

    let mut seen = Vec::new();
    for (engine, label) in [(&berthd, "berthd"), (&dockerd, "dockerd")] {
        let archive = archive_dir.0.join(format!("{label}.tar"));
        let archive = archive.to_str().expect("a UTF-8 temp path");
        let since = now();
        engine.ok(&["volume", "create", &name("named")]);
        // A named volume made by -v, and an anonymous one for postgres's VOLUME.
        engine.ok(&[
            "run",
            "--name",
            &name("c1"),
            "-v",
            &format!("{}:/data", name("implicit")),
            "busybox",
            "true",
        ]);
        engine.ok(&["run", "--name", &name("c2"), "postgres:12.1", "true"]);
        engine.ok(&["rm", "-v", &name("c2")]);
        engine.ok(&["rm", &name("c1")]);
        engine.ok(&["volume", "rm", &name("named"), &name("implicit")]);
        engine.ok(&[
            "run",
            "--name",
            &name("c3"),
            "busybox",
            "sh",
            "-c",
            "echo made > /made",
        ]);
        let image = engine.ok(&["commit", "-m", "made it", &name("c3"), &name("repo:v1")]);
        leftovers.images.borrow_mut().push(image.trim().to_owned());
        engine.ok(&["tag", &name("repo:v1"), &name("repo:v2")]);
        engine.ok(&["save", "-o", archive, &name("repo:v1")]);
        engine.ok(&["rmi", &name("repo:v1"), &name("repo:v2")]);
        engine.ok(&["load", "-i", archive]);
        engine.ok(&["rmi", &name("repo:v1")]);
        engine.ok(&["rm", &name("c3")]);
        let until = now();
        let all = engine.events(&since, &until, None);
        let mine = made_by(&all, &all, &unique);
        if label == "berthd" {
            // A private daemon: nothing else happened, so nothing was left out above.
            assert_eq!(
                actions(&mine),
                actions(&all),
                "berthd logged events of something else"
            );
        }
        let filtered = |filters: &str| made_by(&engine.events(&since, &until, Some(filters)), &all, &unique);
        seen.push((
            mine,
            filtered(&format!(r#"{{"volume":["{}"]}}"#, name("implicit"))),
            filtered(r#"{"type":["volume"]}"#),
            filtered(r#"{"type":["image"]}"#),
            filtered(r#"{"network":["bridge"]}"#),
            filtered(&format!(r#"{{"image":["{}"]}}"#, name("repo"))),
        ));
    }
    let (berth, docker) = (&seen[0], &seen[1]);

    // The sequence, by type and action first (the clearest diff when it breaks).
    assert_eq!(actions(&berth.0), actions(&docker.0));
    let expected: Vec<(String, String)> = [
        ("volume", "create"),
        ("volume", "create"),
        ("container", "create"),
        ("container", "attach"),
        ("network", "connect"),
        ("volume", "mount"),
        ("container", "start"),
        ("container", "die"),
        ("network", "disconnect"),
        ("volume", "unmount"),
        ("volume", "create"),
        ("container", "create"),
        ("container", "attach"),
        ("network", "connect"),
        ("volume", "mount"),
        ("container", "start"),
        ("container", "die"),
        ("network", "disconnect"),
        ("volume", "unmount"),
        ("volume", "destroy"),
        ("container", "destroy"),
        ("container", "destroy"),
        ("volume", "destroy"),
        ("volume", "destroy"),
        ("container", "create"),
        ("container", "attach"),
        ("network", "connect"),
        ("container", "start"),
        ("container", "die"),
        ("network", "disconnect"),
        // Docker tags the new image, then logs the container's commit.
        ("image", "tag"),
        ("container", "commit"),
        ("image", "tag"),
        ("image", "save"),
        ("image", "untag"),
        ("image", "untag"),
        ("image", "delete"),
        ("image", "load"),
        ("image", "untag"),
        ("image", "delete"),
        ("container", "destroy"),
    ]
    .iter()
    .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
    .collect();
    assert_eq!(actions(&berth.0), expected);

    // Then every event whole: actors, key attributes, labels present or not, legacy fields.
    let redact = |events: &[Value]| Redactions::new(&[(&unique, "<unique>")]).events(events);
    for (what, b, d) in [
        ("the sequence", &berth.0, &docker.0),
        ("volume=<implicit>", &berth.1, &docker.1),
        ("type=volume", &berth.2, &docker.2),
        ("type=image", &berth.3, &docker.3),
        ("network=bridge", &berth.4, &docker.4),
        ("image=<repo>", &berth.5, &docker.5),
    ] {
        assert_eq!(redact(b), redact(d), "{what}");
    }
    let only = |events: &[Value]| -> BTreeSet<String> {
        events.iter().map(|e| text(&e["Type"]).to_owned()).collect()
    };
    assert_eq!(
        actions(&berth.1),
        [
            ("volume", "create"),
            ("volume", "mount"),
            ("volume", "unmount"),
            ("volume", "destroy")
        ]
        .iter()
        .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
        .collect::<Vec<_>>()
    );
    assert_eq!(only(&berth.2), BTreeSet::from(["volume".to_owned()]));
    assert_eq!(only(&berth.3), BTreeSet::from(["image".to_owned()]));
    assert_eq!(only(&berth.4), BTreeSet::from(["network".to_owned()]));
    assert_eq!(actions(&berth.5).len(), 2, "the two tags of <unique>-repo");

    // The commit event's own attributes, as Docker 20.10 gives them.
    let commit = berth
        .0
        .iter()
        .find(|e| e["Action"] == "commit")
        .expect("a commit event");
    let attributes = &commit["Actor"]["Attributes"];
    assert_eq!(attributes["comment"], "made it");
    assert_eq!(attributes["imageRef"], name("repo:v1"));
    assert!(text(&attributes["imageID"]).starts_with("sha256:"), "{commit}");
    drop(leftovers);
}

/// `volume prune` and `image prune` end with Docker's `prune` event: no actor, the bytes
/// reclaimed. (dockerd 20.10 logs the same for container, image, volume and network prune, as
/// tried on it; a prune on the shared dockerd can't be told apart from another's, so berthd's
/// are checked alone.)
#[test]
fn prunes_log_a_prune_event() {
    let daemon = TestDaemon::start();
    let berthd = Engine::new(daemon.socket.clone());
    let since = now();
    berthd.ok(&["volume", "create", "--label", "old=1", "stale"]);
    berthd.ok(&["volume", "prune", "-f", "--filter", "label=old=1"]);
    berthd.ok(&["image", "prune", "-f"]);
    berthd.ok(&["container", "prune", "-f"]);
    berthd.ok(&["network", "prune", "-f"]);
    let until = now();
    let events = berthd.events(&since, &until, None);
    let mut redactions = Redactions::new(&[]);
    assert_eq!(
        redactions.events(&events),
        [
            "volume create stale {driver=local}",
            "volume destroy stale {driver=local}",
            "volume prune  {reclaimed=0}",
            "image prune  {reclaimed=0} status=prune",
            "container prune  {reclaimed=0} status=prune",
            "network prune  {reclaimed=0}",
        ]
    );
}

/// `since`/`until` as dockerd reads them: Go integers, `SECONDS[.FRACTION]`. Values it can't
/// parse get its 500 and words (no panic in berthd), `since` after `until` its 400, and a huge
/// `until` is simply far away: the stream stays open.
#[test]
fn odd_since_and_until_get_dockers_answers() {
    let daemon = TestDaemon::start();
    let berthd = Engine::new(daemon.socket.clone());
    let dockerd = Engine::new(dockerd_socket());
    let answer = |engine: &Engine, query: &str| {
        let answer = engine.get(&format!("/events?{query}"), Duration::from_secs(2));
        let message = serde_json::from_str::<Value>(answer.body.trim())
            .map(|v| text(&v["message"]).to_owned())
            .unwrap_or_default();
        (answer.status, message, answer.ended)
    };
    for query in [
        "until=1e300",
        "until=inf",
        "until=nan",
        "since=-1e300",
        "since=99999999999999999999",
        "since=1.x",
        "since=9999999999&until=1",
        "since=-5&until=1",
        // Far future: the stream stays open (berthd doesn't panic adding it to now).
        "until=9999999999999",
    ] {
        let (berth, docker) = (answer(&berthd, query), answer(&dockerd, query));
        // What a shared dockerd streams meanwhile is another's business: status, message, end.
        assert_eq!(berth, docker, "{query}");
    }
    // Left out of the comparison on purpose: dockerd's Go time arithmetic overflows on these
    // (the largest until reads as before since, 400 "`since` time () cannot be after `until`
    // time (9223372036854775807)"; a huge since replays every kept event). berthd takes both as
    // what they say, the far future: the stream stays open with nothing replayed.
    for query in ["until=9223372036854775807", "since=9223372036854775807"] {
        assert_eq!(answer(&berthd, query), (200, String::new(), false), "{query}");
    }
    assert!(!daemon.log().contains("panicked"), "{}", daemon.log());
}

/// `pull` and `push` events through a local registry: the reference as asked, named by its
/// repository. Docker's `pull` of a tag logs no `tag`.
#[test]
fn pull_and_push_events_are_dockers() {
    let registry = Registry::start();
    let host = registry.host();
    let unique = unique_name("berthev");
    // An image of its own, so no other user of the shared dockerd has its id.
    let content = format!("made by {unique}\n");
    let image = BuiltImage::new(
        &[(tar_of(&[("unique", content.as_bytes())]), Compression::Gzip)],
        "amd64",
        &["cat", "/unique"],
    );
    let layout = TempDir::new("berth-events-layout");
    oci_layout(&layout.0, "src", &[&image]);
    skopeo_copy(&[
        "--format",
        "v2s2",
        &format!("oci:{}:src", layout.0.display()),
        &format!("docker://{host}/lab/{unique}:1.0"),
    ]);
    let pulled = format!("{host}/lab/{unique}:1.0");
    let pushed = format!("{host}/lab/{unique}-pushed:1");
    let daemon = TestDaemon::start();
    let berthd = Engine::new(daemon.socket.clone());
    let dockerd = Engine::new(dockerd_socket());
    let _leftovers = DockerLeftovers {
        engine: &dockerd,
        containers: Vec::new(),
        volumes: Vec::new(),
        images: std::cell::RefCell::new(vec![pulled.clone(), pushed.clone()]),
    };
    let mut seen = Vec::new();
    for engine in [&berthd, &dockerd] {
        let since = now();
        engine.ok(&["pull", &pulled]);
        engine.ok(&["tag", &pulled, &pushed]);
        engine.ok(&["push", &pushed]);
        engine.ok(&["rmi", &pulled, &pushed]);
        let until = now();
        let all = engine.events(&since, &until, None);
        seen.push(made_by(&all, &all, &unique));
    }
    let redact =
        |events: &[Value]| Redactions::new(&[(&host, "<registry>"), (&unique, "<unique>")]).events(events);
    assert_eq!(redact(&seen[0]), redact(&seen[1]));
    let expected: Vec<(String, String)> = ["pull", "tag", "push", "untag", "untag", "delete"]
        .iter()
        .map(|a| ("image".to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(actions(&seen[0]), expected);
    let pull = &seen[0][0];
    assert_eq!(pull["Actor"]["ID"], pulled.as_str());
    assert_eq!(
        pull["Actor"]["Attributes"]["name"],
        format!("{host}/lab/{unique}")
    );
}
