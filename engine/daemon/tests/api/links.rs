//! Removing a legacy link (`docker rm --link /web/db`) beside Docker: the link goes from the
//! linking container's HostConfig, the linked container stays, and every refusal reads alike.

use serde_json::json;

use crate::support::*;

#[test]
fn a_legacy_link_is_removed_as_docker_removes_it() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    docker_has_stand_in_images();
    let mut on_docker = OnDocker::new();
    let Pair { ours: db_ours, .. } = Pair::create(
        &daemon,
        &mut on_docker,
        "berth-api-link-db",
        &json!({"Image": "busybox"}),
    );
    let db_name = berth(&daemon, "GET", &format!("/containers/{db_ours}/json"), b"").json()["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    let body = json!({"Image": "busybox", "HostConfig": {"Links": [format!("{db_name}:db")]}});
    let Pair {
        ours: web_ours,
        theirs: web_theirs,
        ..
    } = Pair::create(&daemon, &mut on_docker, "berth-api-link-web", &body);
    let web_name = berth(&daemon, "GET", &format!("/containers/{web_ours}/json"), b"").json()["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    let links = |engine: &dyn Engine, id: &str| {
        engine.send("GET", &format!("/containers/{id}/json"), b"").json()["HostConfig"]["Links"].clone()
    };
    assert_eq!(
        links(&daemon, &web_ours),
        json!([format!("/{db_name}:/{web_name}/db")])
    );
    assert_eq!(links(&daemon, &web_ours), links(&Docker, &web_theirs));

    // A container's own name is no link; a link that isn't there is no container.
    refused_alike(
        &mut daemon,
        "DELETE",
        &format!("/containers/{web_name}?link=1"),
        b"",
    );
    refused_alike(
        &mut daemon,
        "DELETE",
        &format!("/containers/{web_name}/nodb?link=1"),
        b"",
    );
    refused_alike(
        &mut daemon,
        "DELETE",
        "/containers/berth-api-no-such-parent/db?link=1",
        b"",
    );
    let linked = refused_alike(
        &mut daemon,
        "DELETE",
        &format!("/containers/{web_name}/db?link=1"),
        b"",
    );
    assert_eq!(linked.status, 204);
    assert_eq!(links(&daemon, &web_ours), links(&Docker, &web_theirs));
    assert_eq!(links(&daemon, &web_ours), serde_json::Value::Null);
    // Gone now; the linked container stays.
    refused_alike(
        &mut daemon,
        "DELETE",
        &format!("/containers/{web_name}/db?link=1"),
        b"",
    );
    assert_eq!(
        berth(&daemon, "GET", &format!("/containers/{db_name}/json"), b"").status,
        200
    );
    // A path the API has, with a method it does not take: no page, as Docker says.
    refused_alike(&mut daemon, "GET", &format!("/containers/{web_name}/start"), b"");
    refused_alike(
        &mut daemon,
        "GET",
        &format!("/containers/{web_name}/nosuchthing"),
        b"",
    );
}
