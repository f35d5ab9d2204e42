//! `cargo xtask images --stand-ins`: the archive is reproducible, consistent, and real Docker runs its images.
//!
//! The Docker tests talk to the daemon at `DOCKER_HOST` (CI starts one and exports it; the
//! default socket otherwise) and fail, loudly, when none answers. Each test loads the archive
//! under its own repository prefix (`--repository-prefix`), so it never touches real tags or
//! another test's images, and removes its containers, volumes and tags even when it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// 2020-01-01T00:00:00Z, the default build date.
const DEFAULT_MTIME: u64 = 1_577_836_800;
const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const STAND_IN_LABEL: &str = "org.berth.lab.stand-in";
const IMAGES: [&str; 5] = [
    "busybox:latest",
    "hello-world:latest",
    "httpd:2.4",
    "nginx:latest",
    "postgres:12.1",
];

// ---------------------------------------------------------------------------------------------
// Building and reading the archive

/// Runs `cargo xtask images --stand-ins` (the built binary) into `output`.
fn build_archive(output: &Path, repository_prefix: &str) {
    let result = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["images", "--stand-ins", "--output"])
        .arg(output)
        .args(["--repository-prefix", repository_prefix])
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run xtask images");
    assert!(
        result.status.success(),
        "xtask images --stand-ins failed: {}\n{}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
}

/// One tar entry as read back.
struct Entry {
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: Option<String>,
    data: Vec<u8>,
}

/// The entries of a tar, in order.
fn read_tar(bytes: &[u8]) -> Vec<(String, Entry)> {
    let mut archive = tar::Archive::new(bytes);
    let mut entries = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        let path = entry.path().expect("entry path").to_string_lossy().into_owned();
        let link = entry
            .link_name()
            .expect("link name")
            .map(|link| link.to_string_lossy().into_owned());
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data");
        entries.push((
            path,
            Entry {
                kind: header.entry_type(),
                mode: header.mode().expect("mode"),
                uid: header.uid().expect("uid"),
                gid: header.gid().expect("gid"),
                mtime: header.mtime().expect("mtime"),
                link,
                data,
            },
        ));
    }
    entries
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

/// The archive, unpacked into a map from path to file contents (files only).
struct Archive {
    files: BTreeMap<String, Vec<u8>>,
}

