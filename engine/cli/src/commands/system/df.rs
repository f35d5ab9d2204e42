//! `docker system df [-v] [--format]`: one row per kind of object (total, in use, size, what a
//! prune would give back), or with `-v` the images, containers and volumes one by one — the
//! sums docker/cli's `formatter/disk_usage.go` makes from `GET /system/df`.

use berth_api::client::Client;
use chrono::Utc;
use serde_json::{Value, json};

use crate::cli::SystemDfArgs;
use crate::commands::{Failure, Outcome};
use crate::format::{self, ListKind, human_size_with_precision, render_list, rows};

const IMAGES_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const CONTAINERS_TABLE: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const VOLUMES_TABLE: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const BUILD_CACHE_HEADER: &str = "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED";

pub async fn df(client: &Client, args: SystemDfArgs) -> Outcome {
    let usage: Value = client.get("/system/df").await?;
    let output = if args.verbose {
        verbose(&usage, args.format.as_deref())
    } else {
        let format = ListKind::DiskUsage.format(args.format.as_deref(), Default::default());
        render_list(&format, ListKind::DiskUsage, &summary_rows(&usage)).map_err(String::from)
    };
    print!("{}", output.map_err(Failure::new)?);
    Ok(())
}

fn list<'a>(usage: &'a Value, key: &str) -> &'a [Value] {
    usage[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// go-units `HumanSize` (4 significant digits), as every df size is printed.
fn size(bytes: i64) -> String {
    human_size_with_precision(bytes as f64, 4)
}

/// `1.2MB (50%)`: what could be reclaimed and its share of the total, integer percent.
fn reclaimable(reclaimable: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", size(reclaimable), reclaimable * 100 / total)
    } else {
        size(reclaimable)
    }
}

fn row(kind: &str, total: usize, active: usize, size: String, reclaimable: String) -> Value {
    json!({
        "Type": kind,
        "TotalCount": total.to_string(),
        "Active": active.to_string(),
        "Size": size,
        "Reclaimable": reclaimable,
    })
}

/// The four rows of the summary, each computed as docker/cli computes it.
fn summary_rows(usage: &Value) -> Vec<Value> {
    let images = list(usage, "Images");
    let layers = int(usage, "/LayersSize");
    // An image in use keeps what is only its own; what it shares others may still free.
    let used: i64 = images
        .iter()
        .filter(|i| int(i, "/Containers") != 0 && int(i, "/VirtualSize") != -1 && int(i, "/SharedSize") != -1)
        .map(|i| int(i, "/VirtualSize") - int(i, "/SharedSize"))
        .sum();
    let images_row = row(
        "Images",
        images.len(),
        images.iter().filter(|i| int(i, "/Containers") > 0).count(),
        size(layers),
        reclaimable(layers - used, layers),
    );

    let containers = list(usage, "Containers");
    let active = |c: &Value| {
        let state = c["State"].as_str().unwrap_or_default();
        ["running", "paused", "restarting"]
            .iter()
            .any(|s| state.contains(s))
    };
    let containers_size: i64 = containers.iter().map(|c| int(c, "/SizeRw")).sum();
    let containers_row = row(
        "Containers",
        containers.len(),
        containers.iter().filter(|c| active(c)).count(),
        size(containers_size),
        reclaimable(
            containers
                .iter()
                .filter(|c| !active(c))
                .map(|c| int(c, "/SizeRw"))
                .sum(),
            containers_size,
        ),
    );

    let volumes = list(usage, "Volumes");
    let measured = || volumes.iter().filter(|v| int(v, "/UsageData/Size") != -1);
    let volumes_size: i64 = measured().map(|v| int(v, "/UsageData/Size")).sum();
    let volumes_row = row(
        "Local Volumes",
        volumes.len(),
        volumes
            .iter()
            .filter(|v| int(v, "/UsageData/RefCount") > 0)
            .count(),
        size(volumes_size),
        reclaimable(
            measured()
                .filter(|v| int(v, "/UsageData/RefCount") == 0)
                .map(|v| int(v, "/UsageData/Size"))
                .sum(),
            volumes_size,
        ),
    );

    let cache = list(usage, "BuildCache");
    let flag = |record: &Value, key: &str| record[key].as_bool().unwrap_or(false);
    let builder_size: i64 = cache
        .iter()
        .filter(|r| !flag(r, "Shared"))
        .map(|r| int(r, "/Size"))
        .sum();
    let in_use: i64 = cache
        .iter()
        .filter(|r| flag(r, "InUse") && !flag(r, "Shared"))
        .map(|r| int(r, "/Size"))
        .sum();
    let cache_row = row(
        "Build Cache",
        cache.len(),
        cache.iter().filter(|r| flag(r, "InUse")).count(),
        size(builder_size),
        size(builder_size - in_use),
    );
    vec![images_row, containers_row, volumes_row, cache_row]
}

