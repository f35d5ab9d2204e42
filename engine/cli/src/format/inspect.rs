//! `docker inspect` without `-f`: the objects' JSON as the API sent it, in one array,
//! indented by Go's `json.Indent` with four spaces — key order and escapes untouched.

/// Indent JSON text like Go's `json.Indent(dst, src, "", indent)`: a newline and indent after
/// `{`, `[` and `,`, `": "` between key and value, `{}` and `[]` when empty. Strings are copied
/// byte for byte, so escapes stay as the daemon wrote them.
pub fn indent_json(text: &str, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for s in chars.by_ref() {
                    out.push(s);
                    match s {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                out.push(c);
                // An empty object or array stays on one line.
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// What `docker inspect NAME…` prints for the objects' raw JSON bodies (a trailing newline
/// included); `[]` when none was found.
pub fn inspect_json(bodies: &[&str]) -> String {
    if bodies.is_empty() {
        return "[]\n".to_string();
    }
    let array = format!(
        "[{}]",
        bodies.iter().map(|b| b.trim()).collect::<Vec<_>>().join(",")
    );
    let mut out = indent_json(&array, "    ");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_go() {
        let raw =
            r#"{"Id":"abc","Args":["-c","a, b: \"c\""],"Empty":[],"Obj":{},"Labels":{"x":"1"},"N":null}"#;
        assert_eq!(
            inspect_json(&[raw]),
            r#"[
    {
        "Id": "abc",
        "Args": [
            "-c",
            "a, b: \"c\""
        ],
        "Empty": [],
        "Obj": {},
        "Labels": {
            "x": "1"
        },
        "N": null
    }
]
"#
        );
        assert_eq!(inspect_json(&[]), "[]\n");
    }

    #[test]
    fn matches_docker_inspect_byte_for_byte() {
        // Raw API bodies from dockerd and what `docker inspect` printed for them.
        let container = include_str!("testdata/api-container.json");
        assert_eq!(
            inspect_json(&[container]),
            include_str!("testdata/docker-inspect.txt")
        );
        let network = include_str!("testdata/api-network.json");
        assert_eq!(
            inspect_json(&[network]),
            include_str!("testdata/docker-network-inspect.txt")
        );
    }
}
