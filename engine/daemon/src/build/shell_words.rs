//! Docker's word expansion for Dockerfile arguments (buildkit's `shell.Lex`: `ProcessWord`, `ProcessWords`).
//!
//! It replaces `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR:+word}`, `${VAR?}`, `${VAR:?word}` (the
//! words themselves expanded), removes quotes (nothing is special in `'…'`; in `"…"` only `$` and
//! the escape before `"`, `$` or itself), and resolves the escape character (`\` or `` ` ``). An
//! unset variable is empty; `$1`, `$@`, `$$` and other special parameters are names like any.
//! [`Lexer::process_words`] also splits the result into words at unquoted white space (EXPOSE).
//!
//! It is not a shell: no command substitution, globbing, arithmetic or `${#VAR}`. Which
//! instructions expand, and with which variables, is the instructions' and dispatcher's business
//! (see `Instruction::expand`). Unlike Go, whose stacks grow, nesting of `${…}` is bounded
//! ([`MAX_NESTING`]) so that no request can exhaust a thread's stack.

use std::collections::HashMap;

use berth_api::go_quote::go_quote;

/// How deep `${a:-${b:-…}}` may nest.
pub const MAX_NESTING: usize = 64;

/// A word Docker refuses to expand: `failed to process "${a": missing ':' in substitution`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {kind}", go_quote(word))]
pub struct ExpansionError {
    /// The word as written.
    pub word: String,
    /// What is wrong with it.
    pub kind: ExpansionErrorKind,
}

/// What is wrong with a word, in Docker's words (each seen from Docker 20.10 but the nesting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpansionErrorKind {
    /// unexpected end of statement while looking for matching single-quote
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    /// unexpected end of statement while looking for matching double-quote
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    /// syntax error: missing '}'
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// syntax error: bad substitution
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// missing ':' in substitution
    #[error("missing ':' in substitution")]
    MissingColon,
    /// unsupported modifier ({0}) in substitution
    #[error("unsupported modifier ({0}) in substitution")]
    UnsupportedModifier(char),
    /// {name}: {message} (`${name?message}`, `${name:?message}`)
    #[error("{name}: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The word given, or "is not allowed to be unset" / "is not allowed to be empty".
        message: String,
    },
    /// substitutions nested deeper than 64 (berth's bound; Docker has none)
    #[error("substitutions nested deeper than {MAX_NESTING}")]
    NestedTooDeep,
}

/// Variables as Docker's `BuildEnvs` reads `KEY=value` strings: the last of a name wins, a string
/// without `=` is a name with an empty value.
pub fn env_map<S: AsRef<str>>(env: &[S]) -> HashMap<String, String> {
    env.iter()
        .map(|entry| match entry.as_ref().split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => (entry.as_ref().to_owned(), String::new()),
        })
        .collect()
}

/// The expander of one Dockerfile: its escape character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
}

impl Lexer {
    /// An expander for a file whose escape character is `escape`.
    pub fn new(escape: char) -> Self {
        Lexer { escape }
    }

    /// `word` with its variables replaced and its quotes and escapes resolved (`ProcessWord`).
    pub fn process_word(&self, word: &str, env: &HashMap<String, String>) -> Result<String, ExpansionError> {
        self.process(word, env).map(|(word, _)| word)
    }

    /// `word` expanded, then split at white space outside quotes (`ProcessWords`).
    pub fn process_words(
        &self,
        word: &str,
        env: &HashMap<String, String>,
    ) -> Result<Vec<String>, ExpansionError> {
        self.process(word, env).map(|(_, words)| words)
    }

    fn process(
        &self,
        word: &str,
        env: &HashMap<String, String>,
    ) -> Result<(String, Vec<String>), ExpansionError> {
        // Go's text/scanner skips a byte order mark at the start.
        let chars = word.strip_prefix('\u{feff}').unwrap_or(word).chars().collect();
        let mut scanner = Scanner {
            chars,
            at: 0,
            escape: self.escape,
            env,
        };
        scanner.until(None, 0).map_err(|kind| ExpansionError {
            word: word.to_owned(),
            kind,
        })
    }
}

/// The expansion of one word, character by character.
struct Scanner<'e> {
    chars: Vec<char>,
    at: usize,
    escape: char,
    env: &'e HashMap<String, String>,
}

