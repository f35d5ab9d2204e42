//! A fixture as a git repository: what the guide clones from GitHub (`git clone
//! https://github.com/…/widget-factory-inc.git`), made in the lab directory as a bare
//! repository the trainee clones instead, because only Debian's mirror is reachable from the
//! lab. One commit of the fixture's files, with a fixed author and date, so every run has the
//! same commit id.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// The author and committer of the one commit.
const AUTHOR: &str = "Widget Factory Inc.";
const EMAIL: &str = "web@widget-factory.example";
/// 2020-01-01T00:00:00Z, the lab images' date.
const DATE: &str = "2020-01-01T00:00:00Z";

/// Make the bare repository `repository` holding `files` (a fixture directory) as one commit on
/// `main`. Needs `git` on the host.
pub fn make(files: &Path, repository: &Path) -> io::Result<()> {
    git(
        None,
        &["init", "--quiet", "--bare", "--initial-branch=main"],
        Some(repository),
    )?;
    // The fixture itself is the work tree: nothing is copied, and the index file the commit
    // needs is removed afterwards (a bare repository has none).
    git(Some((repository, files)), &["add", "--all"], None)?;
    git(
        Some((repository, files)),
        &[
            "commit",
            "--quiet",
            "--message",
            "The Widget Factory Inc. website",
        ],
        None,
    )?;
    std::fs::remove_file(repository.join("index"))?;
    Ok(())
}

/// `git ARGS [PATH]`, with `--git-dir`/`--work-tree` when given, the fixed identity and date,
/// and no user or system configuration read.
fn git(dirs: Option<(&Path, &Path)>, args: &[&str], path: Option<&Path>) -> io::Result<()> {
    let mut command = Command::new("git");
    if let Some((git_dir, work_tree)) = dirs {
        command
            .arg("--git-dir")
            .arg(git_dir)
            .arg("--work-tree")
            .arg(work_tree);
    }
    command.args(args);
    if let Some(path) = path {
        command.arg(path);
    }
    let output = command
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", AUTHOR)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_AUTHOR_DATE", DATE)
        .env("GIT_COMMITTER_NAME", AUTHOR)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .env("GIT_COMMITTER_DATE", DATE)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("run git (apt-get install git): {e}")))?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_holds_the_files_in_one_reproducible_commit() {
        let dir = std::env::temp_dir().join(format!("berth-git-fixture-{}", std::process::id()));
        let files = dir.join("files");
        std::fs::create_dir_all(files.join("web")).unwrap();
        std::fs::write(
            files.join("web/index.html"),
            "<title>Widget Factory Inc.</title>\n",
        )
        .unwrap();
        let commit = |name: &str| {
            let repository = dir.join(name);
            make(&files, &repository).unwrap();
            assert!(
                !repository.join("index").exists(),
                "a bare repository has no index"
            );
            let out = Command::new("git")
                .arg("--git-dir")
                .arg(&repository)
                .args(["log", "--format=%H %an", "main"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let first = commit("one.git");
        assert_eq!(first, commit("two.git"), "same files, same commit");
        assert!(first.ends_with(" Widget Factory Inc.\n"), "{first}");

        let clone = dir.join("clone");
        let cloned = Command::new("git")
            .arg("clone")
            .arg("--quiet")
            .arg(dir.join("one.git"))
            .arg(&clone)
            .status()
            .unwrap();
        assert!(cloned.success());
        assert!(clone.join("web/index.html").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
