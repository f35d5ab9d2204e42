//! Dockerfile text to nodes, as Docker 20.10's parser (buildkit's `frontend/dockerfile/parser`) reads it.
//!
//! It handles the parser directives at the top (`# escape=`, `# syntax=`), a UTF-8 byte order mark,
//! CRLF line ends, comments, leading white space, line continuations with the escape character
//! (comment lines inside a continuation are dropped, empty ones draw a warning), case-insensitive
//! keywords, `--flags`, and each instruction's argument form (JSON exec form or shell form, words,
//! name/value pairs). Each node keeps its logical line as written and its first and last line.
//!
//! It does not know which keywords exist (an unknown one becomes a node without arguments, as in
//! Docker, refused later by [`super::instructions`]), nor validate arguments, nor expand variables.

mod arguments;
mod directives;
mod split_command;
#[cfg(test)]
mod tests;

pub use directives::DEFAULT_ESCAPE;
use directives::Directives;

/// The longest physical line Go's `bufio.Scanner` reads (64 KiB less one).
pub const MAX_LINE_LENGTH: usize = 64 * 1024 - 1;

/// How deep ONBUILD triggers are parsed inside each other: deeper text is kept unparsed.
/// (`ONBUILD ONBUILD …` is refused by the instructions anyway; this only bounds the work.)
const MAX_TRIGGER_DEPTH: usize = 8;

/// One instruction of a Dockerfile, its arguments in the form its keyword takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword, lower case (`run`); unknown keywords are kept too.
    pub keyword: String,
    /// `--name=value` flags given before the arguments.
    pub flags: Vec<String>,
    /// The arguments: ENV and LABEL as name, value, name, value…; HEALTHCHECK as its type then
    /// its command; quotes kept where the form keeps them.
    pub args: Vec<String>,
    /// Whether the arguments were a JSON array (the exec form).
    pub json: bool,
    /// ONBUILD's instruction.
    pub trigger: Option<Box<Node>>,
    /// The logical line: continuations joined, comments and the continuation escapes removed.
    pub original: String,
    /// The line (from 1) where the instruction starts.
    pub start_line: usize,
    /// The line where it ends (the last line of its continuations).
    pub end_line: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The instructions, in order (never empty).
    pub nodes: Vec<Node>,
    /// The escape character the file chose.
    pub escape: char,
    /// Warnings for the build's output, as Docker prints them (empty continuation lines).
    pub warnings: Vec<String>,
}

/// A Dockerfile Docker's parser refuses; the classic builder prints it after
/// "failed to parse Dockerfile: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The first line concerned (from 1).
    pub start_line: usize,
    /// The last line concerned.
    pub end_line: usize,
}

/// What the parser refuses, in Docker's words (each seen from Docker 20.10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// only one {0} parser directive can be used
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// invalid escape token '{0}' does not match ` or \
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscapeToken(String),
    /// file with no instructions
    #[error("file with no instructions")]
    NoInstructions,
    /// dockerfile line greater than max allowed size of 65535
    #[error("dockerfile line greater than max allowed size of {MAX_LINE_LENGTH}")]
    LineTooLong,
    /// when using JSON array syntax, arrays must be comprised of strings only
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// {0} must have two arguments
    #[error("{0} must have two arguments")]
    NameValueArguments(&'static str),
    /// Syntax error - can't find = in "{0}". Must be of the form: name=value
    #[error("Syntax error - can't find = in {}. Must be of the form: name=value", berth_api::go_quote::go_quote(.0))]
    MissingEquals(String),
}

impl ParseErrorKind {
    fn at(self, start_line: usize, end_line: usize) -> ParseError {
        ParseError {
            kind: self,
            start_line,
            end_line: end_line.max(start_line),
        }
    }
}

