//! `lab check`: the labs replayed against a private berthd, with the reports CI reads; the runs'
//! transcripts are the book's samples. (The same against the real Docker daemon is CI's step
//! after the tests, `cargo xtask ci`'s "labs on berthd and on Docker": the engine's tests load
//! the busybox stand-ins into that shared daemon, so the labs on Docker must not run beside them.)

use std::path::Path;

use serde_json::Value;

use crate::common::{LabDaemon, TempDir, TestDaemon, stable};

/// Every lab, in course order.
const LABS: &[&str] = &[
    "first-container",
    "static-site",
    "handcrafted-images",
    "volumes",
    "networking",
    "onbuild",
    "dockerignore",
    "data-containers",
    "persistent-data",
];

fn read_report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON report was written"))
        .expect("the JSON report parses")
}

/// A lab's replay as a reader would follow it: each step, its commands and output, its checks.
fn transcript(lab: &Value, root: Option<&Path>) -> String {
    let vars: std::collections::BTreeMap<String, String> =
        serde_json::from_value(lab["vars"].clone()).expect("vars are strings");
    let mut text = String::new();
    for step in lab["steps"].as_array().unwrap() {
        text.push_str(&format!(
            "## {}. {}\n",
            step["number"],
            step["title"].as_str().unwrap()
        ));
        for command in step["commands"].as_array().unwrap() {
            let line = command["command"].as_str().unwrap();
            // A progress line ends in carriage returns (`Sending build context …\r\r\n`, as
            // docker prints it); the page shows where it ended.
            let mut output = command["output"].as_str().unwrap().replace('\r', "");
            if line.starts_with("docker images") {
                // Images made in the same second list in either order.
                let mut rows: Vec<&str> = output.lines().collect();
                rows[1..].sort_unstable();
                output = rows.iter().map(|r| format!("{r}\n")).collect();
            }
            text.push_str(&format!("$ {line}\n{output}"));
        }
        for check in step["checks"].as_array().unwrap() {
            let mark = if check["holds"].as_bool().unwrap() {
                "✓"
            } else {
                "✗"
            };
            text.push_str(&format!("{mark} {}\n", check["check"].as_str().unwrap()));
        }
        text.push('\n');
    }
    stable(&text, Some((lab["id"].as_str().unwrap(), &vars)), root)
}

