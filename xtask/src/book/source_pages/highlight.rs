//! Syntax highlighting for the source pages: syntect, with Sublime Text's grammars and the light
//! `InspiredGitHub` theme it bundles, turned into HTML one line at a time so that every line of
//! the page is a self-contained element that can carry its own anchor.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use syntect::easy::HighlightLines;
use syntect::highlighting::{Color, FontStyle, Style, Theme, ThemeSet};
use syntect::parsing::{SyntaxReference, SyntaxSet};
use syntect::util::LinesWithEndings;

use super::escape;

/// A light theme, close to the book's own light code blocks.
const THEME: &str = "InspiredGitHub";

/// The grammars and the theme, loaded once for all the pages.
pub struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
}

/// A file as HTML.
#[derive(Debug, PartialEq)]
pub struct Highlighted {
    /// The grammar's name (`Rust`, `Plain Text`).
    pub language: String,
    /// One HTML fragment per line of the file, without its line break: escaped text and spans
    /// whose classes `css` defines.
    pub lines: Vec<String>,
    /// The rules of the classes the lines use (`.h0{color:#…}`), one set per page: a theme
    /// gives each token a colour and font style, and a page uses a dozen of them.
    pub css: String,
}

impl Highlighter {
    pub fn new() -> Highlighter {
        let mut themes = ThemeSet::load_defaults().themes;
        Highlighter {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme: themes
                .remove(THEME)
                .expect("syntect bundles the InspiredGitHub theme"),
        }
    }

    /// The grammar for the file at `path`: by its extension or its whole name (`Dockerfile`,
    /// `Makefile`), then by its first line (`#!/bin/sh`); plain text when none fits.
    fn syntax_for(&self, path: &Path, first_line: &str) -> &SyntaxReference {
        let by_name = |name: Option<&std::ffi::OsStr>| {
            name.and_then(|n| n.to_str())
                .and_then(|n| self.syntaxes.find_syntax_by_extension(n))
        };
        by_name(path.extension())
            .or_else(|| by_name(path.file_name()))
            .or_else(|| self.syntaxes.find_syntax_by_first_line(first_line))
            .unwrap_or_else(|| self.syntaxes.find_syntax_plain_text())
    }

    /// `text`, the content of the file at `path`, highlighted line by line.
    pub fn highlight(&self, path: &Path, text: &str) -> Highlighted {
        let syntax = self.syntax_for(path, text.lines().next().unwrap_or(""));
        let mut highlighter = HighlightLines::new(syntax, &self.theme);
        let mut classes = Classes::new(&self.theme);
        let mut lines = Vec::new();
        for line in LinesWithEndings::from(text) {
            let Ok(tokens) = highlighter.highlight_line(line, &self.syntaxes) else {
                // A grammar that fails on a file (a regex it cannot run) must not hide the
                // file: show it without colours.
                return Highlighted {
                    language: "Plain Text".to_owned(),
                    lines: text.lines().map(escape).collect(),
                    css: String::new(),
                };
            };
            // Neighbouring tokens of one style share a span.
            let mut runs: Vec<(Option<String>, String)> = Vec::new();
            for (style, token) in tokens {
                let token = token.trim_end_matches(['\n', '\r']);
                if token.is_empty() {
                    continue;
                }
                let class = classes.of(style).map(str::to_owned);
                match runs.last_mut() {
                    Some((last, text)) if *last == class => text.push_str(token),
                    _ => runs.push((class, token.to_owned())),
                }
            }
            let mut html = String::new();
            for (class, text) in runs {
                match class {
                    Some(class) => write!(html, r#"<span class="{class}">{}</span>"#, escape(&text))
                        .expect("writing to a String cannot fail"),
                    None => html.push_str(&escape(&text)),
                }
            }
            lines.push(html);
        }
        Highlighted {
            language: syntax.name.clone(),
            lines,
            css: classes.css(),
        }
    }
}

/// The classes of one page: each style the theme gives a token, numbered as first met.
struct Classes {
    plain: Style,
    named: HashMap<Style, String>,
    css: String,
}

impl Classes {
    fn new(theme: &Theme) -> Classes {
        Classes {
            plain: Style {
                foreground: theme.settings.foreground.unwrap_or(Color::BLACK),
                background: theme.settings.background.unwrap_or(Color::WHITE),
                font_style: FontStyle::empty(),
            },
            named: HashMap::new(),
            css: String::new(),
        }
    }

    /// The class for `style`; none for the text's plain style, which the page's own colours
    /// give. The token's background is the theme's page background: the page has its own.
    fn of(&mut self, style: Style) -> Option<&str> {
        let style = Style {
            background: self.plain.background,
            ..style
        };
        if style == self.plain {
            return None;
        }
        let next = self.named.len();
        let css = &mut self.css;
        let class = self.named.entry(style).or_insert_with(|| {
            let class = format!("h{next}");
            let Color { r, g, b, .. } = style.foreground;
            write!(css, ".{class}{{color:#{r:02x}{g:02x}{b:02x}").expect("writing to a String cannot fail");
            if style.font_style.contains(FontStyle::BOLD) {
                css.push_str(";font-weight:bold");
            }
            if style.font_style.contains(FontStyle::ITALIC) {
                css.push_str(";font-style:italic");
            }
            if style.font_style.contains(FontStyle::UNDERLINE) {
                css.push_str(";text-decoration:underline");
            }
            css.push_str("}\n");
            class
        });
        Some(class)
    }

    fn css(self) -> String {
        self.css
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_is_highlighted_line_by_line_and_escaped() {
        let text = "fn main() {\n    let s = \"<a> & b\";\n\n}\n";
        let highlighted = Highlighter::new().highlight(Path::new("src/main.rs"), text);
        assert_eq!(highlighted.language, "Rust");
        assert_eq!(highlighted.lines.len(), 4);
        // The keyword has a colour of its own, the string its escaped text.
        assert!(
            highlighted.lines[0].contains(r#"<span class="h"#),
            "{highlighted:?}"
        );
        assert!(
            highlighted.lines[1].contains("&lt;a&gt; &amp; b"),
            "{highlighted:?}"
        );
        assert!(!highlighted.lines[1].contains("<a>"), "{highlighted:?}");
        assert_eq!(highlighted.lines[2], "");
        // Each line closes what it opens: a line can be cut out of the page on its own.
        for line in &highlighted.lines {
            assert_eq!(
                line.matches("<span").count(),
                line.matches("</span>").count(),
                "{line}"
            );
        }
        assert!(highlighted.css.starts_with(".h0{color:#"), "{}", highlighted.css);
    }

    #[test]
    fn the_grammar_comes_from_the_extension_the_name_or_the_first_line() {
        let highlighter = Highlighter::new();
        let language = |path: &str, text: &str| highlighter.highlight(Path::new(path), text).language;
        assert_eq!(language("a/Makefile", "all:\n"), "Makefile");
        assert_eq!(
            language("bin/run", "#!/bin/bash\necho hi\n"),
            "Bourne Again Shell (bash)"
        );
        assert_eq!(language("notes.unknown", "x < y\n"), "Plain Text");
        let plain = highlighter.highlight(Path::new("notes.unknown"), "x < y\n");
        assert_eq!(plain.lines, vec!["x &lt; y"]);
        assert_eq!(plain.css, "");
    }
}
