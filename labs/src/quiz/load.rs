//! Loading quiz files: TOML into a [`Quiz`], then the rules TOML can't express (every question
//! has a right answer among its choices, a link into the book). Every error names the place:
//! `quizzes/labs/volumes.toml:12:10: answer 5 is not a choice: the question has 4`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::{CONCEPTS, Kind, LABS, Pick, Question, Quiz};

/// Why a quiz could not be loaded or found.
#[derive(Debug, thiserror::Error)]
pub enum QuizError {
    /// the file or folder cannot be read
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// the file is malformed, at this place
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// no quiz has this name
    #[error("no such quiz: {name} (quizzes: {known})")]
    NotFound { name: String, known: String },
}

/// A quiz file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuizFile {
    title: String,
    #[serde(default)]
    questions: Vec<Spanned<QuestionFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionFile {
    ask: Spanned<String>,
    #[serde(default)]
    command: Option<String>,
    choices: Spanned<Vec<String>>,
    answer: Spanned<Answer>,
    explain: Spanned<String>,
    see: Spanned<String>,
}

/// `answer = 2` or `answer = [1, 3]`, before checking them against the choices.
enum Answer {
    One(i64),
    All(Vec<i64>),
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Answer, D::Error> {
        struct AnswerVisitor;
        impl<'de> Visitor<'de> for AnswerVisitor {
            type Value = Answer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a choice's number (`answer = 2`) or a list of them (`answer = [1, 3]`)")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Answer, E> {
                Ok(Answer::One(n))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Answer, A::Error> {
                let mut all = Vec::new();
                while let Some(n) = seq.next_element::<i64>()? {
                    all.push(n);
                }
                Ok(Answer::All(all))
            }
        }
        deserializer.deserialize_any(AnswerVisitor)
    }
}

/// Load and validate one quiz file; its folder says its kind, its name the chapter.
pub fn load(path: &Path) -> Result<Quiz, QuizError> {
    let source = std::fs::read_to_string(path).map_err(|source| QuizError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &source)
}

