//! Go's `strconv.Quote` (what `%q` prints): Docker's messages quote names and values this way, so
//! the CLI and the daemon print them the same.

/// Go's `strconv.Quote`: double quotes, Go escapes, printable characters kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !is_go_printable(c) && (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if !is_go_printable(c) => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Close to Go's `strconv.IsPrint`: no controls, no spaces but ' ', no invisible format marks.
fn is_go_printable(c: char) -> bool {
    let code = c as u32;
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(code, 0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff))
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(go_quote("a b"), r#""a b""#);
        assert_eq!(go_quote("say \"hi\"\n"), r#""say \"hi\"\n""#);
        assert_eq!(go_quote("\u{1b}[0m"), r#""\x1b[0m""#);
        assert_eq!(go_quote("é☺"), r#""é☺""#);
    }
}
