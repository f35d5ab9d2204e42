//! `lab quiz`: a quiz asked in the terminal, one question at a time. The trainee types the
//! number of a choice (`2`), or several (`1,3`); lab says right or wrong, why, and where the book
//! teaches it, then the score. Input may come from a pipe (`printf '1\n2\n' | lab quiz volumes`):
//! lab then echoes each answer after its prompt, so the transcript reads as a session.

use std::io::{self, BufRead, Write};

use super::{Pick, Question, Quiz};
use crate::screen::{self, BOLD, DIM, GREEN, RED, TITLE};

/// How a quiz went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub right: usize,
    /// Questions answered (fewer than `total` when input ended or the trainee quit).
    pub answered: usize,
    pub total: usize,
}

/// Ask every question of `quiz`, reading answers from `input` (echoed when `echo`: input that
/// is not a terminal shows nothing by itself), and print the score.
pub fn take(quiz: &Quiz, input: &mut dyn BufRead, out: &mut dyn Write, echo: bool) -> io::Result<Score> {
    let total = quiz.questions.len();
    let title = format!("━━ Quiz · {} · {total} questions ", quiz.title);
    writeln!(
        out,
        "\n{TITLE}{title}{}{TITLE:#}",
        "━".repeat(72usize.saturating_sub(title.chars().count()))
    )?;
    writeln!(
        out,
        "{DIM}Type the number of your answer (several: `1,3`), then Enter; `q` stops.{DIM:#}"
    )?;
    let mut score = Score {
        right: 0,
        answered: 0,
        total,
    };
    'questions: for (index, question) in quiz.questions.iter().enumerate() {
        show_question(out, index + 1, total, question)?;
        let picked = loop {
            let prompt = match question.pick {
                Pick::One => "your answer",
                Pick::All => "your answers (all that hold)",
            };
            write!(out, "{BOLD}{prompt} ›{BOLD:#} ")?;
            out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                writeln!(out)?;
                break 'questions;
            }
            let line = line.trim();
            if echo {
                writeln!(out, "{line}")?;
            }
            if matches!(line, "q" | "quit") {
                break 'questions;
            }
            match parse_answer(line, question) {
                Ok(picked) => break picked,
                Err(why) => writeln!(out, "  {DIM}{why}{DIM:#}")?,
            }
        };
        score.answered += 1;
        if question.is_right(&picked) {
            score.right += 1;
            writeln!(out, "  {GREEN}✓ right{GREEN:#}")?;
        } else {
            writeln!(out, "  {RED}✗ not quite: {}{RED:#}", the_answer(question))?;
        }
        writeln!(out, "{}", indent(&screen::markdown(&question.explain), "    "))?;
        writeln!(out, "    {DIM}more in the book: {}{DIM:#}", question.see)?;
    }
    let unanswered = total - score.answered;
    let left = if unanswered > 0 {
        format!(" ({unanswered} not answered)")
    } else {
        String::new()
    };
    writeln!(
        out,
        "\n{TITLE}━━ Score: {}/{total}{left} ━━{TITLE:#}",
        score.right
    )?;
    Ok(score)
}

fn show_question(out: &mut dyn Write, number: usize, total: usize, question: &Question) -> io::Result<()> {
    writeln!(
        out,
        "\n{BOLD}Question {number} of {total}{BOLD:#}\n{}",
        screen::markdown(&question.ask)
    )?;
    if let Some(command) = &question.command {
        writeln!(out)?;
        for line in command.lines() {
            writeln!(out, "    {BOLD}$ {line}{BOLD:#}")?;
        }
    }
    writeln!(out)?;
    for (i, choice) in question.choices.iter().enumerate() {
        let text = if choice.trim().is_empty() {
            format!("{DIM}(nothing){DIM:#}")
        } else if question.is_prediction() {
            choice.trim_end().to_owned()
        } else {
            screen::markdown(choice)
        };
        let label = format!("  {}) ", i + 1);
        let pad = " ".repeat(label.chars().count());
        writeln!(out, "{label}{}", indent(&text, &pad).trim_start())?;
    }
    Ok(())
}

/// "the answer is 2", "the answers are 1 and 3".
fn the_answer(question: &Question) -> String {
    let numbers: Vec<String> = question.answer.iter().map(usize::to_string).collect();
    match numbers.as_slice() {
        [one] => format!("the answer is {one}"),
        [init @ .., last] => format!("the answers are {} and {last}", init.join(", ")),
        [] => unreachable!("a loaded question has a right answer"),
    }
}

/// What the trainee typed as choice numbers: `2`, `1,3`, `1 3`; or why it is not an answer.
pub fn parse_answer(line: &str, question: &Question) -> Result<Vec<usize>, String> {
    let count = question.choices.len();
    let example = match question.pick {
        Pick::One => "2",
        Pick::All => "1,3",
    };
    let mut picked = Vec::new();
    for word in line
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let Ok(number) = word.parse::<usize>() else {
            return Err(format!("`{word}` is not a choice's number: type e.g. {example}"));
        };
        if !(1..=count).contains(&number) {
            return Err(format!(
                "{number} is not a choice: they are numbered 1 to {count}"
            ));
        }
        if !picked.contains(&number) {
            picked.push(number);
        }
    }
    if picked.is_empty() {
        return Err(format!("type the number of your choice, e.g. {example}"));
    }
    if question.pick == Pick::One && picked.len() > 1 {
        return Err("one answer only: type a single number".into());
    }
    Ok(picked)
}

