//! `{{#terminal PATH | FROM | TO | ALT}}`: a picture of a terminal, drawn as an inline SVG from
//! lines of a file in the repository — the recorded screens of lab's own tests — so the book
//! shows what a trainee's terminal really shows, and the picture cannot drift from it: the
//! lines are taken from the first one containing FROM to the next one containing TO, and the
//! build fails when either is gone.
//!
//! The colours are lab's own (labs/src/screen.rs): step titles cyan, checks that hold green,
//! commands bold. The SVG is inline (no file to lose) and sits in a box that scrolls sideways
//! on a narrow screen rather than shrinking the text out of reach.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mdbook::book::Book;
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

const OPEN: &str = "{{#terminal ";
const CLOSE: &str = "}}";

/// Font metrics of the SVG: monospace at 14 px.
const FONT_SIZE: f32 = 14.0;
const CHAR_WIDTH: f32 = 8.43;
const LINE_HEIGHT: f32 = 19.0;
const PADDING: f32 = 14.0;
/// The window's title bar.
const BAR: f32 = 26.0;

pub struct TerminalPictures {
    root: PathBuf,
}

impl TerminalPictures {
    pub fn new(root: &Path) -> TerminalPictures {
        TerminalPictures {
            root: root.to_owned(),
        }
    }

    /// `content` with each directive replaced by its picture.
    pub fn expand(&self, content: &str) -> Result<String, String> {
        let mut expanded = String::with_capacity(content.len());
        let mut rest = content;
        while let Some(start) = rest.find(OPEN) {
            expanded.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let end = after
                .find(CLOSE)
                .ok_or_else(|| format!("`{OPEN}` without `{CLOSE}`"))?;
            let directive = Directive::parse(&after[..end])?;
            let text = std::fs::read_to_string(self.root.join(&directive.path))
                .map_err(|e| format!("{}: {e}", directive.path))?;
            let lines = excerpt(&text, &directive.from, &directive.to).ok_or_else(|| {
                format!(
                    "{}: no lines from `{}` to `{}`",
                    directive.path, directive.from, directive.to
                )
            })?;
            expanded.push_str(&svg(&lines, &directive.alt));
            rest = &after[end + CLOSE.len()..];
        }
        expanded.push_str(rest);
        Ok(expanded)
    }
}

struct Directive {
    path: String,
    from: String,
    to: String,
    alt: String,
}

impl Directive {
    fn parse(text: &str) -> Result<Directive, String> {
        let parts: Vec<&str> = text.split('|').map(str::trim).collect();
        match parts[..] {
            [path, from, to, alt] if !path.is_empty() && !from.is_empty() && !to.is_empty() => {
                Ok(Directive {
                    path: path.to_owned(),
                    from: from.to_owned(),
                    to: to.to_owned(),
                    alt: alt.to_owned(),
                })
            }
            _ => Err(format!(
                "`{OPEN}{text}{CLOSE}`: expected `PATH | FROM | TO | ALT`"
            )),
        }
    }
}

/// The lines from the first containing `from` to the next containing `to`, both included.
fn excerpt(text: &str, from: &str, to: &str) -> Option<Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.contains(from))?;
    let end = start + 1 + lines[start + 1..].iter().position(|l| l.contains(to))?;
    Some(lines[start..=end].iter().map(|l| l.to_string()).collect())
}

/// How lab colours a line (see labs/src/screen.rs), as SVG fill and weight.
fn style(line: &str) -> (&'static str, bool) {
    let trimmed = line.trim_start();
    if trimmed.starts_with("━━") {
        ("#56b6c2", true)
    } else if trimmed.starts_with('✓') {
        ("#98c379", false)
    } else if trimmed.starts_with('✗') {
        ("#e06c75", false)
    } else if trimmed.starts_with('·') || trimmed.starts_with("hint") {
        ("#9da5b4", false)
    } else if trimmed.starts_with("$ ") {
        ("#ffffff", true)
    } else {
        ("#dcdfe4", false)
    }
}

