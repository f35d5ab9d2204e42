//! One chapter per lab, written at build time from `scenarios/<id>.toml` (resolved as `lab show`
//! resolves it) and the lab's sample run, so the book says what the scenario says and shows what
//! CI saw.
//!
//! The chapter whose source holds `{{#berth-labs}}` (book/src/labs/README.md) gets a table of
//! the labs in its place and one sub-chapter per lab, `labs/<id>.md`, in course order.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use berth_lab::scenario::{self, Scenario};
use berth_lab::show::{self, Shown, ShownStep};
use mdbook::book::{Book, BookItem, Chapter};
use mdbook::preprocess::{Preprocessor, PreprocessorContext};

use super::Paths;
use super::transcript::{self, StepRun};

/// Where the lab chapters go.
pub const MARKER: &str = "{{#berth-labs}}";
/// Where the legend of the sample runs' placeholders goes.
pub const PLACEHOLDERS_MARKER: &str = "{{#berth-placeholders}}";

pub struct LabsPreprocessor {
    scenarios: PathBuf,
    snapshots: PathBuf,
}

impl LabsPreprocessor {
    pub fn new(paths: &Paths) -> LabsPreprocessor {
        LabsPreprocessor {
            scenarios: paths.scenarios.clone(),
            snapshots: paths.snapshots.clone(),
        }
    }

    /// The labs' chapters, in course order.
    fn chapters(&self, parent: &Chapter) -> anyhow::Result<Vec<Chapter>> {
        let labs = scenario::load::load_all(&self.scenarios)
            .with_context(|| format!("load the scenarios in {}", self.scenarios.display()))?;
        let mut parent_names = parent.parent_names.clone();
        parent_names.push(parent.name.clone());
        let mut chapters = Vec::new();
        for (i, lab) in labs.iter().enumerate() {
            let runs = transcript::load(&self.snapshots, &lab.id)?;
            let mut chapter = Chapter::new(
                &lab.title,
                chapter_markdown(lab, runs.as_deref()),
                format!("labs/{}.md", lab.id),
                parent_names.clone(),
            );
            chapter.number = parent.number.as_ref().map(|n| {
                let mut number = n.clone();
                number.push(i as u32 + 1);
                number
            });
            chapters.push(chapter);
        }
        Ok(chapters)
    }
}

impl Preprocessor for LabsPreprocessor {
    fn name(&self) -> &str {
        "berth-labs"
    }

    fn run(&self, _ctx: &PreprocessorContext, mut book: Book) -> mdbook::errors::Result<Book> {
        self.add_labs(&mut book)
            .map_err(|e| mdbook::errors::Error::msg(format!("{e:#}")))?;
        Ok(book)
    }
}

impl LabsPreprocessor {
    /// Put the labs' table and chapters where the marker is.
    fn add_labs(&self, book: &mut Book) -> anyhow::Result<()> {
        let mut result = Ok(());
        book.for_each_mut(|item| {
            let BookItem::Chapter(chapter) = item else {
                return;
            };
            if let Some(content) =
                super::replace_marker_lines(&chapter.content, PLACEHOLDERS_MARKER, &placeholders_table())
            {
                chapter.content = content;
            }
            if result.is_err() || !chapter.content.lines().any(|l| l.trim() == MARKER) {
                return;
            }
            match self.chapters(chapter) {
                Ok(labs) => {
                    if let Some(content) =
                        super::replace_marker_lines(&chapter.content, MARKER, &labs_table(&labs))
                    {
                        chapter.content = content;
                    }
                    chapter.sub_items.extend(labs.into_iter().map(BookItem::Chapter));
                }
                Err(e) => result = Err(e),
            }
        });
        result
    }
}

/// The table replacing the marker: each lab, linked, with its time.
fn labs_table(labs: &[Chapter]) -> String {
    let mut table = String::from("| lab | about |\n|---|---|\n");
    for lab in labs {
        let path = lab.path.as_ref().expect("a lab chapter has a path");
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let minutes = lab
            .content
            .lines()
            .find_map(|l| l.strip_prefix("| time | about "))
            .map(|m| m.trim_end_matches(" |"))
            .unwrap_or("");
        let _ = writeln!(table, "| [{}]({file}) | {minutes} |", lab.name);
    }
    table
}

