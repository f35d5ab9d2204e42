//! Pull and push against real registries: Debian's `docker-registry` started per test (open, or
//! behind htpasswd), filled by skopeo, by direct uploads and by `berth push`; the gate in front
//! of it for the bearer-token flow, wrong digests, redirects, retries and shared downloads; and
//! the real Docker where berth must do what it does.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use crate::common::{TempDir, TestDaemon, docker};
use crate::registry_support::{
    BuiltImage, Compression, Fail, Gate, GateRules, Hold, Registry, busybox_layer, config_dir, oci_layout,
    skopeo_copy, skopeo_lab_image, store_contents, tar_of, upload,
};

/// A `berth` command for `daemon` with its own credentials directory.
fn berth(daemon: &TestDaemon, config: &TempDir, args: &[&str]) -> Output {
    daemon
        .berth()
        .env("BERTH_CONFIG", &config.0)
        .args(args)
        .output()
        .expect("run berth")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run berth, expecting success: stdout.
fn ok(daemon: &TestDaemon, config: &TempDir, args: &[&str]) -> String {
    let output = berth(daemon, config, args);
    assert!(
        output.status.success(),
        "berth {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr),
        daemon.log()
    );
    text(&output.stdout)
}

/// Run berth, expecting failure: (exit code, stdout, stderr).
fn fails(daemon: &TestDaemon, config: &TempDir, args: &[&str]) -> (i32, String, String) {
    let output = berth(daemon, config, args);
    assert!(
        !output.status.success(),
        "berth {args:?} should have failed: {}",
        text(&output.stdout)
    );
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// The layer blob digests of an image in a registry (from its manifest).
fn layer_digests(manifest: &[u8]) -> Vec<String> {
    let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

fn short(digest: &str) -> &str {
    &digest.trim_start_matches("sha256:")[..12]
}

#[test]
fn pulls_what_skopeo_pushed_with_dockers_output() {
    let registry = Registry::start();
    let host = registry.host();
    skopeo_lab_image(&host, "busybox:latest", "lab/busybox:1.0");
    let (digest, manifest) = registry.manifest("lab/busybox", "1.0");
    let layer = layer_digests(&manifest)[0].clone();
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{host}/lab/busybox:1.0");

    let out = ok(&daemon, &config, &["pull", &image]);
    assert_eq!(
        out,
        format!(
            "1.0: Pulling from lab/busybox\n{l}: Pulling fs layer\n{l}: Verifying Checksum\n{l}: Download complete\n{l}: Pull complete\nDigest: {digest}\nStatus: Downloaded newer image for {image}\n{image}\n",
            l = short(&layer)
        )
    );
    let repo_digests = ok(
        &daemon,
        &config,
        &["inspect", "--format", "{{json .RepoDigests}}", &image],
    );
    assert_eq!(repo_digests.trim(), format!("[\"{host}/lab/busybox@{digest}\"]"));

    // Again: nothing to fetch. By digest: the same image.
    let again = ok(&daemon, &config, &["pull", &image]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {image}")),
        "{again}"
    );
    assert!(!again.contains("Pulling fs layer"), "{again}");
    let by_digest = format!("{host}/lab/busybox@{digest}");
    let out = ok(&daemon, &config, &["pull", &by_digest]);
    assert!(
        out.starts_with(&format!("{by_digest}: Pulling from lab/busybox\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Status: Image is up to date for {by_digest}")),
        "{out}"
    );
    assert_eq!(
        ok(&daemon, &config, &["pull", "-q", &image]),
        format!("{image}\n")
    );

    // The layers are really there: a container runs on them.
    assert_eq!(
        ok(&daemon, &config, &["run", "--rm", &image, "echo", "pulled"]),
        "pulled\n"
    );

    // Every request said what it was for.
    let explain = std::fs::read_to_string(daemon.root.join("exec/explain.jsonl")).unwrap();
    assert!(
        explain.contains(&format!("asked {host} which manifest lab/busybox:1.0 names")),
        "{explain}"
    );
    assert!(explain.contains("to unpack it as it streams"), "{explain}");

    let (code, _, stderr) = fails(&daemon, &config, &["pull", &format!("{host}/lab/busybox:nope")]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "Error response from daemon: manifest for {host}/lab/busybox:nope not found: manifest unknown: manifest unknown\n"
        )
    );
}

#[test]
fn run_pulls_a_missing_image_first() {
    let registry = Registry::start();
    let host = registry.host();
    skopeo_lab_image(&host, "busybox:latest", "lab/busybox:1.0");
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{host}/lab/busybox:1.0");
    let output = berth(&daemon, &config, &["run", "--rm", &image, "echo", "hi"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "hi\n");
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!("Unable to find image '{image}' locally\n")),
        "{stderr}"
    );
    assert!(stderr.contains("Pull complete"), "{stderr}");
}

#[test]
fn pushes_check_mount_and_round_trip() {
    let registry = Registry::start();
    let host = registry.host();
    let daemon = TestDaemon::start();
    let config = config_dir();
    daemon.load_stand_in_images();
    let busybox_id = ok(&daemon, &config, &["inspect", "--format", "{{.Id}}", "busybox"]);
    let diff_id = ok(
        &daemon,
        &config,
        &["inspect", "--format", "{{index .RootFS.Layers 0}}", "busybox"],
    );
    let pushed = format!("{host}/team/bb:v1");
    ok(&daemon, &config, &["tag", "busybox", &pushed]);

    let out = ok(&daemon, &config, &["push", &pushed]);
    let (digest, manifest) = registry.manifest("team/bb", "v1");
    let l = short(diff_id.trim());
    assert_eq!(
        out,
        format!(
            "The push refers to repository [{host}/team/bb]\n{l}: Preparing\n{l}: Pushed\nv1: digest: {digest} size: {}\n",
            manifest.len()
        )
    );
    // Docker's manifest: schema 2, gzip layers, three-space indent.
    let text_manifest = String::from_utf8(manifest.clone()).unwrap();
    assert!(text_manifest.starts_with("{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\""));
    assert!(text_manifest.contains("application/vnd.docker.image.rootfs.diff.tar.gzip"));

    // The registry has it now: nothing is sent again; another repository mounts it.
    let again = ok(&daemon, &config, &["push", &pushed]);
    assert!(again.contains(&format!("{l}: Layer already exists")), "{again}");
    assert!(
        again.ends_with(&format!("v1: digest: {digest} size: {}\n", manifest.len())),
        "{again}"
    );
    let other = format!("{host}/team/other:v1");
    ok(&daemon, &config, &["tag", "busybox", &other]);
    let mounted = ok(&daemon, &config, &["push", &other]);
    assert!(
        mounted.contains(&format!("{l}: Mounted from team/bb")),
        "{mounted}"
    );
    let seen_digests = ok(
        &daemon,
        &config,
        &["inspect", "--format", "{{json .RepoDigests}}", &pushed],
    );
    assert!(
        seen_digests.contains(&format!("{host}/team/bb@{digest}")),
        "{seen_digests}"
    );

    // A committed image goes too; another daemon pulls both and gets the same images.
    ok(
        &daemon,
        &config,
        &[
            "run",
            "--name",
            "maker",
            "busybox",
            "sh",
            "-c",
            "echo made here > /made",
        ],
    );
    let committed = format!("{host}/team/committed:1");
    ok(&daemon, &config, &["commit", "maker", &committed]);
    let out = ok(&daemon, &config, &["push", &committed]);
    assert!(out.contains(&format!("{l}: Mounted from team/")), "{out}");
    assert!(out.contains(": Pushed\n"), "{out}");

    let second = TestDaemon::start();
    ok(&second, &config, &["pull", &pushed]);
    assert_eq!(
        ok(&second, &config, &["inspect", "--format", "{{.Id}}", &pushed]),
        busybox_id
    );
    ok(&second, &config, &["pull", &committed]);
    assert_eq!(
        ok(&second, &config, &["run", "--rm", &committed, "cat", "/made"]),
        "made here\n"
    );
    let (_, _, stderr) = fails(&daemon, &config, &["push", &format!("{host}/team/nothing:1")]);
    assert_eq!(
        stderr,
        format!("An image does not exist locally with the tag: {host}/team/nothing\n")
    );
}

/// Tags made in the real Docker, removed when the test ends.
struct DockerTags(Vec<String>);

impl Drop for DockerTags {
    fn drop(&mut self) {
        for tag in &self.0 {
            let _ = docker().args(["rmi", "-f", tag]).output();
        }
    }
}

#[test]
fn pushes_of_pulled_images_are_byte_for_byte_dockers() {
    let registry = Registry::start();
    let host = registry.host();
    // Layers no Docker here has seen, so Docker pulls them and pushes the blobs it pulled.
    let unique = format!("made for {host} by test process {}\n", std::process::id());
    let image = BuiltImage::new(
        &[
            (tar_of(&[("unique", unique.as_bytes())]), Compression::Gzip),
            (tar_of(&[("second", unique.as_bytes())]), Compression::Gzip),
        ],
        "amd64",
        &["cat", "/unique"],
    );
    let layout = TempDir::new("berth-layout");
    oci_layout(&layout.0, "src", &[&image]);
    skopeo_copy(&[
        "--format",
        "v2s2",
        &format!("oci:{}:src", layout.0.display()),
        &format!("docker://{host}/src/bb:1"),
    ]);
    let via_docker = format!("{host}/viadocker/bb:1");
    let via_berth = format!("{host}/viaberth/bb:1");
    let source = format!("{host}/src/bb:1");
    let _tags = DockerTags(vec![source.clone(), via_docker.clone()]);
    for args in [
        vec!["pull", source.as_str()],
        vec!["tag", source.as_str(), via_docker.as_str()],
        vec!["push", via_docker.as_str()],
    ] {
        let output = docker().args(&args).output().expect("run docker");
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            text(&output.stderr)
        );
    }
    let daemon = TestDaemon::start();
    let config = config_dir();
    ok(&daemon, &config, &["pull", &source]);
    ok(&daemon, &config, &["tag", &source, &via_berth]);
    let out = ok(&daemon, &config, &["push", &via_berth]);
    assert!(out.contains("Mounted from src/bb"), "{out}");
    let (docker_digest, docker_manifest) = registry.manifest("viadocker/bb", "1");
    let (berth_digest, berth_manifest) = registry.manifest("viaberth/bb", "1");
    assert_eq!(text(&berth_manifest), text(&docker_manifest));
    assert_eq!(berth_digest, docker_digest);

    // The real docker CLI drives berthd's pull and push.
    let docker_config = TempDir::new("berth-docker-config");
    let berth_docker = |args: &[&str]| {
        let output = Command::new(crate::common::docker_cli())
            .env("DOCKER_CONFIG", &docker_config.0)
            .arg("-H")
            .arg(daemon.host())
            .args(args)
            .output()
            .expect("run docker");
        assert!(
            output.status.success(),
            "docker {args:?} against berthd: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    };
    ok(&daemon, &config, &["rmi", &source, &via_berth]);
    let out = berth_docker(&["pull", &source]);
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {source}")),
        "{out}"
    );
    ok(&daemon, &config, &["tag", &source, &via_berth]);
    let out = berth_docker(&["push", &via_berth]);
    assert!(out.contains(&format!("1: digest: {berth_digest}")), "{out}");
}

#[test]
fn an_index_gives_each_platform_its_image() {
    let registry = Registry::start();
    let host = registry.host();
    let amd64 = BuiltImage::new(
        &[
            (busybox_layer(), Compression::Gzip),
            (tar_of(&[("platform", b"amd64\n")]), Compression::Gzip),
        ],
        "amd64",
        &["cat", "/platform"],
    );
    let arm64 = BuiltImage::new(
        &[(tar_of(&[("platform", b"arm64\n")]), Compression::Gzip)],
        "arm64",
        &["cat", "/platform"],
    );
    let layout = TempDir::new("berth-layout");
    oci_layout(&layout.0, "multi", &[&amd64, &arm64]);
    skopeo_copy(&[
        "--all",
        &format!("oci:{}:multi", layout.0.display()),
        &format!("docker://{host}/multi:1"),
    ]);
    let (index_digest, _) = registry.manifest("multi", "1");
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{host}/multi:1");

    let out = ok(&daemon, &config, &["pull", &image]);
    assert!(out.contains(&format!("Digest: {index_digest}\n")), "{out}");
    assert_eq!(
        ok(
            &daemon,
            &config,
            &["inspect", "--format", "{{.Architecture}}", &image]
        ),
        "amd64\n"
    );
    assert_eq!(ok(&daemon, &config, &["run", "--rm", &image]), "amd64\n");

    ok(&daemon, &config, &["pull", "--platform", "linux/arm64", &image]);
    assert_eq!(
        ok(
            &daemon,
            &config,
            &["inspect", "--format", "{{.Architecture}}", &image]
        ),
        "arm64\n"
    );

    let (_, stdout, stderr) = fails(&daemon, &config, &["pull", "--platform", "linux/s390x", &image]);
    assert!(stdout.starts_with("1: Pulling from multi\n"), "{stdout}");
    assert_eq!(
        stderr,
        "no matching manifest for linux/s390x in the manifest list entries\n"
    );
}

#[test]
fn zstd_gzip_and_plain_layers_are_read() {
    let registry = Registry::start();
    let host = registry.host();
    let zstd = BuiltImage::new(
        &[
            (busybox_layer(), Compression::Zstd),
            (tar_of(&[("hello", b"from zstd\n")]), Compression::Zstd),
        ],
        "amd64",
        &["cat", "/hello"],
    );
    let layout = TempDir::new("berth-layout");
    oci_layout(&layout.0, "z", &[&zstd]);
    skopeo_copy(&[
        &format!("oci:{}:z", layout.0.display()),
        &format!("docker://{host}/zstd:1"),
    ]);
    // skopeo would compress a plain layer on the way: this one is uploaded as it is.
    let mixed = BuiltImage::new(
        &[
            (busybox_layer(), Compression::Gzip),
            (tar_of(&[("hello", b"from a plain tar\n")]), Compression::None),
        ],
        "amd64",
        &["cat", "/hello"],
    );
    upload(&host, "mixed", "1", &mixed);
    let daemon = TestDaemon::start();
    let config = config_dir();
    ok(&daemon, &config, &["pull", &format!("{host}/zstd:1")]);
    assert_eq!(
        ok(&daemon, &config, &["run", "--rm", &format!("{host}/zstd:1")]),
        "from zstd\n"
    );
    ok(&daemon, &config, &["pull", &format!("{host}/mixed:1")]);
    assert_eq!(
        ok(&daemon, &config, &["run", "--rm", &format!("{host}/mixed:1")]),
        "from a plain tar\n"
    );
    // Pushed back as pulled: the zstd layer keeps its OCI media type.
    ok(
        &daemon,
        &config,
        &["tag", &format!("{host}/zstd:1"), &format!("{host}/zstd-again:1")],
    );
    ok(&daemon, &config, &["push", &format!("{host}/zstd-again:1")]);
    let (_, manifest) = registry.manifest("zstd-again", "1");
    assert!(text(&manifest).contains("application/vnd.oci.image.layer.v1.tar+zstd"));
    assert_eq!(layer_digests(&manifest), zstd.layer_digests);
}

#[test]
fn wrong_digests_are_refused_and_nothing_is_stored() {
    let registry = Registry::start();
    let image = BuiltImage::new(
        &[(tar_of(&[("file", &[7u8; 4096])]), Compression::None)],
        "amd64",
        &["true"],
    );
    upload(&registry.host(), "bad", "1", &image);
    let layer = image.layer_digests[0].clone();
    let gate = Gate::start(
        &registry,
        GateRules {
            corrupt_blob: Some(layer.clone()),
            ..GateRules::default()
        },
    );
    let daemon = TestDaemon::start();
    let config = config_dir();
    let name = format!("{}/bad:1", gate.host());
    let before = store_contents(&daemon.data_root());

    let (code, _, stderr) = fails(&daemon, &config, &["pull", &name]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!(
            "filesystem layer verification failed for digest {layer}"
        )),
        "{stderr}"
    );
    assert_eq!(store_contents(&daemon.data_root()), before);
    assert_eq!(ok(&daemon, &config, &["images", "-q"]), "");

    gate.set_rules(GateRules {
        corrupt_tagged_manifests: true,
        ..GateRules::default()
    });
    let (_, _, stderr) = fails(&daemon, &config, &["pull", &name]);
    assert!(
        stderr.contains("manifest verification failed for digest sha256:"),
        "{stderr}"
    );
    assert_eq!(store_contents(&daemon.data_root()), before);

    gate.set_rules(GateRules::default());
    ok(&daemon, &config, &["pull", &name]);
    assert_ne!(store_contents(&daemon.data_root()), before);
}

