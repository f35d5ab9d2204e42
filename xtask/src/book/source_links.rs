//! `{{#source engine/daemon/src/volume/mod.rs}}`: a link to a file or folder of the repository,
//! written relative to the workspace root. It leads to the book's own page of that file or folder
//! ([`super::source_pages`]), so it works wherever the book is read. `{{#source PATH#L42}}` points
//! at a line, `{{#source PATH#L10-L20}}` at a range (the link goes to its first line). The build
//! fails when a path does not exist or a line is past the end of its file, so a chapter cannot
//! point at code that moved.

use std::path::{Component, Path, PathBuf};

use mdbook::book::Book;
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

use super::source_pages::{self, Linked};

const OPEN: &str = "{{#source ";
const CLOSE: &str = "}}";

pub struct SourceLinks {
    root: PathBuf,
    linked: Linked,
}

/// What a directive names: a repository path, and maybe lines of it.
#[derive(Debug, PartialEq)]
struct Target {
    path: String,
    /// The first and last line (the same for one line), counted from 1.
    lines: Option<(usize, usize)>,
}

impl SourceLinks {
    pub fn new(root: &Path) -> SourceLinks {
        SourceLinks {
            root: root.to_owned(),
            linked: Linked::default(),
        }
    }

    /// The paths the chapters link to, filled in as the book is preprocessed: their pages are
    /// written after the book is rendered.
    pub fn linked(&self) -> Linked {
        self.linked.clone()
    }

    /// The chapter at `chapter` (its path in the book) with every `{{#source PATH}}` replaced by
    /// a link to the page of PATH; an error names each path or line that does not exist.
    pub fn expand(&self, chapter: &Path, content: &str) -> Result<String, String> {
        // From the chapter's folder up to the book's root.
        let up = "../".repeat(chapter.components().count().saturating_sub(1));
        let mut expanded = String::with_capacity(content.len());
        let mut rest = content;
        let mut missing = Vec::new();
        let mut wrong_lines = Vec::new();
        while let Some(start) = rest.find(OPEN) {
            expanded.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let Some(end) = after.find(CLOSE) else {
                return Err(format!("`{OPEN}` without `{CLOSE}`"));
            };
            let directive = after[..end].trim();
            rest = &after[end + CLOSE.len()..];
            let (path, anchor) = match directive.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (directive, None),
            };
            let Some(path) = repository_path(path).filter(|p| self.root.join(p).exists()) else {
                missing.push(directive.to_owned());
                continue;
            };
            let file = self.root.join(&path);
            let target = match anchor.map(parse_lines).transpose() {
                Ok(lines) => Target { path, lines },
                Err(why) => {
                    wrong_lines.push(format!("{directive} ({why})"));
                    continue;
                }
            };
            if let Err(why) = target.check_lines(&file) {
                wrong_lines.push(format!("{directive} ({why})"));
                continue;
            }
            self.linked.add(&target.path);
            expanded.push_str(&target.link(&up, file.is_dir()));
        }
        expanded.push_str(rest);
        let mut errors = Vec::new();
        if !missing.is_empty() {
            errors.push(format!("no such source path: {}", missing.join(", ")));
        }
        if !wrong_lines.is_empty() {
            errors.push(format!("no such source line: {}", wrong_lines.join(", ")));
        }
        if errors.is_empty() {
            Ok(expanded)
        } else {
            Err(errors.join("; "))
        }
    }
}

