//! Quizzes: a few questions per book chapter, one TOML file each, that a trainee answers in a
//! terminal (`lab quiz <name>`) and the book shows with their answers folded.
//!
//! ```toml
//! # quizzes/concepts/volumes.toml: the quiz of book/src/concepts/volumes.md
//! # (quizzes/labs/<id>.toml: the quiz of the lab <id>'s chapter)
//! title = "Volumes"
//!
//! [[questions]]
//! ask = "Does `--rm` remove a named volume the container used?"
//! choices = ["Yes", "No"]
//! answer = 2                      # one right choice; `answer = [1, 3]`: pick all that hold
//! explain = "Markdown, shown after answering and in the book's folded answer."
//! see = "concepts/volumes.md#their-lifetime"   # the book's section that teaches it
//!
//! [[questions]]
//! ask = "What does the last command print?"
//! command = "docker volume create data\ndocker volume ls -q"   # predict the output: choices are outputs
//! choices = ["data", ""]
//! answer = 1
//! explain = "…"
//! see = "concepts/volumes.md"
//! ```
//!
//! Loading and its placed errors are in [`load`]; asking in a terminal and scoring in [`ask`].

use std::path::PathBuf;

pub mod ask;
pub mod load;

pub use load::{QuizError, find, load, load_all};

/// The folder of concept chapters' quizzes (and of those chapters in the book).
pub const CONCEPTS: &str = "concepts";
/// The folder of labs' quizzes (and of the labs' chapters in the book).
pub const LABS: &str = "labs";

/// One chapter's quiz.
#[derive(Debug, Clone, PartialEq)]
pub struct Quiz {
    /// What `lab quiz` takes: a lab's id (`volumes`), or `concepts/<name>` for a concept chapter.
    pub name: String,
    pub kind: Kind,
    /// The file's name without `.toml`: the chapter's (`volumes`).
    pub stem: String,
    pub path: PathBuf,
    /// The chapter's title, as `lab quiz` names it.
    pub title: String,
    pub questions: Vec<Question>,
}

/// Which kind of chapter a quiz belongs to, from the folder its file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `quizzes/concepts/<name>.toml`: `book/src/concepts/<name>.md`.
    Concept,
    /// `quizzes/labs/<id>.toml`: the chapter of `scenarios/<id>.toml`.
    Lab,
}

impl Kind {
    /// The folder, under `quizzes/` and in the book.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Concept => CONCEPTS,
            Kind::Lab => LABS,
        }
    }
}

impl Quiz {
    /// The chapter's path in the book's sources (`concepts/volumes.md`, `labs/volumes.md`).
    pub fn chapter(&self) -> String {
        format!("{}/{}.md", self.kind.folder(), self.stem)
    }
}

/// One question: its choices, which of them are right, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The question, in Markdown.
    pub ask: String,
    /// For "predict the output": the commands shown (one a line); the choices are outputs.
    pub command: Option<String>,
    pub choices: Vec<String>,
    /// The right choices, numbered from 1, in order.
    pub answer: Vec<usize>,
    /// Whether the trainee picks one choice or all that hold (`answer = [..]`, even of one).
    pub pick: Pick,
    /// Why, in Markdown: shown after answering and in the book's answer.
    pub explain: String,
    /// The book's section that teaches it: `concepts/volumes.md#their-lifetime`.
    pub see: String,
}

/// How many choices a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// `answer = 2`: exactly one choice is right.
    One,
    /// `answer = [1, 3]`: every right choice, and only those.
    All,
}

impl Question {
    /// A "predict the output" question: it shows a command, and its choices are outputs.
    pub fn is_prediction(&self) -> bool {
        self.command.is_some()
    }

    /// Whether `picked` (numbers from 1, any order) is exactly the right choices.
    pub fn is_right(&self, picked: &[usize]) -> bool {
        let mut picked = picked.to_vec();
        picked.sort_unstable();
        picked.dedup();
        picked == self.answer
    }
}
