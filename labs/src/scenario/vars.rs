//! Lab variables: `${name}` in a scenario's text, commands and checks.
//!
//! A scenario declares the names it gives things (`[names]`) and the host ports it publishes
//! (`[ports]`) with the guide's values. A trainee's run uses them as they are; `lab check` makes
//! them unique per run (`httpd` becomes `httpd-3f9a1c`, 8080 a free port) so runs never collide,
//! in parallel or on a shared engine. Captures (a volume's name, a container's IP) are added while
//! a lab runs. Anything else that looks like `$x` belongs to the shell and is left alone.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Variables every lab has, whatever its file declares: `${lab}` (its id), `${run}` (the run's
/// id) and `${lab_label}`, the label that picks the lab's objects out: `berth.lab=<id>` in a
/// trainee's run (what the book shows, and it works as printed), `berth.lab.run=<run>` in a run
/// with unique names (`lab check`), where several runs of one lab may share an engine.
pub const BUILTINS: &[&str] = &["lab", "run", "lab_label"];

/// The label every resource of a run carries (`lab reset --run` removes exactly those).
pub const RUN_LABEL: &str = "berth.lab.run";
/// The label every resource of a lab carries (`lab reset` removes exactly those).
pub const LAB_LABEL: &str = "berth.lab";

/// The values of a run's variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The built-in variables of run `run` of lab `lab`, with the guide's names or names
    /// `unique` to the run.
    pub fn builtins(lab: &str, run: &str, unique: bool) -> Vars {
        let mut vars = Vars::default();
        vars.set("lab", lab);
        vars.set("run", run);
        let label = if unique {
            format!("{RUN_LABEL}={run}")
        } else {
            format!("{LAB_LABEL}={lab}")
        };
        vars.set("lab_label", &label);
        vars
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `text` with every known `${name}` replaced; unknown ones (a capture not taken yet, a
    /// shell variable) stay as they are.
    pub fn render(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) if is_var_name(&after[..end]) && self.0.contains_key(&after[..end]) => {
                    out.push_str(&self.0[&after[..end]]);
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str("${");
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// A copy of `value` with every string in it (map keys too) rendered.
    pub fn render_all<T: Serialize + DeserializeOwned>(&self, value: &T) -> T {
        // Every type rendered here is plain data that serializes to JSON and back.
        let json = serde_json::to_value(value).expect("scenario data serializes");
        serde_json::from_value(self.render_json(json)).expect("rendered scenario data deserializes")
    }

    fn render_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.render(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.render_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.render(&k), self.render_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// The lab variables `text` uses: every `${name}` whose name is a lab variable's (lower case,
/// digits and `_`). Upper-case `${HOME}` is the shell's.
pub fn used_in(text: &str) -> Vec<&str> {
    let mut used = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_var_name(&after[..end]) => {
                used.push(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    used
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A name made unique for run `run`: `httpd` → `httpd-3f9a1c`; an image name keeps its tag
/// after the suffix (`example/site:v1` → `example/site-3f9a1c:v1`).
pub fn unique_name(name: &str, run: &str) -> String {
    let (repo, tag) = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (name, None),
    };
    match tag {
        Some(tag) => format!("{repo}-{run}:{tag}"),
        None => format!("{repo}-{run}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::builtins("static-site", "3f9a1c", true);
        vars.set("httpd", "httpd-3f9a1c");
        vars.set("web_port", "41234");
        vars
    }

    #[test]
    fn known_variables_are_replaced_and_the_shells_are_kept() {
        assert_eq!(
            vars().render("docker run --name ${httpd} -p ${web_port}:80 -v $(pwd)/web:/x ${HOME} $USER"),
            "docker run --name httpd-3f9a1c -p 41234:80 -v $(pwd)/web:/x ${HOME} $USER"
        );
    }

    #[test]
    fn unknown_and_unclosed_variables_stay() {
        assert_eq!(vars().render("${db_volume} ${httpd"), "${db_volume} ${httpd");
        assert_eq!(vars().render("a ${} b"), "a ${} b");
    }

    #[test]
    fn go_templates_are_not_variables() {
        let text = "docker inspect -f '{{ json .Mounts }}' ${httpd}";
        assert_eq!(
            vars().render(text),
            "docker inspect -f '{{ json .Mounts }}' httpd-3f9a1c"
        );
        assert_eq!(used_in(text), ["httpd"]);
    }

    #[test]
    fn used_variables_are_lower_case_names() {
        assert_eq!(used_in("${a} ${HOME} ${b_2} ${3x} ${c"), ["a", "b_2"]);
    }

    #[test]
    fn builtins_name_the_run_label_or_the_labs() {
        assert_eq!(vars().get("lab_label"), Some("berth.lab.run=3f9a1c"));
        let guide = Vars::builtins("volumes", "3f9a1c", false);
        assert_eq!(guide.get("lab_label"), Some("berth.lab=volumes"));
    }

    #[test]
    fn render_all_reaches_keys_and_nested_values() {
        let value = serde_json::json!({"${httpd}": ["${web_port}", 3], "n": {"x": "${lab}"}});
        assert_eq!(
            vars().render_all(&value),
            serde_json::json!({"httpd-3f9a1c": ["41234", 3], "n": {"x": "static-site"}})
        );
    }

    #[test]
    fn unique_names_keep_image_tags() {
        assert_eq!(unique_name("httpd", "3f9a1c"), "httpd-3f9a1c");
        assert_eq!(
            unique_name("example/widget-factory:v1", "3f9a1c"),
            "example/widget-factory-3f9a1c:v1"
        );
        assert_eq!(
            unique_name("localhost:5000/site", "3f9a1c"),
            "localhost:5000/site-3f9a1c"
        );
    }
}
