//! The quizzes in the book, from the files `lab quiz` asks (`quizzes/concepts/<name>.toml`,
//! `quizzes/labs/<id>.toml`): each concept and lab chapter ends with its quiz, answers folded,
//! and the chapter whose source holds `{{#berth-quizzes}}` gets a table of them all.
//!
//! It runs after the labs' preprocessor, so the lab chapters are there to end with theirs.
//! `--check` fails on a concept chapter or a lab without a quiz, and a quiz without its chapter.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_lab::quiz::{self, Kind, Pick, Question, Quiz};
use berth_lab::scenario;
use mdbook::book::{Book, BookItem};
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

use super::Paths;

/// Where the table of every quiz goes.
pub const MARKER: &str = "{{#berth-quizzes}}";

pub struct QuizzesPreprocessor {
    quizzes: PathBuf,
}

impl QuizzesPreprocessor {
    pub fn new(paths: &Paths) -> QuizzesPreprocessor {
        QuizzesPreprocessor {
            quizzes: paths.quizzes.clone(),
        }
    }
}

impl Preprocessor for QuizzesPreprocessor {
    fn name(&self) -> &str {
        "berth-quizzes"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        self.add_quizzes(&mut book)
            .map_err(|e| mdbook::errors::Error::msg(format!("{e:#}")))?;
        Ok(book)
    }
}

impl QuizzesPreprocessor {
    /// Each chapter with a quiz ends with it; the marker becomes the table of them.
    fn add_quizzes(&self, book: &mut Book) -> anyhow::Result<()> {
        let quizzes: BTreeMap<String, Quiz> = quiz::load_all(&self.quizzes)
            .with_context(|| format!("load the quizzes in {}", self.quizzes.display()))?
            .into_iter()
            .map(|q| (q.chapter(), q))
            .collect();
        let sections = Sections::of(book);
        // The book's order: concept chapters, then the labs.
        let in_order: Vec<(&Quiz, String)> = book
            .iter()
            .filter_map(|item| match item {
                BookItem::Chapter(c) => c.path.as_ref().map(|p| (p, c.name.clone())),
                _ => None,
            })
            .filter_map(|(path, name)| Some((quizzes.get(&slashed(path))?, name)))
            .collect();
        let table = quizzes_table(&in_order);
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            let Some(path) = chapter.path.as_ref().map(|p| slashed(p)) else {
                return;
            };
            if let Some(quiz) = quizzes.get(&path) {
                if !chapter.content.ends_with('\n') {
                    chapter.content.push('\n');
                }
                chapter.content.push('\n');
                chapter.content.push_str(&quiz_markdown(quiz, &path, &sections));
            }
            if let Some(content) = super::replace_marker_lines(&chapter.content, MARKER, &table) {
                chapter.content = content;
            }
        });
        Ok(())
    }
}

/// A chapter's path as the quiz files name it: `concepts/volumes.md`, with `/`.
fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The book's chapters and their headings, by the anchors mdBook gives them, to name the section
/// a question's `see` leads to. (The link checker makes sure the anchor exists.)
struct Sections {
    /// chapter path → (chapter name, anchor → heading)
    chapters: HashMap<String, (String, HashMap<String, String>)>,
}

impl Sections {
    fn of(book: &Book) -> Sections {
        let mut chapters = HashMap::new();
        for item in book.iter() {
            let BookItem::Chapter(chapter) = item else {
                continue;
            };
            let Some(path) = &chapter.path else {
                continue;
            };
            chapters.insert(slashed(path), (chapter.name.clone(), headings(&chapter.content)));
        }
        Sections { chapters }
    }

    /// "Volumes › Their lifetime" for `concepts/volumes.md#their-lifetime`.
    fn label(&self, see: &str) -> String {
        let (page, anchor) = see.split_once('#').unwrap_or((see, ""));
        let Some((name, headings)) = self.chapters.get(page) else {
            return see.to_owned();
        };
        match headings.get(anchor) {
            Some(heading) if !anchor.is_empty() => format!("{name} › {heading}"),
            _ => name.clone(),
        }
    }
}

