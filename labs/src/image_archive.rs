//! What a lab images archive holds, read from its `manifest.json` (the docker-archive index
//! `docker save` writes and `docker load` reads): each tag with its image id, so lab can tell
//! whether the engine already has the archive's image or an older build or a stand-in of it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The label the busybox stand-ins carry: what they stand in for (`cargo xtask images
/// --stand-ins`).
pub const STAND_IN_LABEL: &str = "org.berth.lab.stand-in";
/// The label the images built from Debian's packages carry: what they were built from.
pub const BUILT_FROM_LABEL: &str = "org.berth.lab.built-from";

/// `manifest.json` is a few kilobytes; anything bigger is not an archive lab made.
const MANIFEST_LIMIT: u64 = 1 << 20;

/// One image of `manifest.json`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Vec<String>,
}

/// Each tag of the archive (`httpd:2.4`) with its image id (`sha256:…`).
pub fn image_ids(path: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.path()?.as_os_str() != "manifest.json" {
            continue;
        }
        let mut json = Vec::new();
        entry.take(MANIFEST_LIMIT).read_to_end(&mut json)?;
        let images: Vec<ManifestEntry> = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
        return Ok(tags_and_ids(images));
    }
    Err(std::io::Error::other("no manifest.json in it"))
}

fn tags_and_ids(images: Vec<ManifestEntry>) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for image in images {
        // `blobs/sha256/<hex>` (Docker 25+ and lab's archives) or `<hex>.json` (older saves).
        let file = image.config.rsplit('/').next().unwrap_or_default();
        let id = format!("sha256:{}", file.trim_end_matches(".json"));
        for tag in image.repo_tags {
            ids.insert(tag, id.clone());
        }
    }
    ids
}

/// `nginx` → `nginx:latest`, as the archive's tags are written; `localhost:5000/web` gets its
/// tag after the port, not in it.
pub fn with_tag(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    if name.contains(':') || image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Whether lab made this image (a stand-in or a Debian build): only those may be replaced by
/// the archive's, never an image the trainee pulled or built.
pub fn made_by_lab(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels.is_some_and(|labels| labels.contains_key(STAND_IN_LABEL) || labels.contains_key(BUILT_FROM_LABEL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_config_path_of_either_format() {
        let images: Vec<ManifestEntry> = serde_json::from_str(
            r#"[{"Config":"blobs/sha256/aaa","RepoTags":["httpd:2.4"],"Layers":[]},
                {"Config":"bbb.json","RepoTags":["busybox:latest","busybox:1"],"Layers":[]},
                {"Config":"blobs/sha256/ccc","Layers":[]}]"#,
        )
        .unwrap();
        let ids = tags_and_ids(images);
        assert_eq!(ids["httpd:2.4"], "sha256:aaa");
        assert_eq!(ids["busybox:1"], "sha256:bbb");
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn untagged_names_get_latest() {
        assert_eq!(with_tag("nginx"), "nginx:latest");
        assert_eq!(with_tag("httpd:2.4"), "httpd:2.4");
        assert_eq!(with_tag("prom/prometheus"), "prom/prometheus:latest");
        assert_eq!(with_tag("localhost:5000/web"), "localhost:5000/web:latest");
        assert_eq!(with_tag("localhost:5000/web:v2"), "localhost:5000/web:v2");
    }

    #[test]
    fn only_labelled_images_are_lab_made() {
        let labels = |key: &str| BTreeMap::from([(key.to_owned(), "x".to_owned())]);
        assert!(made_by_lab(Some(&labels(STAND_IN_LABEL))));
        assert!(made_by_lab(Some(&labels(BUILT_FROM_LABEL))));
        assert!(!made_by_lab(Some(&labels("maintainer"))));
        assert!(!made_by_lab(None));
    }
}
