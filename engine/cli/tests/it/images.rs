//! Image commands against a real berthd: load, images, inspect, history, tag, rmi, prune, save,
//! import — and the archives berth writes loaded by a real Docker.

use std::io::Write;
use std::process::Stdio;

use crate::common::{TempDir, TestDaemon, docker, docker_ok, stand_in_images, unique_name};

/// The lab images a fresh load brings, as `images` names them.
const LAB_IMAGES: &[(&str, &str)] = &[
    ("busybox", "latest"),
    ("hello-world", "latest"),
    ("httpd", "2.4"),
    ("nginx", "latest"),
    ("postgres", "12.1"),
];

/// Sum of a layer tar's file sizes as Docker counts an image's size: regular files (hard links once)
/// and symlinks (their target's length), directories not at all.
fn docker_size_of_layer(layer: &[u8]) -> u64 {
    let mut archive = tar::Archive::new(layer);
    let mut size = 0;
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        size += match header.entry_type() {
            tar::EntryType::Regular => header.size().unwrap(),
            tar::EntryType::Symlink => header.link_name_bytes().map_or(0, |l| l.len() as u64),
            _ => 0,
        };
    }
    size
}

/// The layer tars of one image in an archive of berth's format (manifest.json → blobs).
fn layers_of(archive_path: &std::path::Path, repo_tag: &str) -> Vec<Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(archive_path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(path, bytes);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let image = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["RepoTags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == repo_tag))
        })
        .unwrap_or_else(|| panic!("{repo_tag} not in the archive"));
    image["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect()
}

