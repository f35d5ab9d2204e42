//! The lab images' recipes: one directory per image under `images/recipes/`, a Dockerfile and
//! the files it copies. Each becomes a build context tar with fixed times and owners, so the
//! layers a COPY makes do not depend on when the repository was checked out.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest as _, Sha256};

use crate::images::tarball::DeterministicTar;

/// One image built from a recipe directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// The directory under `recipes/`.
    pub dir: &'static str,
    pub repository: &'static str,
    pub tag: &'static str,
}

impl Recipe {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// The images, in build order (all start from `debian:bookworm-slim`).
pub const RECIPES: &[Recipe] = &[
    Recipe {
        dir: "httpd",
        repository: "httpd",
        tag: "2.4",
    },
    Recipe {
        dir: "nginx",
        repository: "nginx",
        tag: "latest",
    },
    Recipe {
        dir: "postgres",
        repository: "postgres",
        tag: "12.1",
    },
    Recipe {
        dir: "python",
        repository: "python",
        tag: "3",
    },
    Recipe {
        dir: "redis",
        repository: "redis",
        tag: "latest",
    },
    Recipe {
        dir: "prometheus",
        repository: "prom/prometheus",
        tag: "latest",
    },
    Recipe {
        dir: "alertmanager",
        repository: "prom/alertmanager",
        tag: "latest",
    },
];

/// Where the recipes live in the repository.
pub fn recipes_root() -> anyhow::Result<PathBuf> {
    Ok(crate::util::workspace_root()?.join("xtask/src/images/recipes"))
}

/// The files of a directory, recursively, as sorted relative paths (`/`-separated).
fn files_under(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
            let entry = entry?;
            let path = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let name = path
                    .to_str()
                    .with_context(|| format!("non-UTF-8 name {}", path.display()))?;
                files.push(name.to_owned());
            } else {
                bail!(
                    "{}: a recipe holds only files and directories",
                    root.join(&path).display()
                );
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether git would check the file out executable: the only mode bit a recipe carries.
fn is_executable(path: &Path) -> anyhow::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("stat {}", path.display()))?
        .permissions()
        .mode();
    Ok(mode & 0o111 != 0)
}

/// The build context of `dir`: its files with modes 0644/0755, owner root and time `mtime`.
pub fn context_tar(dir: &Path, mtime: u64) -> anyhow::Result<Vec<u8>> {
    let mut tar = DeterministicTar::new(mtime);
    for name in files_under(dir)? {
        let path = dir.join(&name);
        let mode = if is_executable(&path)? { 0o755 } else { 0o644 };
        let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        tar.file(&name, mode, &bytes)?;
    }
    Ok(tar.finish()?)
}

/// A key over everything the build reads from the repository: each recipe directory's file
/// names, modes and contents, and `extra` (the builder's own inputs: busybox, the epoch…).
/// The same key means the archive on disk is still the one these recipes make.
pub fn cache_key(root: &Path, dirs: &[&str], extra: &[&[u8]]) -> anyhow::Result<String> {
    let mut hash = Sha256::new();
    for dir in dirs {
        let dir_path = root.join(dir);
        for name in files_under(&dir_path)? {
            let path = dir_path.join(&name);
            let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            // Length-prefixed fields: no two different inputs hash the same stream.
            let executable = [u8::from(is_executable(&path)?)];
            for field in [
                dir.as_bytes(),
                name.as_bytes(),
                executable.as_slice(),
                bytes.as_slice(),
            ] {
                hash.update((field.len() as u64).to_le_bytes());
                hash.update(field);
            }
        }
    }
    for field in extra {
        hash.update((field.len() as u64).to_le_bytes());
        hash.update(field);
    }
    Ok(hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(files: &[(&str, &str, u32)]) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, contents, mode) in files {
            let path = dir.path().join("r").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        dir
    }

    #[test]
    fn the_context_tar_depends_on_contents_and_executable_bit_only() {
        let a = recipe(&[
            ("Dockerfile", "FROM x\n", 0o644),
            ("bin/run", "#!/bin/sh\n", 0o700),
        ]);
        let b = recipe(&[
            ("Dockerfile", "FROM x\n", 0o600),
            ("bin/run", "#!/bin/sh\n", 0o755),
        ]);
        let tar_a = context_tar(&a.path().join("r"), 1).unwrap();
        assert_eq!(tar_a, context_tar(&b.path().join("r"), 1).unwrap());

        let mut archive = tar::Archive::new(tar_a.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                (path, header.mode().unwrap(), header.mtime().unwrap())
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("Dockerfile".to_owned(), 0o644, 1),
                ("bin/run".to_owned(), 0o755, 1)
            ]
        );
    }

    #[test]
    fn the_cache_key_changes_with_any_recipe_byte_mode_or_extra_input() {
        let base = recipe(&[("Dockerfile", "FROM x\n", 0o644), ("run", "a", 0o755)]);
        let key = |dir: &tempfile::TempDir, extra: &[&[u8]]| cache_key(dir.path(), &["r"], extra).unwrap();
        let reference = key(&base, &[b"epoch"]);
        assert_eq!(reference, key(&base, &[b"epoch"]), "the key is stable");
        assert_ne!(reference, key(&base, &[b"other"]));
        let changed = recipe(&[("Dockerfile", "FROM y\n", 0o644), ("run", "a", 0o755)]);
        assert_ne!(reference, key(&changed, &[b"epoch"]));
        let not_executable = recipe(&[("Dockerfile", "FROM x\n", 0o644), ("run", "a", 0o644)]);
        assert_ne!(reference, key(&not_executable, &[b"epoch"]));
        let renamed = recipe(&[("Dockerfile", "FROM x\n", 0o644), ("run2", "a", 0o755)]);
        assert_ne!(reference, key(&renamed, &[b"epoch"]));
    }
}