#[test]
fn htpasswd_registries_need_a_login() {
    let registry = Registry::with_htpasswd("tester", "s3cret");
    let host = registry.host();
    skopeo_copy(&[
        "--dest-creds",
        "tester:s3cret",
        &format!(
            "docker-archive:{}:busybox:latest",
            crate::common::stand_in_images().display()
        ),
        &format!("docker://{host}/private/bb:1"),
    ]);
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{host}/private/bb:1");

    let (_, _, stderr) = fails(&daemon, &config, &["pull", &image]);
    assert!(stderr.contains("no basic auth credentials"), "{stderr}");

    let (code, _, stderr) = fails(&daemon, &config, &["login", "-u", "tester", "-p", "wrong", &host]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\nError response from daemon: login attempt to http://{host}/v2/ failed with status: 401 Unauthorized\n"
        )
    );
    let file = config.0.join("config.json");
    assert!(!file.exists());

    let output = daemon
        .berth()
        .env("BERTH_CONFIG", &config.0)
        .args(["login", "-u", "tester", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .output_with_stdin(b"s3cret\n");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Login Succeeded\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the credentials file is for its owner only");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(stored["auths"][&host]["auth"], "dGVzdGVyOnMzY3JldA==");

    ok(&daemon, &config, &["pull", &image]);
    let pushed = format!("{host}/private/again:1");
    ok(&daemon, &config, &["tag", &image, &pushed]);
    let out = ok(&daemon, &config, &["push", &pushed]);
    assert!(out.contains("Mounted from private/bb"), "{out}");
    let out = ok(&daemon, &config, &["login", &host]);
    assert_eq!(
        out,
        "Authenticating with existing credentials...\nLogin Succeeded\n"
    );

    assert_eq!(
        ok(&daemon, &config, &["logout", &host]),
        format!("Removing login credentials for {host}\n")
    );
    assert_eq!(
        ok(&daemon, &config, &["logout", &host]),
        format!("Not logged in to {host}\n")
    );
    ok(&daemon, &config, &["rmi", &image]);
    fails(&daemon, &config, &["pull", &image]);
}

#[test]
fn bearer_tokens_come_from_the_token_service() {
    let registry = Registry::start();
    skopeo_lab_image(&registry.host(), "busybox:latest", "private/bb:1");
    let gate = Gate::start(
        &registry,
        GateRules {
            bearer: Some(("tester".into(), "s3cret".into())),
            ..GateRules::default()
        },
    );
    let host = gate.host();
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{host}/private/bb:1");

    let (_, _, stderr) = fails(&daemon, &config, &["pull", &image]);
    assert!(
        stderr.contains("unauthorized: incorrect username or password"),
        "{stderr}"
    );

    let (_, _, stderr) = fails(&daemon, &config, &["login", "-u", "tester", "-p", "nope", &host]);
    assert!(stderr.contains("incorrect username or password"), "{stderr}");
    let login = daemon
        .berth()
        .env("BERTH_CONFIG", &config.0)
        .args(["login", "-u", "tester", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .output_with_stdin(b"s3cret");
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert_eq!(text(&login.stdout), "Login Succeeded\n");

    ok(&daemon, &config, &["pull", &image]);
    let tokens = gate.token_requests();
    assert!(
        tokens
            .iter()
            .any(|q| q.contains("scope=repository%3Aprivate%2Fbb%3Apull")
                && q.contains("service=berth-test")
                && q.contains("account=tester")),
        "{tokens:?}"
    );
    let manifest_requests: Vec<_> = gate
        .seen()
        .into_iter()
        .filter(|s| s.path == "/v2/private/bb/manifests/1")
        .collect();
    assert!(
        manifest_requests.iter().any(|s| s
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bearer token-"))),
        "{manifest_requests:?}"
    );
}

/// Feed a child's stdin and collect its output.
trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> Output;
}

impl OutputWithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> Output {
        let mut child = self
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), input).unwrap();
        child.wait_with_output().unwrap()
    }
}

