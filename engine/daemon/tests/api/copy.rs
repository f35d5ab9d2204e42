//! `docker cp` and `docker export` at the API, beside Docker 20.10: `HEAD`/`GET`/`PUT
//! /containers/{id}/archive` and `GET /containers/{id}/export` on running and stopped
//! containers, through symlinks (never out of the container), volumes and read-only mounts,
//! with hostile tars; the same status and message, the same stat and tar entries, nothing left
//! mounted, and the daemon alive.

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

/// One container on each engine, made alike.
struct Pair<'a> {
    daemon: &'a TestDaemon,
    ours: String,
    /// The name both were given (Docker's messages name the container as asked).
    name: String,
}

impl<'a> Pair<'a> {
    fn create(daemon: &'a TestDaemon, on_docker: &mut OnDocker, prefix: &str, body: &Value) -> Pair<'a> {
        let made = crate::support::Pair::create(daemon, on_docker, prefix, body);
        Pair {
            daemon,
            ours: made.ours,
            name: made.name,
        }
    }

    /// The same request to both, by name: berthd's answer, then Docker's.
    fn send(&self, method: &str, path: &str, body: &[u8]) -> [Answer; 2] {
        let path = path.replace("{name}", &self.name);
        [
            berth(self.daemon, method, &path, body),
            docker(method, &path, body),
        ]
    }

    /// Both answer alike (status and message); the status.
    fn alike(&self, method: &str, path: &str, body: &[u8]) -> u16 {
        let [ours, theirs] = self.send(method, path, body);
        assert_alike(&format!("{method} {path}"), &ours, &theirs);
        ours.status
    }

    fn start(&self) {
        assert_eq!(self.alike("POST", "/containers/{name}/start", b""), 204);
    }

    /// Wait until `path` exists in both containers (their command is setting them up).
    fn wait_for(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let [ours, theirs] = self.send("HEAD", &format!("/containers/{{name}}/archive?path={path}"), b"");
            if ours.status == 200 && theirs.status == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never appeared: {} {}",
                ours.status,
                theirs.status
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The stat header of an answer, decoded.
fn path_stat(answer: &Answer) -> Value {
    let header = answer
        .header("X-Docker-Container-Path-Stat")
        .unwrap_or_else(|| panic!("no stat header: {} {}", answer.status, answer.text()));
    let json = base64::engine::general_purpose::STANDARD
        .decode(header)
        .expect("base64");
    serde_json::from_slice(&json).expect("JSON")
}

/// What a tar holds: name, type, link and content of each entry, in order (times left out).
fn tar_entries(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().expect("a tar") {
        let mut entry = entry.expect("an entry");
        let header = entry.header().clone();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut content = String::new();
        let _ = entry.read_to_string(&mut content);
        // What each engine writes for its own container (ids, addresses) is not compared.
        if ["hostname", "hosts", "resolv.conf"]
            .iter()
            .any(|f| name.ends_with(f))
        {
            content = format!("{} bytes", !content.is_empty());
        }
        entries.push(format!(
            "{name} {:?} {:o} {}:{} -> {link:?} {content:?}",
            header.entry_type(),
            header.mode().unwrap_or(0) & 0o7777,
            header.uid().unwrap_or(0),
            header.gid().unwrap_or(0),
        ));
    }
    entries
}

/// The names in a tar.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    let mut names: Vec<String> = archive
        .entries()
        .expect("a tar")
        .map(|e| String::from_utf8_lossy(&e.expect("an entry").path_bytes()).into_owned())
        .collect();
    names.sort();
    names
}

/// A tar of raw entries: (name, kind, link target, content, uid, gid, mode). Names are written
/// as given — `..` and absolute ones included, as a hostile client would.
fn tar_of(entries: &[(&str, tar::EntryType, &str, &str)]) -> Vec<u8> {
    tar_owned(entries, 0, 0)
}

fn tar_owned(entries: &[(&str, tar::EntryType, &str, &str)], uid: u64, gid: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, content) in entries {
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(*kind);
        header.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(1_600_000_000);
        header.set_size(content.len() as u64);
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(content.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `GET path` asking for a gzipped answer (the testkit's client sends no such header): the
/// `Content-Encoding` and the body, unchunked and gunzipped.
fn get_gzipped(host: &str, path: &str) -> (String, Vec<u8>) {
    use std::io::Write;
    let socket = host.trim_start_matches("unix://");
    let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: docker\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
            .unwrap_or_default()
    };
    let mut body = raw[split + 4..].to_vec();
    if header("transfer-encoding") == "chunked" {
        let (mut plain, mut rest) = (Vec::new(), &body[..]);
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).unwrap().trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            plain.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 2 + size + 2..];
        }
        body = plain;
    }
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut tar)
        .expect("gzip");
    (header("content-encoding"), tar)
}

