//! Every kind of check against a real engine (a private berthd): what holds, and for what does
//! not, the words a trainee reads — which check, what was expected, what was found.

use berth_lab::checks::{Context, RunScope, evaluate};
use berth_lab::scenario::Check;
use berth_lab::shell::Shell;

use crate::common::{LabDaemon, TempDir, TestDaemon};

fn check(text: &str) -> Check {
    #[derive(serde::Deserialize)]
    struct One {
        check: Check,
    }
    toml::from_str::<One>(&format!("check = {text}"))
        .expect("a valid check")
        .check
}

#[test]
fn each_kind_of_check_holds_or_says_why() {
    let daemon = TestDaemon::start();
    let run = |args: &[&str]| {
        let output = daemon.output(args);
        assert!(output.status.success(), "berth {args:?}: {output:?}");
    };
    let api = daemon.api();
    berth_lab::engine::ensure_images(&api, &["busybox".to_owned(), "httpd:2.4".to_owned()], None).unwrap();
    run(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "berth.lab.run=t1",
        "-p",
        "127.0.0.1::80",
        "httpd:2.4",
    ]);
    let done = daemon.output(&[
        "run",
        "--name",
        "done",
        "--label",
        "berth.lab.run=t1",
        "busybox",
        "sh",
        "-c",
        "echo bye; exit 3",
    ]);
    assert_eq!(done.status.code(), Some(3), "{done:?}");
    run(&["volume", "create", "--label", "berth.lab.run=t1", "data"]);
    run(&["network", "create", "--label", "berth.lab.run=t1", "net"]);
    // Another lab's container, and one no lab made: not this run's, whatever their names.
    run(&[
        "create",
        "--name",
        "stranger",
        "--label",
        "berth.lab=static-site",
        "busybox",
    ]);
    run(&["create", "--name", "loner", "busybox"]);
    run(&["network", "connect", "--alias", "db", "net", "web"]);
    let volume = api.volume("data").unwrap().unwrap();
    std::fs::write(std::path::Path::new(&volume.mountpoint).join("present.txt"), "x").unwrap();
    let port = api.container("web").unwrap().unwrap().network_settings.ports["80/tcp"]
        .as_ref()
        .unwrap()[0]
        .host_port
        .clone();

    let lab_dir = TempDir::new("berth-lab-dir");
    let shell = Shell::new(lab_dir.path(), vec![]);
    let transcript = vec![berth_lab::session::TranscriptEntry {
        step: 0,
        command: "docker ps -a".into(),
        exit_code: 0,
        time: String::new(),
        seconds: 0.0,
    }];
    // The run made a container `gone` and removed it: "it is gone" holds for it, and only it.
    let mut ledger = berth_lab::ledger::Ledger::default();
    let made = |action: &str| berth_lab::ledger::Entry {
        kind: berth_lab::ledger::Kind::Container,
        id: "0".repeat(64),
        name: "gone".into(),
        action: action.into(),
        step: 0,
        command: format!("docker {action} gone"),
    };
    ledger.add(vec![made("create"), made("destroy")]).unwrap();
    let cx = Context {
        api: &api,
        shell: &shell,
        transcript: &transcript,
        run: Some(RunScope {
            run: "t1",
            ledger: &ledger,
            given: &["httpd:2.4".to_owned(), "busybox".to_owned()],
        }),
    };
    let holding = [
        r#"{ container = "web", state = "running", image = "httpd:2.4", exposed = ["80/tcp"], published = { "80/tcp" = "*" } }"#,
        r#"{ container = "*", image = "busybox", exit_code = 3, logs_contain = "bye" }"#,
        r#"{ container = "gone", exists = false }"#,
        r#"{ image = "busybox", layers = 1 }"#,
        // The lab images' httpd: Debian's base, then its recipe's six layers.
        r#"{ image = "httpd:2.4", larger_than = "busybox", extends = "debian:bookworm-slim", new_layers = 6 }"#,
        r#"{ volume = "data", holds = "present.txt" }"#,
        r#"{ network = "net", driver = "bridge", members = ["web"], aliases = { web = ["db"] } }"#,
        r#"{ exec = "cat /proc/1/cmdline", in = "web", contains = "-DFOREGROUND" }"#,
        r#"{ host = "echo hello", contains = "hello" }"#,
        r#"{ ran = "^docker ps" }"#,
    ];
    for text in holding {
        let outcome = evaluate(&check(text), &cx);
        assert!(outcome.holds, "{text}: {}", outcome.explain());
    }
    let http = check(&format!(
        r#"{{ http = "http://127.0.0.1:{port}/", contains = "It works!" }}"#
    ));
    assert!(berth_lab::checks::evaluate_until(&http, &cx, None).holds);

    let failing = [
        r#"{ container = "web", state = "exited" }"#,
        r#"{ image = "httpd:2.4", extends = "busybox" }"#,
        r#"{ container = "web", published = { "80/tcp" = "8080" } }"#,
        r#"{ container = "web", mounts = [{ destination = "/data" }] }"#,
        r#"{ container = "done", exit_code = 0 }"#,
        r#"{ container = "nobody" }"#,
        r#"{ container = "*", image = "httpd:2.4", state = "exited" }"#,
        r#"{ image = "busybox", larger_than = "httpd:2.4" }"#,
        r#"{ image = "nothing:here" }"#,
        r#"{ volume = "data", holds = "missing.txt" }"#,
        r#"{ volume = "data", exists = false }"#,
        r#"{ network = "net", members = ["done"] }"#,
        r#"{ exec = "exit 4", in = "web" }"#,
        r#"{ exec = "echo one", in = "web", contains = "two" }"#,
        r#"{ host = "printf 'a b'", lacks = "b" }"#,
        r#"{ ran = "^docker rm" }"#,
        r#"{ container = "stranger" }"#,
        r#"{ container = "loner" }"#,
        r#"{ container = "never", exists = false }"#,
        r#"{ exec = "true", in = "stranger" }"#,
    ];
    let mut words = String::new();
    for text in failing {
        let outcome = evaluate(&check(text), &cx);
        assert!(!outcome.holds, "{text} should not hold");
        words.push_str(&format!("{}\n", outcome.explain()));
    }
    // What the engine chose (a host port) and what the lab images weigh are not the point.
    let words = words.replace(&format!(" {port}"), " [PORT]");
    let words = regex::Regex::new(r"\d+ bytes")
        .unwrap()
        .replace_all(&words, "[N] bytes");
    insta::assert_snapshot!(words);
}