/// The legend of the placeholders the sample runs show, from the rules that put them there.
fn placeholders_table() -> String {
    let mut table = String::from("| in a sample run | stands for |\n|---|---|\n");
    for placeholder in berth_lab::redact::legend() {
        let _ = writeln!(
            table,
            "| `{}` | {} |",
            placeholder.shown,
            table_cell(placeholder.means)
        );
    }
    table
}

/// A lab's chapter: what it is about, how to start it, each step with its commands, checks,
/// hints (folded) and sample output, then what grading scores.
pub fn chapter_markdown(lab: &Scenario, runs: Option<&[StepRun]>) -> String {
    let shown = show::resolve(lab);
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n\n{}\n", shown.title, shown.summary.trim());
    md.push_str(&facts(&shown));
    let _ = writeln!(
        md,
        "\nStart it in a terminal, and follow the steps at its prompt (`hint` shows a hint, \
         `explain` what the engine did, `check` where you are):\n\n\
         ```console\n$ lab run {id}\n```\n\n\
         `lab run {id} --auto` plays the reference commands instead; `lab grade {id}` scores \
         what you did; `lab reset {id}` removes what the lab made.\n",
        id = shown.id
    );
    if shown.steps.iter().any(|s| !s.captures.is_empty()) {
        md.push_str(
            "A `${name}` in a command stands for a value lab reads from the engine during the \
             run (a volume's generated name, a container's address); each step says what it \
             reads.\n\n",
        );
    }
    let runs = match runs {
        Some(runs) => runs,
        None => {
            md.push_str(
                "> No sample run is recorded for this lab yet: `lab check` against berthd \
                 records it (labs/tests/it/check.rs).\n\n",
            );
            &[]
        }
    };
    for (step, source) in shown.steps.iter().zip(&lab.steps) {
        let run = runs
            .iter()
            .find(|r| r.number == step.number && r.title == step.title);
        md.push_str(&step_markdown(step, run));
        if let Some(trace) = &source.book_trace {
            // The trace_excerpts preprocessor expands it, with a link to its concept chapter.
            let _ = writeln!(
                md,
                "**What the engine did** in this step, in its own words (an excerpt):\n\n\
                 {{{{#trace {trace}}}}}\n"
            );
        }
    }
    if !shown.objectives.is_empty() {
        let _ = writeln!(
            md,
            "## What grading scores\n\n`lab grade {}` scores these on the engine's state when \
             you ask ({} points):\n\n| objective | points | scores when |\n|---|---|---|",
            shown.id, shown.max_points
        );
        for objective in &shown.objectives {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                table_cell(&objective.title),
                objective.points,
                table_cell(show::clause(&objective.done_when))
            );
        }
        md.push_str("\n<details>\n<summary>What lab checks for each objective</summary>\n\n");
        for objective in &shown.objectives {
            let _ = writeln!(md, "- {}:", objective.title);
            for check in &objective.checks {
                let _ = writeln!(md, "  - {check}");
            }
        }
        md.push_str("\n</details>\n\n");
    }
    md
}

/// The lab at a glance, as a table.
fn facts(shown: &Shown) -> String {
    let mut md = String::from("| | |\n|---|---|\n");
    let _ = writeln!(md, "| time | about {} minutes |", shown.minutes);
    if !shown.images.is_empty() {
        let images: Vec<String> = shown.images.iter().map(|i| format!("`{i}`")).collect();
        let _ = writeln!(md, "| images | {} |", images.join(", "));
    }
    let creates = serde_json::to_value(&shown.creates).unwrap_or_default();
    if let Some(kinds) = creates.as_object() {
        for (kind, names) in kinds {
            let names: Vec<String> = names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .map(|n| format!("`{n}`"))
                .collect();
            if !names.is_empty() {
                let _ = writeln!(md, "| {kind} it makes | {} |", table_cell(&names.join(", ")));
            }
        }
    }
    let _ = writeln!(md, "| points | {} |", shown.max_points);
    md
}