#[test]
fn redirects_to_another_host_never_carry_authorization() {
    let registry = Registry::start();
    skopeo_lab_image(&registry.host(), "busybox:latest", "lab/bb:1");
    let gate = Gate::start(
        &registry,
        GateRules {
            bearer: Some((String::new(), String::new())),
            redirect_blobs: true,
            ..GateRules::default()
        },
    );
    let daemon = TestDaemon::start();
    let config = config_dir();
    ok(&daemon, &config, &["pull", &format!("{}/lab/bb:1", gate.host())]);
    let seen = gate.seen();
    let redirected: Vec<_> = seen.iter().filter(|s| s.path.starts_with("/direct/")).collect();
    assert!(!redirected.is_empty(), "no blob was redirected: {seen:?}");
    for request in &redirected {
        assert_eq!(request.host, format!("localhost:{}", gate.port));
        assert_eq!(request.authorization, None, "{request:?}");
    }
    let asked = seen
        .iter()
        .filter(|s| s.path.contains("/blobs/sha256:") && !s.path.starts_with("/direct/"));
    assert!(asked.into_iter().all(|s| s.authorization.is_some()));
}

#[test]
fn busy_registries_are_asked_again() {
    let registry = Registry::start();
    skopeo_lab_image(&registry.host(), "busybox:latest", "lab/bb:1");
    let (_, manifest) = registry.manifest("lab/bb", "1");
    let layer = layer_digests(&manifest)[0].clone();
    let gate = Gate::start(
        &registry,
        GateRules {
            fail_once: vec![
                Fail::new("/manifests/1", 429, &[("retry-after", "0")]),
                Fail::new(&layer, 503, &[]),
            ],
            ..GateRules::default()
        },
    );
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{}/lab/bb:1", gate.host());
    ok(&daemon, &config, &["pull", &image]);
    let seen = gate.seen();
    assert_eq!(
        seen.iter().filter(|s| s.path.ends_with("/manifests/1")).count(),
        2
    );
    assert_eq!(seen.iter().filter(|s| s.path.ends_with(&layer)).count(), 2);

    // A registry that keeps refusing: Docker Hub's rate-limit headers end up in the error.
    gate.set_rules(GateRules {
        fail_always: vec![Fail::new(
            "/manifests/",
            429,
            &[
                ("ratelimit-limit", "100;w=21600"),
                ("ratelimit-remaining", "0;w=21600"),
                ("retry-after", "0"),
            ],
        )],
        ..GateRules::default()
    });
    let (_, _, stderr) = fails(&daemon, &config, &["pull", &format!("{}/lab/bb:2", gate.host())]);
    assert_eq!(
        stderr,
        "Error response from daemon: toomanyrequests: slow down (ratelimit-limit: 100;w=21600, ratelimit-remaining: 0;w=21600)\n"
    );
}