/// Mount points under the daemon's roots (a copy must leave none of its own).
fn mounts_under(daemon: &TestDaemon) -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let roots = [
        daemon.data_root().display().to_string(),
        daemon.exec_root().display().to_string(),
    ];
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|point| roots.iter().any(|root| point.starts_with(root.as_str())))
        .map(str::to_owned)
        .collect()
}

use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};

/// What the containers' command lays out before `/ready` appears.
const SETUP: &str = "mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s /etc /hostetc \
     && ln -s ../../.. /up && ln -s /d /dlink && ln -s /data /datalink && echo v > /data/f \
     && ln -s /data/f /data/tof && touch /ready && sleep 1000";

#[test]
fn stat_and_tar_of_paths_are_dockers_through_links_and_volumes() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sh", "-c", SETUP], "Volumes": {"/data": {}}});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-cp", &body);
    pair.start();
    pair.wait_for("/ready");

    for path in [
        "/d",
        "/d/",
        "/d/.",
        "d/sub/b",
        "/d/sub/../a",
        "/hostetc",
        "/hostetc/",
        "/up",
        "/dlink",
        "/dlink/",
        "/datalink",
        "/datalink/",
        "/data/f",
        "/data/tof",
        "/datalink/tof",
        "/etc/hostname",
        "/",
        "/.",
    ] {
        let query = format!("/containers/{{name}}/archive?path={}", encode(path));
        let [ours, theirs] = pair.send("HEAD", &query, b"");
        assert_eq!((ours.status, theirs.status), (200, 200), "HEAD {path}");
        let (ours, theirs) = (path_stat(&ours), path_stat(&theirs));
        for key in ["name", "mode", "linkTarget"] {
            assert_eq!(
                ours[key], theirs[key],
                "HEAD {path}: {key} of {ours} and {theirs}"
            );
        }
        if ours["mode"].as_u64().unwrap_or(0) & (1 << 31) == 0 {
            assert_eq!(ours["size"], theirs["size"], "HEAD {path}: {ours} {theirs}");
        }
        assert!(
            ours["mtime"].as_str().unwrap_or_default().ends_with('Z'),
            "{ours}"
        );
        if path == "/" || path == "/." {
            continue; // the whole tree: the images' files are compared by export
        }
        let [ours, theirs] = pair.send("GET", &query, b"");
        assert_eq!((ours.status, theirs.status), (200, 200), "GET {path}");
        assert_eq!(ours.header("content-type"), Some("application/x-tar"));
        assert_eq!(path_stat(&ours)["name"], path_stat(&theirs)["name"]);
        assert_eq!(tar_entries(&ours.body), tar_entries(&theirs.body), "GET {path}");
    }
    // The root's entries are `/`, `/bin/`… and `./`, `./bin/`… as Docker names them.
    for (path, first) in [("/", "/"), ("/.", "./")] {
        let [ours, theirs] = pair.send(
            "GET",
            &format!("/containers/{{name}}/archive?path={}", encode(path)),
            b"",
        );
        assert_eq!(tar_names(&ours.body)[0], first);
        assert_eq!(tar_names(&theirs.body)[0], first);
        // The volume's files are in it, seen through the mount.
        let file = format!("{}data/f", first);
        assert!(tar_names(&ours.body).contains(&file), "{file}");
        assert!(tar_names(&theirs.body).contains(&file), "{file}");
    }
    // Gzipped when asked for exactly that, as Docker's.
    let query = format!("/containers/{}/archive?path=/d", pair.name);
    let (ours, theirs) = (
        get_gzipped(&daemon.host(), &query),
        get_gzipped(&docker_host(), &query),
    );
    assert_eq!((ours.0.as_str(), theirs.0.as_str()), ("gzip", "gzip"));
    assert_eq!(tar_entries(&ours.1), tar_entries(&theirs.1));
    assert!(tar_entries(&ours.1).len() > 3, "{:?}", tar_entries(&ours.1));
    // Not found, not a directory, no path, no container: Docker's answers.
    for path in ["/nosuch", "/hostetc/nosuch", "/d/nosuch/x"] {
        for method in ["GET", "HEAD"] {
            pair.alike(
                method,
                &format!("/containers/{{name}}/archive?path={}", encode(path)),
                b"",
            );
        }
    }
    let [ours, theirs] = pair.send("GET", "/containers/{name}/archive?path=/etc/passwd/x", b"");
    assert_eq!((ours.status, theirs.status), (500, 500));
    assert!(ours.message().ends_with("not a directory"), "{}", ours.text());
    for method in ["GET", "HEAD", "PUT"] {
        pair.alike(method, "/containers/{name}/archive", b"");
        pair.alike(method, "/containers/{name}/archive?path=", b"");
        pair.alike(method, "/containers/berth-nosuch-cp/archive?path=/", b"");
    }
    // A NUL in the path is refused, not a panic.
    let [ours, theirs] = pair.send("GET", "/containers/{name}/archive?path=/d%00x", b"");
    assert_eq!(
        ours.status / 100,
        theirs.status / 100,
        "{} {}",
        ours.text(),
        theirs.text()
    );
    assert_alive(&mut daemon);
}

