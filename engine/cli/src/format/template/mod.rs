//! Go templates, as Docker's CLI runs them (`--format`, `inspect -f`).
//!
//! A small implementation of Go's text/template: lexer ([`lex`]), parser ([`parse`]),
//! executor ([`exec`]), functions ([`funcs`], [`printf`]). We write it ourselves rather than use
//! the `gtmpl` crate because gtmpl prints slices and maps with Rust's `Debug` (`[String("a")]`
//! instead of Go's `[a]` and `map[k:v]`), ranges over maps in hash order instead of sorted key
//! order, and keeps objects in a `HashMap`, losing the field order `{{json .State}}` must keep.
//! Those are exactly the outputs trainees compare with Docker's.
//!
//! Deliberately missing: `{{else with}}` and range over integers (newer Go than Docker 20.10's),
//! complex numbers, printf's `%[n]` argument indexes.

mod exec;
pub mod funcs;
mod lex;
mod parse;
pub mod printf;

use exec::Exec;
use funcs::FuncTable;
use parse::{Node, Tree};

use super::value::Value;

/// A template that failed to parse: `template: :LINE: MESSAGE`, as Go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: :{line}: {message}")]
pub struct ParseError {
    /// The line (from 1) where the problem is.
    pub line: usize,
    /// What is wrong (`function "table" not defined`).
    pub message: String,
}

/// A template that failed while running:
/// `template: :LINE:COL: executing "NAME" at <NODE>: MESSAGE`, as Go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: :{line}:{col}: executing \"{name}\" at <{at}>: {message}")]
pub struct ExecError {
    /// The template being executed ("" for the main one).
    pub name: String,
    /// The line (from 1) of the failing node.
    pub line: usize,
    /// Its byte column (from 0), as Go counts.
    pub col: usize,
    /// The failing node as written (`.State.Nope`).
    pub at: String,
    /// What went wrong (`map has no entry for key "Nope"`).
    pub message: String,
}

/// A parsed Go template with Docker's functions.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    tree: Tree,
}

impl Template {
    /// Parse `text` with Go's builtins and Docker's template functions.
    pub fn parse(text: &str) -> Result<Template, ParseError> {
        let funcs = FuncTable::docker();
        let tree = parse::parse(text, &|name| funcs.get(name).is_some())?;
        Ok(Template {
            text: text.to_string(),
            tree,
        })
    }

    /// Run the template on `data`.
    pub fn render(&self, data: &Value) -> Result<String, ExecError> {
        let (out, result) = self.execute(data, &FuncTable::docker());
        result.map(|()| out)
    }

    /// Run with the given functions; the output is kept even when execution fails,
    /// as Go's writer keeps what was written before the error.
    pub fn execute(&self, data: &Value, funcs: &FuncTable) -> (String, Result<(), ExecError>) {
        let mut exec = Exec::new(self, funcs);
        let result = exec.run(data);
        (exec.out, result)
    }

    /// The body of a `{{define}}`d or `{{block}}` template (the last definition wins).
    fn defined(&self, name: &str) -> Option<&[Node]> {
        self.tree
            .defines
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, body)| body.as_slice())
    }

    /// Line (from 1) and byte column (from 0) of a byte offset, as Go reports them.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = &self.text[..pos.min(self.text.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        (line, col)
    }
}

#[cfg(test)]
mod tests;

/// Property tests: any `--format` a user types is parsed or refused, and a parsed one runs on
/// any data (output or an error) — never a panic, never a hang.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::Template;

    /// Template text built from Go's template pieces, so parsing gets past the first brace.
    fn template_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-zA-Z .:{}|$\"'()-]{0,6}",
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{{.Name}}".to_owned()),
            Just("{{json .}}".to_owned()),
            Just("{{range .Items}}".to_owned()),
            Just("{{end}}".to_owned()),
            Just("{{if .X}}".to_owned()),
            Just("{{else}}".to_owned()),
            Just("{{index . 1}}".to_owned()),
            Just("{{printf \"%s %d\" .A .B}}".to_owned()),
            Just("{{template \"x\"}}".to_owned()),
            Just("{{define \"x\"}}".to_owned()),
            Just("{{$v := .}}".to_owned()),
            Just("{{with .Y}}".to_owned()),
            Just("{{upper (lower .Name)}}".to_owned()),
            Just("{{split .Name \",\"}}".to_owned()),
            Just("{{join .Items \" \"}}".to_owned()),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    fn data() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(Name|Items|X|Y|A|B|[a-z]{1,3})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_format_is_parsed_or_refused(text in "\\PC{0,60}") {
            let _ = Template::parse(&text);
        }

        #[test]
        fn a_parsed_template_runs_on_any_data(text in template_text(), data in data()) {
            if let Ok(template) = Template::parse(&text) {
                let data = crate::format::value::Value::from_json_str(&data.to_string());
                prop_assert!(data.is_ok());
                if let Ok(data) = data {
                    let _ = template.render(&data);
                }
            }
        }
    }
}
