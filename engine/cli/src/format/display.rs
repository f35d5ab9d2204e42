//! How `docker ps` shows a container's fields: command, names, image, ports, mounts, size and
//! status, by the rules of the Docker 20.10 CLI formatter and daemon.

use chrono::{DateTime, Utc};

use super::template::printf::go_quote;
use super::units::{human_duration, human_size, truncate_id};

/// Display width of a character: 2 for East Asian wide ones, as the CLI's `charWidth`.
fn char_width(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115f | 0x2e80..=0x303e | 0x3041..=0x33ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60
        | 0xffe0..=0xffe6 | 0x1f300..=0x1f64f | 0x1f900..=0x1f9ff | 0x20000..=0x3fffd);
    if wide { 2 } else { 1 }
}

/// docker/cli `formatter.Ellipsis`: cut to `max_width` display columns, the last one an `…`.
pub fn ellipsis(s: &str, max_width: usize) -> String {
    if max_width == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    if max_width == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    let width: usize = chars.iter().map(|&c| char_width(c)).sum();
    if width <= max_width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in chars {
        if used + char_width(c) > max_width - 1 {
            break;
        }
        used += char_width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// The daemon's `Command` of a container summary: the path, then the arguments, those with a
/// space in single quotes (`sh -c 'sleep 1000'`), as moby's container list builds it.
pub fn summary_command(path: &str, args: &[String]) -> String {
    if args.is_empty() {
        return path.to_string();
    }
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{path} {}", args.join(" "))
}

/// `docker ps`'s COMMAND: cut to 20 columns unless `--no-trunc`, then Go-quoted.
pub fn ps_command(command: &str, trunc: bool) -> String {
    if trunc {
        go_quote(&ellipsis(command, 20))
    } else {
        go_quote(command)
    }
}

/// `docker ps`'s NAMES: without the leading `/`; truncated, only the first name that is not
/// a legacy link (`/other/alias`), else all, comma-separated.
pub fn ps_names(names: &[String], trunc: bool) -> String {
    let names: Vec<&str> = names.iter().map(|n| n.strip_prefix('/').unwrap_or(n)).collect();
    if trunc && let Some(name) = names.iter().find(|n| !n.contains('/')) {
        return name.to_string();
    }
    names.join(",")
}

/// `docker ps`'s IMAGE: as given, or when truncating, a short id for an id, and a name
/// without digest and without `docker.io/library/`.
pub fn ps_image(image: &str, image_id: &str, trunc: bool) -> String {
    if image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return image.to_string();
    }
    if truncate_id(image_id) == truncate_id(image) {
        return truncate_id(image);
    }
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let familiar = without_digest
        .strip_prefix("docker.io/library/")
        .or_else(|| without_digest.strip_prefix("docker.io/"))
        .unwrap_or(without_digest);
    familiar.to_string()
}

/// One entry of a container summary's `Ports`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSummary {
    /// The host address it is published on; empty when only exposed.
    pub ip: String,
    /// The container's port.
    pub private_port: u16,
    /// The host port; 0 when only exposed.
    pub public_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// docker/cli 20.10 `DisplayablePorts`: "0.0.0.0:8080->80/tcp, :::8080->80/tcp", runs of ports
/// published on the same numbers collapsed ("0.0.0.0:9000-9002->9000-9002/udp").
pub fn display_ports(ports: &[PortSummary]) -> String {
    let mut ports = ports.to_vec();
    ports.sort_by(|a, b| {
        (a.private_port, &a.ip, a.public_port, &a.protocol).cmp(&(
            b.private_port,
            &b.ip,
            b.public_port,
            &b.protocol,
        ))
    });
    // One open group per key, in the order keys appeared; a gap closes a group early.
    // Mappings to other port numbers come last.
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut closed: Vec<String> = Vec::new();
    let mut host_mappings = Vec::new();
    for port in &ports {
        let current = port.private_port;
        let mut key = port.protocol.clone();
        if !port.ip.is_empty() {
            if port.public_port != current {
                host_mappings.push(format!(
                    "{}:{}->{}/{}",
                    port.ip, port.public_port, current, port.protocol
                ));
                continue;
            }
            key = format!("{}/{}", port.ip, port.protocol);
        }
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            None => groups.push((key, current, current)),
            Some(group) if group.2.checked_add(1) == Some(current) => group.2 = current,
            Some(group) => {
                closed.push(form_group(&group.0, group.1, group.2));
                (group.1, group.2) = (current, current);
            }
        }
    }
    let mut result = closed;
    result.extend(
        groups
            .iter()
            .map(|(key, first, last)| form_group(key, *first, *last)),
    );
    result.extend(host_mappings);
    result.join(", ")
}