/// The ATX headings of a chapter (outside code fences), by the id mdBook gives each.
fn headings(markdown: &str) -> HashMap<String, String> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut found = HashMap::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !trimmed[hashes..].starts_with(' ') {
            continue;
        }
        let heading = trimmed[hashes..].trim().to_owned();
        // mdBook makes the id from the heading's HTML without its tags: `code` marks go.
        let id = mdbook::utils::normalize_id(&heading.replace(['`', '*'], ""));
        let seen = ids.entry(id.clone()).or_insert(0);
        let id = if *seen == 0 { id } else { format!("{id}-{seen}") };
        *seen += 1;
        found.insert(id, heading);
    }
    found
}

/// `see` (relative to the book's sources) as a link from the chapter at `from`.
fn link_from(from: &str, see: &str) -> String {
    let depth = from.matches('/').count();
    format!("{}{see}", "../".repeat(depth))
}

/// The `## Quiz` section a chapter ends with.
fn quiz_markdown(quiz: &Quiz, chapter: &str, sections: &Sections) -> String {
    let mut md = format!(
        "## Quiz\n\nAnswer each question before you open its answer — or take the quiz in a \
         terminal, scored: `lab quiz {}`.\n\n",
        quiz.name
    );
    for (i, question) in quiz.questions.iter().enumerate() {
        md.push_str(&question_markdown(i + 1, question, chapter, sections));
    }
    md
}

fn question_markdown(number: usize, question: &Question, chapter: &str, sections: &Sections) -> String {
    let how = match question.pick {
        Pick::One => "one answer",
        Pick::All => "all that hold",
    };
    let ask = question.ask.trim();
    // Bold stops at a paragraph's end: a question of several blocks gets only its number bold.
    let mut md = if ask.contains("\n\n") || ask.contains("```") {
        format!("**{number}.** {ask} *({how})*\n\n")
    } else {
        format!("**{number}. {ask}** *({how})*\n\n")
    };
    if let Some(command) = &question.command {
        md.push_str("```console\n");
        for line in command.lines() {
            let _ = writeln!(md, "$ {line}");
        }
        md.push_str("```\n\n");
    }
    for (i, choice) in question.choices.iter().enumerate() {
        let _ = writeln!(
            md,
            "{}. {}",
            i + 1,
            choice_markdown(choice, question.is_prediction(), "   ")
        );
    }
    let right: Vec<String> = question
        .answer
        .iter()
        .map(|&n| {
            let choice = &question.choices[n - 1];
            if question.is_prediction() && choice.contains('\n') {
                format!("**{n}**:\n\n{}", choice_markdown(choice, true, ""))
            } else {
                format!(
                    "**{n}**: {}",
                    choice_markdown(choice, question.is_prediction(), "")
                )
            }
        })
        .collect();
    let _ = write!(
        md,
        "\n<details>\n<summary>Answer</summary>\n\n{}\n\n{}\n\nRead more: [{}]({}).\n\n</details>\n\n",
        right.join("\n\n"),
        question.explain.trim(),
        sections.label(&question.see),
        link_from(chapter, &question.see)
    );
    md
}