/// Parse a Dockerfile's bytes (invalid UTF-8 is read as U+FFFD).
pub fn parse(text: &[u8]) -> Result<Parsed, ParseError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut lines = PhysicalLines::new(text);
    let mut directives = Directives::new();
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut line_number = 0;

    while let Some(raw) = lines.next_line() {
        line_number += 1;
        let trimmed = raw.trim_start();
        directives
            .read_line(trimmed)
            .map_err(|kind| kind.at(line_number, 0))?;
        let start_line = line_number;
        let (mut line, mut continues) = trim_continuation(without_comment(trimmed), directives.escape);
        if !continues && line.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while continues {
            let Some(raw) = lines.next_line() else { break };
            line_number += 1;
            // (Directives are over: the line this one continues was not one.)
            if raw.trim_start().starts_with('#') {
                // A comment inside a continuation is dropped, and the line goes on.
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            // Unlike the first line, a continuation keeps its leading white space.
            let (part, more) = trim_continuation(&raw, directives.escape);
            line.push_str(&part);
            continues = more;
        }
        if empty_continuation {
            warnings.push(format!(
                "[WARNING]: Empty continuation line found in:\n    {line}"
            ));
        }
        let node =
            node_from_line(&line, directives.escape, 0).map_err(|kind| kind.at(start_line, line_number))?;
        nodes.push(Node {
            start_line,
            end_line: line_number,
            ..node
        });
    }
    if !warnings.is_empty() {
        warnings
            .push("[WARNING]: Empty continuation lines will become errors in a future release.".to_owned());
    }
    if nodes.is_empty() {
        return Err(ParseErrorKind::NoInstructions.at(line_number, 0));
    }
    if lines.too_long {
        return Err(ParseErrorKind::LineTooLong.at(line_number + 1, 0));
    }
    Ok(Parsed {
        nodes,
        escape: directives.escape,
        warnings,
    })
}

/// A line that starts with `#` (after its left white space) is all comment.
fn without_comment(line: &str) -> &str {
    if line.starts_with('#') { "" } else { line }
}

/// The line without its continuation escape (an escape character, then only spaces and tabs, at its
/// end, not itself escaped), and whether it continues.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        // Docker's pattern wants a character other than the escape before it, or nothing at all.
        if before.is_empty() || !before.ends_with(escape) {
            return (before.to_owned(), true);
        }
    }
    (line.to_owned(), false)
}

/// Build the node for one logical line; `depth` counts the ONBUILDs around it.
fn node_from_line(line: &str, escape: char, depth: usize) -> Result<Node, ParseErrorKind> {
    let split = split_command::split_command(line);
    let rest = split.rest.as_str();
    let mut trigger = None;
    let arguments = match split.keyword.as_str() {
        "add" | "copy" | "volume" => arguments::maybe_json_to_list(rest)?,
        "arg" => arguments::names_or_name_values(rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => arguments::maybe_json(rest)?,
        "env" => arguments::name_values(rest, "ENV", escape)?,
        "label" => arguments::name_values(rest, "LABEL", escape)?,
        "expose" | "from" => arguments::whitespace_delimited(rest),
        "healthcheck" => arguments::health_config(rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => arguments::string(rest),
        "onbuild" if rest.is_empty() => Default::default(),
        "onbuild" if depth >= MAX_TRIGGER_DEPTH => arguments::string(rest),
        "onbuild" => {
            trigger = Some(Box::new(node_from_line(rest, escape, depth + 1)?));
            Default::default()
        }
        // Docker keeps unknown instructions without arguments; the instructions refuse them.
        _ => Default::default(),
    };
    Ok(Node {
        keyword: split.keyword,
        flags: split.flags,
        args: arguments.args,
        json: arguments.json,
        trigger,
        original: line.to_owned(),
        start_line: 0,
        end_line: 0,
    })
}

/// The lines of the text as Go's `bufio.Scanner` gives them: split at `\n`, a `\r` before it
/// dropped, no line after a final `\n`; a line of 64 KiB or more ends the text with an error.
struct PhysicalLines<'t> {
    rest: Option<&'t [u8]>,
    /// Whether reading stopped at a line too long.
    too_long: bool,
}

impl<'t> PhysicalLines<'t> {
    fn new(text: &'t [u8]) -> Self {
        PhysicalLines {
            rest: (!text.is_empty()).then_some(text),
            too_long: false,
        }
    }

    /// The next line, if any.
    fn next_line(&mut self) -> Option<String> {
        let rest = self.rest?;
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &[][..]),
        };
        if line.len() > MAX_LINE_LENGTH {
            self.rest = None;
            self.too_long = true;
            return None;
        }
        self.rest = (!after.is_empty()).then_some(after);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some(String::from_utf8_lossy(line).into_owned())
    }
}

impl Node {
    /// The node as moby's parser test files print it: `(keyword ["--flag"] "arg" …)`, ONBUILD's
    /// trigger nested.
    pub fn dump(&self) -> String {
        let mut out = format!("({}", self.keyword);
        if !self.flags.is_empty() {
            let flags: Vec<String> = self
                .flags
                .iter()
                .map(|f| berth_api::go_quote::go_quote(f))
                .collect();
            out.push_str(&format!(" [{}]", flags.join(" ")));
        }
        if let Some(trigger) = &self.trigger {
            out.push(' ');
            out.push_str(&trigger.dump());
        }
        for arg in &self.args {
            out.push(' ');
            out.push_str(&berth_api::go_quote::go_quote(arg));
        }
        out.push(')');
        out
    }
}
