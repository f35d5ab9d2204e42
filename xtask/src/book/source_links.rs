//! `{{#source engine/daemon/src/volume/mod.rs}}`: a link to a file or folder of the repository,
//! written relative to the workspace root. The build fails when the path does not exist, so a
//! chapter cannot point at code that moved. The link leads from the built page in `target/book/`
//! back into the checkout, where the reader of the book has the source.

use std::path::{Component, Path, PathBuf};

use mdbook::book::{Book, BookItem};
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

const OPEN: &str = "{{#source ";
const CLOSE: &str = "}}";

pub struct SourceLinks {
    root: PathBuf,
    /// The book's output directory, to find the way back to `root` from a page.
    out: PathBuf,
}

impl SourceLinks {
    pub fn new(root: &Path, out: &Path) -> SourceLinks {
        SourceLinks {
            root: root.to_owned(),
            out: out.to_owned(),
        }
    }

    /// The chapter at `chapter` (its path in the book) with every `{{#source PATH}}` replaced by
    /// a link; an error names each path that does not exist.
    pub fn expand(&self, chapter: &Path, content: &str) -> Result<String, String> {
        // From target/book/<chapter's folder>/ back up to the workspace root.
        let depth = chapter.components().count().saturating_sub(1);
        let out_depth = self
            .out
            .strip_prefix(&self.root)
            .map(|p| p.components().count())
            .map_err(|_| "the book's output must be inside the workspace".to_owned())?;
        let up = "../".repeat(depth + out_depth);
        let mut expanded = String::with_capacity(content.len());
        let mut rest = content;
        let mut missing = Vec::new();
        while let Some(start) = rest.find(OPEN) {
            expanded.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let Some(end) = after.find(CLOSE) else {
                return Err(format!("`{OPEN}` without `{CLOSE}`"));
            };
            let path = after[..end].trim();
            if !is_plain_relative(path) || !self.root.join(path).exists() {
                missing.push(path.to_owned());
            }
            expanded.push_str(&format!("[`{path}`]({up}{path})"));
            rest = &after[end + CLOSE.len()..];
        }
        expanded.push_str(rest);
        if missing.is_empty() {
            Ok(expanded)
        } else {
            Err(format!("no such source path: {}", missing.join(", ")))
        }
    }
}

/// A path inside the repository: relative, without `..`.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

impl Preprocessor for SourceLinks {
    fn name(&self) -> &str {
        "berth-source"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        let mut errors = Vec::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            let Some(path) = chapter.path.clone() else {
                return;
            };
            match self.expand(&path, &chapter.content) {
                Ok(content) => chapter.content = content,
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
        });
        if errors.is_empty() {
            Ok(book)
        } else {
            Err(mdbook::errors::Error::msg(errors.join("\n")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(root: &Path) -> SourceLinks {
        SourceLinks::new(root, &root.join("target/book"))
    }

    #[test]
    fn a_source_path_becomes_a_link_back_into_the_checkout() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("engine/daemon/src")).unwrap();
        std::fs::write(root.path().join("engine/daemon/src/lib.rs"), "").unwrap();
        let md = links(root.path())
            .expand(
                Path::new("concepts/volumes.md"),
                "See {{#source engine/daemon/src/lib.rs}} and {{#source engine/daemon/src}}.",
            )
            .unwrap();
        assert_eq!(
            md,
            "See [`engine/daemon/src/lib.rs`](../../../engine/daemon/src/lib.rs) and \
             [`engine/daemon/src`](../../../engine/daemon/src)."
        );
        let top = links(root.path())
            .expand(Path::new("index.md"), "{{#source engine}}")
            .unwrap();
        assert_eq!(top, "[`engine`](../../engine)");
    }

    #[test]
    fn a_missing_source_path_fails() {
        let root = tempfile::tempdir().unwrap();
        let error = links(root.path())
            .expand(
                Path::new("a.md"),
                "{{#source engine/gone.rs}} {{#source ../outside}}",
            )
            .unwrap_err();
        assert_eq!(error, "no such source path: engine/gone.rs, ../outside");
    }

    #[test]
    fn an_unclosed_directive_fails() {
        let root = tempfile::tempdir().unwrap();
        assert!(
            links(root.path())
                .expand(Path::new("a.md"), "{{#source x")
                .is_err()
        );
    }
}
