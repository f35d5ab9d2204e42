//! What stands in a lab's way before it starts, so a trainee never meets a conflict the lab
//! caused: a container of another lab holding the names or host ports this lab uses (labs done
//! in the book's order reuse `httpd`, `web1` and 8080), objects an earlier try of this lab left,
//! and objects with the lab's names that no lab made. lab names each and offers to remove them.

use std::collections::BTreeMap;

use berth_api::client::ClientError;

use crate::api::Api;
use crate::ledger::{Kind, Ledger};
use crate::scenario::Scenario;
use crate::scenario::vars::{LAB_LABEL, RUN_LABEL, Vars};

/// One thing in the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obstacle {
    /// "container web1", "port 8080".
    pub what: String,
    /// Why it is in the way and whose it is: "holds port 8080; lab static-site's".
    pub why: String,
    /// How to remove it; `None` for what lab cannot remove (a program outside the engine).
    pub removal: Option<(Kind, String)>,
}

impl std::fmt::Display for Obstacle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.what, self.why)
    }
}

/// Whose an object is, from its labels.
fn whose(labels: &BTreeMap<String, String>, lab: &str) -> String {
    match (labels.get(LAB_LABEL), labels.get(RUN_LABEL)) {
        (Some(other), Some(run)) if other == lab => format!("an earlier run of this lab, {run}"),
        (Some(other), _) if other == lab => "an earlier run of this lab".to_owned(),
        (Some(other), _) => format!("lab {other}'s"),
        (None, _) => "made outside the labs".to_owned(),
    }
}

/// What stands in the way of `scenario` with these variables (the guide's names and ports).
/// `earlier` is the run id and ledger of an earlier try of this lab, if one is on this machine.
pub fn find(
    api: &Api,
    scenario: &Scenario,
    vars: &Vars,
    earlier: Option<(&str, &Ledger)>,
) -> Result<Vec<Obstacle>, ClientError> {
    let lab = scenario.id.as_str();
    let creates = vars.render_all(&scenario.creates);
    let mut found: Vec<Obstacle> = Vec::new();
    let mut add = |obstacle: Obstacle| {
        if !found
            .iter()
            .any(|o| o.removal.is_some() && o.removal == obstacle.removal)
        {
            found.push(obstacle);
        }
    };
    // A name is one word; `[creates]` may also say things in words ("(anonymous) …").
    let names = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|n| *n != "*" && !n.contains(' ') && !n.contains("${"))
            .cloned()
            .collect()
    };
    for name in names(&creates.containers) {
        if let Some(c) = api.container(&name)? {
            let labels = c.config.labels.clone().unwrap_or_default();
            add(Obstacle {
                what: format!("container {name}"),
                why: format!("has a name this lab uses; {}", whose(&labels, lab)),
                removal: Some((Kind::Container, c.id)),
            });
        }
    }
    for name in names(&creates.volumes) {
        if let Some(v) = api.volume(&name)? {
            let labels = v.labels.clone().unwrap_or_default();
            add(Obstacle {
                what: format!("volume {name}"),
                why: format!("has a name this lab uses; {}", whose(&labels, lab)),
                removal: Some((Kind::Volume, v.name)),
            });
        }
    }
    for name in names(&creates.networks) {
        if let Some(n) = api.network(&name)? {
            add(Obstacle {
                what: format!("network {name}"),
                why: format!("has a name this lab uses; {}", whose(&n.labels, lab)),
                removal: Some((Kind::Network, n.id)),
            });
        }
    }
    for name in names(&creates.images) {
        if let Some(i) = api.image(&name)? {
            let labels = i.config.labels.clone().unwrap_or_default();
            add(Obstacle {
                what: format!("image {name}"),
                why: format!("has a name this lab uses; {}", whose(&labels, lab)),
                removal: Some((Kind::Image, i.id)),
            });
        }
    }
    // Host ports: a container publishing one, or a program outside the engine holding it.
    let containers = api.containers()?;
    for var in scenario.ports.keys() {
        let Some(port) = vars.get(var).and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        let holders: Vec<_> = containers
            .iter()
            .filter(|c| c.state == "running" && c.ports.iter().any(|p| p.public_port == Some(port)))
            .collect();
        for c in &holders {
            let name = c
                .names
                .first()
                .map(|n| n.trim_start_matches('/'))
                .unwrap_or(&c.id);
            add(Obstacle {
                what: format!("container {name}"),
                why: format!(
                    "publishes port {port}, which this lab uses; {}",
                    whose(&c.labels, lab)
                ),
                removal: Some((Kind::Container, c.id.clone())),
            });
        }
        if holders.is_empty() && std::net::TcpListener::bind(("0.0.0.0", port)).is_err() {
            add(Obstacle {
                what: format!("port {port}"),
                why: "a program outside the engine listens on it; stop it, or this lab's server cannot publish it"
                    .to_owned(),
                removal: None,
            });
        }
    }
    // What the earlier try of this lab left: what carries its run label, and what its commands
    // made without one (its ledger). Other runs of this lab (`lab check --keep`) are in no one's
    // way unless their names or ports are.
    if let Some((run, ledger)) = earlier {
        let label = format!("{RUN_LABEL}={run}");
        for c in api.containers_labelled(&label)? {
            let name = c
                .names
                .first()
                .map(|n| n.trim_start_matches('/'))
                .unwrap_or(&c.id)
                .to_owned();
            add(Obstacle {
                what: format!("container {name}"),
                why: whose(&c.labels, lab),
                removal: Some((Kind::Container, c.id)),
            });
        }
        for v in api.volumes_labelled(&label)? {
            let labels = v.labels.clone().unwrap_or_default();
            add(Obstacle {
                what: format!("volume {}", v.name),
                why: whose(&labels, lab),
                removal: Some((Kind::Volume, v.name)),
            });
        }
        for n in api.networks_labelled(&label)? {
            add(Obstacle {
                what: format!("network {}", n.name),
                why: whose(&n.labels, lab),
                removal: Some((Kind::Network, n.id)),
            });
        }
        for i in api.images_labelled(&label)? {
            let name = i
                .repo_tags
                .as_ref()
                .and_then(|t| t.first().cloned())
                .unwrap_or_else(|| i.id.clone());
            add(Obstacle {
                what: format!("image {name}"),
                why: whose(&i.labels.clone().unwrap_or_default(), lab),
                removal: Some((Kind::Image, i.id)),
            });
        }
        for entry in left_by(api, ledger)? {
            add(entry);
        }
    }
    Ok(found)
}

