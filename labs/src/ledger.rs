//! The ledger: what a run made, and what existed during it, with the command that did it.
//!
//! After each command of a run (the trainee's, or a reference command in a replay), lab asks the
//! engine for the events of that command's time window (`GET /events?since=…&until=…`) and
//! writes the ones that make or remove something — a container created, a volume created, an
//! image tagged or committed, a network created, any of them destroyed — to
//! `<session>/ledger.jsonl`, with the step and the command line. Captures add what they read
//! (an anonymous volume's name) too.
//!
//! Checks ask it two questions: is this object the run's (made by one of its commands, or
//! labelled with its run label), and did this object exist during the run (so that "it is gone"
//! is something the trainee did, not something that never was). Grading reads it again later.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::Api;

/// What kind of engine object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Image => "image",
            Kind::Volume => "volume",
            Kind::Network => "network",
        }
    }
}

/// One thing that happened to an object during a command of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: Kind,
    /// The engine's id: a container's or network's 64 hex digits, an image's `sha256:…`, a
    /// volume's name.
    pub id: String,
    /// The name people use: a container's, a volume's or network's name, an image reference.
    pub name: String,
    /// `create`, `destroy`, `tag`, `untag`, `delete`, `commit`, `import`, `load`, `pull`, or
    /// `capture` (read by a capture after a step).
    pub action: String,
    /// The step it happened in (0-based).
    pub step: usize,
    /// The command line that did it (empty for a capture).
    pub command: String,
}

impl Entry {
    /// Whether this entry brought the object into being.
    fn makes(&self) -> bool {
        matches!(
            self.action.as_str(),
            "create" | "tag" | "commit" | "import" | "load" | "pull" | "capture"
        )
    }

    /// "made in step 7 by `docker run -d --name web1 …`"
    pub fn evidence(&self) -> String {
        let verb = match self.action.as_str() {
            "destroy" | "delete" | "untag" => "removed",
            "capture" => return format!("seen in step {}", self.step + 1),
            "tag" | "commit" | "import" | "load" | "pull" => "made",
            _ => "made",
        };
        format!(
            "{verb} in step {} by `{}`",
            self.step + 1,
            shorten(&self.command, 60)
        )
    }
}

/// A long command line cut to `limit` characters.
fn shorten(line: &str, limit: usize) -> String {
    let line = line.trim();
    if line.chars().count() <= limit {
        return line.to_owned();
    }
    let cut: String = line.chars().take(limit - 1).collect();
    format!("{cut}…")
}

/// What the engine did during one command.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// How many events it reported (a start, a stop, a create…).
    pub events: usize,
    /// The ones that made or removed something, now in the ledger.
    pub entries: Vec<Entry>,
}

/// The ledger of a run.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    path: Option<PathBuf>,
    entries: Vec<Entry>,
}

/// The engine's event, as much of it as the ledger reads (Docker's `events` JSON; volume and
/// network events have no `id`/`status`, so every field is optional).
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(rename = "Action", default)]
    action: String,
    #[serde(rename = "Actor", default)]
    actor: Actor,
}

#[derive(Debug, Default, Deserialize)]
struct Actor {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Attributes", default)]
    attributes: std::collections::BTreeMap<String, String>,
}

impl Ledger {
    /// The ledger kept in `dir` (read when it exists; lines that don't parse are skipped).
    pub fn open(dir: &Path) -> Ledger {
        let path = dir.join("ledger.jsonl");
        let entries = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Ledger {
            path: Some(path),
            entries,
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Add entries (and append them to the file: the ledger is evidence, so a write error is
    /// reported, not fatal).
    pub fn add(&mut self, new: Vec<Entry>) -> std::io::Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        let result = match &self.path {
            Some(path) => append(path, &new),
            None => Ok(()),
        };
        self.entries.extend(new);
        result
    }

    /// Record what the engine did between `since` and `until` (Unix seconds) as the work of
    /// `command` in `step`.
    pub fn record_window(
        &mut self,
        api: &Api,
        since: f64,
        until: f64,
        step: usize,
        command: &str,
    ) -> Result<Window, berth_api::client::ClientError> {
        let events: Vec<Event> = api
            .events_between(since, until)?
            .iter()
            .filter_map(|line| serde_json::from_str::<Event>(line).ok())
            .collect();
        let entries: Vec<Entry> = events
            .iter()
            .flat_map(|event| entries_of(event, step, command))
            .collect();
        let _ = self.add(entries.clone());
        Ok(Window {
            events: events.len(),
            entries,
        })
    }

    /// Record a value a capture read from one of the run's objects.
    pub fn record_capture(&mut self, kind: Kind, value: &str, step: usize) {
        let _ = self.add(vec![Entry {
            kind,
            id: value.to_owned(),
            name: value.to_owned(),
            action: "capture".to_owned(),
            step,
            command: String::new(),
        }]);
    }

    /// The entry that made the object with this id or name, if the run made it.
    pub fn made(&self, kind: Kind, id: &str, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.kind == kind && e.makes() && (same_id(&e.id, id) || (!name.is_empty() && e.name == name))
        })
    }

    /// The first entry that shows an object named `name` existed during the run.
    pub fn existed(&self, kind: Kind, name: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.kind == kind && e.makes() && (e.name == name || same_id(&e.id, name)))
    }

    /// The entry that removed the object named `name`, if the run removed it.
    pub fn removed(&self, kind: Kind, name: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| {
            e.kind == kind
                && matches!(e.action.as_str(), "destroy" | "delete" | "untag")
                && (e.name == name || same_id(&e.id, name))
        })
    }

    /// The objects of `kind` the run made, by id, oldest first, each once.
    pub fn made_ids(&self, kind: Kind) -> Vec<&Entry> {
        let mut seen = std::collections::BTreeSet::new();
        self.entries
            .iter()
            .filter(|e| e.kind == kind && e.makes() && e.action != "capture")
            .filter(|e| seen.insert(e.id.clone()))
            .collect()
    }
}

