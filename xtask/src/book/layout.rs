//! The layout check over the rendered HTML: nothing in a code block is cut off. A block either
//! wraps on screen (book/theme/berth.css: the `wrap` class, written ```` ```text,wrap ````, and
//! the terminal transcripts, ```` ```console ````) or each of its lines fits in
//! [`MAX_COLUMNS`]; mdBook's page is about 80 columns of code wide on a desktop.
//!
//! It reads the HTML (scraper, html5ever's parser) rather than the Markdown: blocks written by
//! the preprocessors (the lab chapters, the traces, the CLI reference) are checked as shown.

use std::path::Path;
use std::sync::LazyLock;

use anyhow::Context;
use scraper::{ElementRef, Html, Selector};

/// The widest a code block that does not wrap may be, in columns.
pub const MAX_COLUMNS: usize = 80;

/// The class of a code block meant to wrap (```` ```text,wrap ```` or `<pre class="wrap">`).
pub const WRAP_CLASS: &str = "wrap";

/// Blocks that wrap without being asked: a terminal wraps a transcript's long lines too.
const WRAPPING_LANGUAGES: &[&str] = &["language-console"];

static PRE: LazyLock<Selector> = LazyLock::new(|| Selector::parse("pre").expect("a valid selector"));

/// A line of a code block that does not wrap and is too wide.
#[derive(Debug, PartialEq, Eq)]
pub struct LongLine {
    /// The block's language (`text`, `sh`…), or `-` for none.
    pub language: String,
    /// Which line of the block, from 1.
    pub line: usize,
    pub columns: usize,
    /// The line's start, to find it in the source.
    pub start: String,
}

/// Every too-long line in the HTML pages under `dir`, as `page: …` problems. `print.html`,
/// which repeats every chapter, is left out so each line is named once.
pub fn check_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    check_pages(dir, dir, &mut problems)?;
    Ok(problems)
}

fn check_pages(root: &Path, dir: &Path, problems: &mut Vec<String>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            check_pages(root, &path, problems)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "html") || path.file_name().is_some_and(|n| n == "print.html")
        {
            continue;
        }
        let html = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        let page = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        for long in long_lines(&html) {
            problems.push(format!(
                "{page}: line {} of a `{}` code block is {} columns wide (at most {MAX_COLUMNS}, \
                 or fence it as `{},{WRAP_CLASS}` to wrap it): {}",
                long.line, long.language, long.columns, long.language, long.start
            ));
        }
    }
    Ok(())
}

/// The lines wider than [`MAX_COLUMNS`] in the code blocks of `html` that do not wrap.
pub fn long_lines(html: &str) -> Vec<LongLine> {
    let document = Html::parse_document(html);
    let mut long = Vec::new();
    for pre in document.select(&PRE) {
        let code = pre.child_elements().find(|c| c.value().name() == "code");
        if wraps(pre) || code.is_some_and(wraps) {
            continue;
        }
        let language = code
            .and_then(|c| {
                c.value()
                    .classes()
                    .find_map(|class| class.strip_prefix("language-"))
            })
            .unwrap_or("-")
            .to_owned();
        let text: String = pre.text().collect();
        for (i, line) in text.lines().enumerate() {
            let columns = columns(line);
            if columns > MAX_COLUMNS {
                long.push(LongLine {
                    language: language.clone(),
                    line: i + 1,
                    columns,
                    start: line.chars().take(40).collect::<String>() + "…",
                });
            }
        }
    }
    long
}

/// Whether the element is marked as wrapping (berth.css has the rule for each mark).
fn wraps(element: ElementRef) -> bool {
    element
        .value()
        .classes()
        .any(|class| class == WRAP_CLASS || WRAPPING_LANGUAGES.contains(&class))
}

/// How many columns a line takes in a monospace font: one per character (the book's code is
/// ASCII, box drawing and `…`, all one column wide), a tab up to the next multiple of 8.
fn columns(line: &str) -> usize {
    line.chars().fold(0, |column, c| {
        if c == '\t' {
            (column / 8 + 1) * 8
        } else {
            column + 1
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(blocks: &str) -> String {
        format!("<html><body><main>{blocks}</main></body></html>")
    }

    #[test]
    fn a_long_line_in_a_plain_block_is_named_with_its_block_and_line() {
        let wide = "x".repeat(81);
        let html = page(&format!(
            "<pre><code class=\"language-text\">short\n{wide}\n</code></pre>"
        ));
        assert_eq!(
            long_lines(&html),
            vec![LongLine {
                language: "text".into(),
                line: 2,
                columns: 81,
                start: format!("{}…", "x".repeat(40)),
            }]
        );
    }

    #[test]
    fn eighty_columns_fit_and_entities_count_as_one_character() {
        let html = page(&format!(
            "<pre><code>{}&lt;&amp;\n{}…</code></pre>",
            "a".repeat(78),
            "b".repeat(79)
        ));
        assert_eq!(long_lines(&html), vec![]);
    }

    #[test]
    fn highlighted_spans_are_measured_as_their_text() {
        let html = page(&format!(
            "<pre><code class=\"language-rust\"><span class=\"k\">fn</span> {}</code></pre>",
            "y".repeat(78)
        ));
        assert_eq!(long_lines(&html)[0].columns, 81);
    }

    #[test]
    fn blocks_meant_to_wrap_may_be_wide() {
        let wide = "z".repeat(200);
        let html = page(&format!(
            "<pre><code class=\"language-text wrap\">{wide}</code></pre>\
             <pre class=\"wrap\"><code>{wide}</code></pre>\
             <pre><code class=\"language-console\">$ {wide}</code></pre>"
        ));
        assert_eq!(long_lines(&html), vec![]);
    }

    #[test]
    fn a_tab_reaches_the_next_tab_stop() {
        assert_eq!(columns("\tx"), 9);
        assert_eq!(columns("abc\tx"), 9);
        assert_eq!(columns("…─│"), 3);
    }

    #[test]
    fn check_dir_names_the_page_and_skips_print_html() {
        let dir = tempfile::tempdir().unwrap();
        let wide = page(&format!(
            "<pre><code class=\"language-sh\">{}</code></pre>",
            "w".repeat(90)
        ));
        std::fs::create_dir(dir.path().join("concepts")).unwrap();
        std::fs::write(dir.path().join("concepts/a.html"), &wide).unwrap();
        std::fs::write(dir.path().join("print.html"), &wide).unwrap();
        std::fs::write(dir.path().join("ok.html"), page("<pre><code>fits</code></pre>")).unwrap();
        let problems = check_dir(dir.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("concepts/a.html: line 1 of a `sh` code block is 90 columns wide"));
        assert!(problems[0].contains("`sh,wrap`"));
    }
}
