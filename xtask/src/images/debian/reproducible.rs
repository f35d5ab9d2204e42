//! From `berth save`'s archive to images whose ids depend only on what they contain.
//!
//! A build records when it ran: each layer holds the files the RUN steps wrote, stamped with
//! the time of the build, and the config dates the image and each history entry. As Debian's
//! reproducible-builds tools do with `SOURCE_DATE_EPOCH`, every time later than the build date
//! is clamped to it (in tar headers and PAX records; access and change times are dropped) and
//! the config's dates are set to it. Everything else is kept byte for byte: the entry order
//! (berthd writes layers sorted), names, modes, owners, xattrs and contents.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, bail, ensure};
use serde::Deserialize;

use crate::images::archive::Entry;
use crate::images::digest::Digest;
use crate::images::layer::Layer;

const BLOCK: usize = 512;

/// An image read back from the build daemon, its dates and layer times set to the build date.
pub struct BuiltImage {
    pub repository: String,
    pub tag: String,
    architecture: String,
    os: String,
    config_json: Vec<u8>,
    pub config_digest: Digest,
    pub layers: Vec<Rc<Layer>>,
}

impl BuiltImage {
    /// What the archive holds of it.
    pub fn entry(&self) -> Entry<'_> {
        Entry {
            repository: &self.repository,
            tag: &self.tag,
            architecture: &self.architecture,
            os: &self.os,
            config_json: &self.config_json,
            config_digest: &self.config_digest,
            layers: self.layers.iter().map(|layer| &**layer).collect(),
        }
    }
}

/// One image in a docker-archive's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// The images of a `docker save`/`berth save` archive, with their times set to `epoch`.
pub fn read_saved(archive: &Path, epoch: u64) -> anyhow::Result<Vec<BuiltImage>> {
    let file = std::fs::File::open(archive).with_context(|| format!("open {}", archive.display()))?;
    let mut members: HashMap<String, Vec<u8>> = HashMap::new();
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        members.insert(name, bytes);
    }
    let manifest: Vec<ManifestEntry> = serde_json::from_slice(
        members
            .get("manifest.json")
            .context("the archive has no manifest.json")?,
    )
    .context("parse manifest.json")?;

    let created = rfc3339(epoch)?;
    let mut layers: HashMap<&str, Rc<Layer>> = HashMap::new();
    let mut images = Vec::new();
    for image in &manifest {
        let mut image_layers = Vec::new();
        for path in &image.layers {
            if !layers.contains_key(path.as_str()) {
                let tar = members
                    .get(path)
                    .with_context(|| format!("the archive has no {path}"))?;
                let tar = clamp_times(tar, epoch).with_context(|| format!("layer {path}"))?;
                let diff_id = Digest::of(&tar);
                layers.insert(path, Rc::new(Layer { tar, diff_id }));
            }
            image_layers.push(Rc::clone(&layers[path.as_str()]));
        }
        let config = members
            .get(&image.config)
            .with_context(|| format!("the archive has no {}", image.config))?;
        let mut config: serde_json::Value =
            serde_json::from_slice(config).with_context(|| format!("parse {}", image.config))?;
        let diff_ids: Vec<String> = image_layers
            .iter()
            .map(|layer| layer.diff_id.to_string())
            .collect();
        date_config(&mut config, &created, diff_ids)?;
        let config_json = serde_json::to_vec(&config)?;
        for reference in &image.repo_tags {
            let (repository, tag) = reference
                .rsplit_once(':')
                .filter(|(_, tag)| !tag.contains('/'))
                .with_context(|| format!("{reference} has no tag"))?;
            images.push(BuiltImage {
                repository: repository.to_owned(),
                tag: tag.to_owned(),
                architecture: config["architecture"].as_str().unwrap_or("amd64").to_owned(),
                os: config["os"].as_str().unwrap_or("linux").to_owned(),
                config_digest: Digest::of(&config_json),
                config_json: config_json.clone(),
                layers: image_layers.clone(),
            });
        }
    }
    // `save` lists images in no particular order (as Docker's does); the archive's indexes
    // follow this order, so it is fixed here.
    images.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    Ok(images)
}

