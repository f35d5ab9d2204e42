//! The book's own copy of the source its chapters link to, so that a link works wherever the
//! book is read (a file on disk, a plain HTTP server) and never leads out of it: each linked
//! file becomes a highlighted page at `source/<path>.html` whose lines carry anchors (`#L42`),
//! each linked folder an index at `source/<path>/index.html` listing its files, which are
//! published too. The pages are written after mdBook's renderer, which empties the output
//! folder first: the preprocessor only gathers the paths ([`Linked`]).

mod highlight;
mod page;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, bail};

use highlight::Highlighter;
use page::{Content, Site};

/// The folder of the book that holds the source pages.
pub const DIR: &str = "source";

/// The page of the repository path `path`, relative to the book's root: a file's own page, or
/// a folder's index.
pub fn page_of(path: &str, folder: bool) -> String {
    if folder {
        format!("{DIR}/{path}/index.html")
    } else {
        format!("{DIR}/{path}.html")
    }
}

/// The repository paths the chapters link to, gathered while the chapters are preprocessed.
#[derive(Clone, Default)]
pub struct Linked(Arc<Mutex<BTreeSet<String>>>);

impl Linked {
    pub fn add(&self, path: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned());
    }

    pub fn paths(&self) -> BTreeSet<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Write the pages of the `linked` repository paths (relative to `root`) into the book at
/// `out`; returns how many pages it wrote.
pub fn publish(
    root: &Path,
    out: &Path,
    book_title: &str,
    linked: &BTreeSet<String>,
) -> anyhow::Result<usize> {
    if out.join(DIR).exists() {
        bail!("the book has a {DIR}/ of its own: the source pages would overwrite it");
    }
    let mut folders = BTreeMap::new();
    let mut files = BTreeSet::new();
    for path in linked {
        if root.join(path).is_dir() {
            let listed = files_under(root, path)?;
            files.extend(listed.iter().cloned());
            folders.insert(path.clone(), listed);
        } else {
            files.insert(path.clone());
        }
    }
    if let Some(file) = files
        .iter()
        .find(|f| folders.contains_key(f.strip_suffix("/index").unwrap_or("")))
    {
        bail!("the page of {file} would be its folder's index");
    }
    let site = Site {
        title: book_title,
        folders: folders.keys().cloned().collect(),
        fonts: out.join(page::FONTS).exists(),
    };
    write(&out.join(page::CSS), page::STYLE)?;
    let lines = publish_files(root, out, &site, &files.into_iter().collect::<Vec<_>>())?;
    for (folder, listed) in &folders {
        let entries: Vec<_> = listed
            .iter()
            .map(|file| (file.as_str(), lines.get(file).copied().flatten()))
            .collect();
        write(
            &out.join(page_of(folder, true)),
            &page::folder(&site, folder, &entries),
        )?;
    }
    Ok(lines.len() + folders.len())
}

/// The files under the folder `folder` of the repository, as repository paths in name order;
/// hidden files and build output (`target/`) are not the repository's source.
fn files_under(root: &Path, folder: &str) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(root.join(folder))
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0 || !(name.starts_with('.') || (e.file_type().is_dir() && name == "target"))
        });
    for entry in walk {
        let entry = entry.with_context(|| format!("list {folder}"))?;
        if entry.file_type().is_file() {
            let path = entry
                .path()
                .strip_prefix(root)
                .expect("the walk starts inside the root");
            let path = path
                .to_str()
                .with_context(|| format!("a path that is not UTF-8 in {folder}"))?;
            files.push(path.to_owned());
        }
    }
    Ok(files)
}

