//! JSON request bodies as dockerd's `json.NewDecoder(body).Decode(&v)` reads them, so a client's
//! mistake gets Go's words: `invalid character 'b' looking for beginning of object key string`,
//! `unexpected EOF`, `json: cannot unmarshal string into Go struct field …`. Only the first value
//! of a body counts (a decoder stops there); what follows it is never read.

/// Why a body is not one JSON value, in Go's words; `None` when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// Nothing but white space: Go's `io.EOF`.
    Empty,
    /// Go's scanner error (`invalid character …`, `unexpected EOF`).
    Invalid(String),
}

/// Check the first JSON value of `bytes` as Go's scanner does; returns where it ends.
pub fn check_syntax(bytes: &[u8]) -> Result<usize, SyntaxError> {
    let mut scanner = Scanner { bytes, at: 0 };
    scanner.skip_space();
    if scanner.at >= bytes.len() {
        return Err(SyntaxError::Empty);
    }
    scanner.value().map_err(SyntaxError::Invalid)?;
    Ok(scanner.at)
}

/// The kind of a JSON value as Go's `UnmarshalTypeError` names it.
pub fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The first JSON value of a body that [`check_syntax`] accepted.
pub fn first_value(bytes: &[u8]) -> Result<serde_json::Value, String> {
    let end = check_syntax(bytes).map_err(|e| match e {
        SyntaxError::Empty => "EOF".to_owned(),
        SyntaxError::Invalid(message) => message,
    })?;
    serde_json::from_slice(bytes.get(..end).unwrap_or(bytes)).map_err(|e| e.to_string())
}

/// `value` with every `null` object member left out, at any depth: Go decodes `null` into a
/// non-pointer field as nothing at all (the field keeps its zero value), and clients send such
/// nulls (docker/cli's update sends `"OomKillDisable": null`). Left out, serde's defaults give
/// the zero value. Depth is bounded by serde_json's recursion limit.
pub fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => members
            .into_iter()
            .filter(|(_, member)| !member.is_null())
            .map(|(key, member)| (key, without_nulls(member)))
            .collect(),
        serde_json::Value::Array(items) => items.into_iter().map(without_nulls).collect(),
        other => other,
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next byte, or Go's `unexpected EOF` when the body ends inside a value.
    fn next(&mut self) -> Result<u8, String> {
        let byte = self.peek().ok_or_else(|| "unexpected EOF".to_owned())?;
        self.at += 1;
        Ok(byte)
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<(), String> {
        match self.next()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' => {
                let first = self.next()?;
                if !first.is_ascii_digit() {
                    return Err(invalid(first, "in numeric literal"));
                }
                self.number(first)
            }
            digit @ b'0'..=b'9' => self.number(digit),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            other => Err(invalid(other, "looking for beginning of value")),
        }
    }

    fn object(&mut self) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            match self.next()? {
                b'"' => self.string()?,
                other => return Err(invalid(other, "looking for beginning of object key string")),
            }
            self.skip_space();
            match self.next()? {
                b':' => {}
                other => return Err(invalid(other, "after object key")),
            }
            self.skip_space();
            self.value()?;
            self.skip_space();
            match self.next()? {
                b',' => self.skip_space(),
                b'}' => return Ok(()),
                other => return Err(invalid(other, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.skip_space();
            self.value()?;
            self.skip_space();
            match self.next()? {
                b',' => {}
                b']' => return Ok(()),
                other => return Err(invalid(other, "after array element")),
            }
        }
    }

    /// After the opening quote.
    fn string(&mut self) -> Result<(), String> {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let hex = self.next()?;
                            if !hex.is_ascii_hexdigit() {
                                return Err(invalid(hex, "in \\u hexadecimal character escape"));
                            }
                        }
                    }
                    other => return Err(invalid(other, "in string escape code")),
                },
                control @ 0..=0x1f => return Err(invalid(control, "in string literal")),
                _ => {}
            }
        }
    }

    /// After the first digit; the number ends at the first byte that can't continue it.
    fn number(&mut self, first: u8) -> Result<(), String> {
        if first != b'0' {
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1;
            }
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            let digit = self.next()?;
            if !digit.is_ascii_digit() {
                return Err(invalid(digit, "after decimal point in numeric literal"));
            }
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let mut digit = self.next()?;
            if digit == b'+' || digit == b'-' {
                digit = self.next()?;
            }
            if !digit.is_ascii_digit() {
                return Err(invalid(digit, "in exponent of numeric literal"));
            }
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.at += 1;
            }
        }
        Ok(())
    }

    /// After the literal's first letter.
    fn literal(&mut self, word: &str) -> Result<(), String> {
        for expected in word.bytes().skip(1) {
            let byte = self.next()?;
            if byte != expected {
                return Err(invalid(
                    byte,
                    &format!("in literal {word} (expecting '{}')", expected as char),
                ));
            }
        }
        Ok(())
    }
}