fn rfc3339(epoch: u64) -> anyhow::Result<String> {
    Ok(chrono::DateTime::from_timestamp(i64::try_from(epoch)?, 0)
        .context("SOURCE_DATE_EPOCH is out of range")?
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Date the image and its history at `created`, point it at the clamped layers, and drop what
/// names the build's last container and its parent image as the daemon knew them (their ids,
/// which no two builds share, and which are not in the archive anyway).
fn date_config(config: &mut serde_json::Value, created: &str, diff_ids: Vec<String>) -> anyhow::Result<()> {
    let object = config
        .as_object_mut()
        .context("an image config is a JSON object")?;
    object.insert("created".into(), created.into());
    object.remove("container");
    if let Some(container_config) = object.get_mut("container_config").and_then(|c| c.as_object_mut()) {
        container_config.insert("Hostname".into(), "".into());
        container_config.insert("Image".into(), "".into());
    }
    if let Some(history) = object.get_mut("history").and_then(|h| h.as_array_mut()) {
        for step in history {
            if let Some(step) = step.as_object_mut() {
                step.insert("created".into(), created.into());
            }
        }
    }
    let rootfs = object
        .get_mut("rootfs")
        .and_then(|r| r.as_object_mut())
        .context("an image config has a rootfs")?;
    let old = rootfs
        .get("diff_ids")
        .and_then(|d| d.as_array())
        .map_or(0, Vec::len);
    ensure!(
        old == diff_ids.len(),
        "the config names {old} layers, the manifest {}",
        diff_ids.len()
    );
    rootfs.insert("diff_ids".into(), diff_ids.into());
    Ok(())
}

/// `tar` with every modification time later than `epoch` set to `epoch`, in the headers and in
/// PAX records (where access and change times are dropped). Everything else stays as it was.
pub fn clamp_times(tar: &[u8], epoch: u64) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(tar.len());
    let mut offset = 0;
    while offset + BLOCK <= tar.len() {
        let block = &tar[offset..offset + BLOCK];
        if block.iter().all(|&byte| byte == 0) {
            // The end-of-archive blocks (and any padding after them) are kept as they are.
            out.extend_from_slice(&tar[offset..]);
            return Ok(out);
        }
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(block);
        let size = usize::try_from(header.entry_size()?)?;
        let data_end = offset + BLOCK + size;
        ensure!(
            data_end <= tar.len(),
            "an entry at byte {offset} runs past the end"
        );
        let mut data = tar[offset + BLOCK..data_end].to_vec();
        let kind = header.entry_type();
        if kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
            data = clamp_pax(&data, epoch)?;
            header.set_size(data.len() as u64);
        }
        if header.mtime()? > epoch {
            header.set_mtime(epoch);
        }
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
        offset = data_end.next_multiple_of(BLOCK);
    }
    bail!("the tar has no end-of-archive block")
}

/// PAX records (`<length> <key>=<value>\n`) with `mtime` clamped and `atime`/`ctime` dropped.
fn clamp_pax(data: &[u8], epoch: u64) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    for extension in tar::PaxExtensions::new(data) {
        let extension = extension?;
        let key = extension
            .key()
            .map_err(|_| anyhow::anyhow!("a PAX key is not UTF-8"))?;
        let value = match key {
            "atime" | "ctime" => continue,
            "mtime" => {
                let text = extension
                    .value()
                    .map_err(|_| anyhow::anyhow!("a PAX mtime is not UTF-8"))?;
                let seconds: f64 = text.parse().with_context(|| format!("PAX mtime {text:?}"))?;
                if seconds > epoch as f64 {
                    epoch.to_string().into_bytes()
                } else {
                    extension.value_bytes().to_vec()
                }
            }
            _ => extension.value_bytes().to_vec(),
        };
        out.extend_from_slice(&pax_record(key.as_bytes(), &value));
    }
    Ok(out)
}

