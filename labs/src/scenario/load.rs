//! Loading scenario files: TOML into a [`Scenario`], then the checks TOML can't express (every
//! variable used is declared, captures read one thing, fixtures exist). Every error names the
//! place: `scenarios/volumes.toml:12:5: unknown field `stat`, expected one of …`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::vars::{self, BUILTINS};
use super::{Scenario, Step};

/// Why a scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// the file cannot be read
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// the file is malformed, at this place
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// no scenario has this id
    #[error("no such lab: {id} (labs: {known})")]
    NotFound { id: String, known: String },
}

/// Load and validate one scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &source)
}

/// Parse and validate `source`, naming `path` in errors.
pub fn parse(path: &Path, source: &str) -> Result<Scenario, LoadError> {
    let invalid_at = |offset: usize, message: String| {
        let (line, column) = line_column(source, offset);
        LoadError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let mut scenario: Scenario = toml::from_str(source).map_err(|e| {
        invalid_at(
            e.span().map(|s| s.start).unwrap_or(0),
            e.message().trim().to_owned(),
        )
    })?;
    scenario.path = path.to_owned();
    validate(&scenario, path, source)
        .map_err(|(needle, message)| invalid_at(find_offset(source, &needle), message))?;
    Ok(scenario)
}

/// The semantic rules; an error says what to look for in the source (to place it) and what is wrong.
fn validate(scenario: &Scenario, path: &Path, source: &str) -> Result<(), (String, String)> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if scenario.id != stem {
        return Err((
            "id".into(),
            format!("id {:?} must be the file's name ({stem:?})", scenario.id),
        ));
    }
    if scenario.steps.is_empty() {
        return Err(("id".into(), "a lab needs at least one [[steps]]".into()));
    }
    for step in &scenario.steps {
        for command in &step.commands {
            if let Some(Err(error)) = command.retry_for.as_deref().map(super::check::parse_duration) {
                return Err((format!("run = {:?}", command.run), format!("retry_for: {error}")));
            }
        }
    }
    if let Some(image) = scenario
        .real_software
        .iter()
        .find(|image| !scenario.images.contains(image))
    {
        return Err((
            "real_software".into(),
            format!("real_software names {image:?}, which is not in the lab's `images`"),
        ));
    }
    if let Some(step) = scenario.steps.iter().find(|s| s.checks.is_empty()) {
        return Err((
            format!("title = {:?}", step.title),
            format!(
                "step {:?} has no checks: a step is done when its checks hold, so it needs one that only its work makes hold",
                step.title
            ),
        ));
    }
    // Checks speak in the engine's terms; a beginner reads the sentence.
    if let Some(step) = scenario
        .steps
        .iter()
        .find(|s| !s.checks.is_empty() && s.done_when.trim().is_empty())
    {
        return Err((
            format!("title = {:?}", step.title),
            format!(
                "step {:?} has checks but no `done_when`: say in plain words when the step is done",
                step.title
            ),
        ));
    }
    if let Some(objective) = scenario
        .objectives
        .iter()
        .find(|o| !o.checks.is_empty() && o.done_when.trim().is_empty())
    {
        return Err((
            format!("title = {:?}", objective.title),
            format!(
                "objective {:?} has checks but no `done_when`: say in plain words when it scores",
                objective.title
            ),
        ));
    }
    let mut declared: BTreeSet<&str> = BUILTINS.iter().copied().collect();
    for name in scenario.names.keys().chain(scenario.ports.keys()) {
        if BUILTINS.contains(&name.as_str()) {
            return Err((
                name.clone(),
                format!("`{name}` is a built-in variable: choose another name"),
            ));
        }
        if !declared.insert(name) {
            return Err((name.clone(), format!("variable `{name}` is declared twice")));
        }
    }
    for step in &scenario.steps {
        for capture in &step.captures {
            validate_capture(capture)?;
            if !declared.insert(&capture.var) && !captured_before(scenario, step, &capture.var) {
                return Err((
                    capture.var.clone(),
                    format!("capture `{}` reuses a declared variable's name", capture.var),
                ));
            }
        }
    }
    for used in vars::used_in(source) {
        if !declared.contains(used) {
            return Err((
                format!("${{{used}}}"),
                format!(
                    "unknown variable `${{{used}}}`: declare it in [names] or [ports], or capture it \
                     (built-ins: {})",
                    BUILTINS.join(", ")
                ),
            ));
        }
    }
    let fixtures = path.parent().unwrap_or(Path::new(".")).join("fixtures");
    for fixture in scenario.fixtures.keys() {
        if !fixtures.join(fixture).is_dir() {
            return Err((
                fixture.clone(),
                format!("no fixture {fixture:?} in {}", fixtures.display()),
            ));
        }
    }
    for (index, objective) in scenario.objectives.iter().enumerate() {
        if objective.points == 0 {
            return Err((
                objective.title.clone(),
                format!("objective {} gives no points", index + 1),
            ));
        }
    }
    Ok(())
}

