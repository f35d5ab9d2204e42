//! `GET /events`: the event stream, with Docker's filters and `since`/`until`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_api::types::EventMessage;
use http::header;

use super::ApiError;
use super::params::{Filters, Params};
use crate::engine::Engine;

pub fn routes() -> Router<Engine> {
    Router::new().route("/events", get(events))
}

fn unix_param(params: &Params, key: &str) -> Result<Option<f64>, ApiError> {
    match params.get(key) {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid {key} timestamp: {v}"))),
    }
}

/// Whether an event passes `type`, `event`, `container`, `image` and `label` filters.
fn matches(filters: &Filters, event: &EventMessage) -> bool {
    let any = |key: &str, test: &dyn Fn(&str) -> bool| {
        let values = filters.values(key);
        values.is_empty() || values.iter().any(|v| test(v))
    };
    let attributes = &event.actor.attributes;
    any("type", &|v| v == event.r#type)
        && any("event", &|v| {
            v == event.action || event.action.starts_with(&format!("{v}:"))
        })
        && any("container", &|v| {
            event.r#type == "container"
                && (event.actor.id.starts_with(v) || attributes.get("name").is_some_and(|n| n == v))
        })
        && any("image", &|v| {
            attributes.get("image").is_some_and(|i| i == v) || event.actor.id == v
        })
        && any("label", &|v| match v.split_once('=') {
            Some((k, val)) => attributes.get(k).is_some_and(|a| a == val),
            None => attributes.contains_key(v),
        })
}

async fn events(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let filters = params.filters()?;
    filters.only(&[
        "type",
        "event",
        "container",
        "image",
        "label",
        "volume",
        "network",
        "daemon",
        "plugin",
        "scope",
        "node",
        "service",
        "secret",
        "config",
    ])?;
    let since = unix_param(&params, "since")?;
    let until = unix_param(&params, "until")?;
    let (history, mut live) = engine.events.subscribe();
    let at = |e: &EventMessage| e.time_nano as f64 / 1e9;
    let past: Vec<EventMessage> = match since {
        Some(since) => history
            .into_iter()
            .filter(|e| at(e) >= since && until.is_none_or(|u| at(e) <= u))
            .collect(),
        None => Vec::new(),
    };
    let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let deadline =
        until.map(|u| tokio::time::Instant::now() + std::time::Duration::from_secs_f64((u - now).max(0.0)));
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