fn form_group(key: &str, first: u16, last: u16) -> String {
    let (ip, protocol) = match key.rsplit_once('/') {
        Some((ip, protocol)) => (ip, protocol),
        None => ("", key),
    };
    let mut group = first.to_string();
    if first != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{ip}:{group}->{group}");
    }
    format!("{group}/{protocol}")
}

/// `docker ps`'s MOUNTS: volume names (or sources), cut to 15 columns when truncating.
pub fn ps_mounts(mounts: &[(String, String)], trunc: bool) -> String {
    let names: Vec<String> = mounts
        .iter()
        .map(|(name, source)| {
            let name = if name.is_empty() { source } else { name };
            if trunc { ellipsis(name, 15) } else { name.clone() }
        })
        .collect();
    names.join(",")
}

/// `docker ps -s`'s SIZE: "2B (virtual 21.5MB)", or just the writable size without a root size.
pub fn ps_size(size_rw: i64, size_root_fs: i64) -> String {
    let rw = human_size(size_rw.max(0) as u64);
    if size_root_fs > 0 {
        format!("{rw} (virtual {})", human_size(size_root_fs as u64))
    } else {
        rw
    }
}

/// The facts of a container's state that its status line is made of.
#[derive(Debug, Clone, Default)]
pub struct StateFacts {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub removal_in_progress: bool,
    pub dead: bool,
    pub exit_code: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The health status (`starting`, `healthy`, `unhealthy`) when there is a healthcheck.
    pub health: Option<String>,
}

