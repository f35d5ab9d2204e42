//! The scenario files: they load, `lab list` and `lab show` read them, and a malformed one says
//! where and what is wrong.

use crate::common::{TempDir, lab};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_lab_is_listed_in_course_order() {
    let state = TempDir::new("berth-lab-state");
    let output = lab(state.path()).arg("list").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn show_json_resolves_each_lab_for_the_book() {
    let state = TempDir::new("berth-lab-state");
    for id in [
        "first-container",
        "static-site",
        "handcrafted-images",
        "volumes",
        "networking",
        "onbuild",
        "dockerignore",
    ] {
        let output = lab(state.path()).args(["show", id, "--json"]).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(shown["id"], id);
        let steps = shown["steps"].as_array().unwrap();
        assert!(!steps.is_empty());
        for step in steps {
            let text = serde_json::to_string(step).unwrap();
            // The guide's names are filled in; only captures (known at run time) stay variables.
            for var in [
                "${httpd}",
                "${web_port}",
                "${lab_label}",
                "${website}",
                "${base}",
                "${app}",
            ] {
                assert!(!text.contains(var), "{id}: {var} unresolved in {text}");
            }
        }
        assert!(shown["max_points"].as_u64().unwrap() > 0, "{id} has objectives");
    }
    let output = lab(state.path())
        .args(["show", "static-site", "--json"])
        .output()
        .unwrap();
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn show_text_reads_as_the_lab() {
    let state = TempDir::new("berth-lab-state");
    let output = lab(state.path()).args(["show", "volumes"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    insta::assert_snapshot!(stdout(&output));
}

/// A scenarios directory with one file, `broken.toml`, holding `text`.
fn load_error(text: &str) -> String {
    let dir = TempDir::new("berth-lab-scenarios");
    std::fs::write(dir.path().join("broken.toml"), text).unwrap();
    let state = TempDir::new("berth-lab-state");
    let output = lab(state.path())
        .arg("--scenarios")
        .arg(dir.path())
        .args(["show", "broken"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).replace(&dir.path().display().to_string(), "[DIR]")
}

const GOOD: &str = r#"id = "broken"
title = "Broken"
summary = "A lab to break."
minutes = 5

[names]
web = "web"

[[steps]]
title = "Run"
text = "Run it."
commands = ["docker run -d --name ${web} httpd:2.4"]
checks = [{ container = "${web}", state = "running" }]
done_when = "`${web}` is running"
"#;

#[test]
fn a_good_file_shows() {
    let dir = TempDir::new("berth-lab-scenarios");
    std::fs::write(dir.path().join("broken.toml"), GOOD).unwrap();
    let state = TempDir::new("berth-lab-state");
    let output = lab(state.path())
        .arg("--scenarios")
        .arg(dir.path())
        .args(["show", "broken"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn load_errors_name_the_place_and_what_was_expected() {
    let cases = [
        ("syntax", GOOD.replace("minutes = 5", "minutes = 5 minutes")),
        ("wrong type", GOOD.replace("minutes = 5", "minutes = \"five\"")),
        ("missing field", GOOD.replace("title = \"Broken\"\n", "")),
        (
            "unknown top-level key",
            GOOD.replace("minutes = 5", "minutes = 5\nlevel = 2"),
        ),
        (
            "unknown check key",
            GOOD.replace("state = \"running\"", "stat = \"running\""),
        ),
        ("no subject", GOOD.replace("container = \"${web}\", ", "")),
        ("unknown variable", GOOD.replace("--name ${web}", "--name ${wbe}")),
        (
            "bad regex",
            GOOD.replace(
                "{ container = \"${web}\", state = \"running\" }",
                "{ ran = \"docker (ps\" }",
            ),
        ),
        ("id", GOOD.replace("id = \"broken\"", "id = \"fixed\"")),
        (
            "no done_when",
            GOOD.replace("done_when = \"`${web}` is running\"\n", ""),
        ),
    ];
    let mut all = String::new();
    for (name, text) in cases {
        all.push_str(&format!("{name}:\n{}\n", load_error(&text)));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn an_unknown_lab_lists_the_known_ones() {
    let state = TempDir::new("berth-lab-state");
    let output = lab(state.path()).args(["show", "swarm"]).output().unwrap();
    assert!(!output.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}