/// Ids compare in full, or as a 12-digit prefix (what `docker ps` shows), with or without
/// `sha256:`.
fn same_id(a: &str, b: &str) -> bool {
    let a = a.strip_prefix("sha256:").unwrap_or(a);
    let b = b.strip_prefix("sha256:").unwrap_or(b);
    !a.is_empty()
        && !b.is_empty()
        && (a == b || (b.len() >= 12 && a.starts_with(b)) || (a.len() >= 12 && b.starts_with(a)))
}

fn append(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let mut text = String::new();
    for entry in entries {
        text.push_str(&serde_json::to_string(entry).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
}

/// The ledger entries one engine event makes (none for events that change nothing lasting:
/// start, die, attach…).
fn entries_of(event: &Event, step: usize, command: &str) -> Vec<Entry> {
    let attributes = &event.actor.attributes;
    let name = attributes.get("name").cloned().unwrap_or_default();
    let entry = |kind: Kind, id: &str, name: &str, action: &str| Entry {
        kind,
        id: id.to_owned(),
        name: name.to_owned(),
        action: action.to_owned(),
        step,
        command: command.to_owned(),
    };
    match (event.kind.as_str(), event.action.as_str()) {
        ("container", action @ ("create" | "destroy")) => {
            vec![entry(Kind::Container, &event.actor.id, &name, action)]
        }
        ("container", "rename") => vec![entry(Kind::Container, &event.actor.id, &name, "create")],
        // A commit makes an image (Docker names it in the event's attributes).
        ("container", "commit") => match attributes.get("imageID") {
            Some(image) => vec![entry(
                Kind::Image,
                image,
                attributes.get("imageRef").map(String::as_str).unwrap_or(""),
                "commit",
            )],
            None => Vec::new(),
        },
        ("volume", action @ ("create" | "destroy")) => {
            vec![entry(Kind::Volume, &event.actor.id, &event.actor.id, action)]
        }
        ("network", action @ ("create" | "destroy")) => {
            vec![entry(Kind::Network, &event.actor.id, &name, action)]
        }
        ("image", action @ ("tag" | "untag" | "delete" | "import" | "load" | "pull")) => {
            // `pull` and `load` name the reference in the actor's id; `tag` the image's id and
            // the new reference in `name`.
            let (id, name) = match action {
                "pull" | "load" => (event.actor.id.as_str(), event.actor.id.as_str()),
                _ => (event.actor.id.as_str(), name.as_str()),
            };
            vec![entry(Kind::Image, id, name, action)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn events_that_make_or_remove_become_entries() {
        let create = event(serde_json::json!({
            "Type": "container", "Action": "create",
            "Actor": {"ID": "c0ffee".repeat(10) + "abcd", "Attributes": {"name": "web1", "image": "httpd:2.4"}}
        }));
        let entries = entries_of(&create, 6, "docker run -d --name web1 httpd:2.4");
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].kind, entries[0].name.as_str()),
            (Kind::Container, "web1")
        );
        assert_eq!(
            entries[0].evidence(),
            "made in step 7 by `docker run -d --name web1 httpd:2.4`"
        );
        let start = event(serde_json::json!({"Type": "container", "Action": "start", "Actor": {"ID": "x"}}));
        assert!(entries_of(&start, 0, "").is_empty());
        let volume = event(serde_json::json!({
            "Type": "volume", "Action": "create", "Actor": {"ID": "website", "Attributes": {"driver": "local"}}
        }));
        assert_eq!(
            entries_of(&volume, 0, "docker volume create website")[0].name,
            "website"
        );
        let commit = event(serde_json::json!({
            "Type": "container", "Action": "commit",
            "Actor": {"ID": "c1", "Attributes": {"imageID": "sha256:abc", "imageRef": "site:v1", "name": "httpd"}}
        }));
        let image = &entries_of(&commit, 2, "docker commit httpd site:v1")[0];
        assert_eq!(
            (image.kind, image.id.as_str(), image.name.as_str()),
            (Kind::Image, "sha256:abc", "site:v1")
        );
    }

    #[test]
    fn the_ledger_answers_made_existed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path());
        let id = "a".repeat(64);
        ledger
            .add(vec![
                Entry {
                    kind: Kind::Container,
                    id: id.clone(),
                    name: "httpd".into(),
                    action: "create".into(),
                    step: 2,
                    command: "docker run --name httpd httpd:2.4".into(),
                },
                Entry {
                    kind: Kind::Container,
                    id: id.clone(),
                    name: "httpd".into(),
                    action: "destroy".into(),
                    step: 6,
                    command: "docker rm httpd".into(),
                },
            ])
            .unwrap();
        let reopened = Ledger::open(dir.path());
        assert_eq!(reopened.entries().len(), 2);
        assert!(reopened.made(Kind::Container, &id[..12], "").is_some());
        assert!(reopened.existed(Kind::Container, "httpd").is_some());
        assert!(reopened.existed(Kind::Container, "nginx").is_none());
        assert!(reopened.existed(Kind::Volume, "httpd").is_none());
        assert_eq!(reopened.removed(Kind::Container, "httpd").unwrap().step, 6);
        assert_eq!(reopened.made_ids(Kind::Container).len(), 1);
    }
}
