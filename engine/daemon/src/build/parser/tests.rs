//! The parser against small Dockerfiles: `testfiles/<case>/Dockerfile` with its expected nodes in
//! `testfiles/<case>/result` (one node a line: `first-last (keyword ["--flags"] "args"…)`, JSON
//! forms marked `json`), then cases inline. Errors asserted are the words Docker 20.10 printed for
//! the same file (after its "failed to parse Dockerfile: ").

use super::*;

fn result_lines(parsed: &Parsed) -> String {
    let mut out = String::new();
    for node in &parsed.nodes {
        let json = if node.json { " json" } else { "" };
        out.push_str(&format!(
            "{}-{} {}{json}\n",
            node.start_line,
            node.end_line,
            node.dump()
        ));
    }
    for warning in &parsed.warnings {
        out.push_str(&format!("warning: {}\n", warning.replace('\n', "\\n")));
    }
    out
}

#[test]
fn testfiles_parse_to_their_results() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/parser/testfiles");
    let mut cases = 0;
    for case in std::fs::read_dir(&dir).unwrap() {
        // `BLESS=1` writes what the parser gives, to read and check by hand before committing.
        let bless = std::env::var_os("BLESS").is_some();
        let case = case.unwrap().path();
        let dockerfile = std::fs::read(case.join("Dockerfile")).unwrap();
        let parsed = parse(&dockerfile).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let got = result_lines(&parsed);
        if bless {
            std::fs::write(case.join("result"), &got).unwrap();
        }
        let expected = std::fs::read_to_string(case.join("result")).unwrap_or_default();
        assert_eq!(got, expected, "{}", case.display());
        cases += 1;
    }
    assert!(cases >= 6);
}

fn nodes(text: &str) -> Vec<Node> {
    parse(text.as_bytes()).unwrap().nodes
}

fn error(text: &str) -> String {
    parse(text.as_bytes()).unwrap_err().to_string()
}

#[test]
fn bom_crlf_and_line_numbers() {
    let nodes = nodes("\u{feff}FROM busybox\r\n\r\nRUN a \\\r\n  b\r\n");
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].args, ["busybox"]);
    assert_eq!((nodes[1].start_line, nodes[1].end_line), (3, 4));
    assert_eq!(nodes[1].original, "RUN a   b");
}

#[test]
fn directives_only_at_the_top() {
    assert_eq!(parse(b"# escape=`\nFROM x").unwrap().escape, '`');
    assert_eq!(parse(b"# ESCAPE = ` \nFROM x").unwrap().escape, '`');
    assert_eq!(parse(b"# syntax=x\n# escape=`\nFROM x").unwrap().escape, '`');
    // After a comment, a blank line or an instruction a directive is a comment.
    assert_eq!(parse(b"# hello\n# escape=`\nFROM x").unwrap().escape, '\\');
    assert_eq!(parse(b"\n# escape=`\nFROM x").unwrap().escape, '\\');
    assert_eq!(parse(b"FROM x\n# escape=`\n").unwrap().escape, '\\');
    // Docker 20.10: "failed to parse Dockerfile: only one escape parser directive can be used".
    assert_eq!(
        error("# escape=`\n# escape=\\\nFROM busybox\n"),
        "only one escape parser directive can be used"
    );
    // Docker 20.10: "failed to parse Dockerfile: invalid escape token 'x' does not match ` or \".
    assert_eq!(
        error("# escape=x\nFROM busybox\n"),
        "invalid escape token 'x' does not match ` or \\"
    );
    let duplicate = parse(b"# escape=`\n# escape=`\nFROM x").unwrap_err();
    assert_eq!(duplicate.start_line, 2);
}

#[test]
fn files_without_instructions() {
    // Docker 20.10: "failed to parse Dockerfile: file with no instructions".
    assert_eq!(error("# just a comment\n\n"), "file with no instructions");
    assert_eq!(error("   \n\t\n"), "file with no instructions");
    assert_eq!(error(""), "file with no instructions");
}

#[test]
fn empty_continuation_lines_warn_as_docker_prints() {
    // Docker 20.10 printed exactly these two lines for this file.
    let parsed = parse(b"FROM busybox\nRUN echo a \\\n\n  b\n").unwrap();
    assert_eq!(
        parsed.warnings,
        [
            "[WARNING]: Empty continuation line found in:\n    RUN echo a   b",
            "[WARNING]: Empty continuation lines will become errors in a future release."
        ]
    );
    assert_eq!(parsed.nodes[1].end_line, 4);
}