/// What an earlier run's commands made that is still there (by id; a volume by name).
pub fn left_by(api: &Api, ledger: &Ledger) -> Result<Vec<Obstacle>, ClientError> {
    let mut left = Vec::new();
    for entry in ledger.made_ids(Kind::Container) {
        if let Some(c) = api.container(&entry.id)? {
            left.push(Obstacle {
                what: format!("container {}", c.name.trim_start_matches('/')),
                why: format!("an earlier run of this lab, {}", entry.evidence()),
                removal: Some((Kind::Container, c.id)),
            });
        }
    }
    for entry in ledger.made_ids(Kind::Volume) {
        if api.volume(&entry.id)?.is_some() {
            left.push(Obstacle {
                what: format!("volume {}", entry.id),
                why: format!("an earlier run of this lab, {}", entry.evidence()),
                removal: Some((Kind::Volume, entry.id.clone())),
            });
        }
    }
    for entry in ledger.made_ids(Kind::Network) {
        if let Some(n) = api.network(&entry.id)? {
            left.push(Obstacle {
                what: format!("network {}", n.name),
                why: format!("an earlier run of this lab, {}", entry.evidence()),
                removal: Some((Kind::Network, n.id)),
            });
        }
    }
    for entry in ledger.made_ids(Kind::Image) {
        if let Some(i) = api.image(&entry.id)? {
            let name = i.repo_tags.first().cloned().unwrap_or_else(|| entry.name.clone());
            left.push(Obstacle {
                what: format!("image {name}"),
                why: format!("an earlier run of this lab, {}", entry.evidence()),
                removal: Some((Kind::Image, i.id)),
            });
        }
    }
    Ok(left)
}

/// Remove the obstacles lab can remove (containers first: they hold the rest); answers a line
/// for each.
pub fn remove(api: &Api, obstacles: &[Obstacle]) -> Vec<String> {
    let order = [Kind::Container, Kind::Image, Kind::Network, Kind::Volume];
    let mut lines = Vec::new();
    for kind in order {
        for obstacle in obstacles {
            let Some((k, id)) = &obstacle.removal else {
                continue;
            };
            if *k != kind {
                continue;
            }
            let result = match kind {
                Kind::Container => api.remove_container(id),
                Kind::Image => api.remove_image(id),
                Kind::Network => api.remove_network(id),
                Kind::Volume => api.remove_volume(id),
            };
            lines.push(match result {
                Ok(()) => format!("removed {}", obstacle.what),
                Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => {
                    format!("removed {}", obstacle.what)
                }
                Err(e) => format!("could not remove {}: {e}", obstacle.what),
            });
        }
    }
    lines
}