/// Highlight and write the page of each file, on every core (syntect takes a while over a few
/// megabytes of Rust); returns each file's number of lines, `None` for a binary file.
fn publish_files(
    root: &Path,
    out: &Path,
    site: &Site,
    files: &[String],
) -> anyhow::Result<BTreeMap<String, Option<usize>>> {
    let highlighter = Highlighter::new();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let publish_one = |path: &str| -> anyhow::Result<Option<usize>> {
        let bytes = std::fs::read(root.join(path)).with_context(|| format!("read {path}"))?;
        let (content, lines) = match String::from_utf8(bytes) {
            Ok(text) => {
                let highlighted = highlighter.highlight(Path::new(path), &text);
                let lines = highlighted.lines.len();
                (Content::Text(highlighted), Some(lines))
            }
            Err(e) => (Content::Binary(e.into_bytes().len()), None),
        };
        write(&out.join(page_of(path, false)), &page::file(site, path, &content))?;
        Ok(lines)
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<Vec<(String, Option<usize>)>> {
                    let mut done = Vec::new();
                    while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        done.push((path.clone(), publish_one(path)?));
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut lines = BTreeMap::new();
        for handle in handles {
            let done = handle
                .join()
                .map_err(|_| anyhow::anyhow!("a source page writer panicked"))??;
            lines.extend(done);
        }
        Ok(lines)
    })
}

fn write(path: &Path, content: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("write {}", path.display()))
}

/// `text` safe inside HTML, in text and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A path as it goes into a URL: every byte but letters, digits, `-._~` and `/` percent-encoded
/// (a space, `#` or `(` in a file name must not end the link).
pub fn url_path(path: &str) -> String {
    let mut url = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_all(dir: &Path, files: &[(&str, &[u8])]) {
        for (path, content) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    #[test]
    fn a_linked_folder_publishes_its_index_and_every_file_under_it() {
        let root = tempfile::tempdir().unwrap();
        write_all(
            root.path(),
            &[
                ("engine/shim/Cargo.toml", b"[package]\nname = \"x\"\n"),
                ("engine/shim/src/main.rs", b"fn main() { if 1 < 2 && 3 > 2 {} }\n"),
                ("engine/shim/logo.png", b"\x89PNG\r\n\x1a\n\xff"),
                ("engine/shim/.hidden", b"not the source"),
                ("engine/shim/target/debug/out.rs", b"build output"),
                ("engine/api/src/lib.rs", b"pub mod a;\n"),
                ("target/book/index.html", b"<h1>The book</h1>"),
            ],
        );
        let out = root.path().join("target/book");
        let linked = ["engine/shim".to_owned(), "engine/api/src/lib.rs".to_owned()].into();
        let pages = publish(root.path(), &out, "Book", &linked).unwrap();
        // Three files and the index of the folder, and the file linked on its own.
        assert_eq!(pages, 5);
        let index = std::fs::read_to_string(out.join("source/engine/shim/index.html")).unwrap();
        assert!(
            index.contains(r#"<a href="Cargo.toml.html">Cargo.toml</a><span class="size">2 lines</span>"#)
        );
        assert!(
            index.contains(r#"<a href="src/main.rs.html">src/main.rs</a>"#),
            "{index}"
        );
        assert!(index.contains(r#"<a href="logo.png.html">logo.png</a><span class="size">binary</span>"#));
        assert!(!index.contains("hidden") && !index.contains("target"), "{index}");
        let main = std::fs::read_to_string(out.join("source/engine/shim/src/main.rs.html")).unwrap();
        assert!(
            main.contains(r#"id="L1""#) && main.contains("&lt;") && main.contains("&amp;&amp;"),
            "{main}"
        );
        assert!(!main.contains("1 < 2"), "{main}");
        // The file page links to its folder's index, which exists.
        assert!(main.contains(r#"<a href="../index.html">shim</a>"#), "{main}");
        assert!(out.join("source/engine/api/src/lib.rs.html").exists());
        assert!(!out.join("source/engine/shim/.hidden.html").exists());
        // Every link of every page resolves inside the book.
        assert_eq!(
            super::super::links::check_dir(&out).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_path_is_made_safe_for_a_url() {
        assert_eq!(url_path("src/a b#c(1).rs"), "src/a%20b%23c%281%29.rs");
        assert_eq!(url_path("engine/daemon/src/lib.rs"), "engine/daemon/src/lib.rs");
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
