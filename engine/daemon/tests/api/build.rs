//! `POST /build` beside Docker 20.10's classic builder: the same Dockerfiles and contexts sent to
//! both, and the message streams (ids aside), the images' configs and histories, their files,
//! the cache and the refusals compared.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// A context tar as docker's CLI writes one: the file type in the mode, owner 0:0.
fn context(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(text.len() as u64);
        header.set_mode(0o100644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append_data(&mut header, name, text.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A build's answer: its status, and its messages (or the error body).
struct Built {
    status: u16,
    messages: Vec<Value>,
    body: String,
}

impl Built {
    /// The text a client prints (every `stream`), 12-hex ids replaced by `<id>`.
    fn text(&self) -> String {
        let text: String = self
            .messages
            .iter()
            .filter_map(|m| m["stream"].as_str())
            .collect();
        redact_ids(&text)
    }

    /// The image id the stream named (`aux.ID`).
    fn image(&self) -> String {
        self.messages
            .iter()
            .find_map(|m| m["aux"]["ID"].as_str())
            .unwrap_or_else(|| panic!("no image id in {:?}", self.body))
            .to_owned()
    }

    /// The final error message and code, if the build failed in its stream.
    fn error(&self) -> Option<(String, Option<i64>)> {
        self.messages.iter().find_map(|m| {
            let detail = m.get("errorDetail")?;
            Some((
                detail["message"].as_str().unwrap_or_default().to_owned(),
                detail["code"].as_i64(),
            ))
        })
    }
}

/// Every run of 12 or 64 lower-case hex digits replaced by `<id>`.
fn redact_ids(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 12 || run.len() == 64 {
            out.push_str("<id>");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn build_on(host: &str, query: &str, tar: &[u8]) -> Built {
    let answer = berth_testkit::request(
        host,
        "POST",
        &format!("/build?{query}"),
        tar,
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("POST /build on {host}: {e}"));
    let body = answer.text();
    let messages = if answer.status == 200 {
        body.split("\r\n")
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect()
    } else {
        Vec::new()
    };
    Built {
        status: answer.status,
        messages,
        body,
    }
}

/// The same build on berthd and on Docker.
fn build_both(daemon: &TestDaemon, query: &str, tar: &[u8]) -> (Built, Built) {
    (
        build_on(&daemon.host(), query, tar),
        build_on(&docker_host(), query, tar),
    )
}

/// What every build case starts from: a berthd with the lab images, Docker with them too, and
/// the removals on Docker to run when the case ends.
fn engines() -> (TestDaemon, OnDocker) {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    (daemon, OnDocker::new())
}

/// A tag unique to the case, removed from Docker when `on_docker` is dropped.
fn tag_for(on_docker: &mut OnDocker, prefix: &str) -> String {
    let tag = unique_name(prefix);
    on_docker.removals.push(format!("/images/{tag}?force=1"));
    tag
}

/// An image's config fields a Dockerfile sets, and its history's `created_by`s.
fn image_shape(engine: &dyn Engine, image: &str) -> (Value, Vec<String>) {
    let inspect = engine.send("GET", &format!("/images/{image}/json"), b"").json();
    let config = &inspect["Config"];
    let fields: Value = [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "Labels",
        "OnBuild",
        "Healthcheck",
        "StopSignal",
        "Shell",
    ]
    .iter()
    .map(|k| (k.to_string(), config[*k].clone()))
    .collect::<serde_json::Map<String, Value>>()
    .into();
    let history = engine
        .send("GET", &format!("/images/{image}/history"), b"")
        .json();
    let created_by = history
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|step| step["CreatedBy"].as_str().unwrap_or_default().to_owned())
        .collect();
    (fields, created_by)
}

/// Both engines built `tag`: the same stream (ids aside), the same config and history.
fn assert_built_alike(daemon: &TestDaemon, ours: &Built, theirs: &Built, tag: &str) {
    assert_eq!(
        (ours.status, theirs.status),
        (200, 200),
        "{} / {}",
        ours.body,
        theirs.body
    );
    assert_eq!(ours.text(), theirs.text());
    assert_eq!(image_shape(daemon, tag), image_shape(&Docker, tag));
}

/// What `cmd` prints in a container of `image`.
fn run_in(
    engine: &dyn Engine,
    image: &str,
    cmd: &[&str],
    on_docker: &mut OnDocker,
    is_docker: bool,
) -> String {
    let answer = engine.send(
        "POST",
        "/containers/create",
        json!({"Image": image, "Cmd": cmd, "Entrypoint": []})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(
        answer.status,
        201,
        "create on {}: {}",
        if is_docker { "Docker" } else { "berthd" },
        answer.text()
    );
    let id = answer.json()["Id"].as_str().unwrap_or_default().to_owned();
    if is_docker {
        on_docker.container(&id);
    }
    engine.send("POST", &format!("/containers/{id}/start"), b"");
    let output = output_when_ended(engine, &id);
    engine.send("DELETE", &format!("/containers/{id}?force=1"), b"");
    output
}

const TEN_STEPS: &str = "FROM busybox
ENV A=1 B=\"two words\"
LABEL maintainer=\"me\" version=1
WORKDIR /app
COPY a.txt /app/
RUN echo built > /built && ls /app
RUN echo to-stderr >&2
EXPOSE 8080/tcp
VOLUME /data
USER nobody
CMD [\"sh\",\"-c\",\"cat /built\"]
";

#[test]
fn a_dockerfile_builds_as_on_docker_and_a_rebuild_is_cached() {
    let (daemon, mut on_docker) = engines();
    let tag = tag_for(&mut on_docker, "berth-api-build");
    let tar = context(&[("Dockerfile", TEN_STEPS), ("a.txt", "hello\n")]);
    let query = format!("t={tag}&rm=1");

    // The shared Docker may hold these steps from another run: the first build makes them anew.
    let (ours, theirs) = build_both(&daemon, &format!("{query}&nocache=1"), &tar);
    assert_eq!(
        (ours.status, theirs.status),
        (200, 200),
        "{} / {}",
        ours.body,
        theirs.body
    );
    assert_eq!(ours.text(), theirs.text());
    assert!(ours.text().contains("Step 11/11 : CMD"), "{}", ours.text());
    let (our_image, their_image) = (ours.image(), theirs.image());
    assert_eq!(image_shape(&daemon, &tag), image_shape(&Docker, &tag));
    for (engine, is_docker) in [(&daemon as &dyn Engine, false), (&Docker as &dyn Engine, true)] {
        assert_eq!(
            run_in(
                engine,
                &tag,
                &["cat", "/built", "/app/a.txt"],
                &mut on_docker,
                is_docker
            ),
            "built\nhello\n"
        );
    }

    // Again: every step from the cache, the same image.
    let (ours, theirs) = build_both(&daemon, &query, &tar);
    assert_eq!(ours.text(), theirs.text());
    assert_eq!(ours.text().matches("Using cache").count(), 10, "{}", ours.text());
    assert_eq!((ours.image(), theirs.image()), (our_image.clone(), their_image));

    // Quiet: the image id alone.
    let (ours, theirs) = build_both(&daemon, &format!("{query}&q=1"), &tar);
    assert_eq!(
        (ours.text(), theirs.text()),
        ("sha256:<id>\n".to_owned(), "sha256:<id>\n".to_owned())
    );

    // nocache: every step again, a new image.
    let ours = build_on(&daemon.host(), &format!("{query}&nocache=1"), &tar);
    assert!(!ours.text().contains("Using cache"), "{}", ours.text());
    assert_ne!(ours.image(), our_image);
}

#[test]
fn a_failing_run_ends_the_stream_with_its_code_as_on_docker() {
    let (daemon, mut on_docker) = engines();
    let tag = unique_name("berth-api-build-fail");
    // The marker tells this test's step containers from other tests' on the shared Docker.
    let marker = unique_name("marker");
    let dockerfile = format!("FROM busybox\nRUN echo {marker}; exit 3\n");
    let tar = context(&[("Dockerfile", &dockerfile)]);
    let left_by_this_test = |engine: &dyn Engine| -> Vec<String> {
        engine
            .send("GET", "/containers/json?all=1", b"")
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|c| c["Command"].as_str().is_some_and(|cmd| cmd.contains(&marker)))
            .filter_map(|c| c["Id"].as_str().map(str::to_owned))
            .collect()
    };
    let count = |engine: &dyn Engine| left_by_this_test(engine).len();
    let before = (0, 0);

    // --force-rm: nothing is left behind on either engine.
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&forcerm=1"), &tar);
    assert_eq!((ours.status, theirs.status), (200, 200));
    assert_eq!(ours.text(), theirs.text());
    assert_eq!(ours.error(), theirs.error());
    assert_eq!(
        ours.error(),
        Some((
            format!("The command '/bin/sh -c echo {marker}; exit 3' returned a non-zero code: 3"),
            Some(3)
        ))
    );
    assert_eq!((count(&daemon), count(&Docker)), before);
    for engine in [&daemon as &dyn Engine, &Docker] {
        assert_eq!(
            engine.send("GET", &format!("/images/{tag}/json"), b"").status,
            404
        );
    }

    // Quiet: what led to the failure is shown after all.
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&forcerm=1&q=1"), &tar);
    assert_eq!((ours.text(), ours.error()), (theirs.text(), theirs.error()));
    assert!(ours.text().contains("Step 2/2"), "{}", ours.text());

    // Without it, the failed step's container stays for inspection, as Docker keeps it.
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}"), &tar);
    assert_eq!(ours.error(), theirs.error());
    for id in left_by_this_test(&Docker) {
        on_docker.container(&id);
    }
    assert_eq!((count(&daemon), count(&Docker)), (1, 1));
}

#[test]
fn bad_builds_are_refused_as_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let good = context(&[("Dockerfile", "FROM busybox\nRUN true\n")]);
    // Cut inside the Dockerfile's content (a cut in a file's padding is a clean end to Docker).
    let long = format!("FROM busybox\n# {}\n", "x".repeat(600));
    let mut truncated = context(&[("Dockerfile", &long)]);
    truncated.truncate(700);
    let unknown = context(&[("Dockerfile", "FROM busybox\nFOO bar\n")]);
    let missing_copy = context(&[("Dockerfile", "FROM busybox\nCOPY nothere /x\n")]);
    for (query, tar) in [
        ("", &unknown),
        ("dockerfile=Nope", &good),
        ("t=Bad:Tag", &good),
        ("", &truncated),
        ("buildargs=%7Bnot-json", &good),
        ("buildargs=%5B1%5D", &good),
        ("buildargs=%7B%22A%22%3A1%7D", &good),
        ("labels=%5B%5D", &good),
    ] {
        refused_alike(&mut daemon, "POST", &format!("/build?{query}"), tar);
    }
    // Failures once the stream has begun end it with Docker's words.
    let (ours, theirs) = build_both(&daemon, "", &missing_copy);
    assert_eq!(ours.error(), theirs.error());
    assert_eq!(ours.text(), theirs.text());
    assert_alive(&mut daemon);
}

#[test]
fn stages_copy_from_each_other_and_target_stops_the_build() {
    let (daemon, mut on_docker) = engines();
    let tag = tag_for(&mut on_docker, "berth-api-build-stages");
    let dockerfile = "ARG BASE=busybox
FROM $BASE AS builder
ARG GREETING=hello
RUN echo \"$GREETING from the builder\" > /greeting
FROM scratch AS final
COPY --from=builder /greeting /greeting
COPY --from=builder /bin/busybox /bin/busybox
CMD [\"/bin/busybox\", \"cat\", \"/greeting\"]
";
    let tar = context(&[("Dockerfile", dockerfile)]);
    let args = encode(r#"{"GREETING":"bonjour"}"#);
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&buildargs={args}&nocache=1"), &tar);
    assert_built_alike(&daemon, &ours, &theirs, &tag);
    for (engine, is_docker) in [(&daemon as &dyn Engine, false), (&Docker as &dyn Engine, true)] {
        assert_eq!(
            run_in(
                engine,
                &tag,
                &["/bin/busybox", "cat", "/greeting"],
                &mut on_docker,
                is_docker
            ),
            "bonjour from the builder\n"
        );
    }

    // `target=builder` stops after the first stage.
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&target=builder"), &tar);
    assert_eq!(ours.text(), theirs.text());
    assert!(ours.text().contains("Step 4/4"), "{}", ours.text());
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    let (daemon, mut on_docker) = engines();
    let base = unique_name("berth-api-onbuild-base");
    let child = unique_name("berth-api-onbuild-child");
    on_docker.removals.push(format!("/images/{child}?force=1"));
    on_docker.removals.push(format!("/images/{base}?force=1"));
    let base_tar = context(&[
        (
            "Dockerfile",
            "FROM busybox\nONBUILD COPY site.txt /srv/\nONBUILD RUN wc -c /srv/site.txt\n",
        ),
        ("site.txt", "base\n"),
    ]);
    let (ours, theirs) = build_both(&daemon, &format!("t={base}"), &base_tar);
    assert_eq!(ours.text(), theirs.text());
    assert_eq!(
        image_shape(&daemon, &base).0["OnBuild"],
        json!(["COPY site.txt /srv/", "RUN wc -c /srv/site.txt"])
    );

    let child_tar = context(&[
        (
            "Dockerfile",
            &format!("FROM {base}\nCMD [\"cat\", \"/srv/site.txt\"]\n"),
        ),
        ("site.txt", "child site\n"),
    ]);
    let (ours, theirs) = build_both(&daemon, &format!("t={child}"), &child_tar);
    assert_eq!(ours.text(), theirs.text());
    assert!(
        ours.text().contains("# Executing 2 build triggers"),
        "{}",
        ours.text()
    );
    assert_eq!(image_shape(&daemon, &child), image_shape(&Docker, &child));
}

#[test]
fn add_downloads_urls_as_docker_does_and_never_extracts_them() {
    let (daemon, mut on_docker) = engines();
    let served = berth_testkit::TempDir::new("berth-api-build-served");
    std::fs::write(served.path().join("notes.txt"), "served notes\n").unwrap();
    let archive = context(&[("inside.txt", "in the archive\n")]);
    std::fs::write(served.path().join("bundle.tar"), &archive).unwrap();
    let server = berth_testkit::FileServer::serve(served.path());
    let tag = unique_name("berth-api-build-add-url");
    on_docker.removals.push(format!("/images/{tag}?force=1"));
    let base = server.base();
    let dockerfile = format!(
        "FROM busybox\nADD {base}/notes.txt /data/\nADD {base}/bundle.tar /data/\nRUN ls -ln --full-time /data && cat /data/notes.txt\n"
    );
    let tar = context(&[("Dockerfile", &dockerfile)]);
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&nocache=1"), &tar);
    assert_built_alike(&daemon, &ours, &theirs, &tag);
    // COPY refuses URLs.
    let copy = context(&[(
        "Dockerfile",
        &format!("FROM busybox\nCOPY {base}/notes.txt /data/\n"),
    )]);
    let (ours, theirs) = build_both(&daemon, "", &copy);
    assert_eq!(ours.error(), theirs.error());
}

#[test]
fn every_instruction_leaves_what_docker_leaves() {
    let (daemon, mut on_docker) = engines();
    let tag = tag_for(&mut on_docker, "berth-api-build-all");
    let dockerfile = r#"# escape=`
FROM busybox
ARG DIR=srv
ENV BASE=/opt `
    GREETING="hello there"
WORKDIR $BASE
WORKDIR app/../$DIR
COPY --chown=65534:65534 files/ ./files/
COPY files/a.txt files/*.md $BASE/docs/
RUN id -u && pwd && ls -ln . $BASE/docs && echo "$GREETING from $DIR"
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "shell form under a new SHELL"
USER 65534:65534
RUN id -u && touch /tmp/by-nobody
USER root
VOLUME ["/data", "/cache"]
RUN echo lost > /data/x && ls /data
EXPOSE 80 53/udp 8000-8002
LABEL "with space"="a b" plain=1
HEALTHCHECK --interval=30s --timeout=5s --start-period=1s --retries=2 CMD ["true"]
HEALTHCHECK NONE
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/bin/echo", "entry"]
CMD ["from", "cmd"]
ONBUILD RUN echo later
"#;
    let tar = context(&[
        ("Dockerfile", dockerfile),
        ("files/a.txt", "a\n"),
        ("files/b.md", "b\n"),
        ("files/c.md", "c\n"),
    ]);
    let args = encode(r#"{"DIR":"var/www"}"#);
    let (ours, theirs) = build_both(&daemon, &format!("t={tag}&nocache=1&buildargs={args}"), &tar);
    assert_built_alike(&daemon, &ours, &theirs, &tag);
    let listing = [
        "sh",
        "-c",
        "ls -ln /opt/var/www/files /tmp/by-nobody; ls -a /data",
    ];
    assert_eq!(
        run_in(&daemon, &tag, &listing, &mut on_docker, false),
        run_in(&Docker, &tag, &listing, &mut on_docker, true),
    );
}

#[test]
fn cache_from_finds_steps_in_a_loaded_images_history() {
    let (daemon, mut on_docker) = engines();
    let tag = tag_for(&mut on_docker, "berth-api-build-cache-from");
    let marker = unique_name("step");
    let dockerfile =
        format!("FROM busybox\nENV STEP={marker}\nRUN echo {marker} > /marker\nCMD [\"cat\", \"/marker\"]\n");
    let tar = context(&[("Dockerfile", &dockerfile)]);
    for engine in [&daemon as &dyn Engine, &Docker] {
        // Built, saved, removed with its parent chain, loaded back: no local chain is left.
        let host = if std::ptr::eq(
            engine as *const dyn Engine as *const u8,
            &daemon as *const TestDaemon as *const u8,
        ) {
            daemon.host()
        } else {
            docker_host()
        };
        let built = build_on(&host, &format!("t={tag}&nocache=1"), &tar);
        assert_eq!(built.status, 200, "{}", built.body);
        let saved = engine.send("GET", &format!("/images/get?names={tag}"), b"");
        assert_eq!(saved.status, 200);
        assert_eq!(engine.send("DELETE", &format!("/images/{tag}"), b"").status, 200);
        assert_eq!(
            engine.send("POST", "/images/load?quiet=1", &saved.body).status,
            200
        );
    }
    let (ours, theirs) = build_both(
        &daemon,
        &format!("t={tag}&cachefrom={}", encode(&format!("[\"{tag}\"]"))),
        &tar,
    );
    assert_eq!(ours.text(), theirs.text());
    assert_eq!(ours.text().matches("Using cache").count(), 3, "{}", ours.text());
    assert_eq!(image_shape(&daemon, &tag), image_shape(&Docker, &tag));
}

/// Two builds share their first steps; removing one image prunes its own untagged parents and
/// stops quietly at the shared one, which the other still builds on — as Docker does.
#[test]
fn removing_a_built_image_stops_pruning_at_a_shared_parent() {
    let (daemon, mut on_docker) = engines();
    let first = unique_name("berth-api-shared-first");
    let second = unique_name("berth-api-shared-second");
    on_docker.removals.push(format!("/images/{second}?force=1"));
    on_docker.removals.push(format!("/images/{first}?force=1"));
    let shared = format!("FROM busybox\nRUN echo {first} > /shared\n");
    let first_tar = context(&[("Dockerfile", &format!("{shared}LABEL which=first\n"))]);
    let second_tar = context(&[("Dockerfile", &format!("{shared}LABEL which=second\n"))]);
    for (engine, host) in [
        (&daemon as &dyn Engine, daemon.host()),
        (&Docker as &dyn Engine, docker_host()),
    ] {
        build_on(&host, &format!("t={first}"), &first_tar);
        build_on(&host, &format!("t={second}"), &second_tar);
        let id = engine.send("GET", &format!("/images/{first}/json"), b"").json()["Id"].clone();
        let parent = engine.send("GET", &format!("/images/{first}/json"), b"").json()["Parent"].clone();
        let removed = engine.send(
            "DELETE",
            &format!("/images/{}?force=1", id.as_str().unwrap()),
            b"",
        );
        assert_eq!(removed.status, 200, "{}", removed.text());
        let deleted: Vec<Value> = removed.json().as_array().cloned().unwrap_or_default();
        assert_eq!(deleted.len(), 2, "its tag and the image, no parent: {deleted:?}");
        let parent = engine.send("GET", &format!("/images/{}/json", parent.as_str().unwrap()), b"");
        assert_eq!(parent.status, 200, "the shared parent stays");
        assert_eq!(
            engine.send("GET", &format!("/images/{second}/json"), b"").status,
            200
        );
    }
}
