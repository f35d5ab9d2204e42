//! `cargo xtask book`: the mdBook in `book/`, built with mdBook as a library into `target/book/`.
//!
//! Our own preprocessors run after mdBook's (`{{#include}}`, `README.md` → `index`):
//! [`labs`] writes one chapter per scenario file, [`quizzes`] ends each concept and lab chapter
//! with its quiz, [`cli_reference`] writes the CLI reference from berth's clap definitions,
//! [`source_links`] turns `{{#source PATH}}` into a checked link to the book's own page of a
//! source file, which [`source_pages`] writes after the build. `--check` then reads the rendered
//! HTML: every relative link and anchor must resolve inside the book and every image must load
//! ([`links`]), every scenario must have its chapter and sample run ([`labs`]), every chapter its
//! quiz ([`quizzes`]).
//! `--capture-traces` regenerates the explain traces the concept chapters show ([`traces`]).
//! The pictures are drawn from their Graphviz sources into the built book ([`diagrams`]), and
//! `{{#terminal …}}` draws lab's recorded screens as terminal pictures ([`terminal_picture`]).

/// `{{#berth-cli}}`: the CLI reference, from berth's clap definitions.
pub mod cli_reference;
/// The pictures: Graphviz sources in `book/diagrams/`, rendered to SVG into the built book.
pub mod diagrams;
/// One chapter per lab, from its scenario file and its sample run.
pub mod labs;
/// The layout check over the rendered HTML: a code block wraps or fits in 80 columns.
pub mod layout;
/// The link checker over the rendered HTML.
pub mod links;
/// Each concept and lab chapter's quiz, answers folded, from `quizzes/`.
pub mod quizzes;
/// The built book in headless chromium at desktop and phone sizes: nothing wider than the screen.
pub mod screens;
/// `{{#source PATH}}`: links to the source files a chapter talks about, checked to exist.
pub mod source_links;
/// The book's highlighted pages of the linked source files and folders.
pub mod source_pages;
/// `{{#terminal …}}`: pictures of a terminal, drawn from lab's recorded screens.
pub mod terminal_picture;
/// `{{#trace NAME EXCERPT}}`: annotated excerpts of the captured traces.
pub mod trace_excerpts;
/// Explain traces captured from a private berthd, for the concept chapters.
pub mod traces;
/// The sample runs: `lab check`'s transcripts, stored as insta snapshots.
pub mod transcript;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use mdbook::MDBook;

use crate::util::workspace_root;

#[derive(clap::Args)]
pub struct Args {
    /// Also fail on a broken internal link or anchor, and on a scenario without its chapter
    #[arg(long)]
    check: bool,
    /// First capture the explain traces again (starts a private berthd; needs root and the
    /// lab images)
    #[arg(long)]
    capture_traces: bool,
    /// Also open a few pages in headless chromium at desktop and phone sizes: fail on a page
    /// wider than the screen (screenshots in target/book-screens/)
    #[arg(long)]
    screens: bool,
}

/// Where the repository keeps things the book reads.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root: `{{#source}}` paths are relative to it.
    pub root: PathBuf,
    /// `book/`.
    pub book: PathBuf,
    /// `scenarios/`.
    pub scenarios: PathBuf,
    /// `quizzes/`: one quiz per concept chapter and per lab.
    pub quizzes: PathBuf,
    /// The insta snapshots holding `lab check`'s transcripts.
    pub snapshots: PathBuf,
    /// `target/book/`.
    pub out: PathBuf,
}

