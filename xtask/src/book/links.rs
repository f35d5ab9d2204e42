//! The link checker: every relative `href` and `src` in the built HTML must lead to a file inside
//! the book (a link out of it would be dead once the book is served or copied), and every
//! `#anchor` to an element with that id in the page it names. Links with a scheme (`https:`,
//! `mailto:`) are the web's business and are not followed. What a page embeds (`<img src>`,
//! `<object data>`, `<embed src>`) must be a file of the book too, and an image must be one a
//! browser can show: an SVG document or a PNG, JPEG, GIF or WebP by its magic bytes ([`image`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context;
use regex::Regex;

mod image;

static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("a valid regex")
});
static ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\s(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("a valid regex")
});
static BASE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)<base\s[^>]*href\s*=\s*"([^"]*)"[^>]*>"#).expect("a valid regex"));
static SCHEME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9+.-]*:").expect("a valid regex"));
/// What a page embeds: the tag and the URL of its content.
static EMBED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<(img|object|embed)\s(?:[^>]*?\s)?(?:src|data)\s*=\s*(?:"([^"]*)"|'([^']*)')"#)
        .expect("a valid regex")
});

/// Every broken link and image in the HTML files under `dir`, as `page: link (why)`.
pub fn check_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let dir = &normalize(dir);
    let mut pages = BTreeMap::new();
    collect_pages(dir, &mut pages)?;
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (path, html) in &pages {
        ids.insert(path.clone(), ids_in(html));
    }
    let mut problems = Vec::new();
    // An image is read once, however many pages show it.
    let mut images: BTreeMap<PathBuf, Result<(), String>> = BTreeMap::new();
    for (page, html) in &pages {
        let shown = page.strip_prefix(dir).unwrap_or(page);
        let embeds = embeds_in(html);
        // What the page embeds has the stricter check below, and its problem is told once.
        let embedded: BTreeSet<&str> = embeds.iter().map(|(_, url)| url.as_str()).collect();
        for link in links_in(html) {
            if embedded.contains(link.as_str()) {
                continue;
            }
            if let Err(why) = check_link(dir, page, html, &link, &ids) {
                problems.push(format!("{}: broken link `{link}` ({why})", shown.display()));
            }
        }
        for (tag, url) in embeds {
            let checked = match embedded_file(dir, page, html, &url) {
                Ok(Some(file)) => images
                    .entry(file.clone())
                    .or_insert_with(|| image::check(&file, tag == "img"))
                    .clone(),
                Ok(None) => Ok(()),
                Err(why) => Err(why),
            };
            if let Err(why) = checked {
                problems.push(format!("{}: broken <{tag}> `{url}` ({why})", shown.display()));
            }
        }
    }
    Ok(problems)
}

fn collect_pages(dir: &Path, pages: &mut BTreeMap<PathBuf, String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_pages(&path, pages)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
            pages.insert(path, html);
        }
    }
    Ok(())
}

/// The relative links of a page, as written (entities decoded); `<base href>` is not a link.
pub fn links_in(html: &str) -> Vec<String> {
    let html = BASE.replace_all(html, "");
    LINK.captures_iter(&html)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| decode_entities(m.as_str()))
        .filter(|link| !link.is_empty() && !SCHEME.is_match(link) && !link.starts_with("//"))
        .collect()
}

/// What a page embeds, as (`img`, `object` or `embed`, its URL as written).
pub fn embeds_in(html: &str) -> Vec<(String, String)> {
    EMBED
        .captures_iter(html)
        .filter_map(|c| {
            let url = c.get(2).or(c.get(3))?;
            Some((c[1].to_ascii_lowercase(), decode_entities(url.as_str())))
        })
        .collect()
}

/// The file of the book an embedded URL names, checked to exist; `None` for content written into
/// the page itself (`data:`).
fn embedded_file(dir: &Path, page: &Path, html: &str, url: &str) -> Result<Option<PathBuf>, String> {
    if url.starts_with("data:") {
        return Ok(None);
    }
    if url.is_empty() || SCHEME.is_match(url) || url.starts_with("//") {
        return Err("not a file of the book: it would not load offline".to_owned());
    }
    let path = url.split(['#', '?']).next().unwrap_or("");
    let file = resolve(dir, page, html, path)?;
    if file.is_dir() {
        return Err(format!("{} is a folder", file.display()));
    }
    Ok(Some(file))
}

