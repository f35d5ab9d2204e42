//! Cut a Go template into tokens: text between actions, and the words inside `{{ … }}`.
//!
//! Follows Go's text/template lexer: `{{- ` and ` -}}` trim the spaces around an action,
//! `{{/* … */}}` is a comment, spaces between words matter (they separate arguments).

use super::ParseError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Text outside actions (already trimmed by trim markers).
    Text(String),
    /// `{{`
    LeftDelim,
    /// `}}`
    RightDelim,
    /// A run of spaces inside an action.
    Space,
    /// A function name.
    Ident(String),
    /// `if`, `range`, `end`, …
    Keyword(Keyword),
    /// `true` or `false`.
    Bool(bool),
    /// `.Name`, without the dot.
    Field(String),
    /// `$` or `$name`, with the dollar.
    Variable(String),
    /// `.` alone.
    Dot,
    /// A number as written (`42`, `0x1F`, `1.5e3`).
    Number(String),
    /// A character constant as written (`'a'`).
    Char(String),
    /// A quoted or raw string, unquoted.
    Str(String),
    /// `|`
    Pipe,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// `,`
    Comma,
    /// End of input.
    Eof,
}

/// The keywords of Go's template language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            "define" => Keyword::Define,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "if" => Keyword::If,
            "nil" => Keyword::Nil,
            "range" => Keyword::Range,
            "template" => Keyword::Template,
            "with" => Keyword::With,
            _ => return None,
        })
    }
}

/// A token and the byte offset where it starts in the template.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Turn template text into tokens.
pub fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    Lexer {
        text,
        pos: 0,
        tokens: Vec::new(),
        trim_next_text: false,
    }
    .run()
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    /// The last action ended with ` -}}`: drop leading spaces of the next text.
    trim_next_text: bool,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn line_at(&self, pos: usize) -> usize {
        1 + self.text[..pos].matches('\n').count()
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line_at(self.pos.min(self.text.len())),
            message: message.into(),
        }
    }

    fn push(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        while self.pos < self.text.len() {
            let start = self.pos;
            let end = self.rest().find(LEFT).map_or(self.text.len(), |i| self.pos + i);
            let mut text = &self.text[start..end];
            if self.trim_next_text {
                text = text.trim_start_matches(is_space);
                self.trim_next_text = false;
            }
            let after_delim = &self.text[end..];
            let trims_left = after_delim.len() >= 4
                && after_delim[LEFT.len()..].starts_with('-')
                && after_delim[LEFT.len() + 1..].starts_with(is_space);
            if trims_left {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                self.push(Tok::Text(text.to_string()), start);
            }
            self.pos = end;
            if end == self.text.len() {
                break;
            }
            self.pos += LEFT.len();
            if trims_left {
                self.pos += 2;
            }
            self.action(end)?;
        }
        let end = self.text.len();
        self.push(Tok::Eof, end);
        Ok(self.tokens)
    }

    /// Lex one action, from just after its `{{` (and trim marker) to its `}}`.
    fn action(&mut self, delim_pos: usize) -> Result<(), ParseError> {
        if self.rest().starts_with("/*") {
            return self.comment();
        }
        self.push(Tok::LeftDelim, delim_pos);
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Err(self.error("unclosed action"));
            };
            let start = self.pos;
            if rest.starts_with(RIGHT) {
                self.pos += RIGHT.len();
                self.push(Tok::RightDelim, start);
                return Ok(());
            }
            if is_space(c) {
                let run = rest.len() - rest.trim_start_matches(is_space).len();
                if rest[run..].starts_with("-}}") {
                    self.pos += run + 3;
                    self.trim_next_text = true;
                    self.push(Tok::RightDelim, start);
                    return Ok(());
                }
                if rest[..run].contains('\n') && rest[run..].is_empty() {
                    return Err(self.error("unclosed action"));
                }
                self.pos += run;
                self.push(Tok::Space, start);
                continue;
            }
            match c {
                '=' => self.single(Tok::Assign),
                ':' if rest.starts_with(":=") => {
                    self.pos += 2;
                    self.push(Tok::Declare, start);
                }
                '|' => self.single(Tok::Pipe),
                '(' => self.single(Tok::LeftParen),
                ')' => self.single(Tok::RightParen),
                ',' => self.single(Tok::Comma),
                '"' => self.quoted()?,
                '`' => self.raw_string()?,
                '\'' => self.char_constant()?,
                '$' => {
                    let len = 1 + self.word_len(1);
                    let name = rest[..len].to_string();
                    self.pos += len;
                    self.push(Tok::Variable(name), start);
                }
                '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => self.number(),
                '.' => {
                    let len = self.word_len(1);
                    if len == 0 {
                        self.single(Tok::Dot);
                    } else {
                        let name = rest[1..1 + len].to_string();
                        self.pos += 1 + len;
                        self.push(Tok::Field(name), start);
                    }
                }
                '+' | '-' | '0'..='9' => self.number(),
                c if is_alnum(c) => {
                    let len = self.word_len(0);
                    let word = &rest[..len];
                    let tok = match word {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        _ => Keyword::from_word(word)
                            .map_or_else(|| Tok::Ident(word.to_string()), Tok::Keyword),
                    };
                    self.pos += len;
                    self.push(tok, start);
                }
                c => return Err(self.error(format!("bad character U+{:04X} {c:?}", c as u32))),
            }
        }
    }

    fn single(&mut self, tok: Tok) {
        let start = self.pos;
        self.pos += 1;
        self.push(tok, start);
    }

    /// Length in bytes of the identifier starting `skip` bytes into the rest.
    fn word_len(&self, skip: usize) -> usize {
        let rest = &self.rest()[skip..];
        rest.find(|c: char| !is_alnum(c)).unwrap_or(rest.len())
    }

    fn comment(&mut self) -> Result<(), ParseError> {
        let Some(close) = self.rest().find("*/") else {
            return Err(self.error("unclosed comment"));
        };
        self.pos += close + 2;
        let rest = self.rest();
        if rest.starts_with(RIGHT) {
            self.pos += RIGHT.len();
        } else if rest.len() >= 4 && rest.starts_with(is_space) && rest[1..].starts_with("-}}") {
            self.pos += 4;
            self.trim_next_text = true;
        } else {
            return Err(self.error("comment ends before closing delimiter"));
        }
        Ok(())
    }

    fn number(&mut self) {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = self.pos;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        while let Some(&b) = bytes.get(end) {
            let exponent_sign =
                matches!(b, b'+' | b'-') && matches!(bytes[end - 1], b'e' | b'E' | b'p' | b'P');
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign {
                end += 1;
            } else {
                break;
            }
        }
        self.pos = end;
        self.push(Tok::Number(self.text[start..end].to_string()), start);
    }

    fn quoted(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let rest = self.rest();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\n' => break,
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    let literal = &rest[..=i];
                    let value = unquote(literal)
                        .ok_or_else(|| self.error(format!("bad string syntax: {literal}")))?;
                    self.pos += i + 1;
                    self.push(Tok::Str(value), start);
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(self.error("unterminated quoted string"))
    }

    fn raw_string(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let Some(close) = self.rest()[1..].find('`') else {
            return Err(self.error("unterminated raw quoted string"));
        };
        let value = self.rest()[1..1 + close].to_string();
        self.pos += close + 2;
        self.push(Tok::Str(value), start);
        Ok(())
    }

    fn char_constant(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let rest = self.rest();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\n' => break,
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => {
                    let literal = rest[..=i].to_string();
                    self.pos += i + 1;
                    self.push(Tok::Char(literal), start);
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(self.error("unterminated character constant"))
    }
}

