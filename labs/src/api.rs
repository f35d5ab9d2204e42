//! The engine, as lab sees it: the Docker Engine API calls checks, captures, image loading and
//! reset need, made blocking so the rest of lab reads top to bottom.
//!
//! Everything goes through [`berth_api::client::Client`], so the same calls work against berthd
//! and a real Docker daemon. The one berth-only call, [`Api::explain_since`], answers `None` on
//! an engine that has no explain endpoint.

use std::path::Path;
use std::time::{Duration, Instant};

use berth_api::client::{Client, ClientError, query};
use berth_api::explain::ExplainEvent;
use berth_api::types::{
    ContainerInspect, ContainerSummary, ExecConfig, ExecInspect, ExecStartConfig, IdResponse, ImageInspect,
    ImageSummary, Network, Volume, VolumeListResponse,
};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;

/// Most bytes kept of a command's output (an exec, logs): checks need the start, and a chatty
/// container must not fill memory.
pub const OUTPUT_LIMIT: usize = 256 * 1024;

/// A blocking handle on one engine.
pub struct Api {
    client: Client,
    runtime: tokio::runtime::Runtime,
    host: String,
}

impl Api {
    /// A handle on the engine at `host` (`unix:///path`). Nothing is sent yet.
    pub fn new(host: &str) -> Result<Api, ClientError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Api {
            client: Client::from_host(host)?,
            runtime,
            host: host.to_owned(),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the engine answers `GET /_ping`.
    pub fn ping(&self) -> bool {
        self.runtime.block_on(async {
            let Ok(response) = self
                .client
                .request(Method::GET, "/_ping", None, Client::empty())
                .await
            else {
                return false;
            };
            response.into_body().collect().await.is_ok()
        })
    }

    /// `GET /version`: which engine this is (`Components[0].Name`, `Version`).
    pub fn version(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/version")
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.runtime.block_on(self.client.get(path))
    }

    /// GET, with 404 as `None`.
    fn find<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        match self.get(path) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn call(&self, method: Method, path: &str) -> Result<(), ClientError> {
        self.runtime.block_on(self.client.call(method, path))
    }

    pub fn container(&self, name: &str) -> Result<Option<ContainerInspect>, ClientError> {
        self.find(&format!("/containers/{}/json", escape(name)))
    }

    /// Every container (running or not) carrying `label` (`key=value`).
    pub fn containers_labelled(&self, label: &str) -> Result<Vec<ContainerSummary>, ClientError> {
        let q = query(&[("all", "1"), ("filters", &label_filter(label))])?;
        self.get(&format!("/containers/json{q}"))
    }

    pub fn image(&self, name: &str) -> Result<Option<ImageInspect>, ClientError> {
        self.find(&format!("/images/{}/json", escape(name)))
    }

    pub fn images_labelled(&self, label: &str) -> Result<Vec<ImageSummary>, ClientError> {
        let q = query(&[("filters", &label_filter(label))])?;
        self.get(&format!("/images/json{q}"))
    }

    pub fn volume(&self, name: &str) -> Result<Option<Volume>, ClientError> {
        self.find(&format!("/volumes/{}", escape(name)))
    }

    pub fn volumes_labelled(&self, label: &str) -> Result<Vec<Volume>, ClientError> {
        let q = query(&[("filters", &label_filter(label))])?;
        let list: VolumeListResponse = self.get(&format!("/volumes{q}"))?;
        Ok(list.volumes.unwrap_or_default())
    }

    pub fn network(&self, name: &str) -> Result<Option<Network>, ClientError> {
        self.find(&format!("/networks/{}", escape(name)))
    }

    pub fn networks_labelled(&self, label: &str) -> Result<Vec<Network>, ClientError> {
        let q = query(&[("filters", &label_filter(label))])?;
        self.get(&format!("/networks{q}"))
    }

    /// `docker rm -f -v`.
    pub fn remove_container(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &format!("/containers/{}?force=1&v=1", escape(id)))
    }

