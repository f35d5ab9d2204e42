//! One `.dockerignore` pattern matched against a path as Docker 20.10 matches it: Docker turns
//! the pattern into a regular expression (`fileutils.Pattern.compile`), and this matcher accepts
//! the same paths without one.
//!
//! `*` is any run of characters but `/`, `?` one character but `/`, `**` any run at all and `**/`
//! any run of whole directories (none included), a `**` at the end anything; `[…]` is a class
//! (where, unlike `path.Match`, `/` may match a negated class); `\` makes the next character
//! plain. Docker passes other regular-expression characters (`+`, `(`, `|`, `{`, `^`) through
//! unescaped, so that `a+` would match `aa`: here they are plain characters, as the pattern's
//! author meant. The match is a table over pattern × path, so its cost is bounded.

use crate::pattern::class_members;

/// A piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One given character.
    Char(char),
    /// `?`: one character but `/`.
    AnyChar,
    /// `[…]`: its text after the `[`, up to and with the `]`.
    Class(Vec<char>),
    /// `*`: any run of characters but `/`.
    Star,
    /// `**/` or an inner `**`: nothing, or any run of characters ending with a `/`.
    AnyDirectories,
    /// `**` at the end: anything.
    Anything,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathPattern {
    tokens: Vec<Token>,
}

impl PathPattern {
    /// Compile a pattern that `pattern::is_valid` accepted.
    pub fn new(pattern: &str) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut at = 0;
        while let Some(&c) = chars.get(at) {
            at += 1;
            match c {
                '*' if chars.get(at) == Some(&'*') => {
                    at += 1;
                    // `**/` is `**`.
                    if chars.get(at) == Some(&'/') {
                        at += 1;
                    }
                    tokens.push(if at == chars.len() {
                        Token::Anything
                    } else {
                        Token::AnyDirectories
                    });
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::AnyChar),
                '\\' => {
                    // A `\` at the end (refused earlier) stands for itself.
                    tokens.push(Token::Char(chars.get(at).copied().unwrap_or('\\')));
                    at += 1;
                }
                '[' => {
                    let end = class_end(&chars[at..]).map_or(chars.len(), |len| at + len);
                    tokens.push(Token::Class(chars[at..end].to_vec()));
                    at = end;
                }
                c => tokens.push(Token::Char(c)),
            }
        }
        PathPattern { tokens }
    }

    /// Whether the whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        let len = text.len();
        // `next[j]`: whether the tokens after the current one match `text[j..]`; built from the
        // last token back to the first.
        let mut next: Vec<bool> = (0..=len).map(|j| j == len).collect();
        for token in self.tokens.iter().rev() {
            let mut here = vec![false; len + 1];
            // Whether some `/` at or after `j` is followed by a match of the next tokens.
            let mut slash_then_next = false;
            for j in (0..=len).rev() {
                let c = text.get(j).copied();
                slash_then_next |= c == Some('/') && next[j + 1];
                here[j] = match token {
                    Token::Char(want) => c == Some(*want) && next[j + 1],
                    Token::AnyChar => c.is_some_and(|c| c != '/') && next[j + 1],
                    Token::Class(body) => {
                        c.is_some_and(|c| class_members(body, Some(c)).is_ok_and(|(hit, _)| hit))
                            && next[j + 1]
                    }
                    Token::Star => next[j] || (c.is_some_and(|c| c != '/') && here[j + 1]),
                    Token::Anything => next[j] || (c.is_some() && here[j + 1]),
                    // Nothing, or up to and with some `/` further on.
                    Token::AnyDirectories => next[j] || slash_then_next,
                };
            }
            next = here;
        }
        next[0]
    }
}

/// The length of a class's text after its `[`, up to and with its `]`.
fn class_end(body: &[char]) -> Option<usize> {
    let (_, after) = class_members(body, None).ok()?;
    Some(body.len() - after.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_dockers_regular_expressions() {
        // (pattern, path, matches), from Docker's fileutils tests and its regexp translation.
        let cases = [
            ("*.log", "a.log", true),
            ("*.log", "dir/a.log", false),
            ("**/*.log", "a.log", true),
            ("**/*.log", "dir/sub/a.log", true),
            ("**", "anything/at/all", true),
            ("**/", "a/b", true),
            ("dir/**", "dir/a/b", true),
            ("dir/**", "dir", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/xb", false),
            ("**/temp*", "x/y/temp1", true),
            ("*/temp*", "x/temp1", true),
            ("*/temp*", "x/y/temp1", false),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a]x", "/x", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("a.b", "axb", false),
            ("a$", "a$", true),
            ("a+", "aa", false),
            ("a+", "a+", true),
            (".git", ".git", true),
            ("é*", "éa", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                PathPattern::new(pattern).matches(path),
                expected,
                "{pattern:?} against {path:?}"
            );
        }
    }

    #[test]
    fn long_paths_and_many_stars_end() {
        let pattern = PathPattern::new(&"**/a*".repeat(40));
        assert!(!pattern.matches(&"a/".repeat(2000)));
    }
}
