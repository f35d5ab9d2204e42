//! `docker stats`: each container's CPU %, memory, network and block I/O and pids, computed from
//! the daemon's samples as docker/cli computes them. `--no-stream` asks every container at once
//! (`stream=false`) and prints one table; the live mode reads one stream per container and
//! redraws the table every half second, as Docker 20.10 does.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_api::client::{Client, ClientError};
use berth_api::types::StatsJson;
use http::Method;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::path_segment;
use crate::cli::StatsArgs;
use crate::commands::{Failure, Outcome};
use crate::format::{self, ListKind, ListOptions};

/// docker/cli's `StatsEntry`: one row's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// The container as the user named it (or its short id when listed).
    pub container: String,
    /// With the leading slash, from the daemon.
    pub name: String,
    pub id: String,
    pub cpu_percent: f64,
    pub memory: f64,
    pub memory_limit: f64,
    pub memory_percent: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: u64,
    /// No figures (the stream failed or went quiet): every column reads `--`.
    pub invalid: bool,
}

impl Entry {
    /// The figures of one answer, its `precpu_stats` the previous sample's.
    pub fn from_stats(container: &str, stats: &StatsJson) -> Entry {
        let memory = memory_without_cache(stats);
        let limit = stats.memory_stats.limit as f64;
        let (block_read, block_write) = block_io(stats);
        let (net_rx, net_tx) = stats
            .networks
            .iter()
            .flatten()
            .fold((0.0, 0.0), |(rx, tx), (_, n)| {
                (rx + n.rx_bytes as f64, tx + n.tx_bytes as f64)
            });
        Entry {
            container: container.to_owned(),
            name: stats.name.clone(),
            id: stats.id.clone(),
            cpu_percent: cpu_percent(stats),
            memory,
            memory_limit: limit,
            memory_percent: if limit != 0.0 { memory / limit * 100.0 } else { 0.0 },
            net_rx,
            net_tx,
            block_read,
            block_write,
            pids: stats.pids_stats.current,
            invalid: false,
        }
    }

    /// The row's fields as Docker's `statsContext` prints them.
    pub fn row(&self, trunc: bool) -> Value {
        let or_dashes = |text: String| if self.invalid { "--".to_owned() } else { text };
        let name = self.name.get(1..).filter(|n| !n.is_empty()).unwrap_or("--");
        let id = if trunc {
            format::truncate_id(&self.id)
        } else {
            self.id.clone()
        };
        let decimal = |n: f64| format::human_size_with_precision(n, 3);
        json!({
            "Container": self.container,
            "Name": name,
            "ID": id,
            "CPUPerc": or_dashes(format!("{:.2}%", self.cpu_percent)),
            "MemUsage": if self.invalid {
                "-- / --".to_owned()
            } else {
                format!("{} / {}", binary(self.memory), binary(self.memory_limit))
            },
            "MemPerc": or_dashes(format!("{:.2}%", self.memory_percent)),
            "NetIO": or_dashes(format!("{} / {}", decimal(self.net_rx), decimal(self.net_tx))),
            "BlockIO": or_dashes(format!("{} / {}", decimal(self.block_read), decimal(self.block_write))),
            "PIDs": or_dashes(self.pids.to_string()),
        })
    }
}

/// go-units `BytesSize` of a float.
fn binary(n: f64) -> String {
    format::human_size_binary(n.max(0.0) as u64)
}