#[test]
fn two_pulls_at_once_share_each_download() {
    let registry = Registry::start();
    skopeo_lab_image(&registry.host(), "busybox:latest", "lab/bb:1");
    let (_, manifest) = registry.manifest("lab/bb", "1");
    let manifest_json: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let config_digest = manifest_json["config"]["digest"].as_str().unwrap().to_owned();
    let layer = layer_digests(&manifest)[0].clone();
    // The layer is held back until both pulls have read the config: the second pull then finds
    // the first one's download under way.
    let gate = Gate::start(
        &registry,
        GateRules {
            hold: Some(Hold {
                held: layer.clone(),
                after: config_digest,
                count: 2,
            }),
            ..GateRules::default()
        },
    );
    let daemon = TestDaemon::start();
    let config = config_dir();
    let image = format!("{}/lab/bb:1", gate.host());
    let spawn = || {
        daemon
            .berth()
            .env("BERTH_CONFIG", &config.0)
            .args(["pull", &image])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for pull in [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ] {
        assert!(pull.status.success(), "{}", text(&pull.stderr));
        let out = text(&pull.stdout);
        assert!(
            out.contains(&format!("{}: Pull complete", short(&layer))),
            "{out}"
        );
    }
    let downloads = gate
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with(&layer))
        .count();
    assert_eq!(downloads, 1, "the layer was downloaded once for both pulls");
}
