//! Atomic file writes: temp file, fsync, rename, fsync of the directory.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::{StoreError, temp_name};

/// Write `bytes` to `path` so that a reader (or a crash) sees the old file or the new one, never half.
/// `tmp_dir` must be on the same filesystem as `path`.
pub fn write_atomic(path: &Path, tmp_dir: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_dir.join(temp_name("write"));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(StoreError::io(format!("write {}", path.display())))
}

/// Replace `path` with `bytes` the way [`write_atomic`] does (a reader sees the old file or the
/// new one, never half), without its two fsyncs. For state that a crash of the machine makes
/// stale anyway, such as whether a container runs: restore rebuilds it from what it finds.
pub fn replace_atomic(path: &Path, tmp_dir: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = tmp_dir.join(temp_name("write"));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(StoreError::io(format!("write {}", path.display())))
}

/// fsync the directory holding `path`, so a rename into it survives a crash.
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}
