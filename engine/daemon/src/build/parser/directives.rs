//! Parser directives: `# escape=`` ` `` and `# syntax=…` lines at the very top of a Dockerfile.
//!
//! They count only before anything else: the first line that is not a known directive (a comment,
//! a blank line, an instruction, an unknown `# key=value`) ends them for good. Names are
//! case-insensitive, and each may be given once. The classic builder reads `syntax` only to
//! refuse it twice; `escape` picks the character that escapes and continues lines.

use super::ParseErrorKind;

/// The escape character when no directive picks one.
pub const DEFAULT_ESCAPE: char = '\\';

/// The directive state while the top of the file is read.
#[derive(Debug)]
pub(super) struct Directives {
    /// The escape character: `\` or `` ` ``.
    pub escape: char,
    /// Whether directives are over (some other line came).
    done: bool,
    seen_escape: bool,
    seen_syntax: bool,
}

impl Directives {
    pub fn new() -> Self {
        Directives {
            escape: DEFAULT_ESCAPE,
            done: false,
            seen_escape: false,
            seen_syntax: false,
        }
    }

    /// Look at a line (its left white space trimmed) while directives may still come.
    pub fn read_line(&mut self, line: &str) -> Result<(), ParseErrorKind> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let seen = match name.to_ascii_lowercase().as_str() {
            "escape" => &mut self.seen_escape,
            "syntax" => &mut self.seen_syntax,
            _ => {
                self.done = true;
                return Ok(());
            }
        };
        let name = name.to_ascii_lowercase();
        if *seen {
            return Err(ParseErrorKind::DuplicateDirective(name));
        }
        *seen = true;
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => return Err(ParseErrorKind::InvalidEscapeToken(other.to_owned())),
            };
        }
        Ok(())
    }
}

/// Go's `\s`: ASCII white space but the vertical tab.
fn is_regex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// `# name = value` as Docker's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` reads it.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_regex_space);
    let name_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_end];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after_name = rest[name_end..].trim_start_matches(is_regex_space);
    let after_equals = after_name.strip_prefix('=')?;
    let value = after_equals.trim_matches(is_regex_space);
    if !value.is_empty() {
        return Some((name, value));
    }
    // Only white space after `=`: the lazy `(.+?)` still takes one character, the last one.
    let last = after_equals.char_indices().last()?.0;
    Some((name, &after_equals[last..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_read_as_dockers_pattern() {
        assert_eq!(directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(directive("#escape = \\  "), Some(("escape", "\\")));
        assert_eq!(directive("# ESCAPE=`"), Some(("ESCAPE", "`")));
        assert_eq!(
            directive("# syntax=docker/dockerfile:1"),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(directive("# escape= "), Some(("escape", " ")));
        assert_eq!(directive("# escape="), None);
        assert_eq!(directive("# 1escape=`"), None);
        assert_eq!(directive("# a comment"), None);
        assert_eq!(directive("FROM x"), None);
    }

    #[test]
    fn directives_end_at_the_first_other_line() {
        let mut directives = Directives::new();
        directives.read_line("# escape=`").unwrap();
        directives.read_line("# a comment").unwrap();
        directives.read_line("# escape=`").unwrap();
        assert_eq!(directives.escape, '`');
    }

    #[test]
    fn a_directive_twice_is_refused() {
        let mut directives = Directives::new();
        directives.read_line("# Syntax=a").unwrap();
        assert_eq!(
            directives.read_line("# syntax=b").unwrap_err().to_string(),
            "only one syntax parser directive can be used"
        );
    }
}
