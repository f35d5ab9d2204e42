//! Image references that do not parse: Docker answers `invalid reference format` (400 where it
//! looks an image up, 500 where it parses a new name), never `No such image` — and makes
//! nothing.

use serde_json::json;

use crate::support::{TestDaemon, berth, container_ids, docker_has_stand_in_images, encode, refused_alike};

/// Names Docker's reference grammar refuses, each for its own reason.
const MALFORMED: [&str; 4] = ["UPPER", "a..b", "busybox:", "busybox@sha256:abc"];

#[test]
fn malformed_references_are_refused_where_docker_refuses_them() {
    let mut daemon = TestDaemon::start();
    docker_has_stand_in_images();
    daemon.load_stand_in_images();
    let images_before = berth(&daemon, "GET", "/images/json", b"").json();
    for name in MALFORMED {
        let path_name = encode(name);
        let requests = [
            ("GET", format!("/images/{path_name}/json")),
            ("GET", format!("/images/{path_name}/history")),
            ("POST", format!("/images/{path_name}/tag?repo=berth-api-tagged")),
            ("DELETE", format!("/images/{path_name}")),
            ("GET", format!("/images/{path_name}/get")),
            ("GET", format!("/images/get?names={path_name}")),
            // The new name of a tag is parsed, not looked up: Docker answers 500.
            ("POST", format!("/images/busybox/tag?repo={path_name}")),
        ];
        for (method, path) in requests {
            let answer = refused_alike(&mut daemon, method, &path, b"");
            assert!(
                answer.status == 400 || answer.status == 500,
                "{method} {path}: {}",
                answer.text()
            );
        }
        // `name:` is a pull of `name` to dockerd (`pull -a` sends it so): not sent here.
        if !name.ends_with(':') {
            let path = format!("/images/create?fromImage={path_name}");
            let answer = refused_alike(&mut daemon, "POST", &path, b"");
            assert_eq!(answer.status, 400, "{path}");
        }
        let body = json!({"Image": name, "Cmd": ["true"]}).to_string();
        let answer = refused_alike(&mut daemon, "POST", "/containers/create", body.as_bytes());
        assert_eq!(answer.status, 400, "create {name}");
    }
    for tag in ["bad:tag", "UP:PER"] {
        refused_alike(
            &mut daemon,
            "POST",
            &format!("/images/busybox/tag?repo=x&tag={}", encode(tag)),
            b"",
        );
        refused_alike(
            &mut daemon,
            "POST",
            &format!("/images/create?fromImage=busybox&tag={}", encode(tag)),
            b"",
        );
    }
    assert_eq!(
        container_ids(&daemon),
        Vec::<String>::new(),
        "a refused create left a container"
    );
    assert_eq!(
        berth(&daemon, "GET", "/images/json", b"").json(),
        images_before,
        "a refused request changed the images"
    );
}