/// The ids (and old-style `name`s) a link's `#fragment` may point at.
pub fn ids_in(html: &str) -> BTreeSet<String> {
    ID.captures_iter(html)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| decode_entities(m.as_str()))
        .collect()
}

/// Whether `link`, on `page`, resolves: its file exists and its fragment names an id there.
fn check_link(
    dir: &Path,
    page: &Path,
    html: &str,
    link: &str,
    ids: &BTreeMap<PathBuf, BTreeSet<String>>,
) -> Result<(), String> {
    let (path, fragment) = match link.split_once('#') {
        Some((path, fragment)) => (path, Some(percent_decode(fragment))),
        None => (link, None),
    };
    let path = path.split('?').next().unwrap_or("");
    let target = if path.is_empty() {
        page.to_owned()
    } else {
        let target = resolve(dir, page, html, path)?;
        if target.is_dir() {
            target.join("index.html")
        } else {
            target
        }
    };
    if !target.exists() {
        return Err(format!("no file {}", target.display()));
    }
    match fragment {
        Some(fragment) if !fragment.is_empty() => match ids.get(&target) {
            Some(known) if known.contains(&fragment) => Ok(()),
            Some(_) => Err(format!("no id `{fragment}` in {}", target.display())),
            // Not a page (a style sheet, an image): only the file must exist.
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The file or folder the relative URL path `path` on `page` names, which must exist inside
/// the book `dir`.
fn resolve(dir: &Path, page: &Path, html: &str, path: &str) -> Result<PathBuf, String> {
    // A page's <base href> changes what its relative links are relative to.
    let base = match BASE.captures(html).and_then(|c| c.get(1)) {
        Some(base) if base.as_str().starts_with('/') => dir.join(&base.as_str()[1..]),
        Some(base) => page.parent().unwrap_or(dir).join(base.as_str()),
        None => page.parent().unwrap_or(dir).to_owned(),
    };
    let decoded = percent_decode(path);
    let joined = match decoded.strip_prefix('/') {
        Some(absolute) => dir.join(absolute),
        None => base.join(&decoded),
    };
    let target = normalize(&joined);
    if !target.starts_with(dir) {
        return Err(format!("{} is outside the book", target.display()));
    }
    if !target.exists() {
        return Err(format!("no file {}", target.display()));
    }
    Ok(target)
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `%20` → ` `; anything that is not a valid escape stays as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    #[test]
    fn links_that_resolve_pass() {
        let dir = site(&[
            (
                "index.html",
                r##"<a href="labs/volumes.html#2-a-database">x</a> <img src='img/a%20b.png'>
                <a href="#top">top</a> <a href="https://example.com/x#y">web</a>
                <a href="mailto:a@b">mail</a> <a href="labs/">labs</a> <h1 id="top">t</h1>"##,
            ),
            ("img/a b.png", ""),
            ("labs/index.html", r#"<a href="../index.html?x=1&amp;y=2">up</a>"#),
            ("labs/volumes.html", r#"<h2 id="2-a-database">2. A database</h2>"#),
        ]);
        std::fs::write(dir.path().join("img/a b.png"), b"\x89PNG\r\n\x1a\n").unwrap();
        assert_eq!(check_dir(dir.path()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_link_to_a_missing_file_fails() {
        let dir = site(&[("a/page.html", r#"<p><a href="../gone.html">gone</a></p>"#)]);
        let problems = check_dir(dir.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("a/page.html: broken link `../gone.html` (no file "),
            "{problems:?}"
        );
    }

    #[test]
    fn a_link_to_a_missing_anchor_fails() {
        let dir = site(&[
            (
                "index.html",
                r##"<a href="other.html#nowhere">x</a><a href="#here">y</a>"##,
            ),
            ("other.html", r#"<h1 id="somewhere">s</h1>"#),
        ]);
        let problems = check_dir(dir.path()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("no id `here`")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("no id `nowhere`")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_base_href_moves_relative_links() {
        let dir = site(&[
            (
                "404.html",
                r#"<base href="/"><link href="css/a.css"><a href="gone.html">g</a>"#,
            ),
            ("css/a.css", ""),
        ]);
        let problems = check_dir(dir.path()).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`gone.html`"), "{problems:?}");
    }

    #[test]
    fn links_leaving_the_book_fail_even_to_a_file_that_exists() {
        let dir = site(&[
            (
                "book/c/page.html",
                r#"<a href="../../src/lib.rs">out</a><a href="../index.html">in</a><a href="/../src/lib.rs">x</a>"#,
            ),
            ("book/index.html", ""),
            ("src/lib.rs", ""),
        ]);
        let problems = check_dir(&dir.path().join("book")).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`../../src/lib.rs`"), "{problems:?}");
        assert!(
            problems[0].ends_with("/src/lib.rs is outside the book)"),
            "{problems:?}"
        );
        assert!(problems[1].contains("`/../src/lib.rs`"), "{problems:?}");
    }

    #[test]
    fn a_source_link_needs_its_page_and_line() {
        let dir = site(&[
            (
                "concepts/volumes.html",
                r#"<a href="../source/engine/lib.rs.html#L2">ok</a> <a href="../source/engine/lib.rs.html#L9">no line</a>
                <a href="../source/engine/gone.rs.html">no page</a>"#,
            ),
            (
                "source/engine/lib.rs.html",
                r##"<div class="line" id="L1"><a href="#L1">1</a></div><div class="line" id="L2"><a href="#L2">2</a></div>"##,
            ),
        ]);
        let problems = check_dir(dir.path()).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("`../source/engine/lib.rs.html#L9` (no id `L9`"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("`../source/engine/gone.rs.html` (no file"),
            "{problems:?}"
        );
    }

    const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>"#;

    #[test]
    fn images_that_load_pass() {
        let dir = site(&[
            (
                "concepts/a.html",
                r#"<p><img alt="x" src="../diagrams/layers.svg"> <IMG SRC='../diagrams/a%20b.png'>
                <object type="image/svg+xml" data="../diagrams/layers.svg#v"></object>
                <embed src="../diagrams/layers.svg"> <img src="data:image/png;base64,iVBORw0KGgo="></p>"#,
            ),
            ("diagrams/layers.svg", SVG),
        ]);
        std::fs::write(dir.path().join("diagrams/a b.png"), b"\x89PNG\r\n\x1a\n").unwrap();
        assert_eq!(check_dir(dir.path()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_image_that_does_not_load_fails() {
        let dir = site(&[
            (
                "index.html",
                r#"<img src="diagrams/gone.svg"><img src="diagrams/broken.svg"><img src="diagrams/fake.png">
                <img src="https://example.com/a.png"><object data="../outside.svg"></object><img src="diagrams">"#,
            ),
            (
                "diagrams/broken.svg",
                r#"<svg xmlns="http://www.w3.org/2000/svg"><g></svg>"#,
            ),
            ("diagrams/fake.png", "<html>"),
        ]);
        let problems = check_dir(dir.path()).unwrap();
        let expected = [
            "index.html: broken <img> `diagrams/gone.svg` (no file ",
            "index.html: broken <img> `diagrams/broken.svg` (",
            "index.html: broken <img> `diagrams/fake.png` (",
            "index.html: broken <img> `https://example.com/a.png` (not a file of the book",
            "index.html: broken <object> `../outside.svg` (",
            "index.html: broken <img> `diagrams` (",
        ];
        assert_eq!(problems.len(), expected.len(), "{problems:?}");
        for (problem, start) in problems.iter().zip(expected) {
            assert!(problem.starts_with(start), "{problem} should start with {start}");
        }
        assert!(problems[1].contains("broken.svg: not XML"), "{problems:?}");
        assert!(
            problems[2].ends_with("fake.png is not a PNG file)"),
            "{problems:?}"
        );
        assert!(
            problems[4].ends_with("outside.svg is outside the book)"),
            "{problems:?}"
        );
        assert!(problems[5].ends_with("diagrams is a folder)"), "{problems:?}");
    }
}
