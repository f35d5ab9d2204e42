//! Small statistics for benchmarks: medians of wall times, and how to print them beside Docker's.

use std::time::{Duration, Instant};

/// Time `f` `runs` times; returns every duration (failures abort the bench).
pub fn time_runs(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    Ok(times)
}

pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// One line: `what  berth 0.041 s  docker 0.560 s  ratio 13.7×`.
pub fn report(what: &str, berth: Duration, docker: Option<Duration>) {
    match docker {
        Some(docker) => println!(
            "{what:<44} berth {:>8.4} s   docker {:>8.4} s   docker/berth {:>5.1}×",
            berth.as_secs_f64(),
            docker.as_secs_f64(),
            docker.as_secs_f64() / berth.as_secs_f64().max(1e-9)
        ),
        None => println!("{what:<44} berth {:>8.4} s", berth.as_secs_f64()),
    }
}

/// VmRSS of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