/// Parse and validate `source`, naming `path` in errors.
pub fn parse(path: &Path, source: &str) -> Result<Quiz, QuizError> {
    let invalid_at = |offset: usize, message: String| {
        let (line, column) = line_column(source, offset);
        QuizError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let file: QuizFile = toml::from_str(source).map_err(|e| {
        invalid_at(
            e.span().map(|s| s.start).unwrap_or(0),
            e.message().trim().to_owned(),
        )
    })?;
    let (kind, stem) = kind_and_stem(path).map_err(|message| invalid_at(0, message))?;
    if file.title.trim().is_empty() {
        return Err(invalid_at(0, "the quiz needs a `title`".into()));
    }
    if file.questions.is_empty() {
        return Err(invalid_at(0, "a quiz needs at least one [[questions]]".into()));
    }
    let mut questions = Vec::new();
    for (index, question) in file.questions.into_iter().enumerate() {
        let at = question.span().start;
        questions.push(question_of(question.into_inner()).map_err(|(offset, message)| {
            invalid_at(offset.unwrap_or(at), format!("question {}: {message}", index + 1))
        })?);
    }
    let name = match kind {
        Kind::Concept => format!("{CONCEPTS}/{stem}"),
        Kind::Lab => stem.clone(),
    };
    Ok(Quiz {
        name,
        kind,
        stem,
        path: path.to_owned(),
        title: file.title,
        questions,
    })
}

/// A question checked: an error is where it is (`None`: the question's start) and what is wrong.
fn question_of(file: QuestionFile) -> Result<Question, (Option<usize>, String)> {
    let not_empty = |field: &Spanned<String>, name: &str| {
        if field.get_ref().trim().is_empty() {
            Err((Some(field.span().start), format!("`{name}` is empty")))
        } else {
            Ok(())
        }
    };
    not_empty(&file.ask, "ask")?;
    not_empty(&file.explain, "explain")?;
    let choices_at = Some(file.choices.span().start);
    let choices = file.choices.into_inner();
    if choices.len() < 2 {
        return Err((choices_at, "a question needs at least 2 choices".into()));
    }
    if file.command.is_none() {
        if let Some(i) = choices.iter().position(|c| c.trim().is_empty()) {
            return Err((
                choices_at,
                format!("choice {} is empty (only a command's output may be)", i + 1),
            ));
        }
    }
    for (i, choice) in choices.iter().enumerate() {
        if choices[..i].contains(choice) {
            return Err((choices_at, format!("choice {} is there twice", i + 1)));
        }
    }
    let answer_at = Some(file.answer.span().start);
    let (numbers, pick) = match file.answer.into_inner() {
        Answer::One(n) => (vec![n], Pick::One),
        Answer::All(all) => (all, Pick::All),
    };
    if numbers.is_empty() {
        return Err((answer_at, "no right answer: `answer` lists none".into()));
    }
    let mut answer = Vec::new();
    for n in numbers {
        let number = usize::try_from(n)
            .ok()
            .filter(|&n| (1..=choices.len()).contains(&n));
        let Some(number) = number else {
            return Err((
                answer_at,
                format!(
                    "answer {n} is not a choice: the choices are numbered 1 to {}",
                    choices.len()
                ),
            ));
        };
        if answer.contains(&number) {
            return Err((answer_at, format!("answer {number} is listed twice")));
        }
        answer.push(number);
    }
    answer.sort_unstable();
    let see_at = Some(file.see.span().start);
    let see = file.see.into_inner();
    if !is_book_link(&see) {
        return Err((
            see_at,
            format!(
                "`see` must be a chapter of the book, as `concepts/volumes.md` or \
                 `labs/volumes.md#2-a-database-and-its-anonymous-volume`, not {see:?}"
            ),
        ));
    }
    Ok(Question {
        ask: file.ask.into_inner(),
        command: file.command.filter(|c| !c.trim().is_empty()),
        choices,
        answer,
        pick,
        explain: file.explain.into_inner(),
        see,
    })
}

/// A link into the book's sources: a relative `….md`, maybe with an `#anchor`.
fn is_book_link(see: &str) -> bool {
    let (page, anchor) = see.split_once('#').unwrap_or((see, ""));
    page.ends_with(".md")
        && !page.starts_with('/')
        && !page.contains("://")
        && !page.split('/').any(|part| part.is_empty() || part == "..")
        && !anchor.contains(char::is_whitespace)
}

/// `quizzes/concepts/volumes.toml` → (Concept, "volumes").
fn kind_and_stem(path: &Path) -> Result<(Kind, String), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let folder = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    let kind = match folder {
        CONCEPTS => Kind::Concept,
        LABS => Kind::Lab,
        _ => {
            return Err(format!(
                "a quiz file goes in `{CONCEPTS}/` (a concept chapter's) or `{LABS}/` (a lab's)"
            ));
        }
    };
    if !is_name(&stem) {
        return Err(format!(
            "{stem:?}: a quiz file's name is lower case letters, digits and `-`"
        ));
    }
    Ok((kind, stem))
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// The quiz files under `dir`: `concepts/*.toml` by name, then `labs/*.toml` by name.
pub fn paths(dir: &Path) -> Result<Vec<PathBuf>, QuizError> {
    let mut all = Vec::new();
    for folder in [CONCEPTS, LABS] {
        let folder = dir.join(folder);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(QuizError::Read { path: folder, source }),
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        all.extend(files);
    }
    if all.is_empty() && !dir.is_dir() {
        return Err(QuizError::Read {
            path: dir.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    Ok(all)
}

/// Every quiz under `dir`, loaded: concept chapters' then labs', each by name.
pub fn load_all(dir: &Path) -> Result<Vec<Quiz>, QuizError> {
    paths(dir)?.iter().map(|p| load(p)).collect()
}

/// The quiz `lab quiz <name>` means: `concepts/<name>` or `labs/<id>` as written; a bare name is
/// a lab's id, else a concept chapter's.
pub fn find(dir: &Path, name: &str) -> Result<Quiz, QuizError> {
    let candidates: Vec<PathBuf> = match name.split_once('/') {
        Some((folder, stem)) if [CONCEPTS, LABS].contains(&folder) && is_name(stem) => {
            vec![dir.join(folder).join(format!("{stem}.toml"))]
        }
        None if is_name(name) => [LABS, CONCEPTS]
            .iter()
            .map(|folder| dir.join(folder).join(format!("{name}.toml")))
            .collect(),
        _ => Vec::new(),
    };
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => load(path),
        None => Err(QuizError::NotFound {
            name: name.to_owned(),
            known: known_names(dir)?.join(", "),
        }),
    }
}

/// The names `lab quiz` takes, from the files (without loading them).
fn known_names(dir: &Path) -> Result<Vec<String>, QuizError> {
    Ok(paths(dir)?
        .iter()
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?;
            let (kind, _) = kind_and_stem(p).ok()?;
            Some(match kind {
                Kind::Concept => format!("{CONCEPTS}/{stem}"),
                Kind::Lab => stem.to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"title = "Volumes"

[[questions]]
ask = "Does `--rm` remove a named volume?"
choices = ["Yes", "No"]
answer = 2
explain = "Only anonymous ones."
see = "concepts/volumes.md#their-lifetime"

[[questions]]
ask = "What does the last command print?"
command = "docker volume create data\ndocker volume ls -q"
choices = ["data", ""]
answer = [1]
explain = "The name."
see = "labs/volumes.md"
"#;

    fn parse_as(name: &str, source: &str) -> Result<Quiz, String> {
        parse(Path::new(name), source).map_err(|e| e.to_string())
    }

    fn error(source: &str) -> String {
        parse_as("quizzes/concepts/volumes.toml", source).unwrap_err()
    }

    #[test]
    fn a_good_file_loads() {
        let quiz = parse_as("quizzes/concepts/volumes.toml", GOOD).unwrap();
        assert_eq!(quiz.name, "concepts/volumes");
        assert_eq!(quiz.kind, Kind::Concept);
        assert_eq!(quiz.chapter(), "concepts/volumes.md");
        assert_eq!(quiz.title, "Volumes");
        assert_eq!(quiz.questions.len(), 2);
        let first = &quiz.questions[0];
        assert_eq!((first.answer.as_slice(), first.pick), (&[2][..], Pick::One));
        assert!(!first.is_prediction());
        let second = &quiz.questions[1];
        assert_eq!((second.answer.as_slice(), second.pick), (&[1][..], Pick::All));
        assert_eq!(
            second.command.as_deref(),
            Some("docker volume create data\ndocker volume ls -q")
        );
        assert!(second.is_prediction());
        let lab = parse_as("quizzes/labs/volumes.toml", GOOD).unwrap();
        assert_eq!((lab.name.as_str(), lab.kind), ("volumes", Kind::Lab));
        assert_eq!(lab.chapter(), "labs/volumes.md");
    }

    #[test]
    fn a_question_with_no_right_answer_is_placed() {
        assert_eq!(
            error(&GOOD.replace("answer = [1]", "answer = []")),
            "quizzes/concepts/volumes.toml:14:10: question 2: no right answer: `answer` lists none"
        );
    }

    #[test]
    fn an_answer_out_of_range_is_placed() {
        assert_eq!(
            error(&GOOD.replace("answer = 2", "answer = 3")),
            "quizzes/concepts/volumes.toml:6:10: question 1: answer 3 is not a choice: the choices \
             are numbered 1 to 2"
        );
        assert!(error(&GOOD.replace("answer = 2", "answer = 0")).contains("answer 0 is not a choice"));
        assert!(error(&GOOD.replace("answer = [1]", "answer = [1, 1]")).contains("answer 1 is listed twice"));
    }

    #[test]
    fn an_answer_of_another_type_says_what_was_expected() {
        let said = error(&GOOD.replace("answer = 2", "answer = \"No\""));
        assert!(said.starts_with("quizzes/concepts/volumes.toml:6:10: "), "{said}");
        assert!(
            said.contains("expected a choice's number (`answer = 2`) or a list of them"),
            "{said}"
        );
    }

    #[test]
    fn too_few_or_empty_choices_are_placed() {
        assert_eq!(
            error(&GOOD.replace("choices = [\"Yes\", \"No\"]", "choices = [\"Yes\"]")),
            "quizzes/concepts/volumes.toml:5:11: question 1: a question needs at least 2 choices"
        );
        assert!(
            error(&GOOD.replace("\"Yes\", \"No\"", "\"Yes\", \" \""))
                .contains("question 1: choice 2 is empty (only a command's output may be)")
        );
        assert!(
            error(&GOOD.replace("\"Yes\", \"No\"", "\"No\", \"No\"")).contains("choice 2 is there twice")
        );
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let said = error(&GOOD.replace("explain = \"Only anonymous ones.\"\n", ""));
        assert!(said.contains("missing field `explain`"), "{said}");
        assert!(said.starts_with("quizzes/concepts/volumes.toml:3:1: "), "{said}");
        let said = error(&GOOD.replace("answer = 2", "answer = 2\nhint = \"x\""));
        assert!(
            said.starts_with("quizzes/concepts/volumes.toml:7:1: unknown field `hint`"),
            "{said}"
        );
    }

    #[test]
    fn a_syntax_error_is_placed() {
        let said = error(&GOOD.replace("answer = 2", "answer = 2 3"));
        assert!(said.starts_with("quizzes/concepts/volumes.toml:6:12: "), "{said}");
    }

    #[test]
    fn see_must_lead_into_the_book() {
        for bad in [
            "https://docs.docker.com/",
            "/concepts/volumes.md",
            "../README.md",
            "volumes",
        ] {
            let said = error(&GOOD.replace("concepts/volumes.md#their-lifetime", bad));
            assert!(
                said.contains("question 1: `see` must be a chapter of the book"),
                "{bad}: {said}"
            );
            assert!(said.starts_with("quizzes/concepts/volumes.toml:8:7: "), "{said}");
        }
    }

    #[test]
    fn a_quiz_needs_questions_and_its_folder() {
        assert_eq!(
            error("title = \"Empty\"\n"),
            "quizzes/concepts/volumes.toml:1:1: a quiz needs at least one [[questions]]"
        );
        assert!(
            parse_as("quizzes/volumes.toml", GOOD)
                .unwrap_err()
                .contains("a quiz file goes in `concepts/` (a concept chapter's) or `labs/` (a lab's)")
        );
        assert!(
            parse_as("quizzes/labs/Volumes.toml", GOOD)
                .unwrap_err()
                .contains("lower case")
        );
    }

    #[test]
    fn find_takes_a_lab_id_or_a_concept_chapter() {
        let dir = tempfile::tempdir().unwrap();
        for folder in [CONCEPTS, LABS] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
        }
        std::fs::write(dir.path().join("concepts/volumes.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("concepts/cgroups.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("labs/volumes.toml"), GOOD).unwrap();
        let find = |name| find(dir.path(), name).map(|q| q.path.strip_prefix(dir.path()).unwrap().to_owned());
        assert_eq!(find("volumes").unwrap(), Path::new("labs/volumes.toml"));
        assert_eq!(
            find("concepts/volumes").unwrap(),
            Path::new("concepts/volumes.toml")
        );
        assert_eq!(find("labs/volumes").unwrap(), Path::new("labs/volumes.toml"));
        assert_eq!(find("cgroups").unwrap(), Path::new("concepts/cgroups.toml"));
        for unknown in ["swarm", "concepts/swarm", "../concepts/volumes", "labs/cgroups"] {
            assert_eq!(
                find(unknown).unwrap_err().to_string(),
                format!("no such quiz: {unknown} (quizzes: concepts/cgroups, concepts/volumes, volumes)")
            );
        }
        let all = load_all(dir.path()).unwrap();
        let names: Vec<&str> = all.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["concepts/cgroups", "concepts/volumes", "volumes"]);
    }

    #[test]
    fn a_question_is_right_with_exactly_its_answers() {
        let quiz = parse_as(
            "quizzes/labs/volumes.toml",
            &GOOD.replace("answer = [1]", "answer = [2, 1]"),
        )
        .unwrap();
        let q = &quiz.questions[1];
        assert_eq!(q.answer, [1, 2]);
        assert!(q.is_right(&[2, 1]));
        assert!(q.is_right(&[1, 2, 2]));
        assert!(!q.is_right(&[1]));
        assert!(!q.is_right(&[1, 2, 3]));
    }
}