/// `path` as a repository path (`a/b`), or `None` when it leaves the repository (absolute, `..`).
fn repository_path(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `L7` → (7, 7); `L7-L9` or `L7-9` → (7, 9).
fn parse_lines(anchor: &str) -> Result<(usize, usize), String> {
    let wrong = || format!("`#{anchor}`: lines are written L7 or L7-L9, counted from 1");
    let (first, last) = anchor.split_once('-').unwrap_or((anchor, anchor));
    let first: usize = first
        .strip_prefix('L')
        .and_then(|n| n.parse().ok())
        .ok_or_else(wrong)?;
    let last: usize = last
        .strip_prefix('L')
        .unwrap_or(last)
        .parse()
        .map_err(|_| wrong())?;
    if first == 0 || last < first {
        return Err(wrong());
    }
    Ok((first, last))
}

impl Target {
    /// Whether the lines named exist in `file`.
    fn check_lines(&self, file: &Path) -> Result<(), String> {
        let Some((_, last)) = self.lines else {
            return Ok(());
        };
        if file.is_dir() {
            return Err("a folder has no lines".to_owned());
        }
        let text = std::fs::read_to_string(file).map_err(|e| format!("read it: {e}"))?;
        let count = text.lines().count();
        if last > count {
            return Err(format!("it has {count} lines"));
        }
        Ok(())
    }

    /// The Markdown link to the target's page, from a chapter `up` below the book's root.
    fn link(&self, up: &str, folder: bool) -> String {
        let href = format!(
            "{up}{}",
            source_pages::url_path(&source_pages::page_of(&self.path, folder))
        );
        match self.lines {
            None => format!("[`{}`]({href})", self.path),
            Some((line, last)) if line == last => format!("[`{}:{line}`]({href}#L{line})", self.path),
            Some((first, last)) => format!("[`{}:{first}-{last}`]({href}#L{first})", self.path),
        }
    }
}

impl Preprocessor for SourceLinks {
    fn name(&self) -> &str {
        "berth-source"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        super::expand_chapters(&mut book, |path, content| self.expand(path, content))?;
        Ok(book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("engine/daemon/src")).unwrap();
        std::fs::write(root.path().join("engine/daemon/src/lib.rs"), "a\nb\nc\n").unwrap();
        root
    }

    #[test]
    fn a_source_path_becomes_a_link_to_its_page_in_the_book() {
        let root = repository();
        let links = SourceLinks::new(root.path());
        let md = links
            .expand(
                Path::new("concepts/volumes.md"),
                "See {{#source engine/daemon/src/lib.rs}} and {{#source ./engine/daemon/src/}}.",
            )
            .unwrap();
        assert_eq!(
            md,
            "See [`engine/daemon/src/lib.rs`](../source/engine/daemon/src/lib.rs.html) and \
             [`engine/daemon/src`](../source/engine/daemon/src/index.html)."
        );
        let top = links.expand(Path::new("index.md"), "{{#source engine}}").unwrap();
        assert_eq!(top, "[`engine`](source/engine/index.html)");
        let deep = links
            .expand(Path::new("labs/a/b.md"), "{{#source engine}}")
            .unwrap();
        assert_eq!(deep, "[`engine`](../../source/engine/index.html)");
        // What the chapters linked to is what gets published.
        assert_eq!(
            links.linked().paths().into_iter().collect::<Vec<_>>(),
            ["engine", "engine/daemon/src", "engine/daemon/src/lib.rs"]
        );
    }

    #[test]
    fn a_line_or_a_range_links_to_its_first_line() {
        let root = repository();
        let md = SourceLinks::new(root.path())
            .expand(
                Path::new("concepts/volumes.md"),
                "{{#source engine/daemon/src/lib.rs#L2}} {{#source engine/daemon/src/lib.rs#L2-L3}} \
                 {{#source engine/daemon/src/lib.rs#L1-3}}",
            )
            .unwrap();
        assert_eq!(
            md,
            "[`engine/daemon/src/lib.rs:2`](../source/engine/daemon/src/lib.rs.html#L2) \
             [`engine/daemon/src/lib.rs:2-3`](../source/engine/daemon/src/lib.rs.html#L2) \
             [`engine/daemon/src/lib.rs:1-3`](../source/engine/daemon/src/lib.rs.html#L1)"
        );
    }

    #[test]
    fn a_line_past_the_end_or_in_a_folder_fails() {
        let root = repository();
        let error = SourceLinks::new(root.path())
            .expand(
                Path::new("a.md"),
                "{{#source engine/daemon/src/lib.rs#L4}} {{#source engine/daemon/src/lib.rs#L2-L9}} \
                 {{#source engine/daemon/src#L1}} {{#source engine/daemon/src/lib.rs#L3-L2}} \
                 {{#source engine/daemon/src/lib.rs#L0}} {{#source engine/daemon/src/lib.rs#x}}",
            )
            .unwrap_err();
        assert_eq!(
            error,
            "no such source line: engine/daemon/src/lib.rs#L4 (it has 3 lines), \
             engine/daemon/src/lib.rs#L2-L9 (it has 3 lines), engine/daemon/src#L1 (a folder has no lines), \
             engine/daemon/src/lib.rs#L3-L2 (`#L3-L2`: lines are written L7 or L7-L9, counted from 1), \
             engine/daemon/src/lib.rs#L0 (`#L0`: lines are written L7 or L7-L9, counted from 1), \
             engine/daemon/src/lib.rs#x (`#x`: lines are written L7 or L7-L9, counted from 1)"
        );
    }

    #[test]
    fn a_missing_source_path_fails() {
        let root = tempfile::tempdir().unwrap();
        let error = SourceLinks::new(root.path())
            .expand(
                Path::new("a.md"),
                "{{#source engine/gone.rs}} {{#source ../outside}} {{#source /etc/passwd}}",
            )
            .unwrap_err();
        assert_eq!(
            error,
            "no such source path: engine/gone.rs, ../outside, /etc/passwd"
        );
    }

    #[test]
    fn an_unclosed_directive_fails() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            SourceLinks::new(root.path())
                .expand(Path::new("a.md"), "{{#source x")
                .is_err()
        );
    }
}
