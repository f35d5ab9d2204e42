//! Templates replayed against what the real Docker 20.10 CLI printed for the same data
//! (`testdata/capture-inspect.py` records both).

use super::Template;
use crate::format::value::Value;

#[derive(serde::Deserialize)]
struct Case {
    template: String,
    output: Option<String>,
    error: Option<String>,
}

fn run(template: &str, data: &Value) -> Result<String, String> {
    let template = Template::parse(template).map_err(|e| e.to_string())?;
    template.render(data).map_err(|e| e.to_string())
}

/// Where berth knowingly prints something else than Docker, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // Docker prints its Go struct, which has fields the JSON omits when empty (State.Health).
    ("{{.State}}", "fields omitted from the JSON are not printed"),
    // Docker's typed run fails on the Go field name (NanoCPUs) and reruns on raw JSON (json.Number).
    (
        r#"{{.HostConfig.NanoCpus | printf "%T"}} {{printf "%T %T" .Config.Env .Config.Labels}}"#,
        "raw rerun",
    ),
    // Docker's typed run cannot index nat.PortMap with a string and reruns on raw JSON maps.
    (
        r#"{{index .NetworkSettings.Ports "80/tcp"}}"#,
        "raw rerun prints port bindings as maps",
    ),
];

#[test]
fn inspect_templates_match_docker() {
    let data = Value::from_json_str(include_str!("../testdata/container-inspect.json")).unwrap();
    let cases: Vec<Case> = serde_json::from_str(include_str!("../testdata/inspect-cases.json")).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        if KNOWN_DIFFERENCES
            .iter()
            .any(|(template, _)| *template == case.template)
        {
            continue;
        }
        let got = run(&case.template, &data);
        let want = match (&case.output, &case.error) {
            (Some(output), _) => Ok(output.clone()),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => panic!("case without output or error: {}", case.template),
        };
        if got != want {
            failures.push(format!("{}\n   want {want:?}\n    got {got:?}", case.template));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn serde_json_values_work_too() {
    let json: serde_json::Value = serde_json::json!({"Config": {"Env": ["A=1"], "Labels": {"x": "1"}}});
    let data = Value::from(&json);
    assert_eq!(
        run("{{.Config.Env}} {{.Config.Labels}}", &data).unwrap(),
        "[A=1] map[x:1]"
    );
}

#[test]
fn break_stops_a_range() {
    let data = Value::from_json_str(r#"{"Env":["a","b","c"]}"#).unwrap();
    assert_eq!(
        run(
            r#"{{range .Env}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}"#,
            &data
        )
        .unwrap(),
        "a"
    );
}

#[test]
fn range_else_runs_on_empty() {
    let data = Value::from_json_str(r#"{"Mounts":[]}"#).unwrap();
    assert_eq!(
        run("{{range .Mounts}}x{{else}}none{{end}}", &data).unwrap(),
        "none"
    );
}

#[test]
fn runaway_recursion_is_an_error() {
    let data = Value::from_json_str("{}").unwrap();
    let err = run(
        r#"{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}"#,
        &data,
    )
    .unwrap_err();
    assert!(err.contains("exceeded maximum template depth"), "{err}");
}
