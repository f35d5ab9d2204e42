//! The link checker: every relative `href` and `src` in the built HTML must lead to a file, and
//! every `#anchor` to an element with that id in the page it names. Links with a scheme
//! (`https:`, `mailto:`) are the web's business and are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context;
use regex::Regex;

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

/// Every broken link in the HTML files under `dir`, as `page: link (why)`.
pub fn check_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut pages = BTreeMap::new();
    collect_pages(dir, &mut pages)?;
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for (path, html) in &pages {
        ids.insert(path.clone(), ids_in(html));
    }
    let mut problems = Vec::new();
    for (page, html) in &pages {
        for link in links_in(html) {
            if let Err(why) = check_link(dir, page, html, &link, &ids) {
                let shown = page.strip_prefix(dir).unwrap_or(page);
                problems.push(format!("{}: broken link `{link}` ({why})", shown.display()));
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
        let mut target = normalize(&joined);
        if target.is_dir() && target.starts_with(dir) {
            target = target.join("index.html");
        }
        if !target.exists() {
            return Err(format!("no file {}", target.display()));
        }
        target
    };
    match fragment {
        Some(fragment) if !fragment.is_empty() => match ids.get(&target) {
            Some(known) if known.contains(&fragment) => Ok(()),
            Some(_) => Err(format!("no id `{fragment}` in {}", target.display())),
            // Not a page of the book (a source file): only the file must exist.
            None => Ok(()),
        },
        _ => Ok(()),
    }
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
    fn links_leaving_the_book_must_exist_too() {
        let dir = site(&[
            (
                "book/c/page.html",
                r#"<a href="../../src/lib.rs">ok</a><a href="../../src/gone.rs">no</a>"#,
            ),
            ("src/lib.rs", ""),
        ]);
        let problems = check_dir(&dir.path().join("book")).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`../../src/gone.rs`"), "{problems:?}");
    }
}