fn validate_capture(capture: &super::Capture) -> Result<(), (String, String)> {
    let set = [&capture.mount, &capture.ip, &capture.port]
        .iter()
        .filter(|v| v.is_some())
        .count()
        + usize::from(capture.id == Some(true));
    if set != 1 {
        return Err((
            capture.var.clone(),
            format!(
                "capture `{}` must set exactly one of `id`, `mount`, `ip` and `port`",
                capture.var
            ),
        ));
    }
    if capture.image.is_some() && capture.container != "*" {
        return Err((
            capture.var.clone(),
            format!(
                "capture `{}`: `image` picks among `container = \"*\"` only",
                capture.var
            ),
        ));
    }
    if vars::used_in(&format!("${{{}}}", capture.var)).is_empty() {
        return Err((
            capture.var.clone(),
            format!(
                "capture variable {:?}: use lower case letters, digits and `_`",
                capture.var
            ),
        ));
    }
    Ok(())
}

/// A capture may be taken again by a later step (the same value, refreshed).
fn captured_before(scenario: &Scenario, step: &Step, var: &str) -> bool {
    scenario
        .steps
        .iter()
        .take_while(|s| !std::ptr::eq(*s, step))
        .any(|s| s.captures.iter().any(|c| c.var == var))
}

/// Where `needle` first appears (as a key, a value or text), or the start.
fn find_offset(source: &str, needle: &str) -> usize {
    source.find(needle).unwrap_or(0)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// Every `*.toml` in `dir`, loaded, sorted by the order a course takes them (`minutes` don't
/// decide: the file `scenarios/ORDER` does when present, else the name).
pub fn load_all(dir: &Path) -> Result<Vec<Scenario>, LoadError> {
    let mut scenarios = Vec::new();
    for id in ids(dir)? {
        scenarios.push(load(&dir.join(format!("{id}.toml")))?);
    }
    Ok(scenarios)
}

/// The lab ids in `dir`, in course order.
pub fn ids(dir: &Path) -> Result<Vec<String>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .collect();
    found.sort();
    let order_file = dir.join("ORDER");
    let Ok(order) = std::fs::read_to_string(&order_file) else {
        return Ok(found);
    };
    let mut ordered: Vec<String> = order
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|id| found.iter().any(|f| f == id))
        .map(str::to_owned)
        .collect();
    for id in found {
        if !ordered.contains(&id) {
            ordered.push(id);
        }
    }
    Ok(ordered)
}