#[test]
fn load_lists_every_lab_image_with_true_sizes() {
    let daemon = TestDaemon::start();
    let out = daemon.ok(&["load", "-i", stand_in_images().to_str().unwrap()]);
    for (repo, tag) in LAB_IMAGES {
        assert!(out.contains(&format!("Loaded image: {repo}:{tag}\n")), "{out}");
    }

    let table = daemon.ok(&["images"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header
            .split("   ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), LAB_IMAGES.len(), "{table}");
    for (repo, tag) in LAB_IMAGES {
        assert!(
            rows.iter()
                .any(|r| r.split_whitespace().take(2).eq([*repo, *tag])),
            "{repo}:{tag} missing in\n{table}"
        );
    }

    // Sizes are the files' bytes, computed here independently from the archive's layers.
    for (repo, tag) in LAB_IMAGES {
        let reference = format!("{repo}:{tag}");
        let expected: u64 = layers_of(&stand_in_images(), &reference)
            .iter()
            .map(|l| docker_size_of_layer(l))
            .sum();
        let size = daemon.ok(&["image", "inspect", "-f", "{{.Size}}", &reference]);
        assert_eq!(size.trim(), expected.to_string(), "size of {reference}");
    }

    // Management form, quiet ids, and a --format template.
    assert_eq!(daemon.ok(&["image", "ls"]), table);
    let ids = daemon.ok(&["images", "-q"]);
    assert_eq!(ids.lines().count(), LAB_IMAGES.len());
    assert!(
        ids.lines()
            .all(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{ids}"
    );
    let formatted = daemon.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"]);
    assert_eq!(formatted, "busybox:latest\n");
    // A reader that goes away (`berth images | head -n0`) ends berth quietly, as a shell sees
    // Docker's CLI end: killed by SIGPIPE's number, no panic on stderr.
    let mut listing = daemon
        .berth()
        .arg("images")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(listing.stdout.take());
    let ended = listing.wait_with_output().unwrap();
    assert_eq!(ended.status.code(), Some(141), "{ended:?}");
    assert_eq!(String::from_utf8_lossy(&ended.stderr), "");
    // Loading the same archive again changes nothing.
    daemon.ok(&["load", "-i", stand_in_images().to_str().unwrap()]);
    assert_eq!(daemon.ok(&["images", "-q"]).lines().count(), LAB_IMAGES.len());
}

#[test]
fn inspect_and_history_show_the_image_config() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let json = daemon.ok(&["image", "inspect", "httpd:2.4"]);
    let inspect: serde_json::Value = serde_json::from_str(&json).unwrap();
    let image = &inspect[0];
    assert!(image["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(image["RepoTags"], serde_json::json!(["httpd:2.4"]));
    assert_eq!(image["Config"]["WorkingDir"], "/usr/local/apache2");
    assert_eq!(image["Config"]["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["RootFS"]["Type"], "layers");
    // Docker's inspect indents with four spaces.
    assert!(json.contains("\n        \"Id\": \"sha256:"), "{json}");

    let template = daemon.ok(&[
        "inspect",
        "-f",
        "{{json .Config.ExposedPorts}} {{.Config.WorkingDir}}",
        "httpd:2.4",
    ]);
    assert_eq!(template, "{\"80/tcp\":{}} /usr/local/apache2\n");

    let history = daemon.ok(&["history", "httpd:2.4"]);
    let header = history.lines().next().unwrap();
    for column in ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"] {
        assert!(header.contains(column), "{header}");
    }
    let layers = inspect[0]["RootFS"]["Layers"].as_array().unwrap().len();
    assert!(
        history.lines().count() > layers,
        "one row per step, config-only steps included:\n{history}"
    );
    let id = image["Id"].as_str().unwrap();
    assert!(
        history.lines().nth(1).unwrap().starts_with(&id[7..19]),
        "newest step carries the image id:\n{history}"
    );

    let (code, stderr) = daemon.fails(&["image", "inspect", "nosuch"]);
    assert_eq!((code, stderr.as_str()), (1, "Error: No such image: nosuch\n"));
}

#[test]
fn tag_and_rmi_follow_dockers_rules() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let id = daemon
        .ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .trim()
        .to_owned();
    let short = &id[7..19];

    daemon.ok(&["tag", "busybox", "example/box:v1"]);
    daemon.ok(&["image", "tag", short, "localhost:5000/box"]);
    let tags = daemon.ok(&["image", "inspect", "-f", "{{json .RepoTags}}", short]);
    assert_eq!(
        tags.trim(),
        r#"["example/box:v1","busybox:latest","localhost:5000/box:latest"]"#
    );

    // By id, with several repositories naming it: Docker refuses unless forced.
    let (code, stderr) = daemon.fails(&["rmi", short]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "Error response from daemon: conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories\n"
        )
    );
    // By name: only that reference goes.
    assert_eq!(
        daemon.ok(&["rmi", "example/box:v1"]),
        "Untagged: example/box:v1\n"
    );
    assert_eq!(
        daemon.ok(&["rmi", "localhost:5000/box"]),
        "Untagged: localhost:5000/box:latest\n"
    );

    // The last reference takes the image, and the layers only busybox used; httpd shares the
    // base layer, which stays (httpd can still be saved whole).
    let out = daemon.ok(&["rmi", "busybox"]);
    assert!(
        out.starts_with(&format!("Untagged: busybox:latest\nDeleted: {id}\n")),
        "{out}"
    );
    assert!(!daemon.ok(&["images"]).contains("busybox"));
    let archive = TempDir::new("berth-save");
    let path = archive.0.join("httpd.tar");
    daemon.ok(&["save", "-o", path.to_str().unwrap(), "httpd:2.4"]);

    let (code, stderr) = daemon.fails(&["rmi", "busybox", "nosuch:1"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error: No such image: busybox\nError: No such image: nosuch:1\n"
    );
    let (_, stderr) = daemon.fails(&["tag", "httpd:2.4", "Bad/Name"]);
    assert!(stderr.contains("repository name must be lowercase"), "{stderr}");
}

#[test]
fn save_and_load_round_trip_and_docker_loads_what_berth_saves() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let tag = unique_name("berth-saved");
    daemon.ok(&["tag", "busybox", &format!("{tag}:v1")]);
    let dir = TempDir::new("berth-save");
    let archive = dir.0.join("saved.tar");
    daemon.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        &format!("{tag}:v1"),
        "httpd:2.4",
    ]);

    // Into another berthd: same ids.
    let other = TestDaemon::start();
    let out = other.ok(&["load", "-i", archive.to_str().unwrap()]);
    let mut loaded: Vec<&str> = out.lines().collect();
    loaded.sort();
    let tagged = format!("Loaded image: {tag}:v1");
    let mut expected = vec!["Loaded image: httpd:2.4", tagged.as_str()];
    expected.sort();
    assert_eq!(loaded, expected);
    for name in [format!("{tag}:v1"), "httpd:2.4".to_owned()] {
        let id = |d: &TestDaemon| d.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
        assert_eq!(id(&daemon), id(&other), "{name}");
    }

    // Into the real Docker engine: it loads and runs what berth saved.
    let out = docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.contains(&format!("Loaded image: {tag}:v1")), "{out}");
    let ran = docker()
        .args(["run", "--rm", &format!("{tag}:v1"), "echo", "ok"])
        .output()
        .unwrap();
    let _ = docker().args(["rmi", &format!("{tag}:v1")]).output();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    // Saving to stdout streams the same archive.
    let piped = daemon
        .berth()
        .args(["save", &format!("{tag}:v1")])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(piped.status.success());
    let entries: Vec<String> = tar::Archive::new(&piped.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in ["manifest.json", "index.json", "oci-layout"] {
        assert!(entries.iter().any(|e| e == name), "{name} missing in {entries:?}");
    }
    let (_, stderr) = daemon.fails(&["save", "-o", archive.to_str().unwrap(), "nosuch"]);
    assert!(stderr.contains("No such image: nosuch"), "{stderr}");
}

/// A busybox root file system as a tar, for import.
fn busybox_rootfs_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    builder
        .append_data(&mut header, "bin/", std::io::empty())
        .unwrap();
    builder
        .append_path_with_name("/bin/busybox", "bin/busybox")
        .unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_mode(0o777);
    builder.append_link(&mut link, "bin/sh", "busybox").unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn import_makes_a_one_layer_image_with_changes() {
    let daemon = TestDaemon::start();
    let dir = TempDir::new("berth-import");
    let tar_path = dir.0.join("rootfs.tar");
    std::fs::write(&tar_path, busybox_rootfs_tar()).unwrap();
    let out = daemon.ok(&[
        "import",
        "-c",
        r#"CMD ["sh"]"#,
        "-c",
        "ENV A=1",
        "-c",
        "EXPOSE 80",
        "-c",
        "WORKDIR /srv",
        "-m",
        "from a test",
        tar_path.to_str().unwrap(),
        "example/imported:v1",
    ]);
    assert!(out.starts_with("sha256:") && out.len() == 72, "{out}");
    let config = daemon.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.Comment}}",
        "example/imported:v1",
    ]);
    assert_eq!(config, "[\"sh\"] [\"A=1\"] /srv from a test\n");
    let history = daemon.ok(&["history", "--format", "{{.Comment}}", "example/imported:v1"]);
    assert_eq!(history, "from a test\n");

    // From stdin, untagged: the image is dangling and `image prune` takes it.
    let mut child = daemon
        .berth()
        .args(["import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&busybox_rootfs_tar())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let history = daemon.ok(&["history", "--format", "{{.Comment}}", &id]);
    assert_eq!(history, "Imported from -\n");
    let dangling = daemon.ok(&["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.trim(), &id[7..19]);
    let pruned = daemon.ok(&["image", "prune", "-f"]);
    assert!(
        pruned.starts_with(&format!("Deleted Images:\ndeleted: {id}\n")),
        "{pruned}"
    );
    assert!(pruned.contains("Total reclaimed space: "), "{pruned}");
    assert!(
        daemon
            .ok(&["images", "-q", "--filter", "dangling=true"])
            .is_empty()
    );

    // Bad changes are refused before anything is stored.
    let (_, stderr) = daemon.fails(&["import", "-c", "RUN make", tar_path.to_str().unwrap()]);
    assert_eq!(
        stderr,
        "Error response from daemon: run is not a valid change command\n"
    );
}

/// A tar with one hostile entry, refused whole.
fn evil_tar(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    builder
        .append_data(&mut header, "etc/", std::io::empty())
        .unwrap();
    build(&mut builder);
    builder.into_inner().unwrap()
}

/// Raw tar header bytes with a name the tar crate's safe setters refuse.
fn raw_entry(builder: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn hostile_layers_are_refused_and_leave_nothing() {
    let daemon = TestDaemon::start();
    let outside = TempDir::new("berth-outside");
    let victim = outside.0.join("victim");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "../escape",
            evil_tar(|b| raw_entry(b, "../escape", tar::EntryType::Regular, "", b"x")),
        ),
        (
            "/abs",
            evil_tar(|b| raw_entry(b, "/abs", tar::EntryType::Regular, "", b"x")),
        ),
        (
            "etc/../../x",
            evil_tar(|b| raw_entry(b, "etc/../../x", tar::EntryType::Regular, "", b"x")),
        ),
        (
            "a/victim",
            evil_tar(|b| {
                raw_entry(b, "a", tar::EntryType::Symlink, outside.0.to_str().unwrap(), b"");
                raw_entry(b, "a/victim", tar::EntryType::Regular, "", b"pwned");
            }),
        ),
        (
            "hl",
            evil_tar(|b| raw_entry(b, "hl", tar::EntryType::Link, "../../../../etc/passwd", b"")),
        ),
    ];
    let data = daemon.data_root().join("image");
    let count = |dir: &str| std::fs::read_dir(data.join(dir)).map(|d| d.count()).unwrap_or(0);
    for (entry, tar) in cases {
        let path = outside.0.join("evil.tar");
        std::fs::write(&path, &tar).unwrap();
        let (_, stderr) = daemon.fails(&["import", path.to_str().unwrap(), "evil:1"]);
        assert!(stderr.contains(entry), "the error names {entry:?}: {stderr}");
        assert_eq!(count("blobs/sha256"), 0, "no blob stays after {entry}");
        assert_eq!(count("layers"), 0, "no layer stays after {entry}");
        assert_eq!(count("tmp"), 0, "no temporary file stays after {entry}");
        assert!(!victim.exists(), "nothing written outside after {entry}");
    }
    assert!(daemon.ok(&["images", "-q"]).is_empty());
}

#[test]
fn the_real_docker_cli_lists_and_inspects_berth_images() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let docker_cli = |args: &[&str]| {
        let output = std::process::Command::new(crate::common::docker_cli())
            .arg("-H")
            .arg(daemon.host())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(docker_cli(&["images"]), daemon.ok(&["images"]));
    assert_eq!(
        docker_cli(&["image", "inspect", "-f", "{{.Id}} {{.Size}}", "nginx"]),
        daemon.ok(&["image", "inspect", "-f", "{{.Id}} {{.Size}}", "nginx"])
    );
    assert_eq!(
        docker_cli(&["history", "nginx"]),
        daemon.ok(&["history", "nginx"])
    );
    docker_cli(&["tag", "nginx", "web:1"]);
    assert_eq!(docker_cli(&["rmi", "web:1"]), "Untagged: web:1\n");
}

#[test]
fn api_answers_versioned_and_unversioned_paths() {
    let daemon = TestDaemon::start();
    let curl = |args: &[&str]| {
        let output = std::process::Command::new("curl")
            .args(["-s", "-i", "--unix-socket", daemon.socket.to_str().unwrap()])
            .args(args)
            .output()
            .expect("curl (apt-get install curl)");
        String::from_utf8(output.stdout).unwrap()
    };
    for path in ["http://berth/_ping", "http://berth/v1.41/_ping"] {
        let response = curl(&[path]);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let lower = response.to_lowercase();
        assert!(lower.contains("api-version: 1.41"), "{response}");
        assert!(lower.contains("ostype: linux"), "{response}");
        assert!(response.ends_with("OK"), "{response}");
    }
    let head = curl(&["-I", "http://berth/_ping"]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let images = curl(&["http://berth/v1.41/images/json"]);
    assert!(
        images.starts_with("HTTP/1.1 200") && images.trim_end().ends_with("[]"),
        "{images}"
    );
    // JSON documents end with a newline, as Go's encoder writes them; inspect words a failed
    // lookup as dockerd 20.10 wraps it.
    let missing = curl(&["http://berth/images/nosuch/json"]);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(
        missing.ends_with("\r\n\r\n{\"message\":\"no such image: nosuch: No such image: nosuch:latest\"}\n"),
        "{missing}"
    );
    let unknown = curl(&["http://berth/v1.41/nosuch"]);
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(
        unknown.ends_with("{\"message\":\"page not found\"}\n"),
        "{unknown}"
    );
    let too_new = curl(&["http://berth/v1.99/version"]);
    assert!(too_new.starts_with("HTTP/1.1 400"), "{too_new}");
    // Every answer, errors included, names the API version, the OS and the server, as dockerd's do.
    for response in [&images, &missing, &too_new] {
        let lower = response.to_lowercase();
        assert!(lower.contains("\r\napi-version: 1.41\r\n"), "{response}");
        assert!(lower.contains("\r\nostype: linux\r\n"), "{response}");
        assert!(lower.contains("\r\nserver: berth/"), "{response}");
        assert!(
            lower.contains("\r\ncontent-type: application/json\r\n"),
            "{response}"
        );
    }
}

#[test]
fn rmi_is_refused_while_a_container_uses_the_image_unless_forced() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let id = daemon
        .ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .trim()
        .to_owned();
    let short = &id[7..19];
    let container = daemon.ok(&["create", "busybox", "true"]).trim().to_owned();

    // By name, its only name: Docker refuses, naming the container and the image.
    let (code, stderr) = daemon.fails(&["rmi", "busybox"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \"busybox\" (must force) - container {} is using its referenced image {short}\n",
            &container[..12]
        )
    );
    // By id: a stopped container's image must be forced.
    let (_, stderr) = daemon.fails(&["rmi", short]);
    assert!(
        stderr.contains(&format!(
            "unable to delete {short} (must be forced) - image is being used by stopped container {}",
            &container[..12]
        )),
        "{stderr}"
    );
    // Forced: the image goes, the container keeps running on its layers.
    let out = daemon.ok(&["rmi", "-f", "busybox"]);
    assert!(
        out.contains("Untagged: busybox:latest") && out.contains(&format!("Deleted: {id}")),
        "{out}"
    );
    daemon.ok(&["start", "-a", &container]);
    daemon.ok(&["rm", &container]);
}
