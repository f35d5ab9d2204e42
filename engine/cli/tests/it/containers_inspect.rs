//! Looking at containers: `ps` tables, `inspect`, `top`, `port`, `diff`, `commit`, `rename`,
//! `events` (and `--explain`), `container prune`, and the management forms.

use crate::common::TestDaemon;

fn daemon() -> TestDaemon {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    daemon
}

#[test]
fn ps_tables_and_filters() {
    let daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "web", "-l", "tier=front", "httpd:2.4"]);
    daemon.ok(&[
        "create",
        "--name",
        "idle",
        "busybox",
        "sh",
        "-c",
        "sleep 1000 && echo a long command line",
    ]);
    let output = daemon.output(&["run", "--name", "done", "busybox", "sh", "-c", "exit 2"]);
    assert_eq!(output.status.code(), Some(2));

    let table = daemon.ok(&[
        "ps",
        "-a",
        "--format",
        "table {{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}\t{{.Label \"tier\"}}",
    ]);
    insta::assert_snapshot!(table, @r#"
    NAMES     IMAGE       COMMAND                  STATE     tier
    done      busybox     "sh -c 'exit 2'"         exited    
    idle      busybox     "sh -c 'sleep 1000 &…"   created   
    web       httpd:2.4   "httpd-foreground"       running   front
    "#);
    let default = daemon.ok(&["ps"]);
    let header: Vec<&str> = default
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(default.lines().count(), 2, "{default}");
    assert_eq!(
        daemon
            .ok(&[
                "ps",
                "-a",
                "-f",
                "status=exited",
                "--format",
                "{{.Names}} {{.Status}}"
            ])
            .split(" (")
            .next(),
        Some("done Exited")
    );
    assert_eq!(
        daemon.ok(&["ps", "-a", "-f", "label=tier=front", "--format", "{{.Names}}"]),
        "web\n"
    );
    assert_eq!(daemon.ok(&["ps", "-n", "1", "--format", "{{.Names}}"]), "done\n");
    assert_eq!(daemon.ok(&["ps", "-l", "--format", "{{.Names}}"]), "done\n");
    assert_eq!(daemon.ok(&["container", "ls", "-a", "-q"]).lines().count(), 3);
    // Sizes: the writable layer, and with the image's layers (ps -s, inspect -s).
    let output = daemon.output(&[
        "run",
        "--name",
        "sized",
        "busybox",
        "sh",
        "-c",
        "head -c 12345 /dev/zero > /f",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        daemon.ok(&[
            "ps",
            "-a",
            "-s",
            "-f",
            "name=sized",
            "--format",
            "table {{.Names}}\t{{.Size}}"
        ]),
        "NAMES     SIZE\nsized     12.3kB (virtual 2MB)\n"
    );
    assert_eq!(
        daemon.ok(&["inspect", "-s", "-f", "{{.SizeRw}}", "sized"]),
        "12345\n"
    );
    let (code, stderr) = daemon.fails(&["ps", "--format", "{{.Nope}}"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("can't evaluate field Nope"), "{stderr}");
}

#[test]
fn inspect_containers_first_then_images() {
    let daemon = daemon();
    // A container named like an image: inspect finds the container.
    let id = daemon.ok(&["create", "--name", "busybox", "busybox", "true"]);
    let id = id.trim();
    assert_eq!(
        daemon.ok(&["inspect", "-f", "{{.Id}}", "busybox"]),
        format!("{id}\n")
    );
    let image = daemon.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", "busybox"]);
    assert!(image.starts_with("sha256:"), "{image}");
    assert_eq!(daemon.ok(&["inspect", "-f", "{{.Id}}", "hello-world"]).len(), 72);
    assert_eq!(
        daemon.ok(&["container", "inspect", "-f", "{{.Name}}", id]),
        "/busybox\n"
    );
    let (code, stderr) = daemon.fails(&["container", "inspect", "hello-world"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "Error: No such container: hello-world\n")
    );
    let json: serde_json::Value =
        serde_json::from_str(&daemon.ok(&["inspect", id, "busybox:latest"])).expect("JSON");
    assert_eq!(json.as_array().map(Vec::len), Some(2));
    assert_eq!(json[0]["Config"]["Cmd"][0], "true");
    assert_eq!(
        daemon.ok(&[
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{.HostConfig.NetworkMode}}",
            "busybox"
        ]),
        "[\"true\"] default\n"
    );
    let output = daemon.output(&["inspect", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "[]\n");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: No such object: nosuch\n"
    );
    let (code, stderr) = daemon.fails(&["inspect", "-f", "{{.State.Status", "busybox"]);
    assert_eq!(
        (code, stderr.as_str()),
        (64, "template parsing error: template: :1: unclosed action\n")
    );
    let (code, stderr) = daemon.fails(&["inspect", "--type", "bogus", "busybox"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "\"bogus\" is not a valid value for --type\n")
    );
}

#[test]
fn top_port_rename_and_wait() {
    let daemon = daemon();
    // A host port the daemon picks, so tests side by side never collide.
    daemon.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "443",
        "httpd:2.4",
    ]);
    let top = daemon.ok(&["top", "web"]);
    let mut lines = top.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("UID") && h.contains("PID") && h.ends_with("CMD")),
        "{top}"
    );
    assert!(lines.any(|l| l.contains("httpd")), "{top}");
    let published = daemon.ok(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", "web"]);
    assert_eq!(
        published,
        "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]}\n"
    );
    let exposed = daemon.ok(&["inspect", "-f", "{{json .Config.ExposedPorts}}", "web"]);
    assert!(
        exposed.contains("\"443/tcp\":{}") && exposed.contains("\"80/tcp\":{}"),
        "{exposed}"
    );
    let address = daemon.ok(&["port", "web", "80"]);
    let address = address.trim();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert_eq!(daemon.ok(&["port", "web"]), format!("80/tcp -> {address}\n"));
    // The published port answers: httpd behind it.
    let mut connection = std::net::TcpStream::connect(address).expect("connect to the published port");
    std::io::Write::write_all(&mut connection, b"GET / HTTP/1.0\r\n\r\n").expect("send a request");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut connection, &mut answer).expect("read the answer");
    assert!(answer.starts_with("HTTP/1."), "{answer}");
    let (code, stderr) = daemon.fails(&["port", "web", "443"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "Error: No public port '443/tcp' published for web\n")
    );

    assert_eq!(daemon.ok(&["rename", "web", "site"]), "");
    assert_eq!(daemon.ok(&["ps", "--format", "{{.Names}}"]), "site\n");
    let (code, stderr) = daemon.fails(&["rename", "site", "site"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: Renaming a container with the same name as its current name\nError: failed to rename container named site\n"
    );
    let (code, stderr) = daemon.fails(&["rename", "nosuch", "x"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error response from daemon: No such container: nosuch\nError: failed to rename container named nosuch\n"
    );
    daemon.ok(&["kill", "site"]);
    assert_eq!(daemon.ok(&["wait", "site"]), "137\n");
}

#[test]
fn diff_and_commit_make_an_image() {
    let daemon = daemon();
    daemon.ok(&[
        "run",
        "--name",
        "maker",
        "busybox",
        "sh",
        "-c",
        "echo made > /made; rm /bin/yes",
    ]);
    let diff = daemon.ok(&["diff", "maker"]);
    assert!(diff.lines().any(|l| l == "A /made"), "{diff}");
    assert!(diff.lines().any(|l| l == "C /bin"), "{diff}");
    assert!(diff.lines().any(|l| l == "D /bin/yes"), "{diff}");
    let image = daemon.ok(&[
        "commit",
        "-a",
        "Trainee",
        "-m",
        "made it",
        "-c",
        "CMD [\"cat\", \"/made\"]",
        "maker",
        "made:v1",
    ]);
    assert!(image.starts_with("sha256:") && image.len() == 72, "{image}");
    assert_eq!(daemon.ok(&["run", "--rm", "made:v1"]), "made\n");
    assert_eq!(
        daemon.ok(&["image", "inspect", "-f", "{{.Author}}|{{.Comment}}", "made:v1"]),
        "Trainee|made it\n"
    );
    let (code, stderr) = daemon.fails(&["commit", "maker", "Made"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "invalid reference format: repository name must be lowercase\n")
    );
}

#[test]
fn events_and_explain() {
    let daemon = daemon();
    let since = chrono::Utc::now().timestamp().to_string();
    daemon.ok(&["run", "--name", "evented", "busybox", "true"]);
    daemon.ok(&["rm", "evented"]);
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let actions = daemon.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=evented",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = actions.lines().collect();
    // Docker's order: run attaches before it starts.
    assert_eq!(actions, ["create", "attach", "start", "die", "destroy"]);
    let line = daemon.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=create",
    ]);
    assert!(
        line.contains(" container create ") && line.contains("name=evented"),
        "{line}"
    );
    let json = daemon.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "{{json .}}",
    ]);
    let event: serde_json::Value = serde_json::from_str(json.trim()).expect("an event as JSON");
    assert_eq!(event["Actor"]["Attributes"]["exitCode"], "0");

    daemon.ok(&["run", "--name", "explained", "busybox", "true"]);
    let steps = daemon.explain_steps("explained");
    assert!(steps.lines().any(|l| l.starts_with("berthd: ")), "{steps}");
    assert!(steps.lines().any(|l| l.starts_with("berth-runtime: ")), "{steps}");
    // Each step says what it was about: a run goes through these kinds at least.
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let json = daemon.ok(&[
        "events",
        "--explain",
        "--filter",
        "container=explained",
        "--until",
        &until,
        "--format",
        "{{json .}}",
    ]);
    let kinds: std::collections::BTreeSet<String> = json
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("an explain event as JSON"))
        .filter_map(|event| event["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in ["namespaces", "mounts", "layers", "cgroups", "process"] {
        assert!(kinds.contains(kind), "no {kind} step in {kinds:?}:\n{json}");
    }
    // A template sees the same fields.
    let sources = daemon.ok(&[
        "events",
        "--explain",
        "--filter",
        "container=explained",
        "--until",
        &until,
        "--format",
        "{{.source}} {{.kind}}",
    ]);
    assert!(
        sources.lines().any(|l| l == "berth-runtime namespaces"),
        "{sources}"
    );
}

#[test]
fn container_prune_removes_stopped_ones() {
    let daemon = daemon();
    daemon.ok(&["run", "-d", "--name", "keep", "busybox", "sleep", "1000"]);
    let stopped = daemon.ok(&["create", "--name", "old", "busybox", "true"]);
    let pruned = daemon.ok(&["container", "prune", "-f"]);
    assert_eq!(
        pruned,
        format!(
            "Deleted Containers:\n{}\n\nTotal reclaimed space: 0B\n",
            stopped.trim()
        )
    );
    assert_eq!(daemon.ok(&["ps", "-a", "--format", "{{.Names}}"]), "keep\n");
}
