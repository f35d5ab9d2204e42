//! A container's interface counters, as the kernel keeps them inside its network namespace:
//! `/proc/<pid>/net/dev` shows the namespace of that process, so no `setns` is needed. The
//! loopback is left out, as Docker's sandbox statistics list only the container's endpoints.

use std::collections::BTreeMap;

use berth_api::types::NetworkStats;

/// The counters of each interface of the namespace `pid` lives in, but `lo`.
pub fn interface_counters(pid: i64) -> std::io::Result<BTreeMap<String, NetworkStats>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))?;
    Ok(parse_net_dev(&text))
}

/// `/proc/net/dev`: two header lines, then `name: rx bytes packets errs drop fifo frame
/// compressed multicast tx bytes packets errs drop fifo colls carrier compressed`.
fn parse_net_dev(text: &str) -> BTreeMap<String, NetworkStats> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            let n: Vec<u64> = counters
                .split_whitespace()
                .map(|n| n.parse().unwrap_or(0))
                .collect();
            if name == "lo" || n.len() < 16 {
                return None;
            }
            let stats = NetworkStats {
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            };
            Some((name.to_owned(), stats))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_come_from_their_columns_and_lo_is_left_out() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n  \
            eth0:     796      10    1    2    0     0          0         0      42       3    4    5    0     0       0          0\n";
        let counters = parse_net_dev(text);
        assert_eq!(counters.keys().collect::<Vec<_>>(), ["eth0"]);
        let eth0 = &counters["eth0"];
        assert_eq!(
            (eth0.rx_bytes, eth0.rx_packets, eth0.rx_errors, eth0.rx_dropped),
            (796, 10, 1, 2)
        );
        assert_eq!(
            (eth0.tx_bytes, eth0.tx_packets, eth0.tx_errors, eth0.tx_dropped),
            (42, 3, 4, 5)
        );
    }
}