/// Each line after the first indented by `pad`, and the first too.
fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The quizzes as `lab quiz` lists them: the name to type, how many questions, the chapter.
pub fn list(out: &mut dyn Write, quizzes: &[Quiz]) -> io::Result<()> {
    let width = quizzes.iter().map(|q| q.name.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:<width$}  {:>9}  CHAPTER", "QUIZ", "QUESTIONS")?;
    for quiz in quizzes {
        writeln!(
            out,
            "{:<width$}  {:>9}  {}",
            quiz.name,
            quiz.questions.len(),
            quiz.title
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::quiz::load::parse;

    const QUIZ: &str = r#"title = "Volumes"

[[questions]]
ask = "Does `--rm` remove a named volume?"
choices = ["Yes", "No"]
answer = 2
explain = "Only anonymous ones."
see = "concepts/volumes.md#their-lifetime"

[[questions]]
ask = "What does the last command print?"
command = "docker volume create data\ndocker volume ls -q"
choices = ["data", "", "DRIVER    VOLUME NAME\nlocal     data"]
answer = 1
explain = "`-q` prints names only."
see = "concepts/volumes.md"

[[questions]]
ask = "Which remove a container's anonymous volumes?"
choices = ["`docker rm -v`", "`docker rm`", "`--rm`"]
answer = [1, 3]
explain = "`rm` alone leaves them."
see = "concepts/volumes.md#their-lifetime"
"#;

    fn quiz() -> Quiz {
        parse(Path::new("quizzes/concepts/volumes.toml"), QUIZ).unwrap()
    }

    fn take_with(input: &str) -> (Score, String) {
        let mut out = Vec::new();
        let score = take(&quiz(), &mut input.as_bytes(), &mut out, true).unwrap();
        // Colours go out as written; on a terminal anstream keeps them, elsewhere drops them.
        let text = String::from_utf8(strip_ansi_escapes::strip(out)).unwrap();
        (score, text)
    }

    #[test]
    fn answers_are_scored_and_explained() {
        let (score, out) = take_with("2\n3\n3,1\n");
        assert_eq!(
            score,
            Score {
                right: 2,
                answered: 3,
                total: 3
            }
        );
        assert!(out.contains("━━ Quiz · Volumes · 3 questions ━"), "{out}");
        assert!(out.contains("Question 2 of 3\nWhat does the last command print?\n\n    $ docker volume create data\n    $ docker volume ls -q\n"), "{out}");
        assert!(
            out.contains("  2) (nothing)\n  3) DRIVER    VOLUME NAME\n     local     data\n"),
            "{out}"
        );
        assert!(
            out.contains("your answer › 3\n  ✗ not quite: the answer is 1\n    `-q` prints names only.\n"),
            "{out}"
        );
        assert!(
            out.contains("your answers (all that hold) › 3,1\n  ✓ right\n"),
            "{out}"
        );
        assert!(
            out.contains("more in the book: concepts/volumes.md#their-lifetime"),
            "{out}"
        );
        assert!(out.ends_with("━━ Score: 2/3 ━━\n"), "{out}");
    }

    #[test]
    fn a_line_that_is_no_answer_is_asked_again() {
        let (score, out) = take_with("yes\n\n7\n1 2\n2\n1\n1\n");
        assert_eq!(score.right, 2);
        assert!(
            out.contains("`yes` is not a choice's number: type e.g. 2"),
            "{out}"
        );
        assert!(out.contains("type the number of your choice, e.g. 2"), "{out}");
        assert!(
            out.contains("7 is not a choice: they are numbered 1 to 2"),
            "{out}"
        );
        assert!(out.contains("one answer only: type a single number"), "{out}");
        assert!(out.contains("✗ not quite: the answers are 1 and 3"), "{out}");
    }

    #[test]
    fn the_end_of_input_or_q_stops_with_the_score_so_far() {
        let (score, out) = take_with("2\n");
        assert_eq!(
            score,
            Score {
                right: 1,
                answered: 1,
                total: 3
            }
        );
        assert!(out.ends_with("━━ Score: 1/3 (2 not answered) ━━\n"), "{out}");
        let (score, _) = take_with("2\nq\n1\n");
        assert_eq!(score.answered, 1);
    }

    #[test]
    fn typed_answers_parse_with_commas_or_spaces() {
        let quiz = quiz();
        let several = &quiz.questions[2];
        assert_eq!(parse_answer("1,3", several), Ok(vec![1, 3]));
        assert_eq!(parse_answer(" 3 1 ", several), Ok(vec![3, 1]));
        assert_eq!(parse_answer("1, 1", several), Ok(vec![1]));
        assert!(parse_answer("1;3", several).is_err());
        assert!(parse_answer("0", several).is_err());
    }

    #[test]
    fn the_list_names_what_to_type() {
        let mut lab = quiz();
        lab.name = "volumes".into();
        lab.title = "Storing container data".into();
        let mut out = Vec::new();
        list(&mut out, &[quiz(), lab]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "QUIZ              QUESTIONS  CHAPTER\n\
             concepts/volumes          3  Volumes\n\
             volumes                   3  Storing container data\n"
        );
    }
}