fn step_markdown(step: &ShownStep, run: Option<&StepRun>) -> String {
    let mut md = format!("## {}. {}\n\n{}\n\n", step.number, step.title, step.text.trim());
    if !step.commands.is_empty() {
        md.push_str("```console\n");
        for command in &step.commands {
            let _ = writeln!(md, "$ {}", command.run);
            for line in &command.input {
                let _ = writeln!(md, "> {line}");
            }
        }
        md.push_str("```\n\n");
        if step.commands.iter().any(|c| !c.input.is_empty()) {
            md.push_str("(A line after `>` is what you type into the command.)\n\n");
        }
    }
    if !step.done_when.is_empty() {
        let _ = writeln!(md, "**Done when** {}.\n", show::clause(&step.done_when));
    }
    if !step.checks.is_empty() {
        // The same, as lab checks it: the engine's terms, for the curious.
        md.push_str("<details>\n<summary>What lab checks</summary>\n\n");
        for check in &step.checks {
            let _ = writeln!(md, "- {check}");
        }
        md.push_str("\n</details>\n\n");
    }
    for capture in &step.captures {
        let _ = writeln!(md, "Then lab reads {capture}.\n");
    }
    for (i, hint) in step.hints.iter().enumerate() {
        let _ = writeln!(
            md,
            "<details>\n<summary>Hint {}</summary>\n\n{}\n\n</details>\n",
            i + 1,
            hint.trim()
        );
    }
    if let Some(run) = run {
        // A fence longer than any backtick run inside the output.
        let fence = "`".repeat(longest_backtick_run(&run.text).max(2) + 1);
        let _ = writeln!(
            md,
            "<details>\n<summary>A sample run (lab check, on berthd)</summary>\n\n\
             {fence}console\n{}{fence}\n\n\
             `[ID12]`, `[AGO]` and the like stand for what changes from run to run: see \
             [the sample runs](index.md#the-sample-runs).\n\n</details>\n",
            run.text
        );
    }
    md
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Text fit for one table cell: no line breaks, `|` escaped.
fn table_cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// The scenarios whose chapter did not make it into the built book, or whose sample run is
/// missing or no longer matches the scenario's steps.
pub fn missing_chapters(paths: &Paths) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for id in scenario::load::ids(&paths.scenarios)? {
        let page = paths.out.join(format!("labs/{id}.html"));
        if !page.is_file() {
            problems.push(format!(
                "scenario `{id}` has no chapter ({} is missing)",
                page.display()
            ));
        }
        let lab = scenario::load::find(&paths.scenarios, &id)?;
        match transcript::load(&paths.snapshots, &id)? {
            None => problems.push(format!(
                "lab `{id}` has no sample run ({}): record it with labs/tests/it/check.rs",
                transcript::snapshot_path(&paths.snapshots, &id).display()
            )),
            Some(runs) => {
                let titles: Vec<&str> = lab.steps.iter().map(|s| s.title.as_str()).collect();
                let ran: Vec<&str> = runs.iter().map(|r| r.title.as_str()).collect();
                if titles != ran {
                    problems.push(format!(
                        "lab `{id}`'s sample run has steps {ran:?}, its scenario {titles:?}: \
                         record it again with labs/tests/it/check.rs"
                    ));
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use mdbook::book::SectionNumber;

    use super::*;

    const LAB: &str = r#"id = "tiny"
title = "A tiny lab"
summary = "Run `busybox` once."
minutes = 5
images = ["busybox"]

[names]
box = "box"

[creates]
containers = ["${box}"]

[[steps]]
title = "Run it"
text = "Run a box."
commands = [
    "docker run --name ${box} busybox echo hi",
    { run = "docker exec -it ${box} sh", tty = true, input = ["ls", "exit"] },
]
checks = [{ container = "${box}", state = "exited", exit_code = 0 }]
done_when = "`${box}` has run and exited without an error"
captures = [{ var = "box_id", container = "${box}", id = true }]
hints = ["`docker run --name ${box} busybox echo hi`", "Second hint."]

[[objectives]]
title = "${box} ran"
points = 2
checks = [{ container = "${box}", state = "exited" }]
done_when = "`${box}` has exited"
"#;

    fn lab() -> Scenario {
        scenario::load::parse(std::path::Path::new("tiny.toml"), LAB).unwrap()
    }

    #[test]
    fn a_chapter_has_the_steps_commands_checks_and_folded_hints() {
        let md = chapter_markdown(&lab(), None);
        assert!(md.starts_with("# A tiny lab\n\nRun `busybox` once.\n"), "{md}");
        assert!(md.contains("$ lab run tiny\n"), "{md}");
        assert!(md.contains("| time | about 5 minutes |"), "{md}");
        assert!(md.contains("| containers it makes | `box` |"), "{md}");
        assert!(md.contains("## 1. Run it\n\nRun a box."), "{md}");
        assert!(
            md.contains("$ docker run --name box busybox echo hi\n$ docker exec -it box sh\n> ls\n> exit\n"),
            "{md}"
        );
        assert!(
            md.contains("**Done when** `box` has run and exited without an error.\n"),
            "{md}"
        );
        // The checks' own words stay, folded.
        assert!(
            md.contains("<summary>What lab checks</summary>\n\n- container `box` has exited with code 0"),
            "{md}"
        );
        assert!(
            md.contains("<details>\n<summary>Hint 1</summary>\n\n`docker run --name box busybox echo hi`\n\n</details>"),
            "{md}"
        );
        assert!(md.contains("<summary>Hint 2</summary>"), "{md}");
        assert!(md.contains("| box ran | 2 | `box` has exited |"), "{md}");
        assert!(
            md.contains("- box ran:\n  - container `box` has exited\n"),
            "{md}"
        );
        assert!(md.contains("No sample run is recorded"), "{md}");
    }

    #[test]
    fn the_sample_run_goes_under_its_step() {
        let runs = transcript::parse(
            "## 1. Run it\n$ docker run --name box busybox echo hi\nhi\n✓ container `box` has exited\n",
        );
        let md = chapter_markdown(&lab(), Some(&runs));
        let sample = md.find("A sample run").expect("a sample run");
        assert!(md[sample..].contains("```console\n$ docker run --name box busybox echo hi\nhi\n"));
        assert!(sample < md.find("## What grading scores").unwrap());
        assert!(!md.contains("No sample run is recorded"));
    }

    #[test]
    fn a_sample_run_of_other_steps_is_not_shown() {
        let runs = transcript::parse("## 1. An old title\n$ docker ps\n");
        let md = chapter_markdown(&lab(), Some(&runs));
        assert!(!md.contains("A sample run"), "{md}");
    }

    #[test]
    fn output_with_backticks_gets_a_longer_fence() {
        assert_eq!(longest_backtick_run("a ```` b ` c"), 4);
        let runs = transcript::parse("## 1. Run it\n$ echo '```'\n```\n");
        let md = chapter_markdown(&lab(), Some(&runs));
        assert!(md.contains("````console\n$ echo '```'\n```\n````"), "{md}");
    }

    #[test]
    fn the_preprocessor_adds_a_chapter_per_lab_in_course_order() {
        let dir = tempfile::tempdir().unwrap();
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir(&scenarios).unwrap();
        std::fs::write(scenarios.join("tiny.toml"), LAB).unwrap();
        std::fs::write(
            scenarios.join("alpha.toml"),
            LAB.replace("id = \"tiny\"", "id = \"alpha\"")
                .replace("A tiny lab", "Alpha"),
        )
        .unwrap();
        std::fs::write(scenarios.join("ORDER"), "tiny\nalpha\n").unwrap();
        let paths = Paths::of(dir.path());
        let paths = Paths { scenarios, ..paths };
        let mut parent = Chapter::new("Labs", format!("# Labs\n\n{MARKER}\n"), "labs/index.md", vec![]);
        parent.number = Some(SectionNumber(vec![3]));
        let mut book = Book::new();
        book.push_item(parent);
        LabsPreprocessor::new(&paths).add_labs(&mut book).unwrap();
        let BookItem::Chapter(parent) = &book.sections[0] else {
            unreachable!("the book starts with the labs chapter")
        };
        assert!(!parent.content.contains(MARKER), "{}", parent.content);
        assert!(
            parent.content.contains("| [Alpha](alpha.md) | 5 minutes |"),
            "{}",
            parent.content
        );
        let labs: Vec<&Chapter> = parent
            .sub_items
            .iter()
            .filter_map(|item| match item {
                BookItem::Chapter(c) => Some(c),
                _ => None,
            })
            .collect();
        let names: Vec<&str> = labs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A tiny lab", "Alpha"]);
        assert_eq!(
            labs[1].path.as_deref(),
            Some(std::path::Path::new("labs/alpha.md"))
        );
        assert_eq!(labs[1].number, Some(SectionNumber(vec![3, 2])));
        assert_eq!(labs[1].parent_names, ["Labs"]);
        assert!(labs[1].content.starts_with("# Alpha\n"));
    }

    #[test]
    fn the_placeholders_legend_comes_from_the_redaction() {
        let mut book = Book::new();
        book.push_item(Chapter::new(
            "Labs",
            format!("# Labs\n\n{PLACEHOLDERS_MARKER}\n"),
            "labs/index.md",
            vec![],
        ));
        let dir = tempfile::tempdir().unwrap();
        LabsPreprocessor::new(&Paths::of(dir.path()))
            .add_labs(&mut book)
            .unwrap();
        let BookItem::Chapter(labs) = &book.sections[0] else {
            unreachable!("the book has the labs chapter")
        };
        assert!(!labs.content.contains(PLACEHOLDERS_MARKER), "{}", labs.content);
        for placeholder in berth_lab::redact::legend() {
            assert!(
                labs.content.contains(&format!("| `{}` | ", placeholder.shown)),
                "{} is not explained:\n{}",
                placeholder.shown,
                labs.content
            );
        }
    }

    #[test]
    fn a_check_without_its_sentence_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::of(dir.path());
        std::fs::create_dir_all(&paths.scenarios).unwrap();
        let without = LAB.replace("done_when = \"`${box}` has exited\"\n", "");
        std::fs::write(paths.scenarios.join("tiny.toml"), without).unwrap();
        let error = format!("{:#}", missing_chapters(&paths).unwrap_err());
        assert!(
            error.contains("objective \"${box} ran\" has checks but no `done_when`"),
            "{error}"
        );
    }

    #[test]
    fn a_scenario_without_its_chapter_or_sample_run_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::of(dir.path());
        for d in [&paths.scenarios, &paths.snapshots, &paths.out.join("labs")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(paths.scenarios.join("tiny.toml"), LAB).unwrap();
        let problems = missing_chapters(&paths).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("scenario `tiny` has no chapter"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("lab `tiny` has no sample run"),
            "{problems:?}"
        );

        std::fs::write(paths.out.join("labs/tiny.html"), "<h1>A tiny lab</h1>").unwrap();
        let snapshot = transcript::snapshot_path(&paths.snapshots, "tiny");
        std::fs::write(&snapshot, "---\nsource: x\n---\n## 1. Run it\n$ docker ps\n").unwrap();
        assert_eq!(missing_chapters(&paths).unwrap(), Vec::<String>::new());

        // A sample run recorded before the scenario's steps changed.
        std::fs::write(&snapshot, "---\nsource: x\n---\n## 1. Old title\n$ docker ps\n").unwrap();
        let problems = missing_chapters(&paths).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("record it again"), "{problems:?}");
    }
}