fn assert_all_passed(report: &Value, output: &std::process::Output, context: &str) {
    assert!(
        output.status.success() && report["passed"] == true,
        "lab check failed:\n{}\n{}\n{context}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_labs_pass_on_berthd() {
    let daemon = TestDaemon::start();
    let state = TempDir::new("berth-lab-state");
    let json = state.path().join("report.json");
    let junit = state.path().join("junit.xml");
    let output = daemon
        .lab(state.path())
        .arg("check")
        .args(LABS)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let report = read_report(&json);
    assert_all_passed(&report, &output, &daemon.log());
    assert_eq!(report["engine"], "berth");

    // One testcase per step and per objective, none failed.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let labs = report["labs"].as_array().unwrap();
    let cases: usize = labs
        .iter()
        .map(|l| l["steps"].as_array().unwrap().len() + l["objectives"].as_array().unwrap().len())
        .sum();
    assert_eq!(xml.matches("<testcase ").count(), cases, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    // Each run removed what it made, and only that: nothing carries a lab's label any more.
    let api = daemon.api();
    assert!(api.containers_labelled("berth.lab").unwrap().is_empty());
    assert!(api.volumes_labelled("berth.lab").unwrap().is_empty());
    assert!(api.images_labelled("berth.lab").unwrap().is_empty());
    assert!(api.networks_labelled("berth.lab").unwrap().is_empty());
    assert!(api.image("busybox").unwrap().is_some(), "the lab images stay");

    // The sample transcripts the book shows.
    for lab in labs {
        let name = format!("transcript_{}", lab["id"].as_str().unwrap());
        assert_transcript(&name, &transcript(lab, Some(&daemon.root)));
    }
}

/// The stored sample run `name` is this one. Image sizes may differ: the lab images are built
/// from Debian's current packages, and an update moves `httpd:2.4` from 188MB to 189MB without
/// changing anything a lab shows. Anything else that differs fails, as insta shows it.
fn assert_transcript(name: &str, fresh: &str) {
    let stored = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(format!("it__check__{name}.snap"));
    let stored = std::fs::read_to_string(stored).unwrap_or_default();
    // insta's file: `---`, its header, `---`, then the snapshot.
    let body = stored.splitn(3, "---\n").nth(2).unwrap_or_default();
    if !body.is_empty() && sizes_masked(body.trim_end()) == sizes_masked(fresh.trim_end()) {
        return;
    }
    insta::assert_snapshot!(name, fresh);
}

/// `docker images`' last column (`188MB`, `1.98MB`, `2kB`) as `[SIZE]`.
fn sizes_masked(text: &str) -> String {
    let size = regex::Regex::new(r"(?m)\b\d+(\.\d+)?(B|kB|MB|GB)$").unwrap();
    size.replace_all(text, "[SIZE]").into_owned()
}

/// A lab whose second step cannot pass: `lab check` fails, says which check, what it expected and
/// what it found, skips the rest, and still cleans up.
#[test]
fn a_failing_step_fails_the_check_and_says_why() {
    let daemon = TestDaemon::start();
    let scenarios = TempDir::new("berth-lab-scenarios");
    std::fs::write(
        scenarios.path().join("failing.toml"),
        r#"id = "failing"
title = "Failing"
summary = "A lab whose second step cannot pass."
minutes = 1
images = ["busybox"]

[names]
box = "box"

[[steps]]
title = "Start a box"
text = "Start it."
commands = ["docker run -d --name ${box} busybox sleep 600"]
checks = [{ container = "${box}", state = "running", image = "busybox" }]
done_when = "its checks hold"

[[steps]]
title = "Expect the impossible"
text = "It exits 3."
commands = ["docker exec ${box} sh -c 'exit 3'"]
checks = [{ ran = "^docker exec" }]
done_when = "its checks hold"

[[steps]]
title = "Never reached"
text = "Skipped."
commands = ["docker ps"]
checks = [{ ran = "^docker ps" }]
done_when = "its checks hold"

[[objectives]]
title = "the box exited"
points = 1
checks = [{ container = "${box}", state = "exited", within = "200ms" }]
done_when = "its checks hold"
"#,
    )
    .unwrap();
    let state = TempDir::new("berth-lab-state");
    let junit = state.path().join("junit.xml");
    let output = daemon
        .lab(state.path())
        .arg("--scenarios")
        .arg(scenarios.path())
        .args(["check", "failing", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stdout = regex::Regex::new(r"box-[0-9a-f]{6}")
        .unwrap()
        .replace_all(&stdout, "box-[RUN]");
    let stdout = regex::Regex::new(r"\(\d+\.\d s\)|in \d+\.\d s")
        .unwrap()
        .replace_all(&stdout, "[TIME]");
    let stdout = regex::Regex::new(r"\(Berth Engine [^)]+\)")
        .unwrap()
        .replace_all(&stdout, "(Berth Engine [VERSION])");
    insta::assert_snapshot!(stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
    assert!(daemon.api().containers_labelled("berth.lab").unwrap().is_empty());
}

/// A step whose checks already hold before its commands run would be done by anything a
/// trainee types: `lab check` fails the lab and names the checks.
#[test]
fn a_vacuous_step_fails_the_check() {
    let daemon = TestDaemon::start();
    let scenarios = TempDir::new("berth-lab-scenarios");
    std::fs::write(
        scenarios.path().join("vacuous.toml"),
        r#"id = "vacuous"
title = "Vacuous"
summary = "Its second step is done before it starts."
minutes = 1
images = ["busybox"]

[names]
box = "box"

[[steps]]
title = "Start a box"
text = "Start it."
commands = ["docker run -d --name ${box} busybox sleep 600"]
checks = [{ container = "${box}", state = "running" }]
done_when = "its checks hold"

[[steps]]
title = "Look at it"
text = "Anything would do."
commands = ["docker ps"]
checks = [{ container = "${box}", state = "running" }]
done_when = "its checks hold"
"#,
    )
    .unwrap();
    let state = TempDir::new("berth-lab-state");
    let output = daemon
        .lab(state.path())
        .arg("--scenarios")
        .arg(scenarios.path())
        .args(["check", "vacuous"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("✗ step 2: Look at it")
            && stdout.contains("every check holds already, so any command would finish the step"),
        "{stdout}"
    );
    assert!(daemon.api().containers_labelled("berth.lab").unwrap().is_empty());
}

/// With the busybox stand-ins in the engine, a lab that needs the real programs does not start:
/// it says which image and how to get the real ones, and makes nothing.
#[test]
fn a_lab_that_needs_the_real_software_refuses_the_stand_ins() {
    let daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let state = TempDir::new("berth-lab-state");
    let output = daemon
        .lab(state.path())
        .arg("--images")
        .arg(berth_testkit::stand_in_images())
        .args(["check", "volumes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("this lab needs the real postgres:12.1")
            && said.contains("lab's busybox stand-in")
            && said.contains("cargo xtask images"),
        "{said}"
    );
    assert!(daemon.api().containers_labelled("berth.lab").unwrap().is_empty());
    assert!(daemon.api().volumes_labelled("berth.lab").unwrap().is_empty());
}