/// The daemon's status line (moby `State.String()`): "Up 2 minutes", "Up 5 seconds (Paused)",
/// "Up 3 hours (healthy)", "Restarting (1) 4 seconds ago", "Exited (0) 2 days ago",
/// "Created", "Dead", "Removal In Progress".
pub fn status_text(state: &StateFacts, now: DateTime<Utc>) -> String {
    let since = |t: Option<DateTime<Utc>>| human_duration(now - t.unwrap_or(now));
    if state.running {
        if state.paused {
            return format!("Up {} (Paused)", since(state.started_at));
        }
        if state.restarting {
            return format!(
                "Restarting ({}) {} ago",
                state.exit_code,
                since(state.finished_at)
            );
        }
        if let Some(health) = &state.health {
            let health = if health == "starting" {
                "health: starting"
            } else {
                health
            };
            return format!("Up {} ({health})", since(state.started_at));
        }
        return format!("Up {}", since(state.started_at));
    }
    if state.removal_in_progress {
        return "Removal In Progress".into();
    }
    if state.dead {
        return "Dead".into();
    }
    if state.started_at.is_none() {
        return "Created".into();
    }
    if state.finished_at.is_none() {
        return String::new();
    }
    format!("Exited ({}) {} ago", state.exit_code, since(state.finished_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn port(ip: &str, private_port: u16, public_port: u16, protocol: &str) -> PortSummary {
        PortSummary {
            ip: ip.into(),
            private_port,
            public_port,
            protocol: protocol.into(),
        }
    }

    #[test]
    fn ports_like_docker_ps() {
        // What berthd's and dockerd's summaries list for -p 8080:80 -p 9000-9002:9000-9002/udp.
        let mut ports = Vec::new();
        for ip in ["0.0.0.0", "::"] {
            ports.push(port(ip, 80, 8080, "tcp"));
            for p in 9000..=9002 {
                ports.push(port(ip, p, p, "udp"));
            }
        }
        assert_eq!(
            display_ports(&ports),
            "0.0.0.0:9000-9002->9000-9002/udp, :::9000-9002->9000-9002/udp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp"
        );
        assert_eq!(
            display_ports(&[port("", 80, 0, "tcp"), port("", 443, 0, "tcp")]),
            "80/tcp, 443/tcp"
        );
        assert_eq!(
            display_ports(&[port("", 80, 0, "tcp"), port("", 81, 0, "tcp")]),
            "80-81/tcp"
        );
        assert_eq!(
            display_ports(&[
                port("", 1, 0, "tcp"),
                port("", 2, 0, "tcp"),
                port("", 5, 0, "tcp")
            ]),
            "1-2/tcp, 5/tcp"
        );
        assert_eq!(display_ports(&[]), "");
    }

    #[test]
    fn command_is_cut_and_quoted() {
        let command = summary_command("sh", &["-c".into(), "sleep 1000 && echo \"<hi>\"".into()]);
        assert_eq!(command, "sh -c 'sleep 1000 && echo \"<hi>\"'");
        assert_eq!(ps_command(&command, true), r#""sh -c 'sleep 1000 &…""#);
        assert_eq!(
            ps_command(&command, false),
            r#""sh -c 'sleep 1000 && echo \"<hi>\"'""#
        );
        assert_eq!(ps_command("sleep 1000", true), r#""sleep 1000""#);
        assert_eq!(ellipsis("日本語のテキスト", 5), "日本…");
    }

    #[test]
    fn names_images_mounts_sizes() {
        let names = vec!["/web".to_string(), "/app/db".to_string()];
        assert_eq!(ps_names(&names, true), "web");
        assert_eq!(ps_names(&names, false), "web,app/db");
        let id = "sha256:56f40399b23df2614e3ebe2e69bdea539269d20451b015051279f41046e434f0";
        assert_eq!(
            ps_image(
                "56f40399b23df2614e3ebe2e69bdea539269d20451b015051279f41046e434f0",
                id,
                true
            ),
            "56f40399b23d"
        );
        assert_eq!(
            ps_image("docker.io/library/busybox:latest", id, true),
            "busybox:latest"
        );
        assert_eq!(ps_image("busybox@sha256:abc", id, true), "busybox");
        assert_eq!(ps_image("", id, true), "<no image>");
        let mounts = vec![
            ("fmt-vol1".to_string(), String::new()),
            (String::new(), "/very/long/host/path".to_string()),
        ];
        assert_eq!(ps_mounts(&mounts, true), "fmt-vol1,/very/long/hos…");
        assert_eq!(ps_size(0, 1_982_284), "0B (virtual 1.98MB)");
        assert_eq!(ps_size(12, 0), "12B");
    }

    #[test]
    fn status_lines_like_moby() {
        let now = Utc::now();
        let ago = |s: i64| Some(now - TimeDelta::seconds(s));
        let running = StateFacts {
            running: true,
            started_at: ago(25),
            ..Default::default()
        };
        assert_eq!(status_text(&running, now), "Up 25 seconds");
        let paused = StateFacts {
            paused: true,
            ..running.clone()
        };
        assert_eq!(status_text(&paused, now), "Up 25 seconds (Paused)");
        let starting = StateFacts {
            health: Some("starting".into()),
            ..running.clone()
        };
        assert_eq!(status_text(&starting, now), "Up 25 seconds (health: starting)");
        let exited = StateFacts {
            exit_code: 3,
            started_at: ago(200),
            finished_at: ago(30),
            ..Default::default()
        };
        assert_eq!(status_text(&exited, now), "Exited (3) 30 seconds ago");
        assert_eq!(status_text(&StateFacts::default(), now), "Created");
        let restarting = StateFacts {
            restarting: true,
            exit_code: 1,
            finished_at: ago(4),
            ..running
        };
        assert_eq!(status_text(&restarting, now), "Restarting (1) 4 seconds ago");
    }
}
