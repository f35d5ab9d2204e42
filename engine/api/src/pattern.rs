//! Shell patterns as Docker's filters take them: Go's `path.Match`.
//!
//! `*` matches any run of characters but `/`, `?` one character but `/`, `[…]` one character of a
//! class (`[a-z]`, `[^0-9]`), and `\` makes the next character plain. A malformed pattern (an
//! unclosed class, a trailing `\`) matches nothing.
//!
//! The match is greedy chunk by chunk: the pattern is cut at its stars, and each piece between
//! them is matched at the first place it fits. Since a star never crosses a `/`, the first fit
//! is always as good as any later one, so no choice is ever taken back: the work is bounded by
//! the pattern's length times the text's (a pattern like `*a*a*a*a*b` against a long name costs
//! no more than a simple one), where trying every way to spread the stars is exponential.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text).unwrap_or(false)
}

/// A malformed pattern: Go's `filepath.ErrBadPattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Whether `pattern` is well formed, as Go (1.16 and later) checks a whole pattern before saying
/// it does not match: every class closed and not empty, ranges whole, no `\` at the end.
pub fn is_valid(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut rest = &chars[..];
    while let Some(&c) = rest.first() {
        rest = match c {
            '[' => match class(&rest[1..], None) {
                Ok((_, after)) => after,
                Err(BadPattern) => return false,
            },
            '\\' if rest.len() < 2 => return false,
            '\\' => &rest[2..],
            _ => &rest[1..],
        };
    }
    true
}

fn glob(mut pattern: &[char], mut text: &[char]) -> Result<bool, BadPattern> {
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = next_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star takes the rest of the text, if no `/` is in it.
            return Ok(!text.contains(&'/'));
        }
        // The chunk right here (needed when no star comes before it).
        if let Some(after) = chunk_at(chunk, text)? {
            // The last chunk must reach the end of the text; a star before it may help.
            if after.is_empty() || !pattern.is_empty() {
                text = after;
                continue;
            }
        }
        if star {
            // Further on: the star takes the characters skipped, none of them a `/`.
            for skip in 0..text.len() {
                if text[skip] == '/' {
                    break;
                }
                if let Some(after) = chunk_at(chunk, &text[skip + 1..])? {
                    if pattern.is_empty() && !after.is_empty() {
                        continue;
                    }
                    text = after;
                    continue 'chunks;
                }
            }
        }
        // No fit: the pattern does not match (a malformed rest still matches nothing).
        return Ok(false);
    }
    Ok(text.is_empty())
}

/// Split off the next chunk: whether stars lead it, the chunk up to the next star (outside a
/// class), and what follows.
fn next_chunk(mut pattern: &[char]) -> (bool, &[char], &[char]) {
    let mut star = false;
    while pattern.first() == Some(&'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_class = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' => i += 1,
            '[' => in_class = true,
            ']' => in_class = false,
            '*' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    let end = i.min(pattern.len());
    (star, &pattern[..end], &pattern[end..])
}

/// Match a star-free `chunk` at the start of `text`: the text after it, or `None`.
fn chunk_at<'t>(mut chunk: &[char], mut text: &'t [char]) -> Result<Option<&'t [char]>, BadPattern> {
    let mut fits = true;
    while let Some(&p) = chunk.first() {
        match p {
            '[' => {
                let c = text.first().copied();
                let (hit, after) = class(&chunk[1..], c)?;
                chunk = after;
                if !hit || c.is_none() {
                    fits = false;
                } else {
                    text = &text[1..];
                }
            }
            '?' => {
                chunk = &chunk[1..];
                match text.first() {
                    Some(&c) if c != '/' => text = &text[1..],
                    _ => fits = false,
                }
            }
            '\\' => {
                let escaped = *chunk.get(1).ok_or(BadPattern)?;
                chunk = &chunk[2..];
                if text.first() == Some(&escaped) {
                    text = &text[1..];
                } else {
                    fits = false;
                }
            }
            c => {
                chunk = &chunk[1..];
                if text.first() == Some(&c) {
                    text = &text[1..];
                } else {
                    fits = false;
                }
            }
        }
        // Read the whole chunk even once it cannot fit: a malformed one must say so.
    }
    Ok(fits.then_some(text))
}