/// The scenario with this id in `dir`.
pub fn find(dir: &Path, id: &str) -> Result<Scenario, LoadError> {
    let path = dir.join(format!("{id}.toml"));
    if !path.is_file() {
        return Err(LoadError::NotFound {
            id: id.to_owned(),
            known: ids(dir)?.join(", "),
        });
    }
    load(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "demo"
title = "Demo"
summary = "A demo."
minutes = 5

[names]
web = "web"

[[steps]]
title = "Run"
text = "Run it."
commands = ["docker run -d --name ${web} httpd:2.4"]
checks = [{ container = "${web}", state = "running" }]
done_when = "`${web}` is running."
"#;

    fn parse_as(name: &str, source: &str) -> Result<Scenario, String> {
        parse(Path::new(name), source).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_scenario_loads() {
        let scenario = parse_as("scenarios/demo.toml", MINIMAL).unwrap();
        assert_eq!(scenario.steps.len(), 1);
        assert_eq!(
            scenario.steps[0].commands[0].run,
            "docker run -d --name ${web} httpd:2.4"
        );
        assert_eq!(scenario.steps[0].checks[0].kind(), "container");
    }

    #[test]
    fn the_id_must_be_the_file_name() {
        assert_eq!(
            parse_as("scenarios/other.toml", MINIMAL).unwrap_err(),
            "scenarios/other.toml:2:1: id \"demo\" must be the file's name (\"other\")"
        );
    }

    #[test]
    fn an_unknown_variable_is_placed() {
        let source = MINIMAL.replace("--name ${web}", "--name ${wbe}");
        assert_eq!(
            parse_as("scenarios/demo.toml", &source).unwrap_err(),
            "scenarios/demo.toml:13:35: unknown variable `${wbe}`: declare it in [names] or [ports], \
             or capture it (built-ins: lab, run, lab_label)"
        );
    }

    #[test]
    fn a_bad_check_is_placed_at_its_table() {
        let source = MINIMAL.replace("state = \"running\"", "stat = \"running\"");
        let error = parse_as("scenarios/demo.toml", &source).unwrap_err();
        assert!(
            error.starts_with("scenarios/demo.toml:14:10: in a `container` check: unknown field `stat`"),
            "{error}"
        );
    }

    #[test]
    fn a_syntax_error_is_placed() {
        let source = MINIMAL.replace("minutes = 5", "minutes = five");
        let error = parse_as("scenarios/demo.toml", &source).unwrap_err();
        assert!(error.starts_with("scenarios/demo.toml:5:11: "), "{error}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let source = MINIMAL.replace("minutes = 5\n", "");
        let error = parse_as("scenarios/demo.toml", &source).unwrap_err();
        assert!(error.contains("missing field `minutes`"), "{error}");
    }

    #[test]
    fn a_capture_reads_one_thing() {
        let source = format!(
            "{MINIMAL}captures = [{{ var = \"ip\", container = \"${{web}}\", ip = \"bridge\", port = \"80/tcp\" }}]\n"
        );
        let error = parse_as("scenarios/demo.toml", &source).unwrap_err();
        assert!(error.contains("capture `ip` must set exactly one of"), "{error}");
    }

    #[test]
    fn a_step_with_checks_says_when_it_is_done() {
        let source = MINIMAL.replace("done_when = \"`${web}` is running.\"\n", "");
        assert_eq!(
            parse_as("scenarios/demo.toml", &source).unwrap_err(),
            "scenarios/demo.toml:11:1: step \"Run\" has checks but no `done_when`: say in plain \
             words when the step is done"
        );
        let blank = MINIMAL.replace("`${web}` is running.", " ");
        assert!(parse_as("scenarios/demo.toml", &blank).is_err());
    }

    #[test]
    fn an_objective_says_when_it_scores() {
        let objective =
            "\n[[objectives]]\ntitle = \"web runs\"\npoints = 1\nchecks = [{ container = \"${web}\" }]\n";
        let error = parse_as("scenarios/demo.toml", &format!("{MINIMAL}{objective}")).unwrap_err();
        assert_eq!(
            error,
            "scenarios/demo.toml:18:1: objective \"web runs\" has checks but no `done_when`: say in \
             plain words when it scores"
        );
        let scored = format!("{MINIMAL}{objective}done_when = \"`${{web}}` exists.\"\n");
        assert!(parse_as("scenarios/demo.toml", &scored).is_ok());
    }

    #[test]
    fn lines_and_columns_count_characters() {
        assert_eq!(line_column("ab\ncdé\nf", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé\nf", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé\nf", 8), (3, 1));
        assert_eq!(line_column("ab\ncdé\nf", 7), (2, 4));
    }
}

/// Property tests: any text in a scenario file loads or fails with a placed error; a real lab's
/// file, cut or changed anywhere, too.
#[cfg(test)]
mod properties {
    use std::path::Path;

    use proptest::prelude::*;

    use super::parse;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_loads_or_says_where(text in "\\PC{0,200}") {
            let _ = parse(Path::new("any.toml"), &text);
        }

        #[test]
        fn a_real_lab_changed_anywhere_loads_or_says_where(at in any::<prop::sample::Index>(), insert in "\\PC{0,6}", cut in 0usize..20) {
            let real = include_str!("../../../scenarios/volumes.toml");
            let mut at = at.index(real.len());
            while !real.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + cut).min(real.len());
            while !real.is_char_boundary(end) {
                end -= 1;
            }
            let text = format!("{}{insert}{}", &real[..at], &real[end..]);
            if let Err(e) = parse(Path::new("volumes.toml"), &text) {
                let said = e.to_string();
                prop_assert!(said.starts_with("volumes.toml:"), "an error without its place: {said}");
            }
        }
    }
}
