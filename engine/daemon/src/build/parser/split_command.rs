//! One logical line cut into its keyword, its `--flags` and the text of its arguments.

/// The parts of an instruction line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SplitCommand {
    /// The keyword, lower case.
    pub keyword: String,
    /// `--name=value` words before the arguments, their quotes and `\` escapes resolved.
    pub flags: Vec<String>,
    /// The rest, white space trimmed.
    pub rest: String,
}

/// Cut `line` as buildkit's `splitCommand` does.
pub(super) fn split_command(line: &str) -> SplitCommand {
    let mut parts = super::arguments::split_separators(line.trim(), 2).into_iter();
    let keyword = parts.next().unwrap_or_default().to_lowercase();
    let (rest, flags) = match parts.next() {
        Some(after_keyword) => extract_flags(&after_keyword),
        None => (String::new(), Vec::new()),
    };
    SplitCommand {
        keyword,
        flags,
        rest: rest.trim().to_owned(),
    }
}

/// Leading words that start with `--`, and the text after them. A bare `--` ends the flags.
/// Quotes and `\` (always `\`, whatever the escape directive says) work inside a flag word.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    let mut flags = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if !rest.starts_with("--") {
            return (rest.to_owned(), flags);
        }
        let (word, keep_empty, after) = flag_word(rest);
        if word == "--" {
            return (after.to_owned(), flags);
        }
        if keep_empty || !word.is_empty() {
            flags.push(word);
        }
        rest = after;
    }
}

/// One flag word at the start of `text`: the word, whether it had quotes, and what follows it.
fn flag_word(text: &str) -> (String, bool, &str) {
    let mut word = String::new();
    let mut quoted = false;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => return (word, quoted, &text[at..]),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            Some(open) if c == open => quote = None,
            _ if c == '\\' => {
                // `\` keeps the next character; at the end of the line it is dropped.
                if let Some((_, next)) = chars.next() {
                    word.push(next);
                }
            }
            _ => word.push(c),
        }
    }
    (word, quoted, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, Vec<String>, String) {
        let s = split_command(line);
        (s.keyword, s.flags, s.rest)
    }

    #[test]
    fn keyword_flags_and_rest() {
        assert_eq!(
            split("  CoPy --chown=1:2  a b "),
            ("copy".into(), vec!["--chown=1:2".into()], "a b".into())
        );
        assert_eq!(split("RUN"), ("run".into(), vec![], "".into()));
        assert_eq!(
            split("FROM --platform=\"linux/amd64\" x"),
            ("from".into(), vec!["--platform=linux/amd64".into()], "x".into())
        );
        assert_eq!(
            split("COPY --from=a\\ b x y"),
            ("copy".into(), vec!["--from=a b".into()], "x y".into())
        );
        assert_eq!(split("COPY -- --x y"), ("copy".into(), vec![], "--x y".into()));
        assert_eq!(
            split("COPY --a -b"),
            ("copy".into(), vec!["--a".into()], "-b".into())
        );
        assert_eq!(
            split("COPY --a=''"),
            ("copy".into(), vec!["--a=".into()], "".into())
        );
        assert_eq!(split("RUN echo --x"), ("run".into(), vec![], "echo --x".into()));
    }
}
