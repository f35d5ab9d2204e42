//! `list` (`ls`): every container under `--root`, shaped as runc prints them: a table aligned
//! like Go's `tabwriter`, a JSON array of state objects (`null` when there are none, as Go
//! encodes an empty slice), or the ids alone.
//!
//! What it does not do: a folder under the root that is not a container is reported on stderr
//! and skipped, as runc does, never removed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::state::{ContainerDir, OciState, go_rfc3339_nano};

/// One container as `list` shows it: runc's keys, in runc's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    /// The spec version of its config.
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// The init's pid (0 once stopped).
    pub pid: i32,
    /// created, running, stopped …
    pub status: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with Go's trimmed nanoseconds.
    pub created: String,
    /// The spec's annotations, left out when there are none.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// The user owning the container's state folder (`#<uid>` when it has no name).
    pub owner: String,
}

impl Listed {
    fn new(state: OciState, owner: String) -> Self {
        Listed {
            oci_version: state.oci_version,
            id: state.id,
            pid: state.pid,
            status: state.status.as_str().to_string(),
            bundle: state.bundle,
            rootfs: state.rootfs,
            created: go_rfc3339_nano(&state.created),
            annotations: state.annotations,
            owner,
        }
    }
}

/// The containers under `root`, in the order the directory lists them (as runc). A root that
/// does not exist yet holds none.
pub fn list(root: &Path) -> Result<Vec<Listed>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read state root {}", root.display())),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read state root {}", root.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Vanished since readdir: deleted meanwhile.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_dir() {
            continue;
        }
        let loaded = ContainerDir::new(root, &name)
            .map_err(anyhow::Error::from)
            .and_then(|dir| Ok((dir.load()?, dir)));
        let (record, dir) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                eprintln!("load container {name}: {err}");
                continue;
            }
        };
        listed.push(Listed::new(dir.oci_state(&record), owner_name(meta.uid())));
    }
    Ok(listed)
}

fn owner_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => format!("#{uid}"),
    }
}

/// runc's table: `ID PID STATUS BUNDLE CREATED OWNER`.
pub fn table(containers: &[Listed]) -> String {
    let mut rows = vec![
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec(),
    ];
    for c in containers {
        rows.push(vec![
            c.id.clone(),
            c.pid.to_string(),
            c.status.clone(),
            c.bundle.display().to_string(),
            c.created.clone(),
            c.owner.clone(),
        ]);
    }
    tabwrite(&rows)
}

/// Align cells as Go's `tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)` does for rows of equal
/// length: every column but the last padded to its widest cell plus 3, and to at least 12.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    const MIN_WIDTH: usize = 12;
    const PADDING: usize = 3;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|col| {
            rows.iter()
                .filter_map(|row| row.get(col))
                .map(|cell| cell.chars().count() + PADDING)
                .fold(MIN_WIDTH, usize::max)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (col, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths.get(col).filter(|_| col + 1 < row.len()) {
                let pad = width - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// `--format json`: Go's encoding of the slice, `null` when it is empty.
pub fn json(containers: &[Listed]) -> Result<String> {
    if containers.is_empty() {
        return Ok("null".to_string());
    }
    Ok(serde_json::to_string(containers)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn an_empty_list_is_runc_header_alone() {
        assert_eq!(
            table(&[]),
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
        );
        assert_eq!(json(&[]).expect("json"), "null");
    }

    #[test]
    fn columns_grow_to_the_widest_cell_plus_three() {
        // As runc printed it for a container of bundle /tmp/rb.
        let rows = vec![
            row(&["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]),
            row(&[
                "t1",
                "17086",
                "created",
                "/tmp/rb",
                "2026-12-07T07:05:23.166788339Z",
                "root",
            ]),
        ];
        assert_eq!(
            tabwrite(&rows),
            "ID          PID         STATUS      BUNDLE      CREATED                          OWNER\n\
             t1          17086       created     /tmp/rb     2026-12-07T07:05:23.166788339Z   root\n"
        );
    }

    #[test]
    fn json_leaves_out_empty_annotations_like_runc() {
        let listed = Listed {
            oci_version: "1.0.2-dev".into(),
            id: "t1".into(),
            pid: 0,
            status: "stopped".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-12-07T07:05:23.1Z".into(),
            annotations: HashMap::new(),
            owner: "root".into(),
        };
        assert_eq!(
            json(&[listed]).expect("json"),
            r#"[{"ociVersion":"1.0.2-dev","id":"t1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"2026-12-07T07:05:23.1Z","owner":"root"}]"#
        );
    }
}