#[test]
fn extracting_follows_dockers_rules_and_never_leaves_the_container() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sh", "-c", SETUP], "Volumes": {"/data": {}}});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-cpput", &body);
    pair.start();
    pair.wait_for("/ready");
    let put =
        |path: &str, tar: &[u8]| pair.alike("PUT", &format!("/containers/{{name}}/archive?{path}"), tar);
    let files = tar_of(&[("dir/", D, "", ""), ("dir/f", F, "", "x"), ("file", F, "", "y")]);

    assert_eq!(put("path=/tmp", &files), 200);
    assert_eq!(
        put("path=/dlink", &gzip(&files)),
        200,
        "a gzipped tar, into a symlink to a directory"
    );
    assert_eq!(
        put("path=/datalink", &files),
        200,
        "into the volume through a symlink"
    );
    assert_eq!(put("path=/nosuch", &files), 404);
    assert_eq!(put("path=/etc/hostname", &files), 500, "not a directory");
    // Absolute names go below the directory; `..` out of it is refused.
    assert_eq!(put("path=/tmp", &tar_of(&[("/abs/x", F, "", "x")])), 200);
    assert_eq!(put("path=/tmp", &tar_of(&[("../../escape", F, "", "x")])), 500);
    assert_eq!(
        put("path=/tmp", &tar_of(&[("rl", S, "../../../../etc", "")])),
        500
    );
    assert_eq!(
        put("path=/tmp", &tar_of(&[("hl", H, "../../etc/passwd", "")])),
        500
    );
    // A symlink to /etc, then a file through it: the container's /etc, never the host's.
    let marker = unique_name("berth-cp-marker");
    let through = tar_of(&[("ln", S, "/etc", ""), (&format!("ln/{marker}"), F, "", "x")]);
    assert_eq!(put("path=/tmp", &through), 200);
    assert!(
        !std::path::Path::new("/etc").join(&marker).exists(),
        "written on the host"
    );
    pair.alike(
        "HEAD",
        &format!("/containers/{{name}}/archive?path=/etc/{marker}"),
        b"",
    );
    // noOverwriteDirNonDir, both ways; without it a directory replaces the file.
    assert_eq!(
        put("path=/&noOverwriteDirNonDir=1", &tar_of(&[("d", F, "", "x")])),
        500
    );
    assert_eq!(
        put("path=/d&noOverwriteDirNonDir=true", &tar_of(&[("a", D, "", "")])),
        500
    );
    assert_eq!(put("path=/d", &tar_of(&[("a", D, "", "")])), 200);
    // Garbage and truncated tars.
    assert_eq!(put("path=/tmp", b"garbage\n"), 500);
    let mut truncated = files.clone();
    truncated.truncate(700);
    pair.send("PUT", "/containers/{name}/archive?path=/tmp", &truncated);
    let mut huge = tar_of(&[("big", F, "", "")]);
    huge[124..135].copy_from_slice(b"77777777777"); // a size of 8 GiB, and no content
    let mut header = tar::Header::from_byte_slice(&huge[..512]).clone();
    header.set_cksum();
    huge[..512].copy_from_slice(header.as_bytes());
    assert_eq!(
        berth(
            &daemon,
            "PUT",
            &format!("/containers/{}/archive?path=/tmp", pair.name),
            &huge
        )
        .status,
        500
    );
    // A PAX record of 2 MiB: Go's reader refuses it over 1 MiB, and so does berthd, before
    // holding it in memory.
    let mut pax = tar_of(&[("PaxHeaders/big", tar::EntryType::XHeader, "", "")]);
    pax.truncate(512);
    let mut header = tar::Header::from_byte_slice(&pax).clone();
    header.set_size(2 << 20);
    header.set_cksum();
    pax.copy_from_slice(header.as_bytes());
    pax.extend(std::iter::repeat_n(b'a', 2 << 20));
    pax.extend(tar_of(&[("after", F, "", "x")]));
    assert_eq!(put("path=/tmp", &pax), 500);
    assert!(daemon.answers(), "berthd no longer answers: {}", daemon.log());

    // What was made is the same on both.
    for path in [
        "/tmp/dir",
        "/tmp/file",
        "/d/dir",
        "/data/dir",
        "/tmp/abs",
        "/tmp/ln",
        "/d/a",
    ] {
        let query = format!("/containers/{{name}}/archive?path={path}");
        let [ours, theirs] = pair.send("GET", &query, b"");
        assert_eq!((ours.status, theirs.status), (200, 200), "GET {path}");
        assert_eq!(tar_entries(&ours.body), tar_entries(&theirs.body), "GET {path}");
    }
    for path in ["/tmp/escape", "/escape", "/tmp/rl", "/tmp/hl"] {
        pair.alike("HEAD", &format!("/containers/{{name}}/archive?path={path}"), b"");
    }
    assert_alive(&mut daemon);
}

