//! How each instruction's argument text becomes its list of arguments (buildkit's `line_parsers.go`).
//!
//! The forms: white-space separated words (FROM, EXPOSE), one string (USER, WORKDIR), maybe-JSON
//! (RUN, CMD: an exec array, or else the text as one shell string), maybe-JSON to a list (COPY,
//! VOLUME: an array, or else words), name/value pairs (ENV, LABEL: `k v` or `k=v k2=v2`), quoted
//! words (ARG) and HEALTHCHECK's type before a maybe-JSON command. Quotes are kept: they are
//! removed later, by the word expansion, for the instructions that expand.

use super::ParseErrorKind;

/// The arguments of one instruction, and whether they came as a JSON array.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Arguments {
    pub args: Vec<String>,
    pub json: bool,
}

impl Arguments {
    fn words(args: Vec<String>) -> Self {
        Arguments { args, json: false }
    }
}

/// Docker's `reWhitespace`: `[\t\v\f\r ]+`.
fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Words split at runs of `[\t\v\f\r ]`, as Go's `regexp.Split(rest, -1)`.
pub(super) fn whitespace_delimited(rest: &str) -> Arguments {
    if rest.is_empty() {
        return Arguments::default();
    }
    Arguments::words(split_separators(rest, usize::MAX))
}

/// At most `limit` pieces split at runs of `[\t\v\f\r ]` (leading and trailing runs give empty pieces).
pub(super) fn split_separators(text: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while pieces.len() + 1 < limit {
        let Some(start) = rest.find(is_separator) else {
            break;
        };
        let end = rest[start..]
            .find(|c| !is_separator(c))
            .map_or(rest.len(), |n| start + n);
        pieces.push(rest[..start].to_owned());
        rest = &rest[end..];
    }
    pieces.push(rest.to_owned());
    pieces
}

/// The whole text as one argument.
pub(super) fn string(rest: &str) -> Arguments {
    if rest.is_empty() {
        return Arguments::default();
    }
    Arguments::words(vec![rest.to_owned()])
}

/// A JSON array of strings, or `None` when the text is not one (then another form is tried).
fn json_array(rest: &str) -> Result<Option<Vec<String>>, ParseErrorKind> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') || nesting_too_deep(rest) {
        return Ok(None);
    }
    // Only the first JSON value counts, as Go's decoder reads it: text after the array is ignored.
    let Ok(serde_json::Value::Array(items)) = crate::go_json::first_value(rest.as_bytes()) else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(ParseErrorKind::NotStringArray),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Whether brackets nest deeper than serde_json reads (128): such text is taken as not JSON.
/// (Go's decoder would read up to 10000 levels and then refuse the non-string items.)
fn nesting_too_deep(text: &str) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => in_string = true,
            (false, b'[' | b'{') => {
                depth += 1;
                if depth > 128 {
                    return true;
                }
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            (false, _) => {}
        }
    }
    false
}

/// RUN, CMD, ENTRYPOINT, SHELL: an exec array, or the text as one shell string.
pub(super) fn maybe_json(rest: &str) -> Result<Arguments, ParseErrorKind> {
    if rest.is_empty() {
        return Ok(Arguments::default());
    }
    Ok(match json_array(rest)? {
        Some(args) => Arguments { args, json: true },
        None => string(rest),
    })
}

/// COPY, ADD, VOLUME: a JSON array, or white-space separated words.
pub(super) fn maybe_json_to_list(rest: &str) -> Result<Arguments, ParseErrorKind> {
    Ok(match json_array(rest)? {
        Some(args) => Arguments { args, json: true },
        None => whitespace_delimited(rest),
    })
}

/// HEALTHCHECK: its type (`CMD`, `NONE`), then a maybe-JSON command.
pub(super) fn health_config(rest: &str) -> Result<Arguments, ParseErrorKind> {
    let type_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if type_end == 0 {
        return Ok(Arguments::default());
    }
    let command = maybe_json(rest[type_end..].trim_start())?;
    let mut args = vec![rest[..type_end].to_owned()];
    args.extend(command.args);
    Ok(Arguments {
        args,
        json: command.json,
    })
}

/// ENV and LABEL: `name value` (the old form, the value being the rest of the line) or
/// `name=value …`. Flattened to name, value, name, value…
pub(super) fn name_values(
    rest: &str,
    keyword: &'static str,
    escape: char,
) -> Result<Arguments, ParseErrorKind> {
    let words = quoted_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Arguments::default());
    };
    if !first.contains('=') {
        let parts = split_separators(rest, 2);
        if parts.len() < 2 {
            return Err(ParseErrorKind::NameValueArguments(keyword));
        }
        return Ok(Arguments::words(parts));
    }
    let mut args = Vec::with_capacity(words.len() * 2);
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(ParseErrorKind::MissingEquals(word));
        };
        args.push(name.to_owned());
        args.push(value.to_owned());
    }
    Ok(Arguments::words(args))
}

/// ARG: quoted words, each `name` or `name=value`.
pub(super) fn names_or_name_values(rest: &str, escape: char) -> Arguments {
    Arguments::words(quoted_words(rest, escape))
}