/// `-v`: each image (its first tag only), container (without the virtual size) and volume.
fn verbose(usage: &Value, format: Option<&str>) -> Result<String, String> {
    let now = Utc::now();
    let custom = format.filter(|f| !f.is_empty() && *f != "table");
    let trunc = custom.is_none_or(|f| f.starts_with("table"));
    let images: Vec<Value> = list(usage, "Images")
        .iter()
        .filter_map(|image| rows::image_rows(image, false, trunc, now).into_iter().next())
        .collect();
    let containers: Vec<Value> = list(usage, "Containers")
        .iter()
        .map(|container| {
            let mut container = container.clone();
            container["SizeRootFs"] = 0.into();
            rows::container_row(&container, trunc, now)
        })
        .collect();
    let volumes: Vec<Value> = list(usage, "Volumes").iter().map(rows::volume_row).collect();
    if let Some(template) = custom {
        let data = json!({"Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []});
        return format::render_template(template, &data)
            .map(|text| text + "\n")
            .map_err(String::from);
    }
    let builder_size: i64 = list(usage, "BuildCache").iter().map(|r| int(r, "/Size")).sum();
    let mut out = String::from("Images space usage:\n\n");
    out += &render_list(IMAGES_TABLE, ListKind::Images, &images)?;
    out += "\nContainers space usage:\n\n";
    out += &render_list(CONTAINERS_TABLE, ListKind::Containers, &containers)?;
    out += "\nLocal Volumes space usage:\n\n";
    out += &render_list(VOLUMES_TABLE, ListKind::Volumes, &volumes)?;
    out += &format!("\nBuild cache usage: {}\n\n", size(builder_size));
    // berthd keeps no build cache: the table is its header alone.
    out += &render_list(&format!("table {BUILD_CACHE_HEADER}"), ListKind::DiskUsage, &[])?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_sums_as_docker_cli_does() {
        let usage = json!({
            "LayersSize": 2000,
            "Images": [
                {"Containers": 1, "VirtualSize": 1500, "SharedSize": 1000},
                {"Containers": 0, "VirtualSize": 1200, "SharedSize": 1000},
            ],
            "Containers": [
                {"State": "running", "SizeRw": 30},
                {"State": "exited", "SizeRw": 70},
            ],
            "Volumes": [
                {"UsageData": {"Size": 8, "RefCount": 1}},
                {"UsageData": {"Size": 2, "RefCount": 0}},
            ],
            "BuildCache": null,
        });
        let rows = summary_rows(&usage);
        let cells = |row: &Value| {
            ["Type", "TotalCount", "Active", "Size", "Reclaimable"]
                .map(|k| row[k].as_str().unwrap_or_default().to_owned())
        };
        assert_eq!(cells(&rows[0]), ["Images", "2", "1", "2kB", "1.5kB (75%)"]);
        assert_eq!(cells(&rows[1]), ["Containers", "2", "1", "100B", "70B (70%)"]);
        assert_eq!(cells(&rows[2]), ["Local Volumes", "2", "1", "10B", "2B (20%)"]);
        assert_eq!(cells(&rows[3]), ["Build Cache", "0", "0", "0B", "0B"]);
    }
}