/// A class after its `[`: whether `c` is in it, and the pattern after its `]`. `/` is in none.
fn class(body: &[char], c: Option<char>) -> Result<(bool, &[char]), BadPattern> {
    let (hit, rest) = class_members(body, c)?;
    Ok((hit && c != Some('/'), rest))
}

/// Whether `c` is among a class's members (after its `[`, `^` negating), and the pattern after
/// its `]`; `/` is a character like any. `.dockerignore` patterns, which Docker turns into
/// regular expressions, match classes this way.
pub(crate) fn class_members(mut body: &[char], c: Option<char>) -> Result<(bool, &[char]), BadPattern> {
    let negated = body.first() == Some(&'^');
    if negated {
        body = &body[1..];
    }
    let mut hit = false;
    let mut ranges = 0;
    loop {
        match body.first() {
            None => return Err(BadPattern),
            Some(']') if ranges > 0 => break,
            _ => {}
        }
        let (lo, rest) = class_char(body)?;
        body = rest;
        let mut hi = lo;
        if body.first() == Some(&'-') {
            let (end, rest) = class_char(&body[1..])?;
            hi = end;
            body = rest;
        }
        if c.is_some_and(|c| lo <= c && c <= hi) {
            hit = true;
        }
        ranges += 1;
    }
    // Past the `]`.
    Ok((hit != negated, &body[1..]))
}

/// One character of a class, `\`-escaped or plain.
fn class_char(body: &[char]) -> Result<(char, &[char]), BadPattern> {
    match body {
        [] | ['-' | ']', ..] => Err(BadPattern),
        ['\\', c, rest @ ..] => Ok((*c, rest)),
        ['\\'] => Err(BadPattern),
        [c, rest @ ..] => Ok((*c, rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_go_path_match() {
        // (pattern, text, matches): cases from Go's documented semantics.
        let cases = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("*x", "xxx", true),
            ("busy*", "busybox", true),
            ("*/*", "example/app", true),
            ("*", "example/app", false),
            // Malformed: nothing matches.
            ("[", "a", false),
            ("[^", "a", false),
            ("[^bc", "a", false),
            ("a[", "a", false),
            ("a\\", "a", false),
            ("[]a]", "]", false),
            ("[-]", "-", false),
            ("[x-]", "x", false),
            ("[a-b-c]", "a", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} against {text:?}");
        }
    }

    #[test]
    fn malformed_patterns_are_found_wherever_they_are() {
        for valid in ["abc", "a*b?", "[a-z]x", "[^a]", "\\*", "[[]", "x]", "-"] {
            assert!(is_valid(valid), "{valid:?}");
        }
        for malformed in [
            "[", "a[", "[^", "[^bc", "a\\", "[]a]", "[-]", "[x-]", "[a-b-c]", "ok*[z",
        ] {
            assert!(!is_valid(malformed), "{malformed:?}");
        }
    }

    #[test]
    fn many_stars_end_as_soon_as_one() {
        // A matcher that tries every way to spread the stars would not end in a lifetime; this
        // one must (the minute is a watchdog, not a measure).
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pattern = format!("{}b", "*a".repeat(30));
            let _ = done.send(matches(&pattern, &"a".repeat(5_000)));
        });
        let result = finished.recv_timeout(std::time::Duration::from_secs(60));
        assert_eq!(result, Ok(false));
    }
}

/// Property tests: any pattern against any text is answered, and small ones answer as a matcher
/// that tries every way to place the stars (exponential, so only on small inputs).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::matches;

    /// The obvious recursive matcher, for well-formed patterns of `a`, `b`, `/`, `*` and `?`.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| reference(&p[1..], &t[i..])),
            Some('?') => t.first().is_some_and(|&c| c != '/') && reference(&p[1..], &t[1..]),
            Some(&c) => t.first() == Some(&c) && reference(&p[1..], &t[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn any_pattern_is_answered(pattern in "\\PC{0,40}", text in "\\PC{0,60}") {
            let _ = matches(&pattern, &text);
        }

        #[test]
        fn small_patterns_match_as_the_obvious_matcher(pattern in "[ab/*?]{0,8}", text in "[ab/]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(matches(&pattern, &text), reference(&p, &t), "{} against {}", pattern, text);
        }
    }
}
