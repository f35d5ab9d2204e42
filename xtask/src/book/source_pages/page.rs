//! The HTML of the source pages: a file's page (its lines, each with an anchor `L<n>` and a
//! number that links to it) and a folder's index. Plain pages with a small style sheet of their
//! own ([`STYLE`]), in the book's light colours; no script.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::highlight::Highlighted;
use super::{escape, page_of, url_path};

/// The style sheet of the source pages, relative to the book's root.
pub const CSS: &str = "source/source.css";
pub const STYLE: &str = include_str!("source.css");
/// mdBook's copy of the book's fonts, used when the book has it.
pub const FONTS: &str = "fonts/fonts.css";

/// What every page shares.
pub struct Site<'a> {
    /// The book's title, for the link back to its start.
    pub title: &'a str,
    /// The folders that have an index page, for the path at the top of a page.
    pub folders: BTreeSet<String>,
    /// Whether the book has mdBook's fonts ([`FONTS`]).
    pub fonts: bool,
}

/// What a file's page shows.
pub enum Content {
    Text(Highlighted),
    /// A file that is not UTF-8 text, by its size in bytes.
    Binary(usize),
}

/// The page of the file at the repository path `path`.
pub fn file(site: &Site, path: &str, content: &Content) -> String {
    let here = page_of(path, false);
    let mut html = String::new();
    match content {
        Content::Text(text) => {
            let count = text.lines.len();
            let plural = if count == 1 { "" } else { "s" };
            html.push_str(&head(site, &here, path, &text.css));
            writeln!(
                html,
                r#"<p class="about">{}, {count} line{plural}, as it was when the book was built</p>"#,
                escape(&text.language)
            )
            .expect("writing to a String cannot fail");
            let digits = count.max(1).to_string().len();
            writeln!(html, r#"<div class="code" style="--digits:{digits}">"#)
                .expect("writing to a String cannot fail");
            for (i, line) in text.lines.iter().enumerate() {
                let n = i + 1;
                writeln!(
                    html,
                    r##"<div id="L{n}"><a href="#L{n}">{n}</a><code>{line}</code></div>"##
                )
                .expect("writing to a String cannot fail");
            }
            html.push_str("</div>\n");
        }
        Content::Binary(size) => {
            html.push_str(&head(site, &here, path, ""));
            writeln!(
                html,
                r#"<p class="about">a binary file of {size} bytes, not shown</p>"#
            )
            .expect("writing to a String cannot fail");
        }
    }
    html.push_str(FOOT);
    html
}

/// The index of the folder at the repository path `folder`: each of its files (repository
/// paths, with their number of lines, `None` for a binary file), linked to its page.
pub fn folder(site: &Site, folder: &str, files: &[(&str, Option<usize>)]) -> String {
    let here = page_of(folder, true);
    let mut html = head(site, &here, folder, "");
    let plural = if files.len() == 1 { "" } else { "s" };
    writeln!(
        html,
        r#"<p class="about">{} file{plural}, as they were when the book was built</p>"#,
        files.len()
    )
    .expect("writing to a String cannot fail");
    html.push_str("<ul class=\"files\">\n");
    for (file, lines) in files {
        let name = file
            .strip_prefix(folder)
            .and_then(|f| f.strip_prefix('/'))
            .unwrap_or(file);
        let size = match lines {
            Some(1) => "1 line".to_owned(),
            Some(n) => format!("{n} lines"),
            None => "binary".to_owned(),
        };
        writeln!(
            html,
            r#"<li><a href="{}">{}</a><span class="size">{size}</span></li>"#,
            escape(&link(&here, &page_of(file, false))),
            escape(name)
        )
        .expect("writing to a String cannot fail");
    }
    html.push_str("</ul>\n");
    html.push_str(FOOT);
    html
}

/// The start of a page at `here` (relative to the book's root) about the repository path
/// `path`, down to its title; `css` is the page's own highlighting rules.
fn head(site: &Site, here: &str, path: &str, css: &str) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let title = escape(site.title);
    writeln!(html, "<title>{} - {title}</title>", escape(path)).expect("writing to a String cannot fail");
    if site.fonts {
        writeln!(html, r#"<link rel="stylesheet" href="{}">"#, link(here, FONTS))
            .expect("writing to a String cannot fail");
    }
    writeln!(html, r#"<link rel="stylesheet" href="{}">"#, link(here, CSS))
        .expect("writing to a String cannot fail");
    if !css.is_empty() {
        writeln!(html, "<style>\n{css}</style>").expect("writing to a String cannot fail");
    }
    writeln!(
        html,
        "</head>\n<body>\n<header><a href=\"{}\">{title}</a></header>\n<main>\n<h1>{}</h1>",
        link(here, "index.html"),
        breadcrumbs(site, here, path)
    )
    .expect("writing to a String cannot fail");
    html
}

const FOOT: &str = "</main>\n</body>\n</html>\n";

/// `path` with each folder on the way that has an index page linked to it.
fn breadcrumbs(site: &Site, here: &str, path: &str) -> String {
    let mut html = String::new();
    let mut prefix = String::new();
    for (i, name) in path.split('/').enumerate() {
        if i > 0 {
            html.push_str("<span class=\"sep\">/</span>");
            prefix.push('/');
        }
        prefix.push_str(name);
        let target = page_of(&prefix, true);
        if site.folders.contains(&prefix) && target != here {
            write!(
                html,
                r#"<a href="{}">{}</a>"#,
                escape(&link(here, &target)),
                escape(name)
            )
            .expect("writing to a String cannot fail");
        } else {
            html.push_str(&escape(name));
        }
    }
    html
}

/// The relative URL from the page `from` to the file `to`, both relative to the book's root:
/// up to the folder they share, then down.
fn link(from: &str, to: &str) -> String {
    let mut from_dirs: Vec<&str> = from.split('/').collect();
    from_dirs.pop();
    let to_parts: Vec<&str> = to.split('/').collect();
    let shared = from_dirs
        .iter()
        .zip(&to_parts[..to_parts.len() - 1])
        .take_while(|(a, b)| a == b)
        .count();
    format!(
        "{}{}",
        "../".repeat(from_dirs.len() - shared),
        url_path(&to_parts[shared..].join("/"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(folders: &[&str]) -> Site<'static> {
        Site {
            title: "The <Book>",
            folders: folders.iter().map(|f| f.to_string()).collect(),
            fonts: true,
        }
    }

    fn text(lines: &[&str]) -> Content {
        Content::Text(Highlighted {
            language: "Rust".to_owned(),
            lines: lines.iter().map(|l| l.to_string()).collect(),
            css: ".h0{color:#000000}\n".to_owned(),
        })
    }

    #[test]
    fn each_line_has_its_anchor_and_a_number_linking_to_it() {
        let html = file(&site(&[]), "src/lib.rs", &text(&["fn a() {}", "", "}"]));
        assert!(html.contains(r##"<div id="L1"><a href="#L1">1</a><code>fn a() {}</code></div>"##));
        assert!(html.contains(r##"<div id="L2"><a href="#L2">2</a><code></code></div>"##));
        assert!(html.contains(r#"id="L3""#) && !html.contains(r#"id="L4""#));
        assert!(html.contains("Rust, 3 lines"));
        assert!(html.contains("<style>\n.h0{color:#000000}\n</style>"));
    }

    #[test]
    fn a_page_links_back_to_the_book_and_its_style_from_its_depth() {
        let html = file(&site(&[]), "engine/daemon/src/lib.rs", &text(&["x"]));
        // source/engine/daemon/src/lib.rs.html is four folders down.
        assert!(html.contains(r#"<header><a href="../../../../index.html">The &lt;Book&gt;</a></header>"#));
        assert!(html.contains(r#"<link rel="stylesheet" href="../../../source.css">"#));
        assert!(html.contains(r#"<link rel="stylesheet" href="../../../../fonts/fonts.css">"#));
        assert!(html.contains("<title>engine/daemon/src/lib.rs - The &lt;Book&gt;</title>"));
        assert!(html.contains("1 line,"));
    }

    #[test]
    fn the_title_links_the_folders_that_have_an_index() {
        let html = file(
            &site(&["engine", "engine/daemon/src"]),
            "engine/daemon/src/lib.rs",
            &text(&[]),
        );
        assert!(html.contains(
            r#"<h1><a href="../../index.html">engine</a><span class="sep">/</span>daemon<span class="sep">/</span><a href="index.html">src</a><span class="sep">/</span>lib.rs</h1>"#
        ), "{html}");
        // An index does not link to itself.
        let index = folder(&site(&["engine"]), "engine", &[]);
        assert!(index.contains("<h1>engine</h1>"), "{index}");
    }

    #[test]
    fn a_folder_index_links_each_file_to_its_page() {
        let html = folder(
            &site(&["engine/shim"]),
            "engine/shim",
            &[
                ("engine/shim/Cargo.toml", Some(12)),
                ("engine/shim/src/a b&c.rs", Some(1)),
                ("engine/shim/logo.png", None),
            ],
        );
        assert!(html.contains("3 files,"));
        assert!(html.contains(
            r#"<li><a href="Cargo.toml.html">Cargo.toml</a><span class="size">12 lines</span></li>"#
        ));
        assert!(
            html.contains(r#"<li><a href="src/a%20b%26c.rs.html">src/a b&amp;c.rs</a><span class="size">1 line</span></li>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="logo.png.html">logo.png</a><span class="size">binary</span>"#));
        assert!(html.contains(r#"<header><a href="../../../index.html">"#));
    }

    #[test]
    fn a_binary_file_is_named_not_shown() {
        let html = file(&site(&[]), "a.png", &Content::Binary(42));
        assert!(html.contains("a binary file of 42 bytes, not shown"));
        assert!(!html.contains("class=\"code\""));
    }
}