impl Archive {
    fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).expect("read archive");
        let files = read_tar(&bytes)
            .into_iter()
            .filter(|(_, entry)| entry.kind == tar::EntryType::Regular)
            .map(|(path, entry)| (path, entry.data))
            .collect();
        Self { files }
    }

    fn file(&self, path: &str) -> &[u8] {
        self.files
            .get(path)
            .unwrap_or_else(|| panic!("archive has no {path}"))
    }

    fn blob(&self, digest: &str) -> &[u8] {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
        self.file(&format!("blobs/sha256/{hex}"))
    }

    /// `manifest.json`'s entry for `repo_tag`.
    fn manifest_entry(&self, repo_tag: &str) -> Value {
        let manifest = json(self.file("manifest.json"));
        manifest
            .as_array()
            .expect("manifest.json is a list")
            .iter()
            .find(|entry| {
                entry["RepoTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|tag| tag == repo_tag)
            })
            .unwrap_or_else(|| panic!("manifest.json has no {repo_tag}"))
            .clone()
    }

    fn config(&self, repo_tag: &str) -> Value {
        let entry = self.manifest_entry(repo_tag);
        json(self.file(entry["Config"].as_str().unwrap()))
    }

    /// The entries of the top layer of `repo_tag`.
    fn top_layer(&self, repo_tag: &str) -> Vec<(String, Entry)> {
        let entry = self.manifest_entry(repo_tag);
        let layers = entry["Layers"].as_array().unwrap();
        read_tar(self.file(layers.last().unwrap().as_str().unwrap()))
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("berth-lab-images-")
        .tempdir()
        .expect("temp dir")
}

// ---------------------------------------------------------------------------------------------
// The archive itself

#[test]
fn same_inputs_give_a_byte_identical_archive() {
    let dir = temp_dir();
    let (first, second) = (dir.path().join("first.tar"), dir.path().join("second.tar"));
    build_archive(&first, "");
    build_archive(&second, "");
    let (first, second) = (std::fs::read(first).unwrap(), std::fs::read(second).unwrap());
    let first_difference = first.iter().zip(&second).position(|(a, b)| a != b);
    assert!(
        first == second,
        "archives differ (sizes {} and {}, first differing byte {first_difference:?})",
        first.len(),
        second.len()
    );
}

#[test]
fn archive_is_a_consistent_docker_archive_and_oci_layout() {
    let dir = temp_dir();
    let path = dir.path().join("lab-images.tar");
    build_archive(&path, "");
    let bytes = std::fs::read(&path).unwrap();
    let entries = read_tar(&bytes);

    // Sorted entries, owned by root, one fixed time.
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "archive entries are sorted");
    for (name, entry) in &entries {
        assert_eq!(
            (entry.uid, entry.gid, entry.mtime),
            (0, 0, DEFAULT_MTIME),
            "owner and time of {name}"
        );
    }
    let archive = Archive::read(&path);
    let top_level: BTreeSet<&str> = archive
        .files
        .keys()
        .filter(|name| !name.starts_with("blobs/"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        top_level,
        BTreeSet::from(["index.json", "manifest.json", "oci-layout", "repositories"])
    );
    assert_eq!(
        json(archive.file("oci-layout")),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );

    // Every blob is named by its sha256.
    for (name, data) in archive
        .files
        .iter()
        .filter(|(name, _)| name.starts_with("blobs/sha256/"))
    {
        assert_eq!(
            name.trim_start_matches("blobs/sha256/"),
            sha256_hex(data),
            "digest of {name}"
        );
    }

    // manifest.json: the five images, each config's diff ids naming its (uncompressed) layers.
    let manifest = json(archive.file("manifest.json"));
    let tags: Vec<&str> = manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["RepoTags"][0].as_str().unwrap())
        .collect();
    assert_eq!(tags, IMAGES);
    let mut layer_blobs = BTreeSet::new();
    let mut first_layers = BTreeSet::new();
    for repo_tag in IMAGES {
        let entry = archive.manifest_entry(repo_tag);
        let config = archive.config(repo_tag);
        let layers: Vec<&str> = entry["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|layer| layer.as_str().unwrap())
            .collect();
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect();
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(layers.len(), diff_ids.len(), "{repo_tag}: one diff id per layer");
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            assert_eq!(
                format!("sha256:{}", sha256_hex(archive.file(layer))),
                *diff_id,
                "{repo_tag}: diff id of {layer}"
            );
        }
        layer_blobs.extend(layers.iter().map(|layer| layer.to_string()));
        first_layers.insert(layers[0].to_string());

        assert_eq!(config["os"], "linux", "{repo_tag}");
        assert_eq!(config["architecture"], "amd64", "{repo_tag}");
        let label = config["config"]["Labels"][STAND_IN_LABEL]
            .as_str()
            .unwrap_or_default();
        let (name, tag) = repo_tag.split_once(':').unwrap();
        assert!(
            label.starts_with(&format!("docker.io/library/{name}:{tag} — ")),
            "{repo_tag}: stand-in label {label:?}"
        );
        assert!(
            config["config"]["Env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|env| env.as_str().unwrap().starts_with("PATH=")),
            "{repo_tag}: PATH is set"
        );
        let history = config["history"].as_array().unwrap();
        let layer_steps = history
            .iter()
            .filter(|step| step.get("empty_layer").is_none())
            .count();
        assert_eq!(
            layer_steps,
            layers.len(),
            "{repo_tag}: one non-empty history entry per layer"
        );
        assert!(
            history
                .iter()
                .all(|step| step["created"] == "2020-01-01T00:00:00Z"),
            "{repo_tag}: fixed dates"
        );
    }
    assert_eq!(
        first_layers.len(),
        1,
        "every image starts from the one busybox layer"
    );
    let stored_layers = archive
        .files
        .keys()
        .filter(|name| layer_blobs.contains(*name))
        .count();
    assert_eq!(
        stored_layers,
        1 + 4,
        "the busybox layer is stored once, plus one layer per other image"
    );

    // index.json: one OCI manifest per image, named, pointing at the same config and layers.
    let index = json(archive.file("index.json"));
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let descriptors = index["manifests"].as_array().unwrap();
    assert_eq!(descriptors.len(), IMAGES.len());
    for (descriptor, repo_tag) in descriptors.iter().zip(IMAGES) {
        let (name, tag) = repo_tag.split_once(':').unwrap();
        assert_eq!(
            descriptor["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            descriptor["annotations"]["io.containerd.image.name"],
            format!("docker.io/library/{name}:{tag}")
        );
        assert_eq!(
            descriptor["annotations"]["org.opencontainers.image.ref.name"],
            tag
        );
        let manifest_bytes = archive.blob(descriptor["digest"].as_str().unwrap());
        assert_eq!(descriptor["size"], manifest_bytes.len());
        let oci_manifest = json(manifest_bytes);
        let entry = archive.manifest_entry(repo_tag);
        assert_eq!(
            oci_manifest["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            format!(
                "blobs/sha256/{}",
                oci_manifest["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
            ),
            entry["Config"].as_str().unwrap()
        );
        let oci_layers = oci_manifest["layers"].as_array().unwrap();
        assert_eq!(oci_layers.len(), entry["Layers"].as_array().unwrap().len());
        for (layer, path) in oci_layers.iter().zip(entry["Layers"].as_array().unwrap()) {
            assert_eq!(layer["mediaType"], LAYER_TAR);
            let blob = archive.blob(layer["digest"].as_str().unwrap());
            assert_eq!(layer["size"], blob.len());
            assert_eq!(blob, archive.file(path.as_str().unwrap()));
        }
    }

    let repositories = json(archive.file("repositories"));
    assert!(
        repositories["httpd"]["2.4"].is_string(),
        "repositories names httpd:2.4"
    );
}

#[test]
fn busybox_root_looks_like_the_real_busybox_image() {
    let dir = temp_dir();
    let path = dir.path().join("lab-images.tar");
    build_archive(&path, "");
    let archive = Archive::read(&path);
    let entries: BTreeMap<String, Entry> = archive.top_layer("busybox:latest").into_iter().collect();

    // One copy of busybox; every applet a hard link to it, parents before children.
    let regular_in_bin: Vec<&String> = entries
        .iter()
        .filter(|(name, entry)| name.starts_with("bin/") && entry.kind == tar::EntryType::Regular)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(regular_in_bin.len(), 1, "busybox stored once: {regular_in_bin:?}");
    let busybox = regular_in_bin[0];
    for applet in ["bin/sh", "bin/busybox", "bin/httpd", "bin/wget", "bin/ls"] {
        let entry = entries.get(applet).unwrap_or_else(|| panic!("no {applet}"));
        if applet != busybox {
            assert_eq!(entry.kind, tar::EntryType::Link, "{applet}");
            assert_eq!(entry.link.as_deref(), Some(busybox.as_str()), "{applet}");
        }
    }
    let mode_of = |name: &str| entries.get(name).unwrap_or_else(|| panic!("no {name}")).mode;
    assert_eq!(mode_of("tmp/"), 0o1777);
    assert_eq!(mode_of("root/"), 0o700);
    for dir in ["dev/", "etc/", "home/", "usr/", "var/"] {
        assert_eq!(entries[dir].kind, tar::EntryType::Directory, "{dir}");
    }
    let passwd = String::from_utf8(entries["etc/passwd"].data.clone()).unwrap();
    assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"), "{passwd}");
    assert!(passwd.contains("\nnobody:x:65534:65534:"), "{passwd}");
    let group = String::from_utf8(entries["etc/group"].data.clone()).unwrap();
    assert!(
        group.starts_with("root:x:0:") && group.contains("\nnobody:x:65534:"),
        "{group}"
    );

    let config = archive.config("busybox:latest");
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));

    // httpd's own layer: its script, its page and a bash that is sh.
    let httpd: BTreeMap<String, Entry> = archive.top_layer("httpd:2.4").into_iter().collect();
    assert!(String::from_utf8_lossy(&httpd["bin/bash"].data).starts_with("#!/bin/sh\n"));
    assert_eq!(httpd["bin/bash"].mode, 0o755);
    assert_eq!(
        httpd["usr/local/apache2/htdocs/index.html"].data,
        b"<html><body><h1>It works!</h1></body></html>\n"
    );
    assert!(
        !httpd.contains_key("tmp/"),
        "the httpd layer leaves the base's directories alone"
    );
    let httpd_config = archive.config("httpd:2.4")["config"].clone();
    assert_eq!(httpd_config["WorkingDir"], "/usr/local/apache2");
    assert_eq!(httpd_config["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
    assert_eq!(httpd_config["Cmd"], serde_json::json!(["httpd-foreground"]));

    let postgres = archive.config("postgres:12.1")["config"].clone();
    assert_eq!(
        postgres["Volumes"],
        serde_json::json!({"/var/lib/postgresql/data": {}})
    );
    let env: Vec<&str> = postgres["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|env| env.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"PGDATA=/var/lib/postgresql/data") && env.contains(&"PG_VERSION=12.1"),
        "{env:?}"
    );
    assert_eq!(postgres["ExposedPorts"], serde_json::json!({"5432/tcp": {}}));
}

// ---------------------------------------------------------------------------------------------
// Real Docker

/// The lab images loaded into the Docker daemon under a prefix of their own; removes them,
/// and every container and volume the test registered, when dropped.
struct LoadedImages {
    prefix: String,
    containers: Vec<String>,
    volumes: Vec<String>,
    _dir: tempfile::TempDir,
}

impl LoadedImages {
    fn load(test: &str) -> Self {
        require_docker();
        static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
        let prefix = format!(
            "berth-lab-images-test-{}-{}-{test}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = temp_dir();
        let archive = dir.path().join("lab-images.tar");
        build_archive(&archive, &format!("{prefix}/"));
        let loaded = Self {
            prefix,
            containers: Vec::new(),
            volumes: Vec::new(),
            _dir: dir,
        };
        let output = docker(&["load", "-i", archive.to_str().unwrap()]);
        for repo_tag in IMAGES {
            assert!(
                output.contains(&format!("Loaded image: {}", loaded.image(repo_tag))),
                "docker load said: {output}"
            );
        }
        loaded
    }

    /// The loaded name of a lab image (`busybox:latest` → `<prefix>/busybox:latest`).
    fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.prefix)
    }

    /// A container name of this test's own, removed at the end.
    fn container(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        self.containers.push(name.clone());
        name
    }

    /// A volume name of this test's own, removed at the end.
    fn volume(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        self.volumes.push(name.clone());
        name
    }
}

impl Drop for LoadedImages {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = docker_output(&["rm", "--force", "--volumes", container]);
        }
        for volume in &self.volumes {
            let _ = docker_output(&["volume", "rm", "--force", volume]);
        }
        for repo_tag in IMAGES {
            let _ = docker_output(&["rmi", &self.image(repo_tag)]);
        }
    }
}

