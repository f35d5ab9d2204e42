//! List rows from Engine API JSON, field by field as the Docker 20.10 CLI computes them:
//! what `{{.ID}}`, `{{.Status}}`, `{{.Ports}}`… show in `ps`, `images`, `volume ls`,
//! `network ls` and `history`. Each row is a JSON object for [`super::render_list`].

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value as Json, json};

use super::display::{
    PortSummary, display_ports, ellipsis, ps_command, ps_image, ps_mounts, ps_names, ps_size,
};
use super::units::{
    human_size, human_size_with_precision, local_time, local_time_rfc3339, rfc3339_local, time_ago_at,
    truncate_id,
};

fn text<'a>(json: &'a Json, key: &str) -> &'a str {
    json.get(key).and_then(Json::as_str).unwrap_or_default()
}

fn int(json: &Json, key: &str) -> i64 {
    json.get(key).and_then(Json::as_i64).unwrap_or_default()
}

fn strings(json: &Json, key: &str) -> Vec<String> {
    json.get(key)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn labels(json: &Json) -> Json {
    json.get("Labels")
        .filter(|l| l.is_object())
        .cloned()
        .unwrap_or_else(|| Json::Object(Map::new()))
}

fn unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}

/// A `docker ps` row from one `GET /containers/json` entry; `trunc` is the opposite of `--no-trunc`.
pub fn container_row(summary: &Json, trunc: bool, now: DateTime<Utc>) -> Json {
    let id = text(summary, "Id");
    let ports: Vec<PortSummary> = summary
        .get("Ports")
        .and_then(Json::as_array)
        .map(|ports| {
            ports
                .iter()
                .map(|p| PortSummary {
                    ip: text(p, "IP").to_string(),
                    private_port: u16::try_from(int(p, "PrivatePort")).unwrap_or_default(),
                    public_port: u16::try_from(int(p, "PublicPort")).unwrap_or_default(),
                    protocol: text(p, "Type").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts: Vec<&Json> = summary
        .get("Mounts")
        .and_then(Json::as_array)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let mount_names: Vec<(String, String)> = mounts
        .iter()
        .map(|m| (text(m, "Name").to_string(), text(m, "Source").to_string()))
        .collect();
    let local_volumes = mounts.iter().filter(|m| text(m, "Driver") == "local").count();
    let mut networks: Vec<&String> = summary
        .pointer("/NetworkSettings/Networks")
        .and_then(Json::as_object)
        .map(|n| n.keys().collect())
        .unwrap_or_default();
    // Docker lists them in Go's random map order; sorted is stable and as readable.
    networks.sort();
    let networks: Vec<&str> = networks.into_iter().map(String::as_str).collect();
    let created = int(summary, "Created");
    json!({
        "ID": if trunc { truncate_id(id) } else { id.to_string() },
        "Names": ps_names(&strings(summary, "Names"), trunc),
        "Image": ps_image(text(summary, "Image"), text(summary, "ImageID"), trunc),
        "Command": ps_command(text(summary, "Command"), trunc),
        "CreatedAt": local_time(created),
        "RunningFor": time_ago_at(unix(created), now),
        "Ports": display_ports(&ports),
        "State": text(summary, "State"),
        "Status": text(summary, "Status"),
        "Size": ps_size(int(summary, "SizeRw"), int(summary, "SizeRootFs")),
        "Labels": labels(summary),
        "Mounts": ps_mounts(&mount_names, trunc),
        "LocalVolumes": local_volumes.to_string(),
        "Networks": networks.join(","),
    })
}

/// A repository name as Docker shows it: without `docker.io/library/` or `docker.io/`.
fn familiar(name: &str) -> &str {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
}

/// Split `repo:tag` at the tag's colon (not a registry port's).
fn split_tag(reference: &str) -> Option<(&str, &str)> {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    reference[slash..]
        .rfind(':')
        .map(|i| (&reference[..slash + i], &reference[slash + i + 1..]))
}

/// The `docker images` rows of one `GET /images/json` entry: one per repository and tag (and
/// digest with `--digests`), `<none>` rows for dangling images and digest-only repositories.
pub fn image_rows(summary: &Json, digests: bool, trunc: bool, now: DateTime<Utc>) -> Vec<Json> {
    let id = text(summary, "Id");
    let created = int(summary, "Created");
    let shared = summary.get("SharedSize").and_then(Json::as_i64).unwrap_or(-1);
    let virtual_size = summary
        .get("VirtualSize")
        .and_then(Json::as_i64)
        .unwrap_or_else(|| int(summary, "Size"));
    let containers = summary.get("Containers").and_then(Json::as_i64).unwrap_or(-1);
    let row = |repository: &str, tag: &str, digest: &str| {
        json!({
            "ID": if trunc { truncate_id(id) } else { id.to_string() },
            "Repository": repository,
            "Tag": tag,
            "Digest": digest,
            "CreatedSince": time_ago_at(unix(created), now),
            "CreatedAt": local_time(created),
            "Size": human_size(int(summary, "Size").max(0) as u64),
            "Containers": if containers == -1 { "N/A".to_string() } else { containers.to_string() },
            "VirtualSize": human_size_with_precision(virtual_size as f64, 4),
            "SharedSize": if shared == -1 { "N/A".to_string() } else { human_size_with_precision(shared as f64, 4) },
            "UniqueSize": if shared == -1 || virtual_size == -1 {
                "N/A".to_string()
            } else {
                human_size_with_precision((virtual_size - shared) as f64, 4)
            },
        })
    };
    let repo_tags = strings(summary, "RepoTags");
    let repo_digests = strings(summary, "RepoDigests");
    let dangling = (repo_tags.is_empty() && repo_digests.is_empty())
        || (repo_tags == ["<none>:<none>"] && repo_digests == ["<none>@<none>"]);
    if dangling {
        return vec![row("<none>", "<none>", "<none>")];
    }
    // Repositories in the order they first appear (Docker walks Go maps, in random order).
    let mut tags: Vec<(String, Vec<String>)> = Vec::new();
    for (repo, tag) in repo_tags.iter().filter_map(|r| split_tag(r)) {
        match tags.iter_mut().find(|(r, _)| r == familiar(repo)) {
            Some((_, list)) => list.push(tag.to_string()),
            None => tags.push((familiar(repo).to_string(), vec![tag.to_string()])),
        }
    }
    let mut digest_repos: Vec<(String, Vec<String>)> = Vec::new();
    for (repo, digest) in repo_digests.iter().filter_map(|r| r.split_once('@')) {
        match digest_repos.iter_mut().find(|(r, _)| r == familiar(repo)) {
            Some((_, list)) => list.push(digest.to_string()),
            None => digest_repos.push((familiar(repo).to_string(), vec![digest.to_string()])),
        }
    }
    let mut rows = Vec::new();
    for (repo, repo_tags) in &tags {
        let repo_digests = digest_repos
            .iter()
            .position(|(r, _)| r == repo)
            .map(|i| digest_repos.remove(i).1);
        let shown_digests = if digests {
            repo_digests.unwrap_or_default()
        } else {
            Vec::new()
        };
        for tag in repo_tags {
            if shown_digests.is_empty() {
                rows.push(row(repo, tag, "<none>"));
            }
            for digest in &shown_digests {
                rows.push(row(repo, tag, digest));
            }
        }
    }
    for (repo, repo_digests) in &digest_repos {
        if digests {
            rows.extend(repo_digests.iter().map(|digest| row(repo, "<none>", digest)));
        } else {
            rows.push(row(repo, "<none>", ""));
        }
    }
    rows
}

/// Docker's `sortorder.NaturalLess`: digit runs compare as numbers ("net2" < "net10").
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let run = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (ra, rb) = (run(a), run(b));
            let (na, nb) = (a[..ra].trim_start_matches('0'), b[..rb].trim_start_matches('0'));
            let order = na
                .len()
                .cmp(&nb.len())
                .then_with(|| na.cmp(nb))
                .then_with(|| ra.cmp(&rb));
            if order.is_ne() {
                return order;
            }
            (a, b) = (&a[ra..], &b[rb..]);
        } else {
            if ca != cb {
                return ca.cmp(&cb);
            }
            (a, b) = (&a[ca.len_utf8()..], &b[cb.len_utf8()..]);
        }
    }
}

/// Sort API entries by `Name` in natural order, as `docker volume ls` and `docker network ls` list them.
pub fn sort_by_name(entries: &mut [Json]) {
    entries.sort_by(|a, b| natural_cmp(text(a, "Name"), text(b, "Name")));
}

/// A `docker volume ls` row from one entry of `GET /volumes`' `Volumes`.
pub fn volume_row(volume: &Json) -> Json {
    let usage = volume.get("UsageData").filter(|u| u.is_object());
    json!({
        "Name": text(volume, "Name"),
        "Driver": text(volume, "Driver"),
        "Scope": text(volume, "Scope"),
        "Mountpoint": text(volume, "Mountpoint"),
        "Labels": labels(volume),
        "Links": usage.map_or("N/A".to_string(), |u| int(u, "RefCount").to_string()),
        "Size": usage.map_or("N/A".to_string(), |u| human_size_with_precision(int(u, "Size") as f64, 4)),
    })
}

/// A `docker network ls` row from one `GET /networks` entry.
pub fn network_row(network: &Json, trunc: bool) -> Json {
    let id = text(network, "Id");
    let flag = |key: &str| {
        network
            .get(key)
            .and_then(Json::as_bool)
            .unwrap_or_default()
            .to_string()
    };
    json!({
        "ID": if trunc { truncate_id(id) } else { id.to_string() },
        "Name": text(network, "Name"),
        "Driver": text(network, "Driver"),
        "Scope": text(network, "Scope"),
        "IPv6": flag("EnableIPv6"),
        "Internal": flag("Internal"),
        "Labels": labels(network),
        "CreatedAt": local_time_rfc3339(text(network, "Created")),
    })
}

/// A `docker history` row from one `GET /images/{name}/history` entry;
/// `human` is `--human` (sizes and times made readable, the default).
pub fn history_row(item: &Json, trunc: bool, human: bool, now: DateTime<Utc>) -> Json {
    let id = text(item, "Id");
    let created = int(item, "Created");
    let created_by = text(item, "CreatedBy").replace('\t', " ");
    let size = int(item, "Size");
    json!({
        "ID": if trunc { truncate_id(id) } else { id.to_string() },
        "CreatedSince": if human { time_ago_at(unix(created), now) } else { rfc3339_local(created) },
        "CreatedAt": rfc3339_local(created),
        "CreatedBy": if trunc { ellipsis(&created_by, 45) } else { created_by },
        "Size": if human { human_size(size.max(0) as u64) } else { size.to_string() },
        "Comment": text(item, "Comment"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{ListKind, ListOptions, render_list};

    fn now() -> DateTime<Utc> {
        unix(1_795_838_218 + 31)
    }

    #[test]
    fn image_rows_expand_tags_and_digests() {
        let summary = json!({
            "Id": "sha256:56f40399b23df2614e3ebe2e69bdea539269d20451b015051279f41046e434f0",
            "RepoTags": ["fmt-bb:v1", "fmt-bb:v2", "localhost:5000/x:1"],
            "RepoDigests": ["fmt-bb@sha256:aaa", "other@sha256:bbb"],
            "Created": 1_795_838_218, "Size": 1_982_284, "VirtualSize": 1_982_284,
            "SharedSize": -1, "Containers": -1,
        });
        let rows = image_rows(&summary, false, true, now());
        let shown: Vec<String> = rows
            .iter()
            .map(|r| format!("{}:{}:{}", r["Repository"], r["Tag"], r["Digest"]))
            .collect();
        assert_eq!(
            shown,
            [
                r#""fmt-bb":"v1":"<none>""#,
                r#""fmt-bb":"v2":"<none>""#,
                r#""localhost:5000/x":"1":"<none>""#,
                r#""other":"<none>":"""#
            ]
        );
        let with_digests = image_rows(&summary, true, true, now());
        assert_eq!(with_digests[0]["Digest"], "sha256:aaa");
        assert_eq!(with_digests[3]["Tag"], "<none>");
        assert_eq!(rows[0]["ID"], "56f40399b23d");
        assert_eq!(rows[0]["CreatedSince"], "31 seconds ago");
        assert_eq!(rows[0]["VirtualSize"], "1.982MB");
        let dangling = json!({"Id": "sha256:abc", "RepoTags": null, "RepoDigests": null, "Size": 0});
        assert_eq!(
            image_rows(&dangling, false, true, now())[0]["Repository"],
            "<none>"
        );
    }

    #[test]
    fn container_rows_like_docker_ps() {
        // The /containers/json entry dockerd gave for fmt-c1 (trimmed), and what docker ps printed.
        let summary = json!({
            "Id": "248c31424d4b1705deb70f5202060f019a18f12e062335117917692f4727f932",
            "Names": ["/fmt-c1"], "Image": "fmt-bb:v1",
            "ImageID": "sha256:56f40399b23df2614e3ebe2e69bdea539269d20451b015051279f41046e434f0",
            "Command": "sh -c 'sleep 1000 && echo \"<hi>\"'", "Created": 1_795_838_218,
            "Ports": [
                {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                {"IP": "0.0.0.0", "PrivatePort": 9000, "PublicPort": 9000, "Type": "udp"},
                {"IP": "::", "PrivatePort": 9000, "PublicPort": 9000, "Type": "udp"},
                {"IP": "0.0.0.0", "PrivatePort": 9001, "PublicPort": 9001, "Type": "udp"},
                {"IP": "::", "PrivatePort": 9001, "PublicPort": 9001, "Type": "udp"},
                {"IP": "0.0.0.0", "PrivatePort": 9002, "PublicPort": 9002, "Type": "udp"},
                {"IP": "::", "PrivatePort": 9002, "PublicPort": 9002, "Type": "udp"}
            ],
            "SizeRw": 0, "SizeRootFs": 1_982_284,
            "Labels": {"b": "two", "com.example.a": "1", "com.example.vendor": "acme"},
            "State": "running", "Status": "Up 25 seconds",
            "NetworkSettings": {"Networks": {"bridge": {}}},
            "Mounts": [{"Type": "volume", "Name": "fmt-vol1", "Source": "/var/lib/docker-cmp/volumes/fmt-vol1/_data",
                        "Destination": "/data", "Driver": "local"}]
        });
        let row = container_row(&summary, true, now());
        let json = render_list("{{json .}}", ListKind::Containers, &[row]).unwrap();
        assert_eq!(
            json.trim_end(),
            r#"{"Command":"\"sh -c 'sleep 1000 \u0026…\"","CreatedAt":"2026-11-28 03:56:58 +0000 UTC","ID":"248c31424d4b","Image":"fmt-bb:v1","Labels":"b=two,com.example.a=1,com.example.vendor=acme","LocalVolumes":"1","Mounts":"fmt-vol1","Names":"fmt-c1","Networks":"bridge","Ports":"0.0.0.0:9000-9002-\u003e9000-9002/udp, :::9000-9002-\u003e9000-9002/udp, 0.0.0.0:8080-\u003e80/tcp, :::8080-\u003e80/tcp","RunningFor":"31 seconds ago","Size":"0B (virtual 1.98MB)","State":"running","Status":"Up 25 seconds"}"#
                .replace("2026-11-28 03:56:58 +0000 UTC", &local_time(1_795_838_218))
        );
    }

    #[test]
    fn natural_order() {
        let mut names = vec!["net10", "net2", "bridge", "net02x", "host"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["bridge", "host", "net2", "net02x", "net10"]);
    }

    #[test]
    fn volume_network_and_history_rows() {
        let volume = json!({"Name": "fmt-vol1", "Driver": "local", "Mountpoint": "/v/_data", "Scope": "local", "Labels": null});
        let out = render_list("{{json .}}", ListKind::Volumes, &[volume_row(&volume)]);
        assert_eq!(
            out.unwrap().trim_end(),
            r#"{"Driver":"local","Labels":"","Links":"N/A","Mountpoint":"/v/_data","Name":"fmt-vol1","Scope":"local","Size":"N/A"}"#
        );
        let network = json!({"Name": "bridge", "Id": "7de4fe8eaa5b77f7abf7a0b5281243140e0e9230497ac122567bf52354b971d4",
            "Created": "2026-11-28T03:29:02.194721794Z", "Scope": "local", "Driver": "bridge",
            "EnableIPv6": false, "Internal": false, "Labels": {}});
        let row = network_row(&network, true);
        assert_eq!(row["ID"], "7de4fe8eaa5b");
        assert_eq!(row["IPv6"], "false");
        let item = json!({"Id": "sha256:56f40399b23df2614e3ebe2e69bdea539269d20451b015051279f41046e434f0",
            "Created": 1_795_838_218, "CreatedBy": "", "Size": 1_982_284, "Comment": "Imported from -"});
        let table = render_list(
            &ListKind::History.format(None, ListOptions::default()),
            ListKind::History,
            &[history_row(&item, true, true, now())],
        );
        assert_eq!(
            table.unwrap(),
            "IMAGE          CREATED          CREATED BY   SIZE      COMMENT\n\
             56f40399b23d   31 seconds ago                1.98MB    Imported from -\n"
        );
        let raw = history_row(&item, false, false, now());
        assert_eq!(raw["Size"], "1982284");
    }

    /// One Docker list command and what it printed, from `testdata/capture-lists.py`.
    #[derive(serde::Deserialize)]
    struct Output {
        kind: String,
        args: Vec<String>,
        stdout: String,
    }

    #[derive(serde::Deserialize)]
    struct Capture {
        now: i64,
        api: std::collections::HashMap<String, Vec<Json>>,
        outputs: Vec<Output>,
    }

    /// Rebuild one captured output the way a berth list command would.
    fn replay(capture: &Capture, output: &Output) -> String {
        let args = &output.args;
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let user_format = args
            .iter()
            .position(|a| a == "--format")
            .map(|i| args[i + 1].as_str());
        let options = ListOptions {
            quiet: false,
            size: has("-s"),
            digests: has("--digests"),
            not_human: has("--human=false"),
        };
        let trunc = !has("--no-trunc");
        let now = unix(capture.now);
        let mut api = capture.api[&output.kind].clone();
        if matches!(output.kind.as_str(), "volumes" | "networks") {
            sort_by_name(&mut api);
        }
        let (kind, rows): (ListKind, Vec<Json>) = match output.kind.as_str() {
            "containers" => (
                ListKind::Containers,
                api.iter().map(|c| container_row(c, trunc, now)).collect(),
            ),
            "images" => (
                ListKind::Images,
                api.iter()
                    .flat_map(|i| image_rows(i, options.digests, trunc, now))
                    .collect(),
            ),
            "volumes" => (ListKind::Volumes, api.iter().map(volume_row).collect()),
            "networks" => (
                ListKind::Networks,
                api.iter().map(|n| network_row(n, trunc)).collect(),
            ),
            "history" => (
                ListKind::History,
                api.iter()
                    .map(|h| history_row(h, trunc, !options.not_human, now))
                    .collect(),
            ),
            other => panic!("unknown kind {other}"),
        };
        render_list(&kind.format(user_format, options), kind, &rows).unwrap()
    }

    #[test]
    fn lists_match_docker() {
        let capture: Capture = serde_json::from_str(include_str!("testdata/lists.json")).unwrap();
        let mut failures = Vec::new();
        // Docker joins labels in Go's random map order; berth sorts them.
        let sort_lists = |text: &str| -> String {
            let sort_token = |token: &str| {
                let mut parts: Vec<&str> = token.split(',').collect();
                parts.sort();
                parts.join(",")
            };
            text.lines()
                .map(|line| line.split(' ').map(sort_token).collect::<Vec<_>>().join(" ") + "\n")
                .collect()
        };
        for output in &capture.outputs {
            let got = replay(&capture, output);
            if sort_lists(&got) != sort_lists(&output.stdout) {
                failures.push(format!(
                    "docker {}\n--- want\n{}--- got\n{}",
                    output.args.join(" "),
                    output.stdout,
                    got
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
