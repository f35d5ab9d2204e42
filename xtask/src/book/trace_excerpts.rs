//! `{{#trace NAME EXCERPT}}`: an annotated excerpt of the captured trace
//! `book/src/traces/NAME.txt` (see [`super::traces`]), on a line of its own.
//!
//! The excerpts are kept beside the trace, in `NAME.toml`: each excerpt is a list of groups, a
//! group the lines it shows and a sentence saying what they mean. A line is picked by a piece of
//! its text (the next line of the trace, after the previous group's, that contains it), and the
//! page shows the captured line itself: nothing is copied by hand, and when a capture no longer
//! has a line an excerpt wants, the build fails and names it.
//!
//! In a concept chapter (`concepts/…`) the excerpt is followed by the whole trace, folded under
//! a `<details>`. Elsewhere (a lab's chapter) only the excerpt is shown, with a link to the
//! concept chapter that shows the whole trace. `{{#trace NAME}}` shows the whole trace as is.
//! Every block wraps on screen (the `wrap` class, see [`super::layout`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail, ensure};
use mdbook::book::{Book, BookItem};
use mdbook::preprocess::{Preprocessor, PreprocessorContext};
use serde::Deserialize;

const OPEN: &str = "{{#trace ";
const CLOSE: &str = "}}";

/// The most lines an excerpt may show: a reader follows 10–20 lines, not a whole trace.
pub const MAX_EXCERPT_LINES: usize = 20;

/// A group of lines of an excerpt and what they mean.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    /// Each picks the next line of the trace that contains it.
    lines: Vec<String>,
    /// One or two sentences, in Markdown.
    note: String,
}

/// A captured trace and its excerpts.
struct Trace {
    name: String,
    text: String,
    excerpts: BTreeMap<String, Vec<Group>>,
}

impl Trace {
    fn load(dir: &Path, name: &str) -> anyhow::Result<Trace> {
        ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "`{name}` is not a trace name"
        );
        let file = dir.join(format!("{name}.txt"));
        let text = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let excerpts_file = dir.join(format!("{name}.toml"));
        let excerpts = if excerpts_file.exists() {
            let toml = std::fs::read_to_string(&excerpts_file)?;
            toml::from_str(&toml).with_context(|| format!("read {}", excerpts_file.display()))?
        } else {
            BTreeMap::new()
        };
        Ok(Trace {
            name: name.to_owned(),
            text,
            excerpts,
        })
    }

    /// The `$ berth …` lines: how the trace was made.
    fn commands(&self) -> impl Iterator<Item = &str> {
        self.text.lines().filter(|l| l.starts_with("$ "))
    }

    /// The lines of the excerpt, group by group, as the trace has them.
    fn select(&self, excerpt: &str) -> anyhow::Result<Vec<(Vec<&str>, &str)>> {
        let Some(groups) = self.excerpts.get(excerpt) else {
            bail!(
                "{}.toml has no excerpt `{excerpt}` (it has: {})",
                self.name,
                self.excerpts.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        };
        let lines: Vec<&str> = self.text.lines().collect();
        let mut next = 0;
        let mut selected = Vec::new();
        for group in groups {
            let mut shown = Vec::new();
            for wanted in &group.lines {
                let Some(found) = (next..lines.len()).find(|&i| lines[i].contains(wanted.as_str())) else {
                    bail!(
                        "{}.txt has no line containing `{wanted}` after its line {next} \
                         (excerpt `{excerpt}` in {}.toml): capture changed? pick another line",
                        self.name,
                        self.name
                    );
                };
                shown.push(lines[found]);
                next = found + 1;
            }
            selected.push((shown, group.note.trim()));
        }
        let count: usize = selected.iter().map(|(lines, _)| lines.len()).sum();
        ensure!(
            count <= MAX_EXCERPT_LINES,
            "excerpt `{excerpt}` of {}.txt shows {count} lines, more than {MAX_EXCERPT_LINES}",
            self.name
        );
        Ok(selected)
    }
}

/// A fenced block that wraps on screen.
fn wrapping_block(lines: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut block = String::from("```text,wrap\n");
    for line in lines {
        block.push_str(line.as_ref());
        block.push('\n');
    }
    block.push_str("```\n");
    block
}

/// Where the whole trace is shown, for a chapter that shows only an excerpt.
struct Elsewhere<'a> {
    /// The concept chapter's title.
    title: &'a str,
    /// The link from the chapter with the excerpt.
    href: String,
}

