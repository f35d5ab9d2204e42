//! `lab reset`: remove what a lab created — everything carrying its label, and what its
//! session's commands made without one (the ledger) — and only that.
//!
//! Containers first (with their anonymous volumes, as `docker rm -f -v`), then images (newest
//! first, so a child goes before its parent; again, for one that still had a child), networks, and volumes.

use crate::api::Api;
use crate::ledger::Ledger;

/// Remove everything carrying `label`, then what `ledger` says the run's commands made and is
/// still there; answers one line per thing removed or not removable.
pub fn reset_with_ledger(api: &Api, label: &str, ledger: Option<&Ledger>) -> Vec<String> {
    let mut done = reset(api, label);
    if let Some(ledger) = ledger {
        match crate::obstacles::left_by(api, ledger) {
            Ok(left) => done.extend(crate::obstacles::remove(api, &left)),
            Err(e) => done.push(format!("could not look for what the run made: {e}")),
        }
    }
    done
}

/// Remove everything carrying `label` (`berth.lab=<id>` or `berth.lab.run=<run>`); answers one
/// line per thing removed or not removable.
pub fn reset(api: &Api, label: &str) -> Vec<String> {
    let mut done = Vec::new();
    let note = |what: &str, name: &str, result: Result<(), berth_api::client::ClientError>| match result {
        Ok(()) => format!("removed {what} {name}"),
        Err(e) => format!("could not remove {what} {name}: {e}"),
    };
    match api.containers_labelled(label) {
        Ok(containers) => {
            for container in containers {
                let name = container
                    .names
                    .first()
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_else(|| container.id.clone());
                done.push(note("container", &name, api.remove_container(&container.id)));
            }
        }
        Err(e) => done.push(format!("could not list containers: {e}")),
    }
    match api.images_labelled(label) {
        Ok(mut images) => {
            images.sort_by_key(|i| std::cmp::Reverse(i.created));
            // Images built in the same second list in either order: one whose child was still
            // there is tried again once a round has removed others, until a round removes none.
            let mut left = images;
            loop {
                let tried = left.len();
                let mut failed = Vec::new();
                for image in left {
                    let name = image
                        .repo_tags
                        .as_ref()
                        .and_then(|t| t.first().cloned())
                        .unwrap_or_else(|| image.id.clone());
                    match api.remove_image(&image.id) {
                        Ok(()) => done.push(note("image", &name, Ok(()))),
                        Err(e) => failed.push((image, name, e)),
                    }
                }
                if failed.is_empty() || failed.len() == tried {
                    done.extend(
                        failed
                            .into_iter()
                            .map(|(_, name, e)| note("image", &name, Err(e))),
                    );
                    break;
                }
                left = failed.into_iter().map(|(image, _, _)| image).collect();
            }
        }
        Err(e) => done.push(format!("could not list images: {e}")),
    }
    match api.networks_labelled(label) {
        Ok(networks) => {
            for network in networks {
                done.push(note("network", &network.name, api.remove_network(&network.id)));
            }
        }
        Err(e) => done.push(format!("could not list networks: {e}")),
    }
    match api.volumes_labelled(label) {
        Ok(volumes) => {
            for volume in volumes {
                done.push(note("volume", &volume.name, api.remove_volume(&volume.name)));
            }
        }
        Err(e) => done.push(format!("could not list volumes: {e}")),
    }
    done
}
