//! What the registry tests stand on: a real registry (Debian's `docker-registry`, the
//! distribution project's) per test on 127.0.0.1 with its own storage, skopeo to fill it, images
//! the tests assemble (OCI layouts, or uploaded blob by blob), and the *gate*: a small HTTP front
//! written here that can demand bearer tokens from its own token endpoint, serve a wrong byte,
//! redirect blobs to another host name, fail requests, or hold blobs back until several pulls
//! are under way. Everything is stopped and removed on drop.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::{TempDir, stand_in_images};

/// `sha256:<hex>` of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_listening(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the registry exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "the registry did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `docker-registry` of the test's own.
pub struct Registry {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Registry {
    /// Open to anyone.
    pub fn start() -> Registry {
        Registry::spawn(None)
    }

    /// Behind htpasswd (Basic) authentication.
    pub fn with_htpasswd(user: &str, password: &str) -> Registry {
        Registry::spawn(Some((user, password)))
    }

    fn spawn(auth: Option<(&str, &str)>) -> Registry {
        let dir = TempDir::new("berth-registry");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: berth-test\n",
            dir.0.join("storage").display()
        );
        if let Some((user, password)) = auth {
            let hash = bcrypt::hash(password, 4).expect("bcrypt a password");
            std::fs::write(dir.0.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                dir.0.join("htpasswd").display()
            ));
        }
        std::fs::write(dir.0.join("config.yml"), config).unwrap();
        let log = dir.0.join("registry.log");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.0.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start docker-registry (apt-get install docker-registry; cargo xtask ci installs it)");
        wait_listening(port, &mut child, &log);
        Registry { child, port, dir }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The manifest a tag names, as the registry has it.
    pub fn manifest(&self, repository: &str, reference: &str) -> (String, Vec<u8>) {
        block_on(async {
            let response = reqwest::Client::new()
                .get(format!(
                    "http://{}/v2/{repository}/manifests/{reference}",
                    self.host()
                ))
                .header("Accept", "application/vnd.docker.distribution.manifest.v2+json")
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .header("Accept", "application/vnd.oci.image.index.v1+json")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let digest = response.headers()["docker-content-digest"]
                .to_str()
                .unwrap()
                .to_owned();
            (digest, response.bytes().await.unwrap().to_vec())
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a future on a runtime of its own (the tests are synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `skopeo copy --dest-tls-verify=false ARGS…`, expecting success.
pub fn skopeo_copy(args: &[&str]) {
    let output = Command::new("skopeo")
        .arg("copy")
        .arg("--quiet")
        .arg("--dest-tls-verify=false")
        .args(args)
        .output()
        .expect("run skopeo (apt-get install skopeo)");
    assert!(
        output.status.success(),
        "skopeo copy {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Put a lab image (`busybox:latest`) into a registry as `repository:tag`, with skopeo.
pub fn skopeo_lab_image(registry: &str, image: &str, destination: &str) {
    let source = format!("docker-archive:{}:{image}", stand_in_images().display());
    skopeo_copy(&[&source, &format!("docker://{registry}/{destination}")]);
}

/// The uncompressed busybox layer of the lab images.
pub fn busybox_layer() -> Vec<u8> {
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(stand_in_images()).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(path, bytes);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let busybox = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["RepoTags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "busybox:latest"))
        })
        .expect("busybox in the lab images");
    let layer = busybox["Layers"][0].as_str().unwrap();
    files[layer].clone()
}

/// A layer tar of small files (path, content).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(path).unwrap();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap()
}

/// How a layer blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn apply(self, tar: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => tar.to_vec(),
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(tar).unwrap();
                gz.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(tar, 3).unwrap(),
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// An image the test assembles: blobs by digest, an OCI manifest, a config.
pub struct BuiltImage {
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    pub architecture: String,
}

impl BuiltImage {
    /// An image of `layers` (plain tars, each compressed as asked) for `linux/<architecture>`,
    /// running `cmd`.
    pub fn new(layers: &[(Vec<u8>, Compression)], architecture: &str, cmd: &[&str]) -> BuiltImage {
        let mut blobs = BTreeMap::new();
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for (tar, compression) in layers {
            diff_ids.push(digest_of(tar));
            let blob = compression.apply(tar);
            let digest = digest_of(&blob);
            descriptors
                .push(json!({"mediaType": compression.media_type(), "digest": digest, "size": blob.len()}));
            layer_digests.push(digest.clone());
            blobs.insert(digest, blob);
        }
        let config = serde_json::to_vec(&json!({
            "architecture": architecture,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": diff_ids.iter().map(|_| json!({"created_by": "berth test"})).collect::<Vec<_>>(),
        }))
        .unwrap();
        let config_digest = digest_of(&config);
        blobs.insert(config_digest.clone(), config.clone());
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descriptors,
        }))
        .unwrap();
        BuiltImage {
            blobs,
            manifest,
            config_digest,
            layer_digests,
            architecture: architecture.to_owned(),
        }
    }

    /// Its entry in an index.
    pub fn descriptor(&self) -> Value {
        let (architecture, variant) = match self.architecture.as_str() {
            "arm64" => ("arm64", Some("v8")),
            other => (other, None),
        };
        let mut platform = json!({"architecture": architecture, "os": "linux"});
        if let Some(variant) = variant {
            platform["variant"] = variant.into();
        }
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest_of(&self.manifest),
            "size": self.manifest.len(),
            "platform": platform,
        })
    }
}

