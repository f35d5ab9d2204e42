//! The sample runs the lab chapters show: what `lab check` printed for each step against berthd,
//! stored by `labs/tests/it/check.rs` as the insta snapshot `it__check__transcript_<id>.snap`.
//! CI compares that snapshot with a fresh run, so a chapter showing it cannot drift from what
//! CI checks.
//!
//! A transcript is a snapshot header (`---` … `---`), then one block per step:
//! `## <number>. <title>`, the commands (`$ …`) with their output, the checks (`✓ …`).

use std::path::{Path, PathBuf};

/// One step's part of a sample run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRun {
    pub number: usize,
    pub title: String,
    /// Commands, their output and the checks, as the terminal showed them.
    pub text: String,
}

/// Where lab `id`'s sample run is stored.
pub fn snapshot_path(snapshots: &Path, id: &str) -> PathBuf {
    snapshots.join(format!("it__check__transcript_{id}.snap"))
}

/// Lab `id`'s sample run, step by step; `None` when no snapshot was recorded.
pub fn load(snapshots: &Path, id: &str) -> anyhow::Result<Option<Vec<StepRun>>> {
    let path = snapshot_path(snapshots, id);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("read {}", path.display()))),
    }
}

/// Split a snapshot into its steps.
pub fn parse(snapshot: &str) -> Vec<StepRun> {
    let mut steps: Vec<StepRun> = Vec::new();
    for line in strip_header(snapshot).lines() {
        if let Some((number, title)) = step_heading(line) {
            steps.push(StepRun {
                number,
                title: title.to_owned(),
                text: String::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.text.push_str(line);
            step.text.push('\n');
        }
    }
    for step in &mut steps {
        // The blank line between steps belongs to no step.
        let trimmed = step.text.trim_end().len();
        step.text.truncate(trimmed);
        step.text.push('\n');
    }
    steps
}

/// The snapshot without insta's header (`---`, `source:`, `expression:`, `---`).
fn strip_header(snapshot: &str) -> &str {
    let Some(rest) = snapshot.strip_prefix("---\n") else {
        return snapshot;
    };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + "\n---\n".len()..],
        None => snapshot,
    }
}

/// `## 3. Find it in the container's mounts` → (3, "Find it in the container's mounts").
fn step_heading(line: &str) -> Option<(usize, &str)> {
    let rest = line.strip_prefix("## ")?;
    let (number, title) = rest.split_once(". ")?;
    Some((number.parse().ok()?, title))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAPSHOT: &str = "---\nsource: labs/tests/it/check.rs\nexpression: \"transcript(lab)\"\n---\n\
        ## 1. The volumes there are\n$ docker volume ls\nDRIVER   VOLUME NAME\n✓ you ran `docker volume ls`\n\n\
        ## 2. A database\n$ docker run -d --name db1 postgres:12.1\n[ID]\n\n## not a step\n✓ container `db1` is running\n\n";

    #[test]
    fn a_snapshot_splits_into_its_steps() {
        let steps = parse(SNAPSHOT);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].number, 1);
        assert_eq!(steps[0].title, "The volumes there are");
        assert_eq!(
            steps[0].text,
            "$ docker volume ls\nDRIVER   VOLUME NAME\n✓ you ran `docker volume ls`\n"
        );
        assert_eq!(steps[1].title, "A database");
        // A line that only looks like a heading stays in its step's output.
        assert!(steps[1].text.contains("## not a step\n✓ container"));
    }

    #[test]
    fn the_header_is_not_output() {
        let steps = parse(SNAPSHOT);
        assert!(steps.iter().all(|s| !s.text.contains("source:")));
        assert_eq!(parse("no header\n"), Vec::new());
    }

    #[test]
    fn a_missing_snapshot_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path(), "volumes").unwrap().is_none());
        std::fs::write(snapshot_path(dir.path(), "volumes"), SNAPSHOT).unwrap();
        assert_eq!(load(dir.path(), "volumes").unwrap().unwrap().len(), 2);
    }
}
