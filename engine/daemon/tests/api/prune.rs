//! `POST /{containers,images,networks,volumes}/prune`: a prune deletes only what its filters
//! select, and a filter Docker refuses deletes nothing. On the shared Docker only requests that
//! are refused, or whose labels match nothing of anyone else's, are sent.

use serde_json::json;

use crate::support::{
    TestDaemon, assert_alive, berth, container_ids, create, docker, filters, refused_alike, unique_name,
};

/// The ids of every container, sorted.
fn listed(daemon: &TestDaemon) -> Vec<String> {
    let mut ids = container_ids(daemon);
    ids.sort();
    ids
}

/// Run a container to its end (it writes a file into its writable layer).
fn ended(daemon: &TestDaemon, name: &str, labels: serde_json::Value) -> String {
    let body = json!({
        "Image": "busybox",
        "Cmd": ["sh", "-c", "echo written > /written"],
        "Labels": labels,
        "HostConfig": {"NetworkMode": "none"},
    });
    let id = create(daemon, name, &body);
    assert_eq!(
        berth(daemon, "POST", &format!("/containers/{id}/start"), b"").status,
        204
    );
    let waited = berth(daemon, "POST", &format!("/containers/{id}/wait"), b"");
    assert_eq!(waited.json()["StatusCode"], 0, "{}", waited.text());
    id
}

#[test]
fn container_prune_keeps_what_its_filters_keep() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let keep = ended(&daemon, "keep", json!({"keep": "yes"}));
    let other = ended(&daemon, "other", json!({"tier": "web"}));
    let mut all = vec![keep.clone(), other.clone()];
    all.sort();

    // Refused before anything is deleted.
    for refused in [
        r#"{"bogus":["x"]}"#,
        r#"{"dangling":["true"]}"#,
        r#"{"until":["garbage"]}"#,
        r#"{"until":["1","2"]}"#,
    ] {
        refused_alike(
            &mut daemon,
            "POST",
            &format!("/containers/prune?{}", filters(refused)),
            b"",
        );
        assert_eq!(listed(&daemon), all, "{refused} deleted a container");
    }
    // An `until` before both, a label neither has: nothing goes.
    for keeps_both in [r#"{"until":["2000-01-01T00:00:00Z"]}"#, r#"{"label":["nobody"]}"#] {
        let answer = berth(
            &daemon,
            "POST",
            &format!("/containers/prune?{}", filters(keeps_both)),
            b"",
        );
        assert_eq!(
            answer.json()["ContainersDeleted"],
            serde_json::Value::Null,
            "{keeps_both}"
        );
        assert_eq!(listed(&daemon), all, "{keeps_both}");
    }
    // `label!=keep` and `label=tier=web`: only `other` goes, with its written bytes counted.
    let answer = berth(
        &daemon,
        "POST",
        &format!(
            "/containers/prune?{}",
            filters(r#"{"label!":["keep"],"label":["tier=web"],"until":["2100-01-01T00:00:00Z"]}"#)
        ),
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["ContainersDeleted"], json!([other]));
    assert!(
        answer.json()["SpaceReclaimed"].as_u64().unwrap_or(0) >= 8,
        "{}",
        answer.text()
    );
    assert_eq!(listed(&daemon), vec![keep.clone()]);
    assert_alive(&mut daemon);
}

#[test]
fn prune_filters_are_refused_as_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    let cases = [
        ("images", r#"{"bogus":["x"]}"#),
        ("images", r#"{"dangling":["maybe"]}"#),
        ("images", r#"{"until":["garbage"]}"#),
        ("images", r#"{"until":["-5"]}"#),
        ("networks", r#"{"bogus":["x"]}"#),
        ("networks", r#"{"until":["1","2"]}"#),
        ("volumes", r#"{"until":["1h"]}"#),
        ("volumes", r#"{"dangling":["true"]}"#),
        ("build", r#"{"bogus":["x"]}"#),
    ];
    for (kind, refused) in cases {
        refused_alike(
            &mut daemon,
            "POST",
            &format!("/{kind}/prune?{}", filters(refused)),
            b"",
        );
    }
    refused_alike(&mut daemon, "POST", "/build/prune?keep-storage=abc", b"");
    // berthd has no build cache: a prune of it frees nothing, as Docker's of an empty one.
    let path = format!("/build/prune?all=1&{}", filters(r#"{"until":["10m"]}"#));
    let ours = berth(&daemon, "POST", &path, b"");
    assert_eq!(
        (ours.status, ours.json()),
        (
            200,
            serde_json::json!({"CachesDeleted": null, "SpaceReclaimed": 0})
        )
    );
    // A label no one has: Docker deletes nothing of anyone's, and both answer alike.
    let nobody = format!(r#"{{"label":["{}"]}}"#, unique_name("berth-api-nobody"));
    for kind in ["networks", "containers"] {
        let path = format!("/{kind}/prune?{}", filters(&nobody));
        let (ours, theirs) = (berth(&daemon, "POST", &path, b""), docker("POST", &path, b""));
        assert_eq!(
            (ours.status, ours.json()),
            (theirs.status, theirs.json()),
            "{kind}"
        );
    }
}

#[test]
fn image_prune_applies_until_and_labels() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let container = ended(&daemon, "source", json!({}));
    // Two dangling images (no tag), one labelled.
    let commit = |changes: &str| {
        let answer = berth(
            &daemon,
            "POST",
            &format!(
                "/commit?container={container}&changes={}",
                crate::support::encode(changes)
            ),
            b"",
        );
        assert_eq!(answer.status, 201, "{}", answer.text());
        answer.json()["Id"].as_str().unwrap_or_default().to_owned()
    };
    let plain = commit("ENV A=1");
    let labelled = commit("LABEL keep=yes");
    berth(&daemon, "DELETE", &format!("/containers/{container}"), b"");
    let exists = |id: &str| berth(&daemon, "GET", &format!("/images/{id}/json"), b"").status == 200;

    let answer = berth(
        &daemon,
        "POST",
        &format!(
            "/images/prune?{}",
            filters(r#"{"until":["2000-01-01T00:00:00Z"]}"#)
        ),
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        exists(&plain) && exists(&labelled),
        "until kept nothing: {}",
        answer.text()
    );

    let answer = berth(
        &daemon,
        "POST",
        &format!("/images/prune?{}", filters(r#"{"label!":["keep"]}"#)),
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(!exists(&plain), "the unlabelled image stayed: {}", answer.text());
    assert!(exists(&labelled), "label!=keep deleted the labelled image");
    assert!(exists("busybox"), "a dangling prune took a tagged image");
    assert_alive(&mut daemon);
}

#[test]
fn volume_prune_keeps_volumes_with_options_and_honours_label_not() {
    let mut daemon = TestDaemon::start();
    let make = |name: &str, body: serde_json::Value| {
        let answer = berth(&daemon, "POST", "/volumes/create", body.to_string().as_bytes());
        assert_eq!(answer.status, 201, "{name}: {}", answer.text());
    };
    make("plain", json!({"Name": "plain"}));
    make("kept", json!({"Name": "kept", "Labels": {"keep": ""}}));
    make(
        "mounted",
        json!({"Name": "mounted", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}}),
    );
    let answer = berth(
        &daemon,
        "POST",
        &format!("/volumes/prune?{}", filters(r#"{"label!":["keep"]}"#)),
        b"",
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["VolumesDeleted"], json!(["plain"]));
    for name in ["kept", "mounted"] {
        assert_eq!(
            berth(&daemon, "GET", &format!("/volumes/{name}"), b"").status,
            200,
            "{name}"
        );
    }
    assert_alive(&mut daemon);
}