impl Paths {
    pub fn of(root: &Path) -> Paths {
        Paths {
            root: root.to_owned(),
            book: root.join("book"),
            scenarios: root.join("scenarios"),
            quizzes: root.join("quizzes"),
            snapshots: root.join("labs/tests/it/snapshots"),
            // Always under the workspace (not CARGO_TARGET_DIR), where the book's reference says.
            out: root.join("target/book"),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let paths = Paths::of(&workspace_root()?);
    if args.capture_traces {
        traces::capture(&paths)?;
    }
    build(&paths)?;
    println!("book: built into {}", paths.out.display());
    if args.check {
        check(&paths)?;
        println!("book: every link resolves and every lab has its chapter");
    }
    if args.screens {
        let chromium = screens::chromium().context("chromium is not installed (apt-get install chromium)")?;
        let shots = paths.root.join("target/book-screens");
        let problems = screens::check(&chromium, &paths.out, screens::PAGES, &shots)?;
        for problem in &problems {
            eprintln!("book: {problem}");
        }
        ensure!(
            problems.is_empty(),
            "{} pages wider than the screen",
            problems.len()
        );
        println!(
            "book: no page is wider than the screen (screenshots in {})",
            shots.display()
        );
    }
    Ok(())
}

/// Build the book with our preprocessors into `paths.out`.
pub fn build(paths: &Paths) -> anyhow::Result<()> {
    let mut book = MDBook::load(&paths.book)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("load the book in {}", paths.book.display()))?;
    book.config.build.build_dir = paths.out.clone();
    // Rendered first, so a missing `dot` or a broken picture fails before the long build.
    let pictures = diagrams::render_dir(&paths.book.join("diagrams"))?;
    let sources = source_links::SourceLinks::new(&paths.root);
    let linked = sources.linked();
    // The quizzes after the labs: the lab chapters end with theirs.
    book.with_preprocessor(labs::LabsPreprocessor::new(paths))
        .with_preprocessor(quizzes::QuizzesPreprocessor::new(paths))
        .with_preprocessor(cli_reference::CliReference)
        .with_preprocessor(terminal_picture::TerminalPictures::new(&paths.root))
        // After the labs: a lab's chapter may show a trace's excerpt too.
        .with_preprocessor(trace_excerpts::TraceExcerpts::new(&paths.book))
        .with_preprocessor(sources);
    // A rebuild must not keep pages of chapters that are gone.
    if paths.out.exists() {
        std::fs::remove_dir_all(&paths.out)
            .with_context(|| format!("remove the old {}", paths.out.display()))?;
    }
    book.build()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("build the book")?;
    diagrams::write(&pictures, &paths.out.join("diagrams"))?;
    let title = book.config.book.title.clone().unwrap_or_default();
    source_pages::publish(&paths.root, &paths.out, &title, &linked.paths())
        .context("publish the source pages")?;
    Ok(())
}

/// Rewrite each chapter that has a file with `expand(path, content)`, which answers the new
/// content or why it cannot; the errors of every chapter, each naming its file, fail the build.
/// The loop every directive-expanding preprocessor needs.
pub fn expand_chapters(
    book: &mut mdbook::book::Book,
    mut expand: impl FnMut(&Path, &str) -> Result<String, String>,
) -> mdbook::errors::Result<()> {
    let mut errors = Vec::new();
    book.for_each_mut(|item| {
        let mdbook::book::BookItem::Chapter(chapter) = item else {
            return;
        };
        let Some(path) = chapter.path.clone() else {
            return;
        };
        match expand(&path, &chapter.content) {
            Ok(content) => chapter.content = content,
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(mdbook::errors::Error::msg(errors.join("\n")))
    }
}

/// `content` with each line that is exactly `marker` (spaces aside) replaced by `replacement`;
/// `None` when there is no such line. A marker quoted inside a sentence stays as it is.
pub fn replace_marker_lines(content: &str, marker: &str, replacement: &str) -> Option<String> {
    if !content.lines().any(|l| l.trim() == marker) {
        return None;
    }
    let mut replaced = String::with_capacity(content.len() + replacement.len());
    for line in content.split_inclusive('\n') {
        if line.trim() == marker {
            replaced.push_str(replacement);
            if !replacement.ends_with('\n') {
                replaced.push('\n');
            }
        } else {
            replaced.push_str(line);
        }
    }
    Some(replaced)
}

/// What `--check` fails on: broken links and anchors in the HTML, code blocks that neither wrap
/// nor fit, labs without their chapter.
pub fn check(paths: &Paths) -> anyhow::Result<()> {
    let mut problems = links::check_dir(&paths.out)?;
    problems.extend(layout::check_dir(&paths.out)?);
    problems.extend(labs::missing_chapters(paths)?);
    problems.extend(quizzes::problems(paths)?);
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("book: {problem}");
    }
    bail!("{} problems in the book", problems.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marker_on_its_own_line_is_replaced() {
        let content = "# Labs\n\n{{#x}}\n\nThe marker `{{#x}}` in a sentence stays.\n";
        assert_eq!(
            replace_marker_lines(content, "{{#x}}", "TABLE").unwrap(),
            "# Labs\n\nTABLE\n\nThe marker `{{#x}}` in a sentence stays.\n"
        );
        assert_eq!(replace_marker_lines("`{{#x}}`\n", "{{#x}}", "T"), None);
    }
}