/// Words separated by white space where quotes and the escape character keep spaces in a word.
/// The quotes and escapes stay in the words (buildkit's `parseWords`).
pub(super) fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether the word is kept even when empty (it had quotes).
    let mut keep_empty = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if keep_empty || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                keep_empty = false;
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    keep_empty = true;
                }
                if c == escape {
                    // An escape keeps itself and the next character, even a quote; at the end it is dropped.
                    let Some(next) = chars.next() else { break };
                    word.push(c);
                    word.push(next);
                    continue;
                }
                word.push(c);
            }
            Some(open) => {
                if c == open {
                    quote = None;
                }
                // In double quotes the escape keeps the next character; in single quotes nothing escapes.
                if c == escape && open != '\'' {
                    // At the end the escape is dropped, and the word ends as it is.
                    let Some(next) = chars.next() else { break };
                    word.push(c);
                    word.push(next);
                    continue;
                }
                word.push(c);
            }
        }
    }
    if keep_empty || !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_keep_their_quotes_and_escapes() {
        assert_eq!(
            quoted_words(r#"a="b c" d=e\ f 'g h'"#, '\\'),
            strings(&[r#"a="b c""#, r"d=e\ f", "'g h'"])
        );
        assert_eq!(quoted_words(r#"a="x \" y""#, '\\'), strings(&[r#"a="x \" y""#]));
        assert_eq!(quoted_words("a='x \\' y'", '\\'), strings(&["a='x \\'", "y'"]));
        assert_eq!(quoted_words("a= b=\"\"", '\\'), strings(&["a=", "b=\"\""]));
        assert_eq!(quoted_words("a\\", '\\'), strings(&["a"]));
        assert_eq!(quoted_words("a`  b", '`'), strings(&["a` ", "b"]));
        assert_eq!(quoted_words("  ", '\\'), Vec::<String>::new());
    }

    #[test]
    fn separators_split_as_gos_regexp() {
        assert_eq!(split_separators("a  b\tc", usize::MAX), strings(&["a", "b", "c"]));
        assert_eq!(split_separators("a  b c", 2), strings(&["a", "b c"]));
        assert_eq!(split_separators("a", 2), strings(&["a"]));
        assert_eq!(split_separators("a\nb", 2), strings(&["a\nb"]));
    }

    #[test]
    fn json_arrays_and_what_is_not_one() {
        assert_eq!(
            maybe_json(r#"["a", "b c"]"#).unwrap(),
            Arguments {
                args: strings(&["a", "b c"]),
                json: true
            }
        );
        assert_eq!(
            maybe_json("[]").unwrap(),
            Arguments {
                args: vec![],
                json: true
            }
        );
        // Only the first value counts.
        assert_eq!(
            maybe_json(r#"["a"] b"#).unwrap(),
            Arguments {
                args: strings(&["a"]),
                json: true
            }
        );
        // Not JSON: a shell string.
        assert_eq!(
            maybe_json("[a]").unwrap(),
            Arguments {
                args: strings(&["[a]"]),
                json: false
            }
        );
        assert_eq!(
            maybe_json("['a']").unwrap(),
            Arguments {
                args: strings(&["['a']"]),
                json: false
            }
        );
        assert_eq!(
            maybe_json(r#"["a",]"#).unwrap(),
            Arguments {
                args: strings(&[r#"["a",]"#]),
                json: false
            }
        );
        assert_eq!(
            maybe_json_to_list("[a b").unwrap(),
            Arguments {
                args: strings(&["[a", "b"]),
                json: false
            }
        );
        // JSON, but not all strings: an error.
        assert_eq!(maybe_json(r#"["a", 1]"#), Err(ParseErrorKind::NotStringArray));
        assert_eq!(
            maybe_json_to_list(r#"[null, "b"]"#),
            Err(ParseErrorKind::NotStringArray)
        );
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!maybe_json(&deep).unwrap().json);
    }

    #[test]
    fn name_values_in_both_forms() {
        assert_eq!(
            name_values("a  b c ", "ENV", '\\').unwrap().args,
            strings(&["a", "b c "])
        );
        assert_eq!(
            name_values("a=b c=\"d e\"", "ENV", '\\').unwrap().args,
            strings(&["a", "b", "c", "\"d e\""])
        );
        assert_eq!(
            name_values("a b=c", "ENV", '\\').unwrap().args,
            strings(&["a", "b=c"])
        );
        // Seen from Docker 20.10: `ENV a` fails with "ENV must have two arguments".
        assert_eq!(
            name_values("a", "ENV", '\\').unwrap_err().to_string(),
            "ENV must have two arguments"
        );
        assert_eq!(
            name_values("a=b c", "LABEL", '\\').unwrap_err().to_string(),
            r#"Syntax error - can't find = in "c". Must be of the form: name=value"#
        );
    }

    #[test]
    fn healthcheck_splits_its_type_off() {
        assert_eq!(
            health_config("CMD  curl -f x").unwrap(),
            Arguments {
                args: strings(&["CMD", "curl -f x"]),
                json: false
            }
        );
        assert_eq!(
            health_config(r#"CMD ["a"]"#).unwrap(),
            Arguments {
                args: strings(&["CMD", "a"]),
                json: true
            }
        );
        assert_eq!(
            health_config("NONE").unwrap(),
            Arguments {
                args: strings(&["NONE"]),
                json: false
            }
        );
        assert_eq!(health_config("").unwrap(), Arguments::default());
    }
}
