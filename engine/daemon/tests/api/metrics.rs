//! `--metrics-addr`: berthd's Prometheus endpoint, read directly (engine gauges, API requests by
//! route, cAdvisor-named container series) and scraped by the real Prometheus (Debian's
//! `prometheus`), whose query API must then know the container's memory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` over plain HTTP/1.0: the status line's code, the headers and the body.
fn http_get(port: u16, path: &str) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_owned(), body.to_owned()))
}

/// A berthd with metrics on, and one running busybox.
fn daemon_with_a_container(prefix: &str) -> (TestDaemon, u16, String, String) {
    let port = free_port();
    let daemon = TestDaemon::start_with(&["--metrics-addr", &format!("127.0.0.1:{port}")]);
    daemon.load_stand_in_images();
    let name = unique_name(prefix);
    let id = create(
        &daemon,
        &name,
        &json!({"Image": "busybox", "Cmd": ["sleep", "1000"]}),
    );
    let started = berth(&daemon, "POST", &format!("/containers/{id}/start"), b"");
    assert_eq!(started.status, 204, "{}", started.text());
    (daemon, port, name, id)
}

/// The value of the one sample line of `series` (`name{…labels…}`) that has all `labels`.
fn sample(text: &str, series: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{series}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_endpoint_serves_engine_request_and_container_series() {
    let (mut daemon, port, name, id) = daemon_with_a_container("berth-metrics");
    berth(&daemon, "GET", "/containers/json", b"");
    let (status, head, text) = http_get(port, "/metrics").expect("berthd serves /metrics");
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");

    let running = r#"state="running""#;
    assert_eq!(
        sample(&text, "engine_daemon_container_states_containers", &[running]),
        Some(1.0)
    );
    assert!(
        sample(&text, "berth_images", &[]).is_none(),
        "a gauge without labels has no braces"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("berth_images ") && !l.ends_with(" 0")),
        "{text}"
    );
    // Requests by route, never by id.
    let route = r#"path="/containers/{id}/start",status="204""#;
    assert_eq!(
        sample(&text, "berth_api_requests_total", &[route]),
        Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "berth_api_requests_total", &[r#"path="/containers/json""#]).is_some());
    assert!(!text.contains(&format!(r#"path="/containers/{id}"#)), "{text}");

    // cAdvisor's series for the container, with its name and image.
    let labels = [&*format!(r#"name="{name}""#), r#"image="busybox""#];
    let memory = sample(&text, "container_memory_usage_bytes", &labels).expect("memory usage");
    assert!(memory > 0.0 && memory < 1e9, "{memory}");
    let working = sample(&text, "container_memory_working_set_bytes", &labels).expect("working set");
    assert!(working <= memory);
    assert!(sample(&text, "container_cpu_usage_seconds_total", &labels).is_some_and(|v| v > 0.0));
    assert_eq!(sample(&text, "container_processes", &labels), Some(1.0));
    let eth0 = [labels[0], labels[1], r#"interface="eth0""#];
    assert!(sample(&text, "container_network_receive_packets_total", &eth0).is_some());
    let seen = sample(&text, "container_last_seen", &labels).expect("last seen");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    assert!((now - seen).abs() < 60.0, "{seen} vs {now}");
    assert_alive(&mut daemon);
}

/// A Prometheus of the test's own, killed and its data removed when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Prometheus {
    fn scraping(target_port: u16) -> Prometheus {
        let dir = berth_testkit::unique_dir("berth-prometheus");
        std::fs::create_dir_all(&dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: berthd\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .expect("prometheus config");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run prometheus (apt-get install prometheus; CI installs it)");
        Prometheus { child, dir, port }
    }

    /// `/api/v1/query?query=…`'s result list.
    fn query(&self, query: &str) -> Vec<Value> {
        let path = format!("/api/v1/query?query={}", encode(query));
        http_get(self.port, &path)
            .and_then(|(_, _, body)| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_real_prometheus_scrapes_berthd() {
    let (mut daemon, port, name, _id) = daemon_with_a_container("berth-metrics-prom");
    let prometheus = Prometheus::scraping(port);
    let query = format!(r#"container_memory_usage_bytes{{name="{name}"}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        let result = prometheus.query(&query);
        if !result.is_empty() || Instant::now() >= deadline {
            break result;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        result.len(),
        1,
        "Prometheus knows the container's memory: {result:?}"
    );
    let series = &result[0];
    assert_eq!(series["metric"]["image"], "busybox");
    assert_eq!(series["metric"]["job"], "berthd");
    let bytes: f64 = series["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(bytes > 0.0 && bytes < 1e9, "{bytes}");
    // The target is up and counters arrive as counters.
    let up = prometheus.query(r#"up{job="berthd"}"#);
    assert_eq!(up.first().map(|s| s["value"][1].clone()), Some(json!("1")));
    let cpu = format!(r#"container_cpu_usage_seconds_total{{name="{name}"}}"#);
    assert_eq!(prometheus.query(&cpu).len(), 1);
    assert_alive(&mut daemon);
}