/// An OCI image layout on disk (what `skopeo copy oci:DIR:TAG` reads) holding `images`; with
/// more than one, the tag names an index of them.
pub fn oci_layout(dir: &Path, tag: &str, images: &[&BuiltImage]) {
    let blobs_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs_dir).unwrap();
    let write_blob = |bytes: &[u8]| {
        let digest = digest_of(bytes);
        std::fs::write(blobs_dir.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        digest
    };
    for image in images {
        for blob in image.blobs.values() {
            write_blob(blob);
        }
        write_blob(&image.manifest);
    }
    let top = if let [image] = images {
        image.descriptor()
    } else {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": images.iter().map(|i| i.descriptor()).collect::<Vec<_>>(),
        }))
        .unwrap();
        let digest = write_blob(&index);
        json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": index.len()})
    };
    let mut top = top;
    top["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    top.as_object_mut().unwrap().remove("platform");
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Upload an image blob by blob to `http://host/v2/repository`, tagged `tag` (for layers
/// skopeo would recompress).
pub fn upload(host: &str, repository: &str, tag: &str, image: &BuiltImage) {
    block_on(async {
        let client = reqwest::Client::new();
        for (digest, bytes) in &image.blobs {
            let started = client
                .post(format!("http://{host}/v2/{repository}/blobs/uploads/"))
                .send()
                .await
                .unwrap();
            assert_eq!(started.status(), StatusCode::ACCEPTED);
            let location = started.headers()["location"].to_str().unwrap().to_owned();
            let separator = if location.contains('?') { '&' } else { '?' };
            let done = client
                .put(format!(
                    "{location}{separator}digest={}",
                    digest.replace(':', "%3A")
                ))
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(done.status(), StatusCode::CREATED, "upload {digest}");
        }
        let put = client
            .put(format!("http://{host}/v2/{repository}/manifests/{tag}"))
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(image.manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::CREATED, "put the manifest");
    });
}

/// What the gate does besides passing requests on.
#[derive(Debug, Default, Clone)]
pub struct GateRules {
    /// Demand `Bearer` tokens from the gate's own `/token` endpoint, given for these Basic
    /// credentials (or to anyone when empty).
    pub bearer: Option<(String, String)>,
    /// Serve this blob (by digest) with one byte changed.
    pub corrupt_blob: Option<String>,
    /// Serve manifests asked by tag with one byte changed (and the registry's digest header).
    pub corrupt_tagged_manifests: bool,
    /// Answer blob downloads with a redirect to `http://localhost:PORT/direct/…`.
    pub redirect_blobs: bool,
    /// Each fails the first request it matches.
    pub fail_once: Vec<Fail>,
    /// Each fails every request it matches.
    pub fail_always: Vec<Fail>,
    /// Hold some downloads back until others happened.
    pub hold: Option<Hold>,
}

/// A canned failure: a request whose path contains `path` gets `status` and `headers`.
#[derive(Debug, Clone)]
pub struct Fail {
    pub path: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Fail {
    pub fn new(path: &str, status: u16, headers: &[(&str, &str)]) -> Fail {
        Fail {
            path: path.to_owned(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn headers(&self) -> Vec<(&str, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }
}

/// Hold GETs of paths ending in `held` until `count` GETs of paths ending in `after` came in.
#[derive(Debug, Clone)]
pub struct Hold {
    pub held: String,
    pub after: String,
    pub count: usize,
}

/// A request the gate saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub host: String,
    pub authorization: Option<String>,
}

struct GateState {
    rules: Mutex<GateRules>,
    upstream: u16,
    port: u16,
    seen: Mutex<Vec<Seen>>,
    tokens: Mutex<Vec<String>>,
    /// GETs of the paths a hold waits for.
    awaited: tokio::sync::watch::Sender<usize>,
}

/// The gate: an HTTP front for a registry, on its own port.
pub struct Gate {
    pub port: u16,
    state: Arc<GateState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gate {
    pub fn start(upstream: &Registry, rules: GateRules) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(GateState {
            rules: Mutex::new(rules),
            upstream: upstream.port,
            port,
            seen: Mutex::default(),
            tokens: Mutex::default(),
            awaited: tokio::sync::watch::Sender::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                tokio::pin!(stopped);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let (state, client) = (served.clone(), client.clone());
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |request| {
                                    handle(state.clone(), client.clone(), request)
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        Gate {
            port,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The query strings of token requests.
    pub fn token_requests(&self) -> Vec<String> {
        self.state.tokens.lock().unwrap().clone()
    }

    pub fn set_rules(&self, rules: GateRules) {
        *self.state.rules.lock().unwrap() = rules;
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type GateResponse = Response<Full<Bytes>>;

fn answer(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> GateResponse {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, value);
    }
    response.body(Full::new(body.into())).unwrap()
}

async fn handle(
    state: Arc<GateState>,
    client: reqwest::Client,
    request: Request<Incoming>,
) -> Result<GateResponse, std::convert::Infallible> {
    let method = request.method().clone();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header("host").unwrap_or_default();
    let authorization = header("authorization");
    let accept: Vec<String> = request
        .headers()
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let content_type = header("content-type");
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.clone(),
        host: host.clone(),
        authorization: authorization.clone(),
    });
    let rules = state.rules.lock().unwrap().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    // The token service.
    if path == "/token" {
        state.tokens.lock().unwrap().push(query.clone());
        if let Some((user, password)) = &rules.bearer {
            if !user.is_empty() {
                use base64::Engine as _;
                let expected = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                );
                if authorization.as_deref() != Some(expected.as_str()) {
                    return Ok(answer(
                        401,
                        &[],
                        r#"{"details":"incorrect username or password"}"#,
                    ));
                }
            }
        }
        let token = format!("token-{}", state.tokens.lock().unwrap().len());
        return Ok(answer(
            200,
            &[("content-type", "application/json".into())],
            json!({"token": token, "expires_in": 300}).to_string(),
        ));
    }

    if let Some(fail) = rules.fail_always.iter().find(|f| path.contains(f.path.as_str())) {
        return Ok(answer(
            fail.status,
            &fail.headers(),
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        ));
    }
    {
        let mut current = state.rules.lock().unwrap();
        if let Some(i) = current
            .fail_once
            .iter()
            .position(|f| path.contains(f.path.as_str()))
        {
            let fail = current.fail_once.remove(i);
            return Ok(answer(fail.status, &fail.headers(), "try again"));
        }
    }

    // Redirected blob downloads come back here under another host name, without auth.
    let direct = path.starts_with("/direct/");
    let upstream_path = path_and_query
        .strip_prefix("/direct")
        .unwrap_or(&path_and_query)
        .to_owned();
    if !direct {
        if rules.bearer.is_some()
            && !authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer token-"))
        {
            let scope = path
                .strip_prefix("/v2/")
                .and_then(|rest| {
                    rest.split_once("/manifests/")
                        .or_else(|| rest.split_once("/blobs/"))
                })
                .map(|(repository, _)| format!(",scope=\"repository:{repository}:pull\""))
                .unwrap_or_default();
            let challenge = format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"berth-test\"{scope}",
                state.port
            );
            return Ok(answer(
                401,
                &[
                    ("www-authenticate", challenge),
                    ("content-type", "application/json".into()),
                ],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            ));
        }
        if rules.redirect_blobs && method == hyper::Method::GET && path.contains("/blobs/sha256:") {
            let location = format!("http://localhost:{}/direct{path_and_query}", state.port);
            return Ok(answer(307, &[("location", location)], ""));
        }
    }
    if let Some(hold) = rules.hold.as_ref().filter(|_| method == hyper::Method::GET) {
        if path.ends_with(hold.after.as_str()) {
            state.awaited.send_modify(|n| *n += 1);
        }
        if path.ends_with(hold.held.as_str()) {
            let mut awaited = state.awaited.subscribe();
            // A cap so that a broken test fails on its assertions instead of hanging.
            let _ =
                tokio::time::timeout(Duration::from_secs(60), awaited.wait_for(|n| *n >= hold.count)).await;
        }
    }

    // Pass it on.
    let mut forward = client.request(
        method.clone(),
        format!("http://127.0.0.1:{}{upstream_path}", state.upstream),
    );
    for value in &accept {
        forward = forward.header("accept", value);
    }
    if let Some(content_type) = content_type {
        forward = forward.header("content-type", content_type);
    }
    if !body.is_empty() {
        forward = forward.body(body);
    }
    let response = match forward.send().await {
        Ok(response) => response,
        Err(e) => return Ok(answer(502, &[], e.to_string())),
    };
    let status = response.status().as_u16();
    let mut headers: Vec<(&str, String)> = Vec::new();
    for name in [
        "content-type",
        "docker-content-digest",
        "location",
        "docker-upload-uuid",
        "range",
    ] {
        if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            let value = value.replace(
                &format!("127.0.0.1:{}", state.upstream),
                &format!("127.0.0.1:{}", state.port),
            );
            headers.push((name, value));
        }
    }
    let mut bytes = response.bytes().await.unwrap_or_default().to_vec();
    let corrupt_blob = rules
        .corrupt_blob
        .as_ref()
        .is_some_and(|d| path.ends_with(d.as_str()));
    let corrupt_manifest = rules.corrupt_tagged_manifests
        && path.contains("/manifests/")
        && !path.contains("/manifests/sha256:");
    if (corrupt_blob || corrupt_manifest) && method == hyper::Method::GET && !bytes.is_empty() {
        // One byte in the middle: a space in JSON becomes a tab, a layer byte flips.
        let middle = bytes.len() / 2;
        let at = if corrupt_manifest {
            bytes.iter().position(|&b| b == b' ').unwrap_or(middle)
        } else {
            middle
        };
        bytes[at] ^= if corrupt_manifest { b' ' ^ b'\t' } else { 0x01 };
    }
    Ok(answer(status, &headers, bytes))
}

/// A `berth` credentials directory of the test's own (`BERTH_CONFIG`).
pub fn config_dir() -> TempDir {
    TempDir::new("berth-config")
}

/// The files under a daemon's image store (blobs and layer dirs), to compare before and after.
pub fn store_contents(data_root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let list = |dir: PathBuf| {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        entries
    };
    (
        list(data_root.join("image/blobs/sha256")),
        list(data_root.join("image/layers")),
    )
}