type Expanded<T> = Result<T, ExpansionErrorKind>;

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    /// Expand up to `stop` (consumed) or the end: the text, and its words. `depth` counts the `${`
    /// around this point.
    fn until(&mut self, stop: Option<char>, depth: usize) -> Expanded<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match c {
                '\'' => {
                    let quoted = self.single_quoted()?;
                    result.push_str(&quoted);
                    words.add_quoted(&quoted);
                }
                '"' => {
                    let quoted = self.double_quoted(depth)?;
                    result.push_str(&quoted);
                    words.add_quoted(&quoted);
                }
                '$' => {
                    let value = self.dollar(depth)?;
                    result.push_str(&value);
                    // A variable's value is split into words, as unquoted text is.
                    value.chars().for_each(|c| words.add(c));
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        // The escape makes the next character plain; at the very end it is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_plain(escaped);
                        result.push(escaped);
                    } else {
                        words.add(c);
                        result.push(c);
                    }
                }
            }
        }
        match stop {
            // Only `}` is ever looked for, and its caller reports it as a missing `}`.
            Some(_) => Err(ExpansionErrorKind::MissingBrace),
            None => Ok((result, words.finish())),
        }
    }

    /// `'…'`: everything as is; a single quote cannot be escaped inside.
    fn single_quoted(&mut self) -> Expanded<String> {
        self.next();
        let mut result = String::new();
        loop {
            match self.next() {
                None => return Err(ExpansionErrorKind::UnterminatedSingleQuote),
                Some('\'') => return Ok(result),
                Some(c) => result.push(c),
            }
        }
    }

    /// `"…"`: `$` expands; the escape makes `"`, `$` and itself plain and stays before anything else.
    fn double_quoted(&mut self, depth: usize) -> Expanded<String> {
        self.next();
        let mut result = String::new();
        loop {
            match self.peek() {
                None => return Err(ExpansionErrorKind::UnterminatedDoubleQuote),
                Some('"') => {
                    self.next();
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar(depth)?),
                Some(_) => {
                    let mut c = self.next().unwrap_or_default();
                    if c == self.escape {
                        match self.peek() {
                            // An escape at the very end is dropped (the quote is then unterminated).
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == self.escape => {
                                c = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    /// `$name`, `${name}`, `${name<modifier>word}`, at a `$`.
    fn dollar(&mut self, depth: usize) -> Expanded<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(self.lookup(&name).unwrap_or_default().to_owned());
        }
        self.next();
        match self.peek() {
            None => return Err(ExpansionErrorKind::MissingBrace),
            Some('{' | '}' | ':') => return Err(ExpansionErrorKind::BadSubstitution),
            Some(_) => {}
        }
        let name = self.name();
        match self.next() {
            Some('}') => Ok(self.lookup(&name).unwrap_or_default().to_owned()),
            Some('?') => {
                let word = self.word_until_brace(depth)?;
                match self.lookup(&name) {
                    Some(value) => Ok(value.to_owned()),
                    None => Err(required(name, word, "is not allowed to be unset")),
                }
            }
            Some(':') => {
                let modifier = self.next();
                let word = self.word_until_brace(depth)?;
                let value = self.lookup(&name);
                match modifier {
                    Some('+') => Ok(match value {
                        Some(value) if !value.is_empty() => word,
                        _ => String::new(),
                    }),
                    Some('-') => Ok(match value {
                        Some(value) if !value.is_empty() => value.to_owned(),
                        _ => word,
                    }),
                    Some('?') => match value {
                        None => Err(required(name, word, "is not allowed to be unset")),
                        Some("") => Err(required(name, word, "is not allowed to be empty")),
                        Some(value) => Ok(value.to_owned()),
                    },
                    // (An end here was already reported as a missing `}`.)
                    other => Err(ExpansionErrorKind::UnsupportedModifier(
                        other.unwrap_or('\u{fffd}'),
                    )),
                }
            }
            _ => Err(ExpansionErrorKind::MissingColon),
        }
    }

    /// The word of a `${name:-word}`, expanded, up to its `}`.
    fn word_until_brace(&mut self, depth: usize) -> Expanded<String> {
        if depth >= MAX_NESTING {
            return Err(ExpansionErrorKind::NestedTooDeep);
        }
        match self.until(Some('}'), depth + 1) {
            Ok((word, _)) => Ok(word),
            Err(ExpansionErrorKind::NestedTooDeep) => Err(ExpansionErrorKind::NestedTooDeep),
            // Whatever went wrong, reaching the end means the `}` is missing.
            Err(_) if self.peek().is_none() => Err(ExpansionErrorKind::MissingBrace),
            Err(other) => Err(other),
        }
    }

    /// A variable name: letters, digits and `_`; or digits only (`$1`); or one special parameter.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_numeric() {
                while let Some(digit) = self.peek().filter(|d| d.is_numeric()) {
                    self.next();
                    name.push(digit);
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.next();
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.next();
            name.push(c);
        }
        name
    }
}

fn required(name: String, word: String, otherwise: &str) -> ExpansionErrorKind {
    let message = if word.is_empty() {
        otherwise.to_owned()
    } else {
        word
    };
    ExpansionErrorKind::Required { name, message }
}

/// The words of an expansion: white space outside quotes and escapes separates them.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    /// An unquoted character: white space ends the word.
    fn add(&mut self, c: char) {
        if !c.is_whitespace() {
            self.add_plain(c);
        } else if self.in_word && !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
            self.in_word = false;
        }
    }

    /// A character that is part of the word whatever it is (escaped).
    fn add_plain(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    /// Quoted text: part of the word, spaces and all.
    fn add_quoted(&mut self, text: &str) {
        self.word.push_str(text);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        env_map(&[
            "A=1",
            "B=2",
            "EMPTY=",
            "SPACED=80 443/udp",
            "HOME=/root",
            "NOVALUE",
        ])
    }

    fn word(text: &str) -> String {
        Lexer::new('\\')
            .process_word(text, &env())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn error(text: &str) -> String {
        Lexer::new('\\')
            .process_word(text, &env())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn variables_expand() {
        let cases = [
            ("$A", "1"),
            ("${A}", "1"),
            ("x${A}y$B", "x1y2"),
            ("$UNSET", ""),
            ("${UNSET}", ""),
            ("$NOVALUE", ""),
            ("$", "$"),
            ("a$", "a$"),
            ("$ x", "$ x"),
            ("$1", ""),
            ("$$", ""),
            ("$A.$B", "1.2"),
            ("${A:-x}", "1"),
            ("${UNSET:-x}", "x"),
            ("${EMPTY:-x}", "x"),
            ("${A:+set}", "set"),
            ("${EMPTY:+set}", ""),
            ("${UNSET:+set}", ""),
            ("${UNSET:-${B:-z}}", "2"),
            ("${UNSET:-${UNSET2:-deep $A}}", "deep 1"),
            ("${UNSET:-'quoted }'}", "quoted }"),
            ("${A?}", "1"),
            ("${A:?}", "1"),
        ];
        for (text, expected) in cases {
            assert_eq!(word(text), expected, "{text}");
        }
    }

    #[test]
    fn quotes_and_escapes_as_docker() {
        // From `ENV … d="dq \"in\" \$HOME \\ \x"` Docker 20.10 made `d=dq "in" $HOME \ \x`.
        assert_eq!(word(r#""dq \"in\" \$HOME \\ \x""#), r#"dq "in" $HOME \ \x"#);
        assert_eq!(word("'single $A'"), "single $A");
        assert_eq!(word(r"esc\ aped"), "esc aped");
        assert_eq!(word(r"\$A"), "$A");
        assert_eq!(word(r#""$A""#), "1");
        assert_eq!(word(r#""${A}x""#), "1x");
        assert_eq!(word(r"trailing\"), "trailing");
        assert_eq!(word(r#"a"b"'c'"#), "abc");
        // With a backtick escape, `\` is a plain character.
        let backtick = Lexer::new('`');
        assert_eq!(backtick.process_word(r"c:\dir`$A", &env()).unwrap(), r"c:\dir$A");
        assert_eq!(backtick.process_word(r#""c`"d""#, &env()).unwrap(), r#"c"d"#);
    }

    #[test]
    fn words_split_after_expansion() {
        let lexer = Lexer::new('\\');
        // Docker 20.10: `ENV P="80 443/udp"` then `EXPOSE $P 8080` exposed 80, 443/udp and 8080.
        assert_eq!(lexer.process_words("$SPACED", &env()).unwrap(), ["80", "443/udp"]);
        assert_eq!(
            lexer.process_words(r#""$SPACED""#, &env()).unwrap(),
            ["80 443/udp"]
        );
        assert_eq!(lexer.process_words(r"a\ b  c", &env()).unwrap(), ["a b", "c"]);
        assert_eq!(lexer.process_words("  ", &env()).unwrap(), Vec::<String>::new());
        assert_eq!(lexer.process_words("'' x", &env()).unwrap(), ["x"]);
    }

    #[test]
    fn errors_read_as_dockers() {
        // Each as Docker 20.10 printed it for `ENV a=<word>` or `WORKDIR <word>`.
        assert_eq!(
            error("${b"),
            r#"failed to process "${b": missing ':' in substitution"#
        );
        assert_eq!(
            error("${}"),
            r#"failed to process "${}": syntax error: bad substitution"#
        );
        assert_eq!(
            error("${:x}"),
            r#"failed to process "${:x}": syntax error: bad substitution"#
        );
        assert_eq!(
            error("${b:xyz}"),
            r#"failed to process "${b:xyz}": unsupported modifier (x) in substitution"#
        );
        assert_eq!(
            error("${b!}"),
            r#"failed to process "${b!}": missing ':' in substitution"#
        );
        assert_eq!(
            error("${b?}"),
            r#"failed to process "${b?}": b: is not allowed to be unset"#
        );
        assert_eq!(error("${b:?oops}"), r#"failed to process "${b:?oops}": b: oops"#);
        assert_eq!(
            error("'abc"),
            r#"failed to process "'abc": unexpected end of statement while looking for matching single-quote"#
        );
        assert_eq!(
            error("\"abc"),
            r#"failed to process "\"abc": unexpected end of statement while looking for matching double-quote"#
        );
        assert_eq!(
            error("${b:-${c:-x}"),
            r#"failed to process "${b:-${c:-x}": syntax error: missing '}'"#
        );
        assert_eq!(
            error("${"),
            r#"failed to process "${": syntax error: missing '}'"#
        );
        assert_eq!(
            error("${EMPTY:?}"),
            r#"failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty"#
        );
        assert_eq!(
            error("${a:-'x}"),
            r#"failed to process "${a:-'x}": syntax error: missing '}'"#
        );
        assert_eq!(
            error("${a:-${}}"),
            r#"failed to process "${a:-${}}": syntax error: bad substitution"#
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}x{}", "${U:-".repeat(MAX_NESTING), "}".repeat(MAX_NESTING));
        assert_eq!(word(&deep), "x");
        let deeper = format!(
            "{}x{}",
            "${U:-".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        assert!(error(&deeper).ends_with("substitutions nested deeper than 64"));
        let huge = "${U:-\"".repeat(100_000);
        assert!(Lexer::new('\\').process_word(&huge, &env()).is_err());
    }

    #[test]
    fn the_deepest_nesting_fits_a_small_stack() {
        // A quarter of a tokio worker's 2 MiB, in an unoptimised build: room to spare in berthd.
        let deepest = format!("{}x{}", "${U:-\"".repeat(MAX_NESTING), "\"}".repeat(MAX_NESTING));
        let expanded = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || Lexer::new('\\').process_word(&deepest, &env()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(expanded.unwrap(), "x");
    }

    #[test]
    fn env_maps_as_build_envs() {
        let env = env_map(&["A=1", "A=2", "B", "C=x=y"]);
        assert_eq!(env["A"], "2");
        assert_eq!(env["B"], "");
        assert_eq!(env["C"], "x=y");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn any_word_is_answered(text in "[ab$ {}:+?\\-'\"\\\\`!1_]{0,64}", escape in prop_oneof![Just('\\'), Just('`')]) {
                let env = env_map(&["a=x y", "b="]);
                let lexer = Lexer::new(escape);
                let _ = lexer.process_word(&text, &env);
                let _ = lexer.process_words(&text, &env);
            }

            #[test]
            fn plain_words_are_themselves(text in "[a-zA-Z0-9/._-]{0,40}") {
                let env = HashMap::new();
                prop_assert_eq!(Lexer::new('\\').process_word(&text, &env).unwrap(), text);
            }
        }
    }
}
