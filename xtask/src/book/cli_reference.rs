//! `{{#berth-cli}}`: the reference of berth's command line, from the clap definitions the
//! `berth` binary parses with (`berth::cli::Cli`), so it lists exactly the commands and flags
//! berth accepts: a table of the commands, then each command's `--help`.

use std::fmt::Write as _;

use berth::cli::Cli;
use clap::CommandFactory;
use mdbook::book::{Book, BookItem};
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

/// Where the reference goes.
pub const MARKER: &str = "{{#berth-cli}}";

/// Help is wrapped at this width, whatever the terminal that builds the book: what a code
/// block of the book's page shows without scrolling (the layout check's 80 columns, layout.rs).
const WIDTH: usize = super::layout::MAX_COLUMNS;

pub struct CliReference;

impl Preprocessor for CliReference {
    fn name(&self) -> &str {
        "berth-cli"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        book.for_each_mut(|item| {
            if let BookItem::Chapter(chapter) = item {
                if chapter.content.lines().any(|l| l.trim() == MARKER) {
                    let reference = reference(Cli::command());
                    if let Some(content) = super::replace_marker_lines(&chapter.content, MARKER, &reference) {
                        chapter.content = content;
                    }
                }
            }
        });
        Ok(book)
    }
}

/// The reference of a clap command: its commands in a table, then one section each.
pub fn reference(command: clap::Command) -> String {
    let mut root = without_env_values(command.term_width(WIDTH).max_term_width(WIDTH));
    // Building fills in each subcommand's full name ("berth image ls") for its usage line.
    root.build();
    let name = root.get_name().to_owned();
    let mut md = format!(
        "`{name} --help`:\n\n```text\n{}\n```\n\n## Commands\n\n| command | what it does |\n|---|---|\n",
        help(&mut root)
    );
    let mut sections = String::new();
    for (path, sub) in commands(&root, &name) {
        let _ = writeln!(
            md,
            "| [`{path}`](#{}) | {} |",
            anchor(&path),
            about(sub).replace('|', "\\|")
        );
        let _ = writeln!(
            sections,
            "## `{path}`\n\n```text\n{}\n```\n",
            help(&mut sub.clone())
        );
    }
    md.push('\n');
    md.push_str(&sections);
    md
}

/// Every command under `command`, depth first, with its full name; hidden ones left out.
fn commands<'a>(command: &'a clap::Command, name: &str) -> Vec<(String, &'a clap::Command)> {
    let mut found = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let path = format!("{name} {}", sub.get_name());
        found.push((path.clone(), sub));
        found.extend(commands(sub, &path));
    }
    found
}

fn about(command: &clap::Command) -> String {
    command.get_about().map(|a| a.to_string()).unwrap_or_default()
}

/// What `<command> --help` prints, without the trailing blank lines.
fn help(command: &mut clap::Command) -> String {
    command.render_help().to_string().trim_end().to_owned()
}

/// The command with no environment variable's value in its help (`[env: BERTH_HOST]`, not
/// the value of whoever built the book).
fn without_env_values(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| arg.hide_env_values(true));
    for name in names {
        command = command.mut_subcommand(name, without_env_values);
    }
    command
}

/// The id mdBook gives a heading: lower case, letters, digits, `-` and `_` kept, spaces as `-`.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_berth_has_a_row_and_a_section() {
        let md = reference(Cli::command());
        for path in [
            "berth run",
            "berth image ls",
            "berth volume prune",
            "berth network connect",
        ] {
            assert!(
                md.contains(&format!("| [`{path}`](#{}) |", anchor(path))),
                "no row for {path}"
            );
            assert!(md.contains(&format!("## `{path}`\n")), "no section for {path}");
        }
        // The flags come from the definitions themselves.
        assert!(md.contains("--publish-all"), "run's -P is documented");
        assert!(md.contains("[env: BERTH_HOST]"), "{md}");
        assert!(md.contains("Usage: berth run [OPTIONS] IMAGE"), "{md}");
    }

    #[test]
    fn anchors_are_mdbooks() {
        assert_eq!(anchor("`berth image ls`"), "berth-image-ls");
        assert_eq!(anchor("1. Run it!"), "1-run-it");
        assert_eq!(anchor("--rm and a shared volume"), "--rm-and-a-shared-volume");
    }
}