/// The Markdown for `{{#trace NAME EXCERPT}}`: the excerpt with its notes, then the whole trace
/// (folded) or, when `elsewhere` is given, a link to the chapter that shows it.
fn render(trace: &Trace, excerpt: Option<&str>, elsewhere: Option<&Elsewhere>) -> anyhow::Result<String> {
    let total = trace.text.lines().count();
    let Some(excerpt) = excerpt else {
        return Ok(wrapping_block(trace.text.lines()));
    };
    let groups = trace.select(excerpt)?;
    let mut md = String::from("<div class=\"trace-excerpt\">\n\n");
    md.push_str(&wrapping_block(trace.commands()));
    md.push('\n');
    for (lines, note) in &groups {
        md.push_str(&wrapping_block(lines));
        md.push('\n');
        md.push_str(note);
        md.push_str("\n\n");
    }
    md.push_str("</div>\n\n");
    match elsewhere {
        Some(concept) => md.push_str(&format!(
            "These are {} of the trace's {total} lines: [{}]({}) shows it whole.\n",
            groups.iter().map(|(lines, _)| lines.len()).sum::<usize>(),
            concept.title,
            concept.href
        )),
        None => {
            md.push_str(&format!(
                "<details class=\"trace\">\n<summary>The whole trace, {total} lines</summary>\n\n"
            ));
            md.push_str(&wrapping_block(trace.text.lines()));
            md.push_str("\n</details>\n");
        }
    }
    Ok(md)
}

/// The arguments of a directive line: `{{#trace run life}}` → `["run", "life"]`.
fn directive(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix(OPEN)?.strip_suffix(CLOSE)?;
    Some(inner.split_whitespace().collect())
}

/// The concept chapters show traces whole; every other chapter links to them.
fn is_concept(chapter: &Path) -> bool {
    chapter.starts_with("concepts")
}

/// The link from the page of `from` to the page of `to`, both paths in the book.
fn relative_href(from: &Path, to: &Path) -> String {
    let depth = from.parent().map_or(0, |p| {
        p.components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count()
    });
    format!("{}{}", "../".repeat(depth), to.display())
}

pub struct TraceExcerpts {
    dir: PathBuf,
}

impl TraceExcerpts {
    pub fn new(book: &Path) -> TraceExcerpts {
        TraceExcerpts {
            dir: book.join("src/traces"),
        }
    }

    fn expand_all(&self, book: &mut Book) -> anyhow::Result<()> {
        // Which concept chapter shows each trace whole, for the links from the others.
        let mut whole: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else { return };
            let Some(path) = chapter.path.as_ref().filter(|p| is_concept(p)) else {
                return;
            };
            for args in chapter.content.lines().filter_map(directive) {
                if let Some(name) = args.first() {
                    whole
                        .entry((*name).to_owned())
                        .or_insert_with(|| (chapter.name.clone(), path.clone()));
                }
            }
        });
        let mut result = Ok(());
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else { return };
            let Some(path) = chapter.path.clone() else { return };
            if result.is_err() || !chapter.content.lines().any(|l| directive(l).is_some()) {
                return;
            }
            match self.expand(&path, &chapter.content, &whole) {
                Ok(content) => chapter.content = content,
                Err(e) => result = Err(e.context(format!("in {}", path.display()))),
            }
        });
        result
    }

    fn expand(
        &self,
        chapter: &Path,
        content: &str,
        whole: &BTreeMap<String, (String, PathBuf)>,
    ) -> anyhow::Result<String> {
        let mut expanded = String::with_capacity(content.len());
        for line in content.split_inclusive('\n') {
            let Some(args) = directive(line) else {
                expanded.push_str(line);
                continue;
            };
            let (name, excerpt) = match args[..] {
                [name] => (name, None),
                [name, excerpt] => (name, Some(excerpt)),
                _ => bail!("`{}`: want {OPEN}NAME [EXCERPT]{CLOSE}", line.trim()),
            };
            let trace = Trace::load(&self.dir, name)?;
            let elsewhere = if is_concept(chapter) {
                None
            } else {
                let Some((title, path)) = whole.get(name) else {
                    bail!("no concept chapter shows the trace `{name}` to link to");
                };
                Some(Elsewhere {
                    title,
                    href: relative_href(chapter, path),
                })
            };
            expanded.push_str(&render(&trace, excerpt, elsewhere.as_ref())?);
            // What follows the directive starts a block of its own.
            expanded.push('\n');
        }
        Ok(expanded)
    }
}

