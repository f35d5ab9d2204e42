//! `GET /berth/explain`: berth's own endpoint (not Docker's) streaming explain events as JSON
//! lines — for one container (`container=`), or everything the daemon did; `since=` (Unix time)
//! and `follow=1` as for logs.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_api::explain::ExplainEvent;
use http::header;

use super::ApiError;
use super::params::Params;
use crate::engine::Engine;
use crate::explain;

pub fn routes() -> Router<Engine> {
    Router::new().route("/berth/explain", get(stream))
}

fn time_of(event: &ExplainEvent) -> f64 {
    chrono::DateTime::parse_from_rfc3339(&event.time)
        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
        .unwrap_or(0.0)
}

async fn stream(State(engine): State<Engine>, params: Params) -> Result<Response, ApiError> {
    let exec_root = engine.config.exec_root.clone();
    let files: Vec<PathBuf> = match params.get("container") {
        "" => {
            let mut files = vec![explain::daemon_log(&exec_root)];
            files.extend(
                engine
                    .containers
                    .all()
                    .iter()
                    .map(|c| explain::container_log(&exec_root, &c.id)),
            );
            files
        }
        name => vec![explain::container_log(
            &exec_root,
            &engine.containers.get(name)?.id,
        )],
    };
    let since = match params.get("since") {
        "" => None,
        s => Some(
            s.parse::<f64>()
                .map_err(|_| ApiError::bad_request(format!("invalid since value: {s}")))?,
        ),
    };
    let follow = params.bool("follow");
    // Logs untouched since `since` hold nothing newer: not read at all.
    let files: Vec<PathBuf> = match since {
        Some(since) => files
            .into_iter()
            .filter(|f| explain::written_since(f, since))
            .collect(),
        None => files,
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
    tokio::spawn(async move {
        let mut offsets = vec![0u64; files.len()];
        loop {
            // Files are read on a blocking thread, each from where the last read ended.
            let read = tokio::task::spawn_blocking({
                let (files, offsets) = (files.clone(), offsets.clone());
                move || {
                    files
                        .iter()
                        .zip(offsets)
                        .map(|(file, offset)| explain::read_from(file, offset))
                        .collect::<Vec<_>>()
                }
            })
            .await;
            let Ok(read) = read else { return };
            let mut batch = Vec::new();
            let mut advanced = false;
            for (offset, (events, next)) in offsets.iter_mut().zip(read) {
                advanced |= next != *offset;
                *offset = next;
                batch.extend(
                    events
                        .into_iter()
                        .filter(|e| since.is_none_or(|s| time_of(e) >= s)),
                );
            }
            batch.sort_by(|a, b| a.time.cmp(&b.time));
            if !batch.is_empty() {
                let mut chunk = String::new();
                for event in batch {
                    chunk.push_str(&event.to_json_line());
                    chunk.push('\n');
                }
                if sender.send(chunk.into()).await.is_err() {
                    return;
                }
            }
            if !follow {
                // Without following: go on only while a long log is still being caught up.
                if advanced {
                    continue;
                }
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
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
