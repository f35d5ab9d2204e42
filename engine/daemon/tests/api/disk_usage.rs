//! `GET /system/df` beside Docker: the same shape, and the same numbers for the same work —
//! a container that wrote into its root and into a named volume.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::*;

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The entry of `list` whose `key` is `wanted`.
fn find<'a>(list: &'a Value, key: &str, wanted: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|item| item[key] == wanted))
        .unwrap_or_else(|| panic!("no {key} {wanted} in {list}"))
}

#[test]
fn disk_usage_counts_what_docker_counts() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let volume = unique_name("berth-api-df");
    let body = json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", "echo hello > /data/f; echo 12345 > /w"],
        "HostConfig": {"Binds": [format!("{volume}:/data")]},
    });
    let pair = Pair::create(&daemon, &mut on_docker, "berth-api-df", &body);
    // Removed after the container that uses it.
    on_docker.volume(&volume);
    assert_eq!(pair.alike("POST", "/containers/{id}/start", &Value::Null), 204);
    assert_eq!(pair.alike("POST", "/containers/{id}/wait", &Value::Null), 200);

    let ours = berth(&daemon, "GET", "/system/df", b"");
    let theirs = docker("GET", "/system/df", b"");
    assert_eq!((ours.status, theirs.status), (200, 200), "{}", ours.text());
    let (ours, theirs) = (ours.json(), theirs.json());
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(ours["BuildCache"], Value::Null);

    // The container: its writable layer holds /w alone.
    let (our_container, their_container) = (
        find(&ours["Containers"], "Id", &pair.ours),
        find(&theirs["Containers"], "Id", &pair.theirs),
    );
    assert_eq!(
        our_container["SizeRw"], their_container["SizeRw"],
        "{our_container}"
    );
    assert_eq!(our_container["SizeRw"], 6);
    // The volume: its six bytes and its one user.
    let (our_volume, their_volume) = (
        find(&ours["Volumes"], "Name", &volume),
        find(&theirs["Volumes"], "Name", &volume),
    );
    assert_eq!(keys(our_volume), keys(their_volume));
    assert_eq!(our_volume["UsageData"], json!({"RefCount": 1, "Size": 6}));
    assert_eq!(our_volume["UsageData"], their_volume["UsageData"]);
    // The image: the same sizes, shared with the other lab images; one container on it here.
    let busybox = |usage: &Value| {
        usage["Images"]
            .as_array()
            .and_then(|images| images.iter().find(|i| i["RepoTags"][0] == "busybox:latest"))
            .cloned()
            .unwrap_or_else(|| panic!("no busybox in {usage}"))
    };
    let (our_image, their_image) = (busybox(&ours), busybox(&theirs));
    assert_eq!(keys(&our_image), keys(&their_image));
    for key in ["Size", "SharedSize", "VirtualSize"] {
        assert_eq!(our_image[key], their_image[key], "{key}");
    }
    assert_eq!(our_image["Containers"], 1);
    // Every layer once: the shared base plus what each image adds alone.
    let images = ours["Images"].as_array().cloned().unwrap_or_default();
    let own: i64 = images
        .iter()
        .map(|i| i["Size"].as_i64().unwrap_or(0) - i["SharedSize"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        ours["LayersSize"].as_i64(),
        Some(own + our_image["SharedSize"].as_i64().unwrap_or(0))
    );
    assert_alive(&mut daemon);
}