impl Preprocessor for TraceExcerpts {
    fn name(&self) -> &str {
        "berth-trace"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        self.expand_all(&mut book)
            .map_err(|e| mdbook::errors::Error::msg(format!("{e:#}")))?;
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# a container\n$ berth run busybox true\n$ berth events --explain …\n\
                        berthd: created container abc\n\
                        berth-runtime: created cgroup /x\n\
                        berth-runtime: wrote c 1:3 rwm to devices.allow\n\
                        berth-runtime: set the hostname to abc\n\
                        berthd: container abc exited with code 0\n";

    fn trace(excerpts: &str) -> Trace {
        Trace {
            name: "t".into(),
            text: TEXT.into(),
            excerpts: toml::from_str(excerpts).unwrap(),
        }
    }

    const EXCERPT: &str = r#"
        [[life]]
        lines = ["created container", "hostname"]
        note = "It is made."
        [[life]]
        lines = ["exited"]
        note = "It ends."
    "#;

    #[test]
    fn an_excerpt_shows_the_captured_lines_in_order_with_their_notes() {
        let trace = trace(EXCERPT);
        let md = render(&trace, Some("life"), None).unwrap();
        assert!(md.contains(
            "```text,wrap\nberthd: created container abc\nberth-runtime: set the hostname to abc\n```\n\nIt is made.\n\n"
        ));
        assert!(md.contains("```text,wrap\nberthd: container abc exited with code 0\n```\n\nIt ends.\n"));
        assert!(md.contains("```text,wrap\n$ berth run busybox true\n$ berth events --explain …\n```"));
        // The whole trace follows, folded.
        assert!(md.contains("<details class=\"trace\">\n<summary>The whole trace, 8 lines</summary>\n\n```text,wrap\n# a container\n"));
    }

    #[test]
    fn a_line_the_capture_no_longer_has_fails_the_build() {
        let trace = trace("[[life]]\nlines = [\"exited\", \"created container\"]\nnote = \"x\"\n");
        let error = render(&trace, Some("life"), None).unwrap_err().to_string();
        assert!(
            error.contains("t.txt has no line containing `created container` after its line 8"),
            "{error}"
        );
        let error = render(&trace, Some("nope"), None).unwrap_err().to_string();
        assert!(error.contains("no excerpt `nope` (it has: life)"), "{error}");
    }

    #[test]
    fn an_excerpt_longer_than_twenty_lines_is_refused() {
        let lines = vec!["berth"; MAX_EXCERPT_LINES + 1];
        let excerpt = format!("[[all]]\nlines = {lines:?}\nnote = \"x\"\n");
        let trace = Trace {
            text: "berth\n".repeat(30),
            ..trace(&excerpt)
        };
        assert!(
            trace
                .select("all")
                .unwrap_err()
                .to_string()
                .contains("shows 21 lines")
        );
    }

    #[test]
    fn outside_the_concepts_an_excerpt_links_to_the_whole_trace() {
        let trace = trace(EXCERPT);
        let elsewhere = Elsewhere {
            title: "Containers",
            href: relative_href(Path::new("labs/first.md"), Path::new("concepts/containers.md")),
        };
        let md = render(&trace, Some("life"), Some(&elsewhere)).unwrap();
        assert!(md.ends_with(
            "These are 3 of the trace's 8 lines: [Containers](../concepts/containers.md) shows it whole.\n"
        ));
        assert!(!md.contains("<details"));
    }

    #[test]
    fn directives_stand_on_their_own_line() {
        assert_eq!(directive("{{#trace run life}}\n"), Some(vec!["run", "life"]));
        assert_eq!(directive("  {{#trace run}}"), Some(vec!["run"]));
        assert_eq!(directive("see `{{#trace run}}` here"), None);
        assert_eq!(
            relative_href(Path::new("README.md"), Path::new("concepts/a.md")),
            "concepts/a.md"
        );
    }

    #[test]
    fn a_chapter_outside_the_concepts_needs_a_concept_showing_the_trace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.txt"), TEXT).unwrap();
        std::fs::write(dir.path().join("t.toml"), EXCERPT).unwrap();
        let excerpts = TraceExcerpts {
            dir: dir.path().into(),
        };
        let none = BTreeMap::new();
        let lab = Path::new("labs/first.md");
        let error = excerpts.expand(lab, "{{#trace t life}}\n", &none).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no concept chapter shows the trace `t`")
        );
        let whole = BTreeMap::from([(
            "t".to_owned(),
            ("Containers".to_owned(), PathBuf::from("concepts/c.md")),
        )]);
        let md = excerpts
            .expand(lab, "# Lab\n{{#trace t life}}\nafter\n", &whole)
            .unwrap();
        assert!(md.starts_with("# Lab\n<div class=\"trace-excerpt\">"));
        assert!(md.ends_with("shows it whole.\n\nafter\n"));
        let concept = excerpts
            .expand(Path::new("concepts/c.md"), "{{#trace t}}\n", &none)
            .unwrap();
        assert_eq!(concept, format!("```text,wrap\n{TEXT}```\n\n"));
    }
}
