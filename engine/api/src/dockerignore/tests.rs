//! `.dockerignore` files and the contexts Docker made with them.

use super::*;

fn patterns(text: &str) -> Vec<String> {
    read_all(text.as_bytes()).unwrap()
}

fn matcher(text: &str) -> PatternMatcher {
    PatternMatcher::new(&patterns(text)).unwrap()
}

#[test]
fn reading_as_docker_reads() {
    assert_eq!(
        patterns(
            "\u{feff}# comment\n\n  **/*.log  \r\n!keep.log\n! ./a/../b/\n/README.md\n  # not a comment\n/\n.\n"
        ),
        [
            "**/*.log",
            "!keep.log",
            "!b",
            "README.md",
            "# not a comment",
            "/",
            "."
        ]
    );
    assert_eq!(patterns(""), Vec::<String>::new());
    assert_eq!(patterns("a"), ["a"]);
    assert_eq!(patterns("!"), ["!"]);
    let long = "a".repeat(MAX_LINE_LENGTH + 1);
    assert_eq!(read_all(long.as_bytes()), Err(DockerignoreError::LineTooLong));
}

#[test]
fn refused_patterns() {
    assert_eq!(
        PatternMatcher::new(&["!"]).unwrap_err().to_string(),
        "illegal exclusion pattern: \"!\""
    );
    assert_eq!(
        PatternMatcher::new(&["a["]).unwrap_err().to_string(),
        "syntax error in pattern"
    );
    assert_eq!(
        PatternMatcher::new(&["ok", "bad\\"]).unwrap_err(),
        DockerignoreError::BadPattern
    );
}

#[test]
fn the_last_matching_pattern_decides() {
    let m = matcher("*.log\n!keep.log\n");
    assert!(m.matches("a.log"));
    assert!(!m.matches("keep.log"));
    let m = matcher("!keep.log\n*.log\n");
    assert!(m.matches("keep.log"));
    assert!(m.has_exceptions());
    assert!(!matcher("*.log").has_exceptions());
}

#[test]
fn a_matched_directory_excludes_what_is_under_it() {
    let m = matcher(".git\nbuild/*\n");
    assert!(m.matches(".git"));
    assert!(m.matches(".git/HEAD"));
    assert!(m.matches(".git/refs/heads/main"));
    assert!(m.matches("build/out/bin"));
    assert!(!m.matches("build"));
    assert!(!m.matches("src/.git"));
}

#[test]
fn excludes_as_the_daemon_asks_for_the_dockerfile() {
    let m = matcher("Dockerfile\n*.md\n");
    assert!(m.excludes("Dockerfile"));
    assert!(m.excludes("./Dockerfile"));
    assert!(!m.excludes(".dockerignore"));
    assert!(!matcher("*").excludes("."));
    assert!(matcher("*").excludes(".dockerignore"));
}

/// The context the CLI sends and the daemon keeps: files (and empty directories) walked in order,
/// excluded ones left out, excluded directories skipped when they can be, then the Dockerfile and
/// `.dockerignore` dropped when excluded.
fn context(ignore: &str, paths: &[&str]) -> Vec<String> {
    let m = matcher(ignore);
    let mut kept = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for path in paths {
        let is_dir = path.ends_with('/');
        let path = path.trim_end_matches('/');
        if skipped.iter().any(|dir| path.starts_with(&format!("{dir}/"))) {
            continue;
        }
        if m.matches(path) {
            if is_dir && m.can_skip_directory(path) {
                skipped.push(path.to_owned());
            }
            continue;
        }
        kept.push(path.to_owned());
    }
    kept.retain(|path| !((path == "Dockerfile" || path == ".dockerignore") && m.excludes(path)));
    kept
}

/// The context of /tmp tests against Docker: directories end with `/`, in walk order.
const TREE: &[&str] = &[
    ".dockerignore",
    ".git/",
    ".git/HEAD",
    "Dockerfile",
    "README.md",
    "a/",
    "a/b/",
    "a/b/temp2/",
    "a/b/temp2/f",
    "a/temp1/",
    "a/temp1/f",
    "a/tempfile",
    "keep/",
    "keep.log",
    "logs/",
    "logs/a.log",
    "logs/sub/",
    "logs/sub/b.log",
    "sp ace.txt",
    "src/",
    "src/x/",
    "src/x/keep.log",
    "src/x/y.go",
    "top.log",
];

#[test]
fn contexts_as_docker_built_them() {
    // `COPY . /ctx` then `find` in Docker 20.10 (the daemon; the CLI here was 28.2) listed these
    // paths for this .dockerignore.
    let ignore = "# comment\n\n**/*.log\n!keep.log\n  .git  \n*/temp*\n/README.md\nDockerfile\n!src/x/keep.log\nsp ace.txt\n";
    assert_eq!(
        context(ignore, TREE),
        [
            ".dockerignore",
            "a",
            "a/b",
            "a/b/temp2",
            "a/b/temp2/f",
            "keep",
            "keep.log",
            "logs",
            "logs/sub",
            "src",
            "src/x",
            "src/x/keep.log",
            "src/x/y.go"
        ]
    );

    // A directory with an exception under it is walked; one whose exception is only a wildcard
    // (`!**/keep.log`) is skipped whole; `.dockerignore` excluded is dropped by the daemon.
    let ignore = "logs\n!logs/sub/b.log\nsrc\n!**/keep.log\n.dockerignore\n";
    let kept = context(ignore, TREE);
    assert!(kept.contains(&"logs/sub/b.log".to_owned()));
    assert!(!kept.contains(&"logs/a.log".to_owned()));
    assert!(!kept.iter().any(|p| p.starts_with("src")));
    assert!(kept.contains(&"keep.log".to_owned()));
    assert!(!kept.contains(&".dockerignore".to_owned()));
    assert!(kept.contains(&"Dockerfile".to_owned()));
}

#[test]
fn skipping_directories() {
    let m = matcher("logs\n!logs/keep.log\nvendor\n!**/keep\n");
    assert!(!m.can_skip_directory("logs"));
    assert!(m.can_skip_directory("vendor"));
    assert!(matcher("node_modules").can_skip_directory("node_modules"));
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_file_and_path_are_answered(
            text in "([!# ]?[a-z*?/.\\[\\]^\\\\-]{0,12}\n){0,6}",
            path in "[a-z./]{0,30}",
        ) {
            if let Ok(patterns) = read_all(text.as_bytes()) {
                if let Ok(m) = PatternMatcher::new(&patterns) {
                    let _ = m.matches(&path);
                    let _ = m.excludes(&path);
                    let _ = m.can_skip_directory(&path);
                }
            }
        }
    }
}