/// docker/cli's `calculateCPUPercentUnix`: the container's share of the host's CPU time between
/// the two samples, times the number of CPUs.
fn cpu_percent(stats: &StatsJson) -> f64 {
    let cpu_delta =
        stats.cpu_stats.cpu_usage.total_usage as f64 - stats.precpu_stats.cpu_usage.total_usage as f64;
    let system_delta = stats.cpu_stats.system_cpu_usage as f64 - stats.precpu_stats.system_cpu_usage as f64;
    let mut cpus = stats.cpu_stats.online_cpus as f64;
    if cpus == 0.0 {
        cpus = stats.cpu_stats.cpu_usage.percpu_usage.len() as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

/// docker/cli 20.10's `calculateMemUsageUnixNoCache`: usage less the inactive page cache
/// (`total_inactive_file` on cgroup v1, `inactive_file` on v2).
fn memory_without_cache(stats: &StatsJson) -> f64 {
    let memory = &stats.memory_stats;
    if let Some(&inactive) = memory.stats.get("total_inactive_file") {
        if inactive < memory.usage {
            return (memory.usage - inactive) as f64;
        }
    }
    let inactive = memory.stats.get("inactive_file").copied().unwrap_or(0);
    if inactive < memory.usage {
        return (memory.usage - inactive) as f64;
    }
    memory.usage as f64
}

/// Bytes read and written, summed over devices (ops compared in lower case: v1 says `Read`,
/// v2 `read`).
fn block_io(stats: &StatsJson) -> (f64, f64) {
    let mut read = 0.0;
    let mut write = 0.0;
    for entry in stats.blkio_stats.io_service_bytes_recursive.iter().flatten() {
        match entry.op.to_lowercase().as_str() {
            "read" => read += entry.value as f64,
            "write" => write += entry.value as f64,
            _ => {}
        }
    }
    (read, write)
}

/// `docker stats [OPTIONS] [CONTAINER...]`.
pub async fn stats(client: &Client, args: StatsArgs) -> Outcome {
    let format = ListKind::Stats.format(args.format.as_deref(), ListOptions::default());
    let trunc = !args.no_trunc;
    // Named containers are shown as named; without names, the running (or all) ones by short id.
    let named = !args.containers.is_empty();
    let containers = if named {
        args.containers.clone()
    } else {
        list(client, args.all).await?
    };
    if args.no_stream {
        let answers = futures_util::future::join_all(containers.iter().map(|c| once(client, c))).await;
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (container, answer) in containers.iter().zip(answers) {
            match answer {
                Ok(stats) => entries.push(Entry::from_stats(container, &stats)),
                Err(e) => errors.push(Failure::from(e).message),
            }
        }
        if !errors.is_empty() {
            return Err(Failure::new(errors.join("\n")));
        }
        print!("{}", table(&format, &entries, trunc)?);
        return Ok(());
    }
    live(client, &format, trunc, named, args.all, containers).await
}

/// The running (or all) containers' short ids, newest first as the daemon lists them.
async fn list(client: &Client, all: bool) -> Result<Vec<String>, Failure> {
    let path = if all {
        "/containers/json?all=1"
    } else {
        "/containers/json"
    };
    let summaries: Vec<Value> = client.get(path).await?;
    Ok(summaries
        .iter()
        .filter_map(|s| s["Id"].as_str())
        .map(format::truncate_id)
        .collect())
}

/// One answer with `stream=false`.
async fn once(client: &Client, container: &str) -> Result<StatsJson, ClientError> {
    client
        .get(&format!(
            "/containers/{}/stats?stream=false",
            path_segment(container)
        ))
        .await
}

fn table(format: &str, entries: &[Entry], trunc: bool) -> Result<String, Failure> {
    let rows: Vec<Value> = entries.iter().map(|e| e.row(trunc)).collect();
    format::render_list(format, ListKind::Stats, &rows).map_err(|e| Failure::new(e.to_string()))
}

/// The rows by container, in the order they were added.
type Board = Arc<Mutex<Vec<(String, Option<Result<Entry, String>>)>>>;

/// The live table: a stream per container feeding the board, the board drawn every 500 ms.
async fn live(
    client: &Client,
    format: &str,
    trunc: bool,
    named: bool,
    all: bool,
    containers: Vec<String>,
) -> Outcome {
    let board: Board = Arc::default();
    let mut readers = HashMap::new();
    let follow = |container: &String, readers: &mut HashMap<String, tokio::task::JoinHandle<()>>| {
        lock(&board).push((container.clone(), None));
        let task = tokio::spawn(read_stream(client.clone(), container.clone(), board.clone()));
        readers.insert(container.clone(), task);
    };
    for container in &containers {
        follow(container, &mut readers);
    }
    if named {
        // As Docker: every named container answers once (or fails) before the table shows.
        loop {
            let waiting = lock(&board).iter().any(|(_, entry)| entry.is_none());
            if !waiting {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let errors: Vec<String> = lock(&board)
            .iter()
            .filter_map(|(_, entry)| entry.as_ref().and_then(|e| e.as_ref().err().cloned()))
            .collect();
        if !errors.is_empty() {
            return Err(Failure::new(errors.join("\n")));
        }
    }
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let mut stdout = std::io::stdout();
    loop {
        ticker.tick().await;
        if !named {
            // Containers that started or stopped since (Docker follows its events for this).
            let now = list(client, all).await?;
            lock(&board).retain(|(c, _)| now.contains(c));
            readers.retain(|c, task| {
                let keep = now.contains(c);
                if !keep {
                    task.abort();
                }
                keep
            });
            let started: Vec<&String> = now.iter().filter(|c| !readers.contains_key(*c)).collect();
            for container in started {
                follow(container, &mut readers);
            }
        }
        let entries: Vec<Entry> = lock(&board)
            .iter()
            .map(|(container, entry)| match entry {
                Some(Ok(entry)) => entry.clone(),
                _ => Entry {
                    container: container.clone(),
                    invalid: true,
                    ..Entry::default()
                },
            })
            .collect();
        let text = table(format, &entries, trunc)?;
        stdout.write_all(redraw(&text).as_bytes())?;
        stdout.flush()?;
        if entries.is_empty() && !all {
            return Ok(());
        }
    }
}

/// One frame as Docker 20.10 draws it: clear the screen, cursor home, the table.
fn redraw(table: &str) -> String {
    format!("\x1b[2J\x1b[H{table}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Follow one container's stream, putting each answer on the board.
async fn read_stream(client: Client, container: String, board: Board) {
    let set = |entry: Result<Entry, String>| {
        if let Some(slot) = lock(&board).iter_mut().find(|(c, _)| *c == container) {
            slot.1 = Some(entry);
        }
    };
    let path = format!("/containers/{}/stats?stream=true", path_segment(&container));
    let response = match client.request(Method::GET, &path, None, Client::empty()).await {
        Ok(response) => response,
        Err(e) => return set(Err(Failure::from(e).message)),
    };
    let mut body = response.into_body();
    let mut pending = Vec::new();
    loop {
        // Docker shows `--` for a container whose stream went quiet for 2 s (a stopped one).
        let frame = match tokio::time::timeout(Duration::from_secs(2), body.frame()).await {
            Err(_) => {
                set(Ok(Entry {
                    container: container.clone(),
                    ..Entry::default()
                }));
                continue;
            }
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(stats) = serde_json::from_slice::<StatsJson>(&line) {
                set(Ok(Entry::from_stats(&container, &stats)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::types::{BlkioStatEntry, NetworkStats};

    fn stats() -> StatsJson {
        let mut stats = StatsJson {
            name: "/web".into(),
            id: "0123456789abcdef0123".into(),
            ..StatsJson::default()
        };
        stats.cpu_stats.cpu_usage.total_usage = 300_000_000;
        stats.precpu_stats.cpu_usage.total_usage = 100_000_000;
        stats.cpu_stats.system_cpu_usage = 4_000_000_000;
        stats.precpu_stats.system_cpu_usage = 2_000_000_000;
        stats.cpu_stats.online_cpus = 2;
        stats.memory_stats.usage = 3 << 20;
        stats.memory_stats.limit = 1 << 30;
        stats
            .memory_stats
            .stats
            .insert("total_inactive_file".into(), 1 << 20);
        stats.pids_stats.current = 3;
        stats.blkio_stats.io_service_bytes_recursive = Some(vec![
            BlkioStatEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 1200,
            },
            BlkioStatEntry {
                major: 8,
                minor: 0,
                op: "write".into(),
                value: 5,
            },
        ]);
        let eth0 = NetworkStats {
            rx_bytes: 1500,
            tx_bytes: 0,
            ..NetworkStats::default()
        };
        stats.networks = Some([("eth0".to_owned(), eth0)].into());
        stats
    }

    #[test]
    fn figures_are_computed_as_docker_cli_computes_them() {
        let row = Entry::from_stats("web", &stats()).row(true);
        assert_eq!(row["CPUPerc"], "20.00%");
        assert_eq!(row["MemUsage"], "2MiB / 1GiB");
        assert_eq!(row["MemPerc"], "0.20%");
        assert_eq!(row["NetIO"], "1.5kB / 0B");
        assert_eq!(row["BlockIO"], "1.2kB / 5B");
        assert_eq!(row["PIDs"], "3");
        assert_eq!(row["Name"], "web");
        assert_eq!(row["ID"], "0123456789ab");
        assert_eq!(row["Container"], "web");
    }

    #[test]
    fn an_invalid_entry_reads_dashes_and_an_empty_answer_zeros() {
        let invalid = Entry {
            invalid: true,
            ..Entry::default()
        };
        let row = invalid.row(true);
        assert_eq!(row["MemUsage"], "-- / --");
        assert_eq!(row["CPUPerc"], "--");
        assert_eq!(row["Name"], "--");
        let empty = Entry::from_stats("web", &StatsJson::default()).row(true);
        assert_eq!(empty["MemUsage"], "0B / 0B");
        assert_eq!(empty["CPUPerc"], "0.00%");
    }

    #[test]
    fn a_frame_is_drawn_as_docker_draws_it() {
        assert_eq!(redraw("A\nb\n"), "\x1b[2J\x1b[HA\nb\n");
    }
}
