//! `.dockerignore` as Docker 20.10 reads and applies it: the CLI leaves the paths it excludes out
//! of the build context, and the daemon drops the Dockerfile and `.dockerignore` from the context
//! once read, when (and only when) the file excludes them.
//!
//! Reading ([`read_all`], buildkit's `dockerignore.ReadAll`): one pattern a line, lines starting
//! with `#` skipped, white space trimmed, blank lines skipped, each pattern cleaned as a path with
//! a leading `/` dropped, `!` marking an exception. Matching ([`PatternMatcher`], Docker's
//! `fileutils.PatternMatcher`): every pattern is tried in order and the last one that matches a
//! path decides (an exception re-includes); a pattern that matches a parent directory of a path
//! matches the path. Patterns are described in [`path_pattern`].
//!
//! Walking a context directory and making the tar is the caller's business.

mod path_pattern;

use crate::go_path;
use path_pattern::PathPattern;

/// A `.dockerignore` Docker refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerignoreError {
    /// illegal exclusion pattern: "!"
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
    /// syntax error in pattern (Go's `filepath.ErrBadPattern`)
    #[error("syntax error in pattern")]
    BadPattern,
    /// Error reading .dockerignore: bufio.Scanner: token too long
    #[error("Error reading .dockerignore: bufio.Scanner: token too long")]
    LineTooLong,
}

/// The longest line Go's `bufio.Scanner` reads.
const MAX_LINE_LENGTH: usize = 64 * 1024 - 1;

/// The patterns of a `.dockerignore` file's bytes, as Docker reads them.
pub fn read_all(text: &[u8]) -> Result<Vec<String>, DockerignoreError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut patterns = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.len() > MAX_LINE_LENGTH {
            return Err(DockerignoreError::LineTooLong);
        }
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
        // A comment only where the line starts: `  # x` is a pattern.
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let exception = pattern.starts_with('!');
        if exception {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = go_path::clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        patterns.push(if exception { format!("!{cleaned}") } else { cleaned });
    }
    Ok(patterns)
}

/// One pattern of a matcher.
#[derive(Debug, Clone)]
struct Pattern {
    /// The pattern cleaned, without its `!`.
    text: String,
    /// Whether it re-includes (`!`).
    exception: bool,
    /// How many path names it has (`a/*/c`: 3), to try it against a path's parents.
    names: usize,
    compiled: PathPattern,
}

/// Patterns to match context paths against (Docker's `fileutils.PatternMatcher`).
#[derive(Debug, Clone)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
}

impl PatternMatcher {
    /// Patterns as [`read_all`] gives them (each is trimmed and cleaned again, blank ones skipped).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, DockerignoreError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            if pattern.is_empty() {
                continue;
            }
            let cleaned = go_path::clean(pattern);
            let (exception, text) = match cleaned.strip_prefix('!') {
                Some("") => return Err(DockerignoreError::IllegalExclusion),
                Some(rest) => (true, rest.to_owned()),
                None => (false, cleaned),
            };
            if !crate::pattern::is_valid(&text) {
                return Err(DockerignoreError::BadPattern);
            }
            compiled.push(Pattern {
                names: text.split('/').count(),
                compiled: PathPattern::new(&text),
                text,
                exception,
            });
        }
        Ok(PatternMatcher { patterns: compiled })
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded: the last pattern that
    /// matches it, or one of its parent directories, decides.
    pub fn matches(&self, path: &str) -> bool {
        let parent = go_path::dir(path);
        let parent_names: Vec<&str> = parent.split('/').collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            let mut hit = pattern.compiled.matches(path);
            if !hit && parent != "." && pattern.names <= parent_names.len() {
                hit = pattern.compiled.matches(&parent_names[..pattern.names].join("/"));
            }
            if hit {
                excluded = !pattern.exception;
            }
        }
        excluded
    }

    /// [`matches`](Self::matches) for a path cleaned first, the context itself (`.`) never
    /// excluded (Docker's `fileutils.Matches`): what the daemon asks of the Dockerfile and
    /// `.dockerignore` before dropping them from the context.
    pub fn excludes(&self, path: &str) -> bool {
        let path = go_path::clean(path);
        path != "." && self.matches(&path)
    }

    /// Whether any pattern is an exception (`!…`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// For a directory [`matches`](Self::matches) excludes: whether its walk can be skipped, as
    /// Docker's context walk decides it. It cannot when an exception pattern starts with the
    /// directory's path (`!logs/keep.log` keeps `logs` walked); an exception that only matches
    /// inside it by wildcards (`!**/keep.log`) does not keep it, in Docker as here.
    pub fn can_skip_directory(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        !self
            .patterns
            .iter()
            .any(|p| p.exception && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

#[cfg(test)]
mod tests;
