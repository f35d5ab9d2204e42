//! A git repository as a build context, cloned by the client as docker/cli does (moby's
//! `remotecontext/git`): `git init`, `remote add origin`, `fetch` of the ref (shallow where
//! the server can), `checkout`, submodules; the URL's fragment is `#ref:subdir` (`master`
//! when no ref is named). Files from the file system are never fetched as submodules.

use std::path::{Path, PathBuf};
use std::process::Command;

/// docker's `urlutil.IsGitURL`: what `build` clones rather than downloads.
pub fn is_git_url(context: &str) -> bool {
    let url = context.split('#').next().unwrap_or(context);
    context.starts_with("git://")
        || context.starts_with("git@")
        || context.starts_with("github.com/")
        || ((url.starts_with("http://") || url.starts_with("https://")) && url.ends_with(".git"))
}

/// A clone, removed when dropped.
pub struct Clone {
    root: PathBuf,
    /// The context: the checkout, or the subdirectory the fragment names.
    pub context: PathBuf,
}

impl Drop for Clone {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A remote, the ref to fetch and the subdirectory to build.
#[derive(Debug, PartialEq, Eq)]
struct Repo {
    remote: String,
    reference: String,
    subdir: String,
}

fn parse(url: &str) -> Result<Repo, String> {
    let transport = url.starts_with("git@")
        || ["git://", "http://", "https://", "ssh://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
    let url = if transport {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    let (remote, fragment) = url.split_once('#').unwrap_or((&url, ""));
    let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
    let reference = if reference.is_empty() { "master" } else { reference };
    if reference.starts_with('-') {
        return Err(format!("invalid refspec: {reference}"));
    }
    Ok(Repo {
        remote: remote.to_owned(),
        reference: reference.to_owned(),
        subdir: subdir.to_owned(),
    })
}

/// `git` in `dir` with moby's guards; its combined output, or the error Docker words.
fn git(dir: &Path, args: &[&str]) -> Result<String, (String, String)> {
    let output = Command::new("git")
        .args(["-c", "protocol.file.allow=never"])
        .args(args)
        .current_dir(dir)
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .output()
        .map_err(|e| (String::new(), e.to_string()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    match output.status.code() {
        Some(0) => Ok(text),
        Some(code) => Err((text, format!("exit status {code}"))),
        None => Err((text, "signal: killed".to_owned())),
    }
}

/// Whether an HTTP(S) server speaks git's smart protocol, which shallow fetches need.
async fn supports_shallow_clone(remote: &str) -> bool {
    if !(remote.starts_with("http://") || remote.starts_with("https://")) {
        return true;
    }
    let service = format!("{remote}/info/refs?service=git-upload-pack");
    let client = reqwest::Client::new();
    let response = match client.head(&service).send().await {
        Ok(r) if r.status().is_success() => Ok(r),
        _ => client.get(&service).send().await,
    };
    response.is_ok_and(|r| {
        r.status().is_success()
            && r.headers()
                .get("content-type")
                .is_some_and(|v| v == "application/x-git-upload-pack-advertisement")
    })
}

/// Clone `url` into a temporary directory (docker/cli's `GetContextFromGitURL`).
pub async fn clone(url: &str) -> Result<Clone, String> {
    if Command::new("git").arg("--version").output().is_err() {
        return Err("unable to find 'git': exec: \"git\": executable file not found in $PATH".into());
    }
    let wrap = |e: String| format!("unable to 'git clone' to temporary context directory: {e}");
    let repo = parse(url).map_err(wrap)?;
    let root = std::env::temp_dir().join(format!("docker-build-git{}", super::context::random_hex(9)));
    std::fs::create_dir(&root).map_err(|e| wrap(e.to_string()))?;
    let mut clone = Clone {
        context: root.clone(),
        root,
    };
    let root = clone.root.clone();
    git(&root, &["init"])
        .map_err(|(out, e)| wrap(format!("failed to init repo at {}: {out}: {e}", root.display())))?;
    git(&root, &["remote", "add", "origin", &repo.remote])
        .map_err(|(out, e)| wrap(format!("failed add origin repo at {}: {out}: {e}", repo.remote)))?;
    let mut fetch = vec!["fetch"];
    if supports_shallow_clone(&repo.remote).await {
        fetch.extend(["--depth", "1"]);
    }
    fetch.extend(["origin", "--", &repo.reference]);
    git(&root, &fetch).map_err(|(out, e)| wrap(format!("error fetching: {out}: {e}")))?;
    if let Err((out, e)) = git(&root, &["checkout", &repo.reference]) {
        if git(&root, &["checkout", "FETCH_HEAD"]).is_err() {
            return Err(wrap(format!("error checking out {}: {out}: {e}", repo.reference)));
        }
    }
    if !repo.subdir.is_empty() {
        let inside = root.join(&repo.subdir);
        let resolved = std::fs::canonicalize(&inside)
            .ok()
            .filter(|p| p.starts_with(std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone())));
        let Some(resolved) = resolved else {
            return Err(wrap(format!(
                "error setting git context, {:?} not within git root: {}",
                repo.subdir,
                inside.display()
            )));
        };
        if !resolved.is_dir() {
            return Err(wrap(format!(
                "error setting git context, not a directory: {}",
                resolved.display()
            )));
        }
        clone.context = resolved;
    }
    let submodules = Command::new("git")
        .args(["submodule", "update", "--init", "--recursive", "--depth=1"])
        .current_dir(&root)
        .output()
        .map_err(|e| wrap(e.to_string()))?;
    if !submodules.status.success() {
        let mut out = String::from_utf8_lossy(&submodules.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&submodules.stderr));
        let code = submodules.status.code().unwrap_or(-1);
        return Err(wrap(format!(
            "error initializing submodules: {out}: exit status {code}"
        )));
    }
    Ok(clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_remote_ref_and_subdir() {
        let repo = parse("github.com/x/y#v1:docker").unwrap();
        assert_eq!(
            repo,
            Repo {
                remote: "https://github.com/x/y".into(),
                reference: "v1".into(),
                subdir: "docker".into()
            }
        );
        assert_eq!(parse("git://h/r.git").unwrap().reference, "master");
        assert_eq!(parse("git@h:r.git#:sub").unwrap().subdir, "sub");
        assert_eq!(parse("git://h/r#-x").unwrap_err(), "invalid refspec: -x");
        assert!(is_git_url("github.com/x/y") && is_git_url("https://h/x.git#main"));
        assert!(!is_git_url("https://h/x.tar"));
    }
}