/// A choice as Markdown: as written, or, for a command's output, as code (`(nothing)` when
/// empty); a block of several lines is indented by `pad` (to stay inside its list item).
fn choice_markdown(choice: &str, output: bool, pad: &str) -> String {
    if !output {
        return choice.trim().replace('\n', &format!("\n{pad}"));
    }
    let choice = choice.trim_end();
    if choice.trim().is_empty() {
        return "*(nothing)*".to_owned();
    }
    let ticks = longest_backtick_run(choice);
    if !choice.contains('\n') {
        let fence = "`".repeat(ticks + 1);
        let space = if choice.starts_with('`') || choice.ends_with('`') {
            " "
        } else {
            ""
        };
        return format!("{fence}{space}{choice}{space}{fence}");
    }
    let fence = "`".repeat(ticks.max(2) + 1);
    let mut block = format!("{fence}text\n");
    for line in choice.lines() {
        let _ = writeln!(block, "{pad}{line}");
    }
    let _ = write!(block, "{pad}{fence}");
    block
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// The table replacing the marker: each chapter's quiz, its size, the command that asks it.
fn quizzes_table(quizzes: &[(&Quiz, String)]) -> String {
    let mut table = String::from("| chapter | questions | in a terminal |\n|---|---|---|\n");
    for (quiz, name) in quizzes {
        let _ = writeln!(
            table,
            "| [{}]({}#quiz) | {} | `lab quiz {}` |",
            name.replace('|', "\\|"),
            quiz.chapter(),
            quiz.questions.len(),
            quiz.name
        );
    }
    table
}

/// What `--check` fails on: a concept chapter or a lab without its quiz, a quiz file without its
/// chapter, a quiz file that does not load.
pub fn problems(paths: &Paths) -> anyhow::Result<Vec<String>> {
    let concepts_dir = paths.book.join("src").join(quiz::CONCEPTS);
    let concepts: BTreeSet<String> = stems(&concepts_dir, "md")?;
    let labs: BTreeSet<String> = scenario::load::ids(&paths.scenarios)?.into_iter().collect();
    let mut problems = Vec::new();
    let mut have: BTreeSet<(Kind, String)> = BTreeSet::new();
    for path in quiz::load::paths(&paths.quizzes)? {
        // Named by its place, loading or not: a broken quiz is one problem, not two.
        let folder = path.parent().and_then(Path::file_name).unwrap_or_default();
        let kind = if folder == quiz::CONCEPTS {
            Kind::Concept
        } else {
            Kind::Lab
        };
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        have.insert((kind, stem));
        match quiz::load(&path) {
            Ok(quiz) => {
                let (chapters, what) = match quiz.kind {
                    Kind::Concept => (
                        &concepts,
                        format!("no concept chapter book/src/{}", quiz.chapter()),
                    ),
                    Kind::Lab => (&labs, format!("no lab scenarios/{}.toml", quiz.stem)),
                };
                if !chapters.contains(&quiz.stem) {
                    problems.push(format!("quiz {} has no chapter: {what}", path.display()));
                }
            }
            Err(e) => problems.push(format!("quiz {e}")),
        }
    }
    for (kind, names) in [(Kind::Concept, &concepts), (Kind::Lab, &labs)] {
        for name in names {
            if !have.contains(&(kind, name.clone())) {
                let chapter = match kind {
                    Kind::Concept => format!("concept chapter book/src/{}/{name}.md", quiz::CONCEPTS),
                    Kind::Lab => format!("lab `{name}`"),
                };
                problems.push(format!(
                    "the {chapter} has no quiz: write {}",
                    paths
                        .quizzes
                        .join(kind.folder())
                        .join(format!("{name}.toml"))
                        .display()
                ));
            }
        }
    }
    // A file the loader would not look at is a quiz nobody sees.
    for entry in std::fs::read_dir(&paths.quizzes).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if ![quiz::CONCEPTS, quiz::LABS, "README.md"].contains(&name.as_str()) {
            problems.push(format!(
                "{}: a quiz goes in {}/ or {}/",
                entry.path().display(),
                quiz::CONCEPTS,
                quiz::LABS
            ));
        }
    }
    Ok(problems)
}

/// The names of `dir`'s files ending in `.ext`.
fn stems(dir: &Path, ext: &str) -> anyhow::Result<BTreeSet<String>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use mdbook::book::Chapter;

    use super::*;

    const QUIZ: &str = r#"title = "Volumes"

[[questions]]
ask = "Does `--rm` remove a named volume?"
choices = ["Yes", "No"]
answer = 2
explain = "Only anonymous ones."
see = "concepts/volumes.md#their-lifetime"