#[test]
fn continuation_at_the_end_of_the_file_ends_the_instruction() {
    let nodes = nodes("FROM x\nRUN a \\");
    assert_eq!(nodes[1].args, ["a"]);
    assert_eq!(nodes[1].end_line, 2);
}

#[test]
fn an_escaped_escape_does_not_continue() {
    let nodes = nodes("FROM x\nRUN echo \\\\\nRUN b");
    assert_eq!(nodes.len(), 3);
    assert_eq!(nodes[1].args, ["echo \\\\"]);
}

#[test]
fn a_lone_escape_line_continues() {
    let nodes = nodes("FROM x\nRUN a \\\n\\\n b");
    assert_eq!(nodes[1].original, "RUN a  b");
}

#[test]
fn json_that_is_not_all_strings_is_refused() {
    // Docker 20.10: "failed to parse Dockerfile: when using JSON array syntax, arrays must be
    // comprised of strings only".
    let refused = parse(b"FROM busybox\nRUN [\"a\", 1]\n").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!((refused.start_line, refused.end_line), (2, 2));
}

#[test]
fn name_value_errors() {
    // Docker 20.10: "failed to parse Dockerfile: ENV must have two arguments".
    assert_eq!(error("FROM busybox\nENV a\n"), "ENV must have two arguments");
    // Docker 20.10: `failed to parse Dockerfile: Syntax error - can't find = in "c". Must be of the form: name=value`.
    assert_eq!(
        error("FROM busybox\nENV a=b c\n"),
        r#"Syntax error - can't find = in "c". Must be of the form: name=value"#
    );
}

#[test]
fn too_long_lines_are_refused() {
    let mut text = b"FROM x\nRUN ".to_vec();
    text.extend(std::iter::repeat_n(b'a', MAX_LINE_LENGTH));
    assert_eq!(
        parse(&text).unwrap_err().to_string(),
        "dockerfile line greater than max allowed size of 65535"
    );
    // The longest line that fits (Docker 20.10 built a file with a line of 65535 bytes, and refused
    // one of 65536 with these words).
    let fits = format!("FROM x\nRUN {}", "a".repeat(MAX_LINE_LENGTH - 4));
    assert_eq!(nodes(&fits).len(), 2);
}

#[test]
fn onbuild_nests_its_instruction() {
    let nodes = nodes("FROM x\nONBUILD ADD --chown=1 . /app");
    let trigger = nodes[1].trigger.as_ref().unwrap();
    assert_eq!(
        (trigger.keyword.as_str(), trigger.flags.as_slice()),
        ("add", &["--chown=1".to_owned()][..])
    );
    assert_eq!(trigger.args, [".", "/app"]);
    assert!(nodes[1].args.is_empty());
    // Deep chains are cut, not followed without end.
    let chain = format!("FROM x\n{}RUN y", "ONBUILD ONBUILD \\\n".repeat(10_000));
    assert_eq!(self::nodes(&chain).len(), 2);
}

#[test]
fn invalid_utf8_is_read_not_refused() {
    let nodes = nodes("FROM x\nRUN \u{0}");
    assert_eq!(nodes.len(), 2);
    let bytes = b"FROM x\nRUN \xff\xfe";
    assert_eq!(parse(bytes).unwrap().nodes[1].args, ["\u{fffd}\u{fffd}"]);
}

mod properties {
    use proptest::prelude::*;

    use super::super::parse;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_are_answered(text in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&text);
        }

        #[test]
        fn dockerfile_like_text_is_answered(
            text in "((# ?escape=[`\\\\x]|#[a-z ]*|[ \t]*(FROM|RUN|ENV|LABEL|ONBUILD|HEALTHCHECK|COPY|ARG|cmd)( --[a-z]+=[a-z\"']*)? [a-z=\"'`\\\\ \\[\\],${}:-]*[\\\\`]?)\r?\n){0,12}"
        ) {
            let _ = parse(text.as_bytes());
        }
    }

    #[test]
    fn huge_continuations_and_nesting_are_answered() {
        let mut text = String::from("FROM x\nRUN a \\\n");
        for _ in 0..50_000 {
            text.push_str("  b \\\n# comment\n\n");
        }
        text.push_str("c\n");
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.nodes.len(), 2);
        let brackets = format!("FROM x\nRUN {}\n", "[".repeat(60_000));
        assert!(parse(brackets.as_bytes()).is_ok());
    }
}
