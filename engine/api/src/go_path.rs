//! Go's `path.Clean` and `path.Dir` (the same as `filepath`'s on Linux): the lexical path forms
//! Docker compares, for `.dockerignore` patterns and the files they are matched against.

/// The shortest path equal to `path` by lexical processing: one `/` between names, no `.` names,
/// each `..` taking away the name before it (or dropped at the root), `.` for nothing.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut names: Vec<&str> = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => match names.last() {
                Some(&last) if last != ".." => {
                    names.pop();
                }
                // `..` at the root is the root; in a relative path it stays.
                _ if rooted => {}
                _ => names.push(".."),
            },
            name => names.push(name),
        }
    }
    let joined = names.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// All of `path` but its last name, cleaned (`a/b/c` gives `a/b`, `a` gives `.`).
pub fn dir(path: &str) -> String {
    let parent = match path.rfind('/') {
        Some(slash) => &path[..=slash],
        None => "",
    };
    clean(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_as_go() {
        let cases = [
            ("", "."),
            (".", "."),
            ("a/b", "a/b"),
            ("a//b/", "a/b"),
            ("./a/./b/.", "a/b"),
            ("a/../b", "b"),
            ("a/b/../../..", ".."),
            ("../../a", "../../a"),
            ("/../a", "/a"),
            ("/", "/"),
            ("//a//", "/a"),
            ("!a/../b", "b"),
            ("**/*.log", "**/*.log"),
        ];
        for (path, cleaned) in cases {
            assert_eq!(clean(path), cleaned, "{path:?}");
        }
    }

    #[test]
    fn dir_as_go() {
        assert_eq!(dir("a/b/c"), "a/b");
        assert_eq!(dir("a"), ".");
        assert_eq!(dir("/a"), "/");
        assert_eq!(dir("a/"), "a");
    }
}
