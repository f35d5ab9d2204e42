//! The quizzes: every file in `quizzes/` loads with 5 to 8 questions, every lab has one, and
//! `lab quiz` lists them, asks one (answers from a pipe) and scores it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_lab::quiz::{self, Kind, Pick, Quiz};

use crate::common::{TempDir, lab, scenarios_dir};

fn quizzes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../quizzes")
}

/// `lab quiz ARGS` with `input` on its standard input (a pipe, not a terminal).
fn quiz_with(args: &[&str], input: &str) -> Output {
    let state = TempDir::new("berth-lab-state");
    let mut command: Command = lab(state.path());
    let mut child = command
        .arg("quiz")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The line a trainee types for each question: its right answer, or a wrong one.
fn answers(quiz: &Quiz, right: impl Fn(usize) -> bool) -> String {
    let mut lines = String::new();
    for (i, question) in quiz.questions.iter().enumerate() {
        let picked: Vec<usize> = if right(i) {
            question.answer.clone()
        } else {
            let wrong = (1..=question.choices.len()).find(|n| !question.answer.contains(n));
            vec![wrong.expect("a question has a wrong choice")]
        };
        let picked: Vec<String> = picked.iter().map(usize::to_string).collect();
        lines.push_str(&picked.join(","));
        lines.push('\n');
    }
    lines
}

#[test]
fn every_quiz_loads_and_every_lab_has_one() {
    let quizzes = quiz::load_all(&quizzes_dir()).expect("every quiz loads");
    for quiz in &quizzes {
        let n = quiz.questions.len();
        assert!((5..=8).contains(&n), "{} has {n} questions", quiz.path.display());
        for question in &quiz.questions {
            if question.pick == Pick::All {
                continue;
            }
            assert_eq!(question.answer.len(), 1, "{}: {}", quiz.name, question.ask);
        }
    }
    let labs = berth_lab::scenario::load::ids(&scenarios_dir()).unwrap();
    for id in &labs {
        let quiz = quiz::find(&quizzes_dir(), id).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(quiz.kind, Kind::Lab, "{id}");
    }
    let concepts = quizzes.iter().filter(|q| q.kind == Kind::Concept).count();
    assert!(concepts >= 8, "{concepts} concept quizzes");
}

#[test]
fn a_quiz_from_a_pipe_is_scored() {
    let volumes = quiz::find(&quizzes_dir(), "volumes").unwrap();
    let total = volumes.questions.len();

    let output = quiz_with(&["volumes"], &answers(&volumes, |_| true));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains(&format!("━━ Quiz · {} · {total} questions", volumes.title)),
        "{stdout}"
    );
    assert_eq!(stdout.matches("✓ right").count(), total, "{stdout}");
    assert!(
        stdout.contains(&format!("━━ Score: {total}/{total} ━━")),
        "{stdout}"
    );

    // The first answer wrong, and a line that is no answer, asked again.
    let input = format!("nope\n{}", answers(&volumes, |i| i != 0));
    let output = quiz_with(&["volumes"], &input);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("your answer › nope\n  `nope` is not a choice's number"),
        "{stdout}"
    );
    let right = volumes.questions[0].answer[0];
    assert!(
        stdout.contains(&format!("✗ not quite: the answer is {right}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("━━ Score: {}/{total} ━━", total - 1)),
        "{stdout}"
    );
}

#[test]
fn input_that_ends_early_scores_what_was_answered() {
    let cgroups = quiz::find(&quizzes_dir(), "concepts/cgroups").unwrap();
    let total = cgroups.questions.len();
    let first = answers(&cgroups, |_| true).lines().next().unwrap().to_owned();
    let output = quiz_with(&["concepts/cgroups"], &format!("{first}\n"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains(&format!("━━ Score: 1/{total} ({} not answered) ━━", total - 1)),
        "{stdout}"
    );
}

#[test]
fn without_a_chapter_it_lists_the_quizzes() {
    let output = quiz_with(&[], "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("QUIZ ") && lines[0].ends_with("QUESTIONS  CHAPTER"),
        "{stdout}"
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names[0], "concepts/architecture", "{stdout}");
    // The labs in course order, after the concept chapters.
    let labs = berth_lab::scenario::load::ids(&scenarios_dir()).unwrap();
    let listed: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| labs.iter().any(|l| l == n))
        .collect();
    assert_eq!(listed, labs, "{stdout}");
    assert!(stdout.ends_with("\n`lab quiz <QUIZ>` asks one.\n"), "{stdout}");
}

#[test]
fn an_unknown_quiz_lists_the_known_ones() {
    let output = quiz_with(&["swarm"], "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("lab: no such quiz: swarm (quizzes: concepts/architecture, concepts/cgroups, "),
        "{stderr}"
    );
    assert!(stderr.contains(", first-container, "), "{stderr}");
}