    /// `docker rmi -f`.
    pub fn remove_image(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &format!("/images/{}?force=1", escape(id)))
    }

    pub fn remove_volume(&self, name: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &format!("/volumes/{}", escape(name)))
    }

    pub fn remove_network(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &format!("/networks/{}", escape(id)))
    }

    /// A container's stdout and stderr so far (`docker logs`), demultiplexed.
    pub fn logs(&self, container: &str) -> Result<String, ClientError> {
        self.runtime.block_on(async {
            let path = format!("/containers/{}/logs?stdout=1&stderr=1", escape(container));
            let response = self
                .client
                .request(Method::GET, &path, None, Client::empty())
                .await?;
            let body = response.into_body().collect().await?.to_bytes();
            Ok(demultiplex(&body))
        })
    }

    /// Run `cmd` in `container` (`docker exec`), its output read until it ends or `deadline`
    /// passes; answers its exit code (`None` when it did not end in time) and its output.
    pub fn exec(
        &self,
        container: &str,
        cmd: Vec<String>,
        deadline: Instant,
    ) -> Result<(Option<i64>, String), ClientError> {
        self.runtime.block_on(async {
            let config = ExecConfig {
                attach_stdout: true,
                attach_stderr: true,
                cmd,
                ..ExecConfig::default()
            };
            let created: IdResponse = self
                .client
                .send_json(
                    Method::POST,
                    &format!("/containers/{}/exec", escape(container)),
                    &config,
                )
                .await?;
            let start = serde_json::to_vec(&ExecStartConfig::default())?;
            let mut stream = self
                .client
                .upgrade(
                    Method::POST,
                    &format!("/exec/{}/start", created.id),
                    Some("application/json"),
                    Client::bytes(start),
                )
                .await?;
            let mut raw = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, stream.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) if raw.len() < OUTPUT_LIMIT => raw.extend_from_slice(&chunk[..n]),
                    Ok(Ok(_)) => {}
                    Err(_) => return Ok((None, demultiplex(&raw))),
                }
            }
            // The stream ends as the process does; its exit code may be recorded a moment later.
            loop {
                let inspect: ExecInspect = self.client.get(&format!("/exec/{}/json", created.id)).await?;
                if !inspect.running {
                    if let Some(code) = inspect.exit_code {
                        return Ok((Some(code), demultiplex(&raw)));
                    }
                }
                if Instant::now() >= deadline {
                    return Ok((None, demultiplex(&raw)));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    /// `docker load -i path`.
    pub fn load_images(&self, path: &Path) -> Result<(), ClientError> {
        self.runtime.block_on(async {
            let file = tokio::fs::File::open(path).await?;
            let response = self
                .client
                .request(
                    Method::POST,
                    "/images/load?quiet=1",
                    Some("application/x-tar"),
                    Client::stream(file),
                )
                .await?;
            let body = response.into_body().collect().await?.to_bytes();
            // The answer is a JSON stream; a failed load says so in an `error` field.
            for line in String::from_utf8_lossy(&body).lines() {
                if let Ok(message) = serde_json::from_str::<serde_json::Value>(line) {
                    if let Some(error) = message.get("error").and_then(|e| e.as_str()) {
                        return Err(ClientError::Api {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            message: error.to_owned(),
                        });
                    }
                }
            }
            Ok(())
        })
    }

    /// What the engine did since `since` (Unix seconds), from berthd's `/berth/explain`;
    /// `None` when the engine has no such endpoint (a Docker daemon).
    pub fn explain_since(&self, since: f64) -> Result<Option<Vec<ExplainEvent>>, ClientError> {
        self.runtime.block_on(async {
            let path = format!("/berth/explain?since={since:.6}");
            let response = match self
                .client
                .request(Method::GET, &path, None, Client::empty())
                .await
            {
                Ok(response) => response,
                Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
                Err(e) => return Err(e),
            };
            let body = response.into_body().collect().await?.to_bytes();
            Ok(Some(
                String::from_utf8_lossy(&body)
                    .lines()
                    .filter_map(|line| ExplainEvent::from_json_line(line).ok())
                    .collect(),
            ))
        })
    }

    /// The engine's events between `since` and `until` (Unix seconds, `until` not in the
    /// future: the engine then answers what it kept and closes), one JSON object per line.
    pub fn events_between(&self, since: f64, until: f64) -> Result<Vec<String>, ClientError> {
        self.runtime.block_on(async {
            let q = query(&[
                ("since", &format!("{since:.9}")),
                ("until", &format!("{:.9}", until.max(since))),
            ])?;
            let response = self
                .client
                .request(Method::GET, &format!("/events{q}"), None, Client::empty())
                .await?;
            // Bounded: should an engine keep the stream open, the ledger goes without.
            let body = tokio::time::timeout(Duration::from_secs(5), response.into_body().collect())
                .await
                .map_err(|_| ClientError::Api {
                    status: StatusCode::GATEWAY_TIMEOUT,
                    message: "the engine's event stream did not end".to_owned(),
                })??
                .to_bytes();
            Ok(String::from_utf8_lossy(&body)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect())
        })
    }

    /// Every container, running or not (`docker ps -a`).
    pub fn containers(&self) -> Result<Vec<ContainerSummary>, ClientError> {
        self.get("/containers/json?all=1")
    }

    /// Every volume.
    pub fn volumes(&self) -> Result<Vec<Volume>, ClientError> {
        let list: VolumeListResponse = self.get("/volumes")?;
        Ok(list.volumes.unwrap_or_default())
    }

    /// Run a future on this handle's runtime (the HTTP checks use it).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// `{"label":["key=value"]}`, the Engine API's filter syntax.
fn label_filter(label: &str) -> String {
    serde_json::json!({ "label": [label] }).to_string()
}

/// A name or reference as one path segment (`example/site:v1` keeps its `/`, as Docker's
/// client sends it; anything else unusual is percent-encoded).
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' | b'@' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Docker's multiplexed stream (8-byte frame headers: stream, 0, 0, 0, big-endian length)
/// as text; a stream that isn't framed (a tty) is taken as it is.
pub fn demultiplex(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while rest.len() >= 8 && matches!(rest[0], 0..=2) && rest[1..4] == [0, 0, 0] {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_joined_in_order() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 3];
        raw.extend_from_slice(b"ab\n");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        raw.extend_from_slice(b"e\n");
        assert_eq!(demultiplex(&raw), "ab\ne\n");
    }

    #[test]
    fn an_unframed_stream_is_kept() {
        assert_eq!(demultiplex(b"hello from a tty\r\n"), "hello from a tty\r\n");
    }

    #[test]
    fn a_truncated_frame_keeps_what_arrived() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 10];
        raw.extend_from_slice(b"abc");
        assert_eq!(demultiplex(&raw), "abc");
    }

    #[test]
    fn names_are_path_segments() {
        assert_eq!(escape("example/site-1:v1"), "example/site-1:v1");
        assert_eq!(escape("a b?"), "a%20b%3F");
    }

    #[test]
    fn label_filters_are_json() {
        assert_eq!(label_filter("berth.lab=x"), r#"{"label":["berth.lab=x"]}"#);
    }
}