/// Decode a Go quoted literal (`"a\tb"` or `'x'`) the way strconv.Unquote does.
pub fn unquote(literal: &str) -> Option<String> {
    let inner = literal.get(1..literal.len().checked_sub(1)?)?;
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Option<u32> {
            let digits: String = (0..n).filter_map(|_| chars.next()).collect();
            (digits.len() == n).then_some(())?;
            u32::from_str_radix(&digits, 16).ok()
        };
        match chars.next()? {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
            d @ '0'..='7' => {
                let rest: String = (0..2).filter_map(|_| chars.next()).collect();
                out.push(char::from_u32(
                    u32::from_str_radix(&format!("{d}{rest}"), 8).ok()?,
                )?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn fields_chain_without_spaces() {
        assert_eq!(
            toks("a{{.State.Running}}b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Field("State".into()),
                Tok::Field("Running".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn trim_markers_eat_surrounding_spaces() {
        assert_eq!(
            toks("x  {{- 1 -}}  y"),
            vec![
                Tok::Text("x".into()),
                Tok::LeftDelim,
                Tok::Number("1".into()),
                Tok::RightDelim,
                Tok::Text("y".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments_vanish() {
        assert_eq!(
            toks("a{{/* hi */}}b"),
            vec![Tok::Text("a".into()), Tok::Text("b".into()), Tok::Eof]
        );
    }

    #[test]
    fn strings_variables_and_keywords() {
        assert_eq!(
            toks(r#"{{range $k, $v := index . "a\tb" `raw`}}"#),
            vec![
                Tok::LeftDelim,
                Tok::Keyword(Keyword::Range),
                Tok::Space,
                Tok::Variable("$k".into()),
                Tok::Comma,
                Tok::Space,
                Tok::Variable("$v".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Ident("index".into()),
                Tok::Space,
                Tok::Dot,
                Tok::Space,
                Tok::Str("a\tb".into()),
                Tok::Space,
                Tok::Str("raw".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unclosed_action_is_an_error() {
        assert_eq!(lex("{{.ID").unwrap_err().message, "unclosed action");
    }
}