/// One PAX record: its length counts the digits of the length itself.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    let mut record = format!("{length} ").into_bytes();
    record.extend_from_slice(key);
    record.push(b'=');
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(builder: &mut tar::Builder<Vec<u8>>, path: &str, mtime: u64, contents: &[u8]) {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o640);
        header.set_uid(999);
        header.set_mtime(mtime);
        header.set_size(contents.len() as u64);
        builder.append_data(&mut header, path, contents).unwrap();
    }

    fn listing(tar: &[u8]) -> Vec<(String, u64, u64, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let header = entry.header().clone();
                let mut contents = Vec::new();
                entry.read_to_end(&mut contents).unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                (path, header.mtime().unwrap(), header.uid().unwrap(), contents)
            })
            .collect()
    }

    #[test]
    fn later_times_are_clamped_and_everything_else_kept() {
        let mut builder = tar::Builder::new(Vec::new());
        entry(&mut builder, "etc/old", 100, b"from a package");
        entry(&mut builder, "var/log/new", 5_000, b"written by the build");
        let tar = builder.into_inner().unwrap();

        let clamped = clamp_times(&tar, 1_000).unwrap();
        assert_eq!(clamped.len(), tar.len());
        assert_eq!(
            listing(&clamped),
            [
                ("etc/old".to_owned(), 100, 999, b"from a package".to_vec()),
                (
                    "var/log/new".to_owned(),
                    1_000,
                    999,
                    b"written by the build".to_vec()
                ),
            ]
        );
        assert_eq!(
            clamp_times(&clamped, 1_000).unwrap(),
            clamped,
            "clamping twice changes nothing"
        );
        assert_eq!(
            clamp_times(&tar, 10_000).unwrap(),
            tar,
            "nothing later: the same bytes"
        );
    }

    #[test]
    fn pax_times_are_clamped_and_access_times_dropped() {
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([
                ("mtime", b"5000.25".as_slice()),
                ("atime", b"5001".as_slice()),
                ("SCHILY.xattr.user.k", b"v".as_slice()),
            ])
            .unwrap();
        entry(&mut builder, "f", 5_000, b"x");
        let clamped = clamp_times(&builder.into_inner().unwrap(), 1_000).unwrap();

        let mut archive = tar::Archive::new(clamped.as_slice());
        let mut entries = archive.entries().unwrap();
        let mut file = entries.next().unwrap().unwrap();
        assert_eq!(file.header().mtime().unwrap(), 1_000);
        let records: Vec<(String, String)> = file
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|record| {
                let record = record.unwrap();
                (
                    record.key().unwrap().to_owned(),
                    record.value().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            records,
            [
                ("mtime".to_owned(), "1000".to_owned()),
                ("SCHILY.xattr.user.k".to_owned(), "v".to_owned())
            ]
        );
    }

    #[test]
    fn pax_record_lengths_count_their_own_digits() {
        assert_eq!(pax_record(b"mtime", b"1000"), b"14 mtime=1000\n");
        // 90 + "path" + " =\n" is 97 bytes: with its two digits the record is 99 long; at 92 it
        // would be 101, which takes a third digit, so 102.
        for (value_length, expected) in [(90, 99), (92, 102)] {
            let record = pax_record(b"path", &vec![b'a'; value_length]);
            assert_eq!(record.len(), expected);
            assert!(record.starts_with(format!("{expected} path=").as_bytes()));
        }
    }

    #[test]
    fn configs_are_dated_and_lose_the_build_container() {
        let mut config = serde_json::json!({
            "created": "2026-12-07T23:40:01.123Z",
            "container": "0123abcd",
            "container_config": {"Hostname": "0123abcd", "Image": "sha256:parent", "Cmd": ["/bin/sh"]},
            "config": {"Cmd": ["bash"]},
            "history": [{"created": "2026-12-07T23:40:00Z", "created_by": "RUN x"}],
            "rootfs": {"type": "layers", "diff_ids": ["sha256:old"]},
        });
        date_config(&mut config, "2026-12-07T00:00:00Z", vec!["sha256:new".into()]).unwrap();
        assert_eq!(
            config,
            serde_json::json!({
                "created": "2026-12-07T00:00:00Z",
                "container_config": {"Hostname": "", "Image": "", "Cmd": ["/bin/sh"]},
                "config": {"Cmd": ["bash"]},
                "history": [{"created": "2026-12-07T00:00:00Z", "created_by": "RUN x"}],
                "rootfs": {"type": "layers", "diff_ids": ["sha256:new"]},
            })
        );
        assert!(
            date_config(&mut config, "x", vec![]).is_err(),
            "a layer count mismatch is an error"
        );
    }
}
