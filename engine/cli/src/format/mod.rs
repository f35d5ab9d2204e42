//! Output formatting of the `berth` CLI, exactly as the Docker 20.10 CLI prints it.
//!
//! # Interface
//!
//! **Templates** (`inspect -f`, `version --format`, `info --format`):
//! [`render_template`]`(template, data)` runs a Go template with Docker's functions
//! (`json`, `join`, `split`, `title`, `upper`, `lower`, `pad`, `truncate`, and Go's `index`,
//! `len`, `printf`, `print`, `println`, `eq`/`ne`/`lt`/`le`/`gt`/`ge`, `and`/`or`/`not`,
//! `slice`, `html`, `js`, `urlquery`). Data is a [`Value`]: from a `serde_json::Value`
//! (`Value::from(&json)`), or better from the response text ([`Value::from_json_str`]), which
//! keeps the API's field order so `{{json .State}}` prints keys in Docker's order. Slices print
//! `[a b]`, maps `map[k:v]`, missing map keys `<no value>`, missing struct fields fail with
//! Docker's `map has no entry for key "X"`. For finer control use [`Template`].
//!
//! **Inspect without `-f`**: [`inspect_json`]`(&[raw_body, …])` prints the API's JSON bodies
//! as one array indented like Docker's (Go's `json.Indent`, four spaces), keeping the key order
//! and escapes of the daemon — decode-and-reencode through `serde_json::Value` would sort keys.
//!
//! **Lists** (`ps`, `images`, `volume ls`, `network ls`, `history`):
//! 1. rows: [`rows::container_row`], [`rows::image_rows`], [`rows::volume_row`],
//!    [`rows::network_row`], [`rows::history_row`] turn Engine API JSON into Docker's fields
//!    (or build a JSON object of the same field names yourself; give `Labels` as the raw label
//!    object to get `.Labels` joined and the `.Label "name"` method);
//! 2. format: [`ListKind::format`]`(user_format, ListOptions { quiet, size, digests, not_human })`
//!    picks Docker's default (`table` alone and `raw` included);
//! 3. [`render_list`]`(format, kind, &rows)` prints: `table …` gives a header (REPOSITORY,
//!    IMAGE ID / CONTAINER ID, CREATED…) and columns aligned like Docker's tabwriter; other
//!    formats one line per row. Errors ([`FormatError`]) read as Docker's for that command.
//!    [`uses_field`]`(format, "Size")` tells `ps` to ask for sizes; `volume ls` and `network ls`
//!    list by name in natural order ([`rows::sort_by_name`]).
//!
//! **Units and display rules**: [`human_size`] (`1.98MB`), [`human_size_with_precision`],
//! [`human_size_binary`] (`1.944GiB`), [`human_duration`] (`About a minute`), [`time_ago`]
//! (`5 minutes ago`), [`local_time`] / [`go_time_string`] (`2026-11-28 03:56:58 +0000 UTC`),
//! [`rfc3339_local`], [`truncate_id`], [`ellipsis`], and for `ps`: [`ps_command`],
//! [`display_ports`], [`status_text`] (`Up 2 minutes`, `Exited (0) 3 days ago`) and
//! [`summary_command`] (the daemon's `Command` field).

// The commands that call this module are wired by main.rs; until they all are, parts are unused.
#![allow(dead_code, unused_imports)]

/// `ps` field rules: command quoting, names, image, ports, mounts, size, status line.
pub mod display;
/// `docker inspect`'s JSON layout.
pub mod inspect;
/// `--format` for list commands: headers, default formats, tables.
pub mod list;
/// List rows from Engine API JSON.
pub mod rows;
/// Go's text/template with Docker's functions.
pub mod template;
/// Sizes, durations, times and ids as docker/go-units and the CLI print them.
pub mod units;
/// The data templates run on, and Go's way of printing it.
pub mod value;

pub use display::{
    PortSummary, StateFacts, display_ports, ellipsis, ps_command, ps_image, ps_mounts, ps_names, ps_size,
    status_text, summary_command,
};
pub use inspect::{indent_json, inspect_json};
pub use list::{FormatError, ListKind, ListOptions, render_list, uses_field};
pub use template::{ExecError, ParseError, Template};
pub use units::{
    go_time_string, human_duration, human_size, human_size_binary, human_size_with_precision, local_time,
    local_time_rfc3339, rfc3339_local, time_ago, time_ago_at, truncate_id,
};
pub use value::Value;

/// Run an `inspect -f`-style template on `data` (without the newline Docker prints after it).
/// Errors read `template parsing error: template: :1:2: executing "" at <.Foo>: …` like Docker's.
pub fn render_template(template: &str, data: impl Into<Value>) -> Result<String, FormatError> {
    let template = Template::parse(template).map_err(FormatError::Parse)?;
    template.render(&data.into()).map_err(FormatError::Exec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_template_takes_serde_json_and_text() {
        let json = serde_json::json!({"Config": {"Env": ["A=1", "B=2"]}});
        assert_eq!(render_template("{{.Config.Env}}", &json).unwrap(), "[A=1 B=2]");
        let data = Value::from_json_str(r#"{"State":{"Status":"running","Pid":7}}"#).unwrap();
        assert_eq!(
            render_template("{{json .State}}", data).unwrap(),
            r#"{"Status":"running","Pid":7}"#
        );
        let err = render_template("{{.Nope}}", &json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
    }
}
