//! The prune calls that `container|image|network|volume prune` and `system prune` share, as
//! docker/cli's `RunPrune` functions: one request each, returning what to print ("Deleted
//! Containers:" and the ids, or nothing) and the bytes the daemon says it freed.

use berth_api::client::{Client, query};
use berth_api::types::{ImagePruneResponse, NetworkPruneResponse, VolumePruneResponse};
use http::Method;
use serde::Serialize;
use serde_json::Value;

use super::{Failure, filters_json};

/// What one prune did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// Bytes freed, as the daemon reports them.
    pub reclaimed: u64,
    /// "Deleted …:" and one line per object, or empty when nothing went.
    pub report: String,
}

impl Pruned {
    /// `Deleted <what>:` then one line each; nothing at all when `lines` is empty.
    fn listing(what: &str, lines: impl IntoIterator<Item = String>, reclaimed: u64) -> Pruned {
        let mut report = String::new();
        for line in lines {
            if report.is_empty() {
                report = format!("Deleted {what}:\n");
            }
            report.push_str(&line);
            report.push('\n');
        }
        Pruned { reclaimed, report }
    }
}

/// Print what went (with a blank line after it, as Go's `Fprintln` of the report gives) and
/// `Total reclaimed space:` in go-units' `HumanSize`.
pub fn print_with_total(pruned: &Pruned) {
    if !pruned.report.is_empty() {
        println!("{}", pruned.report);
    }
    println!("Total reclaimed space: {}", total(pruned.reclaimed));
}

/// go-units `HumanSize`: four significant digits (`1.983MB`).
pub fn total(bytes: u64) -> String {
    crate::format::human_size_with_precision(bytes as f64, 4)
}

#[derive(Serialize)]
struct Query {
    #[serde(skip_serializing_if = "Option::is_none")]
    filters: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    all: bool,
}

async fn post(client: &Client, path: &str, filters: &[String], all: bool) -> Result<Value, Failure> {
    let query = query(&Query {
        filters: filters_json(filters)?,
        all,
    })?;
    Ok(client
        .send_json(Method::POST, &format!("{path}{query}"), &())
        .await?)
}

/// `POST /containers/prune`: stopped containers.
pub async fn containers(client: &Client, filters: &[String]) -> Result<Pruned, Failure> {
    let answer = post(client, "/containers/prune", filters, false).await?;
    let ids = answer["ContainersDeleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // docker/cli counts the space only when something was deleted.
    let reclaimed = if ids.is_empty() {
        0
    } else {
        answer["SpaceReclaimed"].as_u64().unwrap_or(0)
    };
    let ids = ids.into_iter().filter_map(|id| id.as_str().map(str::to_owned));
    Ok(Pruned::listing("Containers", ids, reclaimed))
}

/// `POST /networks/prune`: networks no container uses.
pub async fn networks(client: &Client, filters: &[String]) -> Result<Pruned, Failure> {
    let answer: NetworkPruneResponse =
        serde_json::from_value(post(client, "/networks/prune", filters, false).await?)
            .map_err(|e| Failure::new(e.to_string()))?;
    Ok(Pruned::listing(
        "Networks",
        answer.networks_deleted.unwrap_or_default(),
        0,
    ))
}

/// `POST /volumes/prune`: volumes no container uses.
pub async fn volumes(client: &Client, filters: &[String]) -> Result<Pruned, Failure> {
    let answer: VolumePruneResponse =
        serde_json::from_value(post(client, "/volumes/prune", filters, false).await?)
            .map_err(|e| Failure::new(e.to_string()))?;
    let reclaimed = answer.space_reclaimed.max(0) as u64;
    Ok(Pruned::listing(
        "Volumes",
        answer.volumes_deleted.unwrap_or_default(),
        reclaimed,
    ))
}

/// `POST /images/prune`: dangling images, or with `all` every image no container uses.
pub async fn images(client: &Client, all: bool, filters: &[String]) -> Result<Pruned, Failure> {
    let mut filters = filters.to_vec();
    if all {
        filters.push("dangling=false".into());
    }
    let answer: ImagePruneResponse =
        serde_json::from_value(post(client, "/images/prune", &filters, false).await?)
            .map_err(|e| Failure::new(e.to_string()))?;
    let lines = answer
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .flat_map(|item| {
            let untagged = item.untagged.map(|u| format!("untagged: {u}"));
            let deleted = item.deleted.map(|d| format!("deleted: {d}"));
            untagged.into_iter().chain(deleted)
        });
    Ok(Pruned::listing(
        "Images",
        lines,
        answer.space_reclaimed.max(0) as u64,
    ))
}

/// `POST /build/prune`: the builder's cache (dangling records, or with `all` every one),
/// keeping `keep_storage` bytes; the query as docker/cli's `BuildCachePrune` writes it
/// (`keep-storage` and `filters` always, in Docker's map form, empty when there are none).
pub async fn build_cache(
    client: &Client,
    all: bool,
    filters: &[String],
    keep_storage: i64,
) -> Result<Pruned, Failure> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if all {
        pairs.push(("all", "1".into()));
    }
    pairs.push(("filters", filters_map_json(filters)?));
    pairs.push(("keep-storage", keep_storage.to_string()));
    let answer: Value = client
        .send_json(Method::POST, &format!("/build/prune{}", query(&pairs)?), &())
        .await?;
    let ids = answer["CachesDeleted"].as_array().cloned().unwrap_or_default();
    let ids = ids.into_iter().filter_map(|id| id.as_str().map(str::to_owned));
    let reclaimed = answer["SpaceReclaimed"].as_u64().unwrap_or(0);
    Ok(Pruned::listing("build cache objects", ids, reclaimed))
}

/// `key=value` filter flags as Docker 20.10's `filters.ToJSON` writes them
/// (`{"until":{"24h":true}}`); nothing at all when there are none.
fn filters_map_json(flags: &[String]) -> Result<String, Failure> {
    let mut map: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>> =
        Default::default();
    for flag in flags {
        let (key, value) = flag
            .split_once('=')
            .ok_or_else(|| Failure::new("bad format of filter (expected name=value)"))?;
        map.entry(key.trim().to_lowercase())
            .or_default()
            .insert(value.to_owned(), true);
    }
    Ok(if map.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&map).expect("filters serialize")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_cache_filters_take_docker_20_10_map_form() {
        assert_eq!(filters_map_json(&[]).unwrap(), "");
        assert_eq!(
            filters_map_json(&["until=24h".into()]).unwrap(),
            r#"{"until":{"24h":true}}"#
        );
    }

    #[test]
    fn a_listing_names_what_went_or_says_nothing() {
        let pruned = Pruned::listing("Volumes", ["a".to_owned(), "b".to_owned()], 7);
        assert_eq!(pruned.report, "Deleted Volumes:\na\nb\n");
        assert_eq!(Pruned::listing("Volumes", Vec::new(), 0).report, "");
    }
}
