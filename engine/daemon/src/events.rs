//! The engine's event stream (`GET /events`): what happened to which object, as Docker reports it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use berth_api::types::{EventActor, EventMessage, Network};
use tokio::sync::broadcast;

/// How many past events are kept for `since`.
const HISTORY: usize = 1024;

/// Publishes events to every `/events` listener and keeps recent ones.
#[derive(Debug)]
pub struct Events {
    sender: broadcast::Sender<EventMessage>,
    history: Mutex<VecDeque<EventMessage>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(HISTORY).0,
            history: Mutex::new(VecDeque::new()),
        }
    }
}

impl Events {
    /// Publish `action` on an object (`container`, `image`, `volume`, `network`).
    pub fn publish(&self, kind: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or_default();
        let from = attributes.get("image").cloned().unwrap_or_default();
        let legacy = kind == "container" || kind == "image";
        let message = EventMessage {
            status: if legacy { action.to_owned() } else { String::new() },
            id: if legacy { id.to_owned() } else { String::new() },
            from: if kind == "container" { from } else { String::new() },
            r#type: kind.to_owned(),
            action: action.to_owned(),
            actor: EventActor {
                id: id.to_owned(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        };
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(message.clone());
        let _ = self.sender.send(message);
    }

    /// A network event with Docker's attributes: the network's name and driver (`type`), and the
    /// container (full id) that connected or disconnected, if any.
    pub fn publish_network(&self, action: &str, network: &Network, container: Option<&str>) {
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_owned(), network.name.clone());
        attributes.insert("type".to_owned(), network.driver.clone());
        if let Some(container) = container {
            attributes.insert("container".to_owned(), container.to_owned());
        }
        self.publish("network", action, &network.id, attributes);
    }

    /// Docker's `prune` event of a kind of object: no actor, only the bytes reclaimed (always 0
    /// for networks).
    pub fn publish_prune(&self, kind: &str, reclaimed: u64) {
        let attributes = BTreeMap::from([("reclaimed".to_owned(), reclaimed.to_string())]);
        self.publish(kind, "prune", "", attributes);
    }

    /// Listen from now on; also returns the kept events (for `since`).
    pub fn subscribe(&self) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        (history.iter().cloned().collect(), self.sender.subscribe())
    }
}