/// Go's `invalid character 'x' <context>`.
fn invalid(byte: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(byte))
}

/// Go's `quoteChar`: the byte as a rune, quoted as `strconv.Quote` would, in single quotes.
fn quote_char(byte: u8) -> String {
    let inner = match byte {
        b'\'' => "\\'".to_owned(),
        b'"' => "\"".to_owned(),
        b'\\' => "\\\\".to_owned(),
        0x07 => "\\a".to_owned(),
        0x08 => "\\b".to_owned(),
        0x0c => "\\f".to_owned(),
        b'\n' => "\\n".to_owned(),
        b'\r' => "\\r".to_owned(),
        b'\t' => "\\t".to_owned(),
        0x0b => "\\v".to_owned(),
        0x20..=0x7e => (byte as char).to_string(),
        0..=0x1f | 0x7f => format!("\\x{byte:02x}"),
        // A byte ≥ 0x80 is the rune U+0080…U+00FF; Go prints the printable ones as they are.
        0x80..=0xa0 | 0xad => format!("\\u{byte:04x}"),
        _ => char::from(byte).to_string(),
    };
    format!("'{inner}'")
}

/// `value` as Go's `json.Marshal` writes it: serde_json's text with `<`, `>`, `&`, U+2028 and
/// U+2029 escaped (Go escapes them for HTML), so a stream reads byte for byte as Docker's. Those
/// characters only ever appear inside strings, where the escapes mean the same.
pub fn to_go_string(value: &serde_json::Value) -> String {
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_escapes_html_characters_in_strings() {
        let value = serde_json::json!({"stream": "RUN a > b && c <d> \u{2028}"});
        assert_eq!(
            super::to_go_string(&value),
            r#"{"stream":"RUN a \u003e b \u0026\u0026 c \u003cd\u003e \u2028"}"#
        );
    }

    use super::*;

    fn message(body: &str) -> String {
        match check_syntax(body.as_bytes()) {
            Ok(_) => "ok".to_owned(),
            Err(SyntaxError::Empty) => "EOF".to_owned(),
            Err(SyntaxError::Invalid(m)) => m,
        }
    }

    #[test]
    fn syntax_errors_read_as_gos() {
        assert_eq!(
            message("{bad"),
            "invalid character 'b' looking for beginning of object key string"
        );
        assert_eq!(message("{\"a\":1"), "unexpected EOF");
        assert_eq!(message(" \n"), "EOF");
        assert_eq!(
            message("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(message("{\"a\" 1}"), "invalid character '1' after object key");
        assert_eq!(
            message("{\"a\":1 \"b\"}"),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(message("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            message("tru "),
            "invalid character ' ' in literal true (expecting 'e')"
        );
        assert_eq!(message("\"a\nb\""), "invalid character '\\n' in string literal");
        assert_eq!(message("-x"), "invalid character 'x' in numeric literal");
        assert_eq!(
            message("1.e"),
            "invalid character 'e' after decimal point in numeric literal"
        );
        assert_eq!(
            message("'"),
            "invalid character '\\'' looking for beginning of value"
        );
    }

    #[test]
    fn only_the_first_value_counts() {
        assert_eq!(message("{} trailing"), "ok");
        assert_eq!(message("null"), "ok");
        assert_eq!(first_value(b"{\"Detach\":true} x").unwrap()["Detach"], true);
        assert_eq!(first_value(b"").unwrap_err(), "EOF");
    }

    #[test]
    fn nulls_read_as_absent_at_any_depth() {
        let value = serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}, null]});
        assert_eq!(
            without_nulls(value),
            serde_json::json!({"b": {"d": 1}, "e": [{}, null]})
        );
    }
}