fn docker_output(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run docker {args:?}: {error}"))
}

/// Runs docker; panics with its stderr unless it succeeds; returns stdout.
fn docker(args: &[&str]) -> String {
    let output = docker_output(args);
    assert!(
        output.status.success(),
        "docker {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// These tests need a real Docker daemon: fail (never skip) with a hint when none answers.
fn require_docker() {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the default socket (DOCKER_HOST unset)".into());
    let output = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "no Docker daemon answers at {host}: {}\nstart dockerd (cargo xtask ci does) and export DOCKER_HOST",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!("cannot run the docker client ({error}); install docker.io"),
    }
}

/// Retries `check` until it returns something (up to about 20 s): containers need a moment to
/// start their server. Only readiness is awaited this way; nothing asserts on how long it took.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(value) = check() {
            return value;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("gave up waiting: {what}");
}

/// `docker stop`, then the container's exit code: 0 or 143 means the image's TERM (or stop
/// signal) handling ended it; 137 would mean Docker had to kill it after its grace period.
fn stop_and_exit_code(container: &str) -> i64 {
    docker(&["stop", container]);
    let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", container]);
    code.trim().parse().expect("exit code")
}

fn fetch_in_container(container: &str, url: &str) -> Option<String> {
    let output = docker_output(&["exec", container, "timeout", "5", "wget", "-qO-", url]);
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn docker_runs_busybox_echo() {
    let mut images = LoadedImages::load("busybox");
    let name = images.container("echo");
    let out = docker(&[
        "run",
        "--rm",
        "--name",
        &name,
        &images.image("busybox:latest"),
        "echo",
        "ok",
    ]);
    assert_eq!(out, "ok\n");
}

#[test]
fn docker_runs_hello_world() {
    let mut images = LoadedImages::load("hello");
    let name = images.container("hello");
    let out = docker(&[
        "run",
        "--rm",
        "--name",
        &name,
        &images.image("hello-world:latest"),
    ]);
    assert!(out.starts_with("\nHello from Docker!\nThis message shows that your installation appears to be working correctly.\n"), "{out}");
}

#[test]
fn docker_runs_httpd_which_serves_it_works_has_bash_and_stops_on_term() {
    let mut images = LoadedImages::load("httpd");
    let name = images.container("httpd");
    docker(&["run", "--detach", "--name", &name, &images.image("httpd:2.4")]);

    let page = eventually("httpd serves on port 80", || {
        fetch_in_container(&name, "http://127.0.0.1/")
    });
    assert_eq!(page, "<html><body><h1>It works!</h1></body></html>\n");
    let shell = docker(&["exec", &name, "bash", "-c", "echo from bash in $PWD"]);
    assert_eq!(shell, "from bash in /usr/local/apache2\n");

    let code = stop_and_exit_code(&name);
    assert!(
        code == 0 || code == 143,
        "httpd-foreground must end on SIGTERM itself, exit code {code}"
    );
}

#[test]
fn docker_runs_nginx_which_serves_welcome_and_stops_on_its_stop_signal() {
    let mut images = LoadedImages::load("nginx");
    let name = images.container("nginx");
    docker(&["run", "--detach", "--name", &name, &images.image("nginx:latest")]);

    let page = eventually("nginx serves on port 80", || {
        fetch_in_container(&name, "http://127.0.0.1/")
    });
    assert!(page.contains("<h1>Welcome to nginx!</h1>"), "{page}");
    assert_eq!(
        docker(&["inspect", "--format", "{{.Config.StopSignal}}", &name]).trim(),
        "SIGQUIT"
    );

    let code = stop_and_exit_code(&name);
    assert!(
        code == 0 || code == 143,
        "nginx must end on SIGQUIT itself, exit code {code}"
    );
}

#[test]
fn docker_runs_postgres_which_initialises_its_volume_and_stays_up() {
    let mut images = LoadedImages::load("postgres");
    let name = images.container("postgres");
    let volume = images.volume("pgdata");
    let mount = format!("{volume}:/var/lib/postgresql/data");
    docker(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--volume",
        &mount,
        &images.image("postgres:12.1"),
    ]);

    let ready = "database system is ready to accept connections";
    eventually("postgres says it is ready", || {
        let logs = docker_output(&["logs", &name]);
        String::from_utf8_lossy(&logs.stdout)
            .contains(ready)
            .then_some(())
    });
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.Running}}", &name]).trim(),
        "true",
        "postgres stays up"
    );

    // The files are in the volume: another container sees them there.
    let reader = images.container("reader");
    let version = docker(&[
        "run",
        "--rm",
        "--name",
        &reader,
        "--volume",
        &mount,
        &images.image("busybox:latest"),
        "cat",
        "/var/lib/postgresql/data/PG_VERSION",
    ]);
    assert_eq!(version, "12\n");

    let code = stop_and_exit_code(&name);
    assert!(
        code == 0 || code == 143,
        "postgres must end on SIGTERM itself, exit code {code}"
    );

    // A second start finds the database and leaves it alone.
    docker(&["start", &name]);
    eventually("postgres restarts on its existing data", || {
        let logs = String::from_utf8_lossy(&docker_output(&["logs", &name]).stdout).into_owned();
        (logs.contains("Skipping initialization") && logs.matches(ready).count() == 2).then_some(())
    });
}

#[test]
fn repository_prefix_renames_every_image() {
    // The tests above must not pass vacuously: the prefix really renames every image.
    let dir = temp_dir();
    let path: PathBuf = dir.path().join("prefixed.tar");
    build_archive(&path, "some-prefix/");
    let archive = Archive::read(&path);
    for repo_tag in IMAGES {
        archive.manifest_entry(&format!("some-prefix/{repo_tag}"));
    }
    let index = json(archive.file("index.json"));
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/some-prefix/busybox:latest"
    );
}
