//! `GET /events`: the event stream, with Docker's filters and `since`/`until`.

use std::num::IntErrorKind;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_api::types::EventMessage;
use http::{StatusCode, header};

use super::ApiError;
use super::params::{Filters, Params};
use crate::engine::Engine;
use crate::reference::Reference;

pub fn routes() -> Router<Engine> {
    Router::new().route("/events", get(events))
}

/// A `since`/`until` value as dockerd's `timetypes.ParseTimestamps` reads it: `SECONDS` or
/// `SECONDS.FRACTION`, each a Go `ParseInt` (no floats, no exponents). `-1` seconds means "not
/// given", as in Docker. Returns nanoseconds since the epoch, wide enough for any input, so a
/// huge value is simply far in the future.
fn parse_timestamp(value: &str) -> Result<Option<i128>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    let (seconds, fraction) = match value.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (value, None),
    };
    let seconds = go_parse_int(seconds)?;
    let nanos = match fraction {
        None => 0,
        Some(digits) => {
            // Docker scales the fraction to nanoseconds by its number of digits.
            let scale = 10f64.powi(9 - digits.len().min(64) as i32);
            (go_parse_int(digits)? as f64 * scale) as i64
        }
    };
    if seconds == -1 {
        return Ok(None);
    }
    Ok(Some(i128::from(seconds) * 1_000_000_000 + i128::from(nanos)))
}

/// Go's `strconv.ParseInt(text, 10, 64)`, failing with its message (which dockerd answers with
/// a 500, as it doesn't classify it).
fn go_parse_int(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|e: std::num::ParseIntError| {
        let why = match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("strconv.ParseInt: parsing {text:?}: {why}"),
        )
    })
}

/// Go's `filters.Args.ExactMatch`: a key without values lets everything through.
fn exact(filters: &Filters, key: &str, source: &str) -> bool {
    let values = filters.values(key);
    values.is_empty() || values.iter().any(|v| v == source)
}

/// Go's `filters.Args.FuzzyMatch`: also a value that `source` begins with.
fn fuzzy(filters: &Filters, key: &str, source: &str) -> bool {
    exact(filters, key, source) || filters.values(key).iter().any(|v| source.starts_with(v.as_str()))
}

/// An image name without its tag (`busybox:latest` → `busybox`), or as it is when it isn't a
/// name (an id).
fn strip_tag(image: &str) -> String {
    Reference::parse_normalized(image).map_or_else(|_| image.to_owned(), |r| r.familiar_name())
}

/// Whether an event passes the filters, as dockerd's `events.Filter.Include`. Each object filter
/// (`container`, `volume`, `network`…) tests the actor's id and `name` attribute by prefix,
/// whatever the event's type: so `volume=data` keeps only events whose actor is named `data…`.
fn matches(filters: &Filters, event: &EventMessage) -> bool {
    let attributes = &event.actor.attributes;
    let by_name = |key: &str| {
        fuzzy(filters, key, &event.actor.id)
            || fuzzy(filters, key, attributes.get("name").map_or("", String::as_str))
    };
    // `health_status`, `exec_create` and `exec_start` stand for their `…: detail` forms too.
    let fuzzy_actions = filters
        .values("event")
        .iter()
        .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"));
    let action_matches = if fuzzy_actions {
        fuzzy(filters, "event", &event.action)
    } else {
        exact(filters, "event", &event.action)
    };
    // Images by id or name (with and without the tag): an image event's `name`, the `image` a
    // container event names.
    let image_name = match event.r#type.as_str() {
        "image" => attributes.get("name"),
        _ => attributes.get("image"),
    }
    .map_or("", String::as_str);
    let image_matches = exact(filters, "image", &event.actor.id)
        || exact(filters, "image", image_name)
        || exact(filters, "image", &strip_tag(&event.actor.id))
        || exact(filters, "image", &strip_tag(image_name));
    // Every `label=k` or `label=k=v` must hold.
    let labels_match = filters.values("label").iter().all(|label| {
        let (key, value) = match label.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (label.as_str(), None),
        };
        attributes
            .get(key)
            .is_some_and(|found| value.is_none_or(|v| v == found))
    });
    action_matches
        && exact(filters, "type", &event.r#type)
        && exact(filters, "scope", &event.scope)
        && [
            "container",
            "daemon",
            "plugin",
            "volume",
            "network",
            "node",
            "service",
            "secret",
            "config",
        ]
        .into_iter()
        .all(by_name)
        && image_matches
        && labels_match
}

