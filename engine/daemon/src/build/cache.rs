//! The build cache of Docker's classic builder: a step is skipped when a local image was
//! committed from the same parent with the same container config (whose `Cmd` names the
//! instruction, and for COPY and ADD the checksum of what they copy). No separate cache store:
//! the images are the cache, so `docker rmi` and `docker image prune` empty it, as in Docker.
//!
//! What it does not do (yet): `--cache-from`, whose images come from elsewhere and have no
//! local parent chain.

use berth_api::types::{ContainerConfig, EmptyObjectSet};

use crate::digest::Digest;
use crate::image::{ImageError, Images};

/// The local images as the cache sees them: read once per build, so that each step's probe is
/// a scan in memory rather than a read of every image on disk.
#[derive(Debug, Default)]
pub struct CacheIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    id: Digest,
    parent: Option<Digest>,
    made_by: ContainerConfig,
    /// RFC 3339; times of one daemon compare as text.
    created: String,
}

impl CacheIndex {
    /// Read every local image's parent and container config.
    pub fn load(images: &Images) -> Result<CacheIndex, ImageError> {
        let store = images.store();
        let mut entries = Vec::new();
        for id in store.images.list()? {
            let Some(record) = store.images.find(&id)? else {
                continue;
            };
            let Ok(config) = images.config(&id) else {
                continue;
            };
            let Some(made_by) = config.container_config else {
                continue;
            };
            entries.push(Entry {
                id,
                parent: record.parent,
                made_by,
                created: config.created.unwrap_or_default(),
            });
        }
        Ok(CacheIndex { entries })
    }

    /// The newest image made from `parent` (`None`: `FROM scratch`) by a container configured
    /// as `config`, if it is still there.
    pub fn probe(
        &self,
        images: &Images,
        parent: Option<&Digest>,
        config: &ContainerConfig,
    ) -> Option<Digest> {
        self.entries
            .iter()
            .filter(|e| e.parent.as_ref() == parent && same_step(&e.made_by, config))
            .filter(|e| images.store().images.exists(&e.id))
            .max_by(|a, b| a.created.cmp(&b.created))
            .map(|e| e.id.clone())
    }
}

/// Docker's `compare` of two container configs for the cache: the fields an instruction can
/// change, never the image or host name; a config that keeps stdin open never matches.
fn same_step(a: &ContainerConfig, b: &ContainerConfig) -> bool {
    if a.open_stdin || b.open_stdin {
        return false;
    }
    a.attach_stdout == b.attach_stdout
        && a.attach_stderr == b.attach_stderr
        && a.user == b.user
        && a.tty == b.tty
        && a.cmd.as_ref().map(|c| &c.0) == b.cmd.as_ref().map(|c| &c.0)
        && a.env.as_deref().unwrap_or_default() == b.env.as_deref().unwrap_or_default()
        && a.labels.clone().unwrap_or_default() == b.labels.clone().unwrap_or_default()
        && keys(a.exposed_ports.as_ref()) == keys(b.exposed_ports.as_ref())
        && a.entrypoint.as_ref().map(|c| &c.0) == b.entrypoint.as_ref().map(|c| &c.0)
        && keys(a.volumes.as_ref()) == keys(b.volumes.as_ref())
}

fn keys(set: Option<&EmptyObjectSet>) -> Vec<&String> {
    set.map(|s| s.keys().collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use berth_api::types::StrSlice;

    use super::*;

    fn config(cmd: &[&str]) -> ContainerConfig {
        ContainerConfig {
            cmd: Some(StrSlice(cmd.iter().map(|s| s.to_string()).collect())),
            env: Some(vec!["PATH=/bin".into()]),
            ..ContainerConfig::default()
        }
    }

    #[test]
    fn a_step_matches_on_what_instructions_change_only() {
        let a = config(&["/bin/sh", "-c", "echo hi"]);
        let mut b = a.clone();
        b.hostname = "other".into();
        b.image = "sha256:1234".into();
        assert!(same_step(&a, &b));
        b.env = Some(vec!["PATH=/bin".into(), "A=1".into()]);
        assert!(!same_step(&a, &b));
        assert!(!same_step(&a, &config(&["/bin/sh", "-c", "echo ho"])));
        let mut open = a.clone();
        open.open_stdin = true;
        assert!(!same_step(&open, &open));
        // No env and an empty env are one and the same to Docker's length check.
        let (mut x, mut y) = (a.clone(), a.clone());
        x.env = None;
        y.env = Some(Vec::new());
        assert!(same_step(&x, &y));
    }
}