/// The prompt `[lab n/m] dir #` of a line, if it starts with one.
fn prompt_len(line: &str) -> Option<usize> {
    if !line.starts_with('[') {
        return None;
    }
    line.find(" # ")
        .map(|i| i + 3)
        .or_else(|| line.ends_with(" #").then_some(line.len()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text of a line: escaped, and its spaces made no-break ones, which every SVG renderer keeps
/// as they are (`xml:space` and `white-space: pre` are not honoured everywhere inline SVG is).
fn terminal_text(text: &str) -> String {
    escape(text).replace(' ', "\u{a0}")
}

/// The picture: a terminal window with `lines` in it. No blank line inside, so Markdown keeps it
/// one HTML block.
fn svg(lines: &[String], alt: &str) -> String {
    let columns = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0).max(40);
    let width = (columns as f32 * CHAR_WIDTH + 2.0 * PADDING).ceil();
    let height = (BAR + PADDING + lines.len() as f32 * LINE_HEIGHT + PADDING).ceil();
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"terminal-picture\" style=\"overflow-x:auto;margin:1em 0\">\
         <svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{alt}\" \
         viewBox=\"0 0 {width} {height}\" style=\"width:100%;min-width:{min}px;max-width:{width}px;display:block\">\
         <title>{alt}</title>\
         <rect width=\"{width}\" height=\"{height}\" rx=\"8\" fill=\"#282c34\"/>\
         <rect width=\"{width}\" height=\"{BAR}\" rx=\"8\" fill=\"#3e4451\"/>\
         <rect y=\"{half}\" width=\"{width}\" height=\"{half}\" fill=\"#3e4451\"/>\
         <circle cx=\"16\" cy=\"13\" r=\"5\" fill=\"#e06c75\"/>\
         <circle cx=\"32\" cy=\"13\" r=\"5\" fill=\"#e5c07b\"/>\
         <circle cx=\"48\" cy=\"13\" r=\"5\" fill=\"#98c379\"/>\
         <g font-family=\"'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace\" \
         font-size=\"{FONT_SIZE}\">",
        alt = escape(alt),
        min = (width * 0.75).round(),
        half = BAR / 2.0,
    );
    for (i, line) in lines.iter().enumerate() {
        let y = BAR + PADDING + (i as f32 + 0.8) * LINE_HEIGHT;
        let _ = write!(out, "<text x=\"{PADDING}\" y=\"{y}\">");
        match prompt_len(line) {
            Some(len) => {
                let (prompt, command) = line.split_at(len);
                let _ = write!(
                    out,
                    "<tspan fill=\"#61afef\">{}</tspan><tspan fill=\"#ffffff\" font-weight=\"bold\">{}</tspan>",
                    terminal_text(prompt),
                    terminal_text(command)
                );
            }
            None => {
                let (fill, bold) = style(line);
                let weight = if bold { " font-weight=\"bold\"" } else { "" };
                let _ = write!(
                    out,
                    "<tspan fill=\"{fill}\"{weight}>{}</tspan>",
                    terminal_text(line)
                );
            }
        }
        out.push_str("</text>");
    }
    out.push_str("</g></svg></div>\n");
    out
}

impl Preprocessor for TerminalPictures {
    fn name(&self) -> &str {
        "berth-terminal"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        super::expand_chapters(&mut book, |_, content| {
            if content.contains(OPEN) {
                self.expand(content)
            } else {
                Ok(content.to_owned())
            }
        })?;
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pictures(files: &[(&str, &str)]) -> (tempfile::TempDir, TerminalPictures) {
        let root = tempfile::tempdir().unwrap();
        for (path, text) in files {
            std::fs::write(root.path().join(path), text).unwrap();
        }
        let pictures = TerminalPictures::new(root.path());
        (root, pictures)
    }

    #[test]
    fn the_lines_between_the_markers_become_an_escaped_svg() {
        let screen = "before\n━━ Step 1 of 2 · A ━━\n[lab 1/2] work # echo '<b>' && true\n  ✓ step 1 done\n━━ Step 2 of 2 · B ━━\nafter\n";
        let (_root, pictures) = pictures(&[("screen.txt", screen)]);
        let md = pictures
            .expand("Look:\n{{#terminal screen.txt | Step 1 of | ✓ step 1 | the prompt}}\nDone.")
            .unwrap();
        assert!(md.starts_with("Look:\n<div class=\"terminal-picture\""));
        assert!(md.ends_with("</svg></div>\n\nDone."));
        assert!(md.contains("aria-label=\"the prompt\""));
        assert!(md.contains(">echo\u{a0}'&lt;b&gt;'\u{a0}&amp;&amp;\u{a0}true<"));
        assert!(md.contains("fill=\"#98c379\">\u{a0}\u{a0}✓\u{a0}step\u{a0}1\u{a0}done<"));
        assert!(!md.contains("Step 2 of 2"), "stops at the first line with TO");
        assert!(!md.contains("before"));
        let svg_part = &md[md.find("<svg").unwrap()..md.find("</svg>").unwrap()];
        assert!(!svg_part.contains("\n\n"), "one HTML block: no blank line inside");
    }

    #[test]
    fn a_marker_that_is_gone_fails_the_build() {
        let (_root, pictures) = pictures(&[("screen.txt", "a\nb\n")]);
        let error = pictures
            .expand("{{#terminal screen.txt | a | zzz | alt}}")
            .unwrap_err();
        assert_eq!(error, "screen.txt: no lines from `a` to `zzz`");
        assert!(
            pictures
                .expand("{{#terminal missing.txt | a | b | alt}}")
                .is_err()
        );
        assert!(pictures.expand("{{#terminal screen.txt | a}}").is_err());
    }

    #[test]
    fn a_prompt_is_told_from_its_command() {
        assert_eq!(prompt_len("[first-container 1/5] work # docker ps"), Some(29));
        assert_eq!(prompt_len("[first-container 1/5] work #"), Some(28));
        assert_eq!(prompt_len("CONTAINER ID   IMAGE"), None);
    }
}