async fn events(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    // dockerd takes any filter key here (unknown ones match nothing or everything, as above).
    let filters = params.filters()?;
    let since = parse_timestamp(params.get("since"))?;
    let until = parse_timestamp(params.get("until"))?;
    if let (Some(since), Some(until)) = (since, until) {
        if until < since {
            return Err(ApiError::bad_request(format!(
                "`since` time ({}) cannot be after `until` time ({})",
                params.get("since"),
                params.get("until")
            )));
        }
    }
    let (history, mut live) = engine.events.subscribe();
    // Kept events are replayed when either bound is given (Docker's `loadBufferedEvents`).
    let past: Vec<EventMessage> = if since.is_none() && until.is_none() {
        Vec::new()
    } else {
        history
            .into_iter()
            .filter(|e| {
                let at = i128::from(e.time_nano);
                at >= since.unwrap_or(0) && until.is_none_or(|u| u <= 0 || at <= u)
            })
            .collect()
    };
    let now = i128::from(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    // An `until` in the past answers with kept events only; one in the future streams until
    // then (so far off that no timer reaches it: until the client leaves).
    let only_past = until.is_some_and(|u| u < now);
    let deadline = until.filter(|_| !only_past).and_then(|u| {
        // Beyond what fits a timer (centuries away): no deadline at all.
        let wait = u64::try_from(u - now).ok()?;
        tokio::time::Instant::now().checked_add(std::time::Duration::from_nanos(wait))
    });
    let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    let line = |e: &EventMessage| {
        let mut json = serde_json::to_vec(e).expect("events serialize");
        json.push(b'\n');
        bytes::Bytes::from(json)
    };
    tokio::spawn(async move {
        for event in past.iter().filter(|e| matches(&filters, e)) {
            if sender.send(line(event)).await.is_err() {
                return;
            }
        }
        if only_past {
            return;
        }
        loop {
            let next = async {
                match deadline {
                    Some(deadline) => tokio::time::timeout_at(deadline, live.recv()).await.ok(),
                    None => Some(live.recv().await),
                }
            };
            tokio::select! {
                event = next => match event {
                    Some(Ok(event)) => {
                        if matches(&filters, &event) && sender.send(line(&event)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                    _ => return,
                },
                _ = sender.closed() => return,
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        super::channel_body(receiver),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use berth_api::types::EventActor;

    use super::*;

    #[test]
    fn timestamps_parse_as_dockers() {
        let nanos = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(nanos(""), None);
        // Docker's "not given", with or without a fraction.
        assert_eq!(nanos("-1"), None);
        assert_eq!(nanos("-1.5"), None);
        assert_eq!(nanos("12"), Some(12_000_000_000));
        assert_eq!(nanos("1.5"), Some(1_500_000_000));
        assert_eq!(nanos("1.000000001"), Some(1_000_000_001));
        assert_eq!(nanos("-5"), Some(-5_000_000_000));
        // The largest seconds Go takes: far in the future, no overflow.
        assert_eq!(
            nanos("9223372036854775807"),
            Some(i128::from(i64::MAX) * 1_000_000_000)
        );
        let error = |s: &str| {
            let e = parse_timestamp(s).unwrap_err();
            (e.status.as_u16(), e.message)
        };
        for bad in ["1e300", "inf", "nan", "abc", "1."] {
            let quoted = bad
                .split('.')
                .find(|p| p.parse::<i64>().is_err())
                .unwrap_or_default();
            assert_eq!(
                error(bad),
                (
                    500,
                    format!("strconv.ParseInt: parsing {quoted:?}: invalid syntax")
                ),
                "{bad}"
            );
        }
        assert_eq!(
            error("1.x"),
            (500, "strconv.ParseInt: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            error("99999999999999999999"),
            (
                500,
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range".into()
            )
        );
    }

    fn event(kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            r#type: kind.into(),
            action: action.into(),
            actor: EventActor {
                id: id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            },
            scope: "local".into(),
            ..EventMessage::default()
        }
    }

    #[test]
    fn filters_match_as_dockers() {
        let pass = |json: &str, e: &EventMessage| matches(&Filters::parse(json).unwrap(), e);
        let volume = event(
            "volume",
            "mount",
            "data",
            &[("driver", "local"), ("container", "c0ffee")],
        );
        let network = event(
            "network",
            "connect",
            "9b1d05b6d718",
            &[("name", "bridge"), ("type", "bridge")],
        );
        let container = event(
            "container",
            "start",
            "c0ffee",
            &[("name", "web"), ("image", "busybox:latest")],
        );
        let image = event("image", "tag", "sha256:abc", &[("name", "web:v1")]);
        assert!(pass(r#"{"type":["volume"]}"#, &volume));
        assert!(!pass(r#"{"type":["volume"]}"#, &network));
        assert!(pass(r#"{"type":["volume","image"]}"#, &image));
        // Object filters match the actor's id or name by prefix, whatever the type.
        assert!(pass(r#"{"volume":["data"]}"#, &volume));
        assert!(pass(r#"{"volume":["da"]}"#, &volume));
        assert!(!pass(r#"{"volume":["data"]}"#, &container));
        assert!(pass(r#"{"network":["bridge"]}"#, &network));
        assert!(pass(r#"{"network":["9b1d"]}"#, &network));
        assert!(!pass(r#"{"network":["host"]}"#, &network));
        assert!(pass(r#"{"container":["we"]}"#, &container));
        // Images by id, name, or name without its tag.
        assert!(pass(r#"{"image":["busybox"]}"#, &container));
        assert!(pass(r#"{"image":["web"]}"#, &image));
        assert!(pass(r#"{"image":["sha256:abc"]}"#, &image));
        assert!(!pass(r#"{"image":["busybox"]}"#, &image));
        // Exact actions, except the three with details.
        assert!(!pass(r#"{"event":["mo"]}"#, &volume));
        let exec = event("container", "exec_start: sh", "c0ffee", &[]);
        assert!(pass(r#"{"event":["exec_start"]}"#, &exec));
        // Every label must hold.
        assert!(pass(r#"{"label":["driver=local","container"]}"#, &volume));
        assert!(!pass(r#"{"label":["driver=local","nope"]}"#, &volume));
        // Keys dockerd doesn't know are ignored.
        assert!(pass(r#"{"scope":["local"],"bogus":["x"]}"#, &volume));
        assert!(!pass(r#"{"scope":["swarm"]}"#, &volume));
    }
}
