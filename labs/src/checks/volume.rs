//! Volume checks: `GET /volumes/{name}`; files it holds are looked up under its mount point on
//! this host (lab runs beside the engine, as root).

use super::{Context, Evidence, Mismatch};
use crate::ledger::Kind;
use crate::scenario::check::VolumeCheck;

pub fn evaluate(check: &VolumeCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let found = cx.api.volume(&check.volume)?;
    let volume = match (found, check.exists) {
        (None, false) => {
            return match &cx.run {
                Some(run) => run.existed(Kind::Volume, &check.volume),
                None => Ok(None),
            };
        }
        (None, true) => {
            return Err(Mismatch::new(
                format!("volume {}", check.volume),
                "no such volume",
            ));
        }
        (Some(volume), false) => {
            return Err(Mismatch::new("no such volume", format!("volume {}", volume.name)));
        }
        (Some(volume), true) => volume,
    };
    let labels = volume.labels.clone().unwrap_or_default();
    let evidence = match &cx.run {
        Some(run) => run.owns(Kind::Volume, &volume.name, &volume.name, &labels)?,
        None => None,
    };
    let root = std::path::Path::new(&volume.mountpoint);
    for path in &check.holds {
        if !root.join(path.trim_start_matches('/')).exists() {
            let present: Vec<String> = std::fs::read_dir(root)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            return Err(Mismatch::new(
                format!("{path} in the volume"),
                if present.is_empty() {
                    "an empty volume".to_owned()
                } else {
                    format!("only {}", present.join(", "))
                },
            ));
        }
    }
    for (key, value) in &check.labels {
        if labels.get(key) != Some(value) {
            return Err(Mismatch::new(
                format!("label {key}={value}"),
                labels
                    .get(key)
                    .map(|v| format!("{key}={v}"))
                    .unwrap_or_else(|| format!("no label {key}")),
            ));
        }
    }
    Ok(evidence)
}