[[questions]]
ask = "What does the last command print?"
command = "docker volume create data\ndocker volume ls"
choices = ["data", "", "DRIVER    VOLUME NAME\nlocal     data"]
answer = [3]
explain = "A table."
see = "labs/volumes.md#1-the-volumes-there-are"
"#;

    const LAB: &str = r#"id = "volumes"
title = "Storing data"
summary = "Volumes."
minutes = 5

[[steps]]
title = "The volumes there are"
text = "List them."
commands = ["docker volume ls"]
checks = [{ ran = '^docker volume ls', says = "`docker volume ls`" }]
done_when = "you have listed the volumes"
"#;

    /// A repository with one concept chapter, one lab, and both their quizzes.
    fn repository() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::of(dir.path());
        for d in [
            paths.book.join("src/concepts"),
            paths.scenarios.clone(),
            paths.quizzes.join("concepts"),
            paths.quizzes.join("labs"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(paths.book.join("src/concepts/volumes.md"), "# Volumes\n").unwrap();
        std::fs::write(paths.scenarios.join("volumes.toml"), LAB).unwrap();
        std::fs::write(paths.quizzes.join("concepts/volumes.toml"), QUIZ).unwrap();
        std::fs::write(paths.quizzes.join("labs/volumes.toml"), QUIZ).unwrap();
        (dir, paths)
    }

    fn book() -> Book {
        let mut book = Book::new();
        book.push_item(Chapter::new(
            "Volumes",
            "# Volumes\n\n## Their lifetime\n\n```sh\n# not a heading\n```\n".into(),
            "concepts/volumes.md",
            vec![],
        ));
        book.push_item(Chapter::new(
            "Storing data",
            "# Storing data\n\n## 1. The volumes there are\n".into(),
            "labs/volumes.md",
            vec![],
        ));
        book.push_item(Chapter::new(
            "Quizzes",
            format!("# Quizzes\n\n{MARKER}\n"),
            "quizzes.md",
            vec![],
        ));
        book
    }

    fn chapters(book: &Book) -> Vec<&Chapter> {
        book.iter()
            .filter_map(|item| match item {
                BookItem::Chapter(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_chapter_ends_with_its_quiz_answers_folded() {
        let (_dir, paths) = repository();
        let mut book = book();
        QuizzesPreprocessor::new(&paths).add_quizzes(&mut book).unwrap();
        let chapters = chapters(&book);
        let concept = &chapters[0].content;
        let quiz = concept.find("\n## Quiz\n").expect("the quiz section");
        assert!(concept[..quiz].contains("## Their lifetime"), "{concept}");
        assert!(
            concept.contains("scored: `lab quiz concepts/volumes`."),
            "{concept}"
        );
        assert!(
            concept.contains(
                "**1. Does `--rm` remove a named volume?** *(one answer)*\n\n1. Yes\n2. No\n\n\
                 <details>\n<summary>Answer</summary>\n\n**2**: No\n\nOnly anonymous ones.\n\n\
                 Read more: [Volumes › Their lifetime](../concepts/volumes.md#their-lifetime).\n\n</details>\n"
            ),
            "{concept}"
        );
        assert!(
            concept.contains(
                "**2. What does the last command print?** *(all that hold)*\n\n\
                 ```console\n$ docker volume create data\n$ docker volume ls\n```\n\n\
                 1. `data`\n2. *(nothing)*\n3. ```text\n   DRIVER    VOLUME NAME\n   local     data\n   ```\n"
            ),
            "{concept}"
        );
        assert!(
            concept.contains("**3**:\n\n```text\nDRIVER    VOLUME NAME\nlocal     data\n```\n\nA table."),
            "{concept}"
        );
        assert!(
            concept.contains("Read more: [Storing data › 1. The volumes there are](../labs/volumes.md#1-the-volumes-there-are)."),
            "{concept}"
        );
        assert!(chapters[1].content.contains("scored: `lab quiz volumes`."));
        assert_eq!(
            chapters[2].content,
            "# Quizzes\n\n| chapter | questions | in a terminal |\n|---|---|---|\n\
             | [Volumes](concepts/volumes.md#quiz) | 2 | `lab quiz concepts/volumes` |\n\
             | [Storing data](labs/volumes.md#quiz) | 2 | `lab quiz volumes` |\n"
        );
    }

    #[test]
    fn a_question_of_several_blocks_gets_only_its_number_bold() {
        let quiz = quiz::load::parse(
            Path::new("quizzes/concepts/images.toml"),
            &QUIZ.replace(
                "ask = \"Does `--rm` remove a named volume?\"",
                "ask = \"\"\"\nGiven:\n\n```dockerfile\nFROM busybox\n```\n\nHow many layers?\n\"\"\"",
            ),
        )
        .unwrap();
        let sections = Sections {
            chapters: HashMap::new(),
        };
        let md = question_markdown(1, &quiz.questions[0], "concepts/images.md", &sections);
        assert!(
            md.starts_with(
                "**1.** Given:\n\n```dockerfile\nFROM busybox\n```\n\nHow many layers? *(one answer)*\n\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn headings_get_mdbook_ids() {
        let found = headings("# Containers\n## Terminals: `-i` and `-t`\n## A trace\n## A trace\n");
        assert_eq!(found["terminals--i-and--t"], "Terminals: `-i` and `-t`");
        assert_eq!(found["a-trace-1"], "A trace");
        assert_eq!(link_from("quizzes.md", "concepts/x.md#y"), "concepts/x.md#y");
        assert_eq!(link_from("labs/x.md", "concepts/x.md"), "../concepts/x.md");
    }

    #[test]
    fn output_with_backticks_keeps_its_code() {
        assert_eq!(choice_markdown("a `b` c", true, ""), "``a `b` c``");
        assert_eq!(choice_markdown("`x`", true, ""), "`` `x` ``");
        assert_eq!(choice_markdown("```\nx", true, ""), "````text\n```\nx\n````");
        assert_eq!(choice_markdown("plain *markdown*", false, ""), "plain *markdown*");
    }

    #[test]
    fn a_chapter_without_a_quiz_or_a_quiz_without_a_chapter_is_a_problem() {
        let (_dir, paths) = repository();
        assert_eq!(problems(&paths).unwrap(), Vec::<String>::new());

        std::fs::write(paths.book.join("src/concepts/cgroups.md"), "# Cgroups\n").unwrap();
        std::fs::write(
            paths.scenarios.join("onbuild.toml"),
            LAB.replace("\"volumes\"", "\"onbuild\""),
        )
        .unwrap();
        std::fs::write(paths.quizzes.join("concepts/swarm.toml"), QUIZ).unwrap();
        std::fs::write(paths.quizzes.join("labs/gone.toml"), QUIZ).unwrap();
        std::fs::write(paths.quizzes.join("stray.toml"), QUIZ).unwrap();
        std::fs::write(
            paths.quizzes.join("labs/volumes.toml"),
            QUIZ.replace("answer = 2", "answer = 9"),
        )
        .unwrap();
        let problems = problems(&paths).unwrap();
        let said = problems.join("\n");
        assert_eq!(problems.len(), 6, "{said}");
        assert!(
            said.contains(
                "concepts/swarm.toml has no chapter: no concept chapter book/src/concepts/swarm.md"
            ),
            "{said}"
        );
        assert!(
            said.contains("labs/gone.toml has no chapter: no lab scenarios/gone.toml"),
            "{said}"
        );
        assert!(
            said.contains("the concept chapter book/src/concepts/cgroups.md has no quiz: write "),
            "{said}"
        );
        assert!(said.contains("the lab `onbuild` has no quiz: write "), "{said}");
        assert!(
            said.contains("labs/volumes.toml:6:10: question 1: answer 9 is not a choice"),
            "{said}"
        );
        assert!(
            said.contains("stray.toml: a quiz goes in concepts/ or labs/"),
            "{said}"
        );
    }
}