#[test]
fn stopped_containers_are_mounted_for_the_copy_and_unmounted_after() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let volume = unique_name("berth-api-cpro-vol");
    let body = json!({
        "Image": "busybox",
        "Cmd": ["true"],
        "User": "daemon",
        "Volumes": {"/rw": {}},
        "HostConfig": {
            "ReadonlyRootfs": true,
            "Mounts": [{"Type": "volume", "Source": volume, "Target": "/ro", "ReadOnly": true}]
        }
    });
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-cpro", &body);
    // Removed after the container (drops run in order).
    on_docker.volume(&volume);
    let started = chrono_now();
    let owned = tar_owned(&[("own", F, "", "x"), ("owndir/", D, "", "")], 1234, 4321);
    let put = |path: &str| pair.alike("PUT", &format!("/containers/{{name}}/archive?{path}"), &owned);

    assert_eq!(put("path=/tmp"), 500, "read-only root file system");
    assert_eq!(put("path=/ro"), 500, "read-only volume");
    assert_eq!(put("path=/rw"), 200);
    let query = "/containers/{name}/archive?path=/rw";
    let [ours, theirs] = pair.send("GET", query, b"");
    assert_eq!(tar_entries(&ours.body), tar_entries(&theirs.body));
    assert!(
        tar_entries(&ours.body)[1].contains("1234:4321"),
        "{:?}",
        tar_entries(&ours.body)
    );
    // copyUIDGID: the files become the container user's (`daemon` is 1:1 in busybox and on
    // this host, where Docker 20.10 looks the name up).
    assert_eq!(put("path=/rw&copyUIDGID=1"), 200);
    let [ours, theirs] = pair.send("GET", query, b"");
    assert_eq!(tar_entries(&ours.body), tar_entries(&theirs.body));
    assert!(
        tar_entries(&ours.body)[1].contains(" 1:1 "),
        "{:?}",
        tar_entries(&ours.body)
    );
    let [ours, theirs] = pair.send("GET", "/containers/{name}/archive?path=/etc/passwd", b"");
    assert_eq!(tar_entries(&ours.body), tar_entries(&theirs.body));

    // Nothing of the copies is left mounted; the container still starts and runs.
    assert_eq!(mounts_under(&daemon), Vec::<String>::new());
    pair.start();
    let events = berth(
        &daemon,
        "GET",
        &format!("/events?since={started}&until={}", chrono_now() + 1),
        b"",
    );
    let actions: Vec<String> = events
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["Type"] == "container")
        .map(|e| e["Action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(actions.contains(&"extract-to-dir".to_owned()), "{actions:?}");
    assert!(actions.contains(&"archive-path".to_owned()), "{actions:?}");
    // The mount was explained.
    let explained = daemon.explain_steps(&pair.ours);
    assert!(explained.contains("for the copy"), "{explained}");
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn export_has_the_paths_docker_exports() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let body = json!({"Image": "busybox", "Cmd": ["sh", "-c", SETUP], "Volumes": {"/data": {}}});
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-export", &body);
    // Created, never started; then running.
    let started = chrono_now();
    let [ours, theirs] = pair.send("GET", "/containers/{name}/export", b"");
    assert_eq!((ours.status, theirs.status), (200, 200));
    assert_eq!(tar_names(&ours.body), tar_names(&theirs.body));
    assert_eq!(mounts_under(&daemon), Vec::<String>::new());
    pair.start();
    pair.wait_for("/ready");
    let [ours, theirs] = pair.send("GET", "/containers/{name}/export", b"");
    assert_eq!(tar_names(&ours.body), tar_names(&theirs.body));
    // Without the volume's files: only its mount point.
    assert!(tar_names(&ours.body).contains(&"data/".to_owned()));
    assert!(!tar_names(&ours.body).contains(&"data/f".to_owned()));
    pair.alike("GET", "/containers/berth-nosuch-export/export", b"");
    let events = berth(
        &daemon,
        "GET",
        &format!("/events?since={started}&until={}", chrono_now() + 1),
        b"",
    );
    assert!(
        events.text().contains("\"Action\":\"export\""),
        "{}",
        events.text()
    );
    assert_alive(&mut daemon);
}
