//! Swarm-mode requests to a node in no swarm: Docker 20.10's status and words for each.

use crate::support::*;

#[test]
fn swarm_requests_are_answered_as_by_a_docker_outside_any_swarm() {
    let mut daemon = TestDaemon::start();
    // This machine's Docker must be in no swarm for the comparison to hold.
    let theirs = docker("GET", "/info", b"").json();
    assert_eq!(
        theirs["Swarm"]["LocalNodeState"], "inactive",
        "Docker here is in a swarm"
    );
    let cases = [
        ("GET", "/swarm"),
        ("GET", "/swarm/unlockkey"),
        ("POST", "/swarm/leave"),
        ("POST", "/swarm/unlock"),
        ("GET", "/nodes"),
        ("GET", "/nodes/some-node"),
        ("DELETE", "/nodes/some-node"),
        ("GET", "/services"),
        ("POST", "/services/create"),
        ("GET", "/services/some-service"),
        ("DELETE", "/services/some-service"),
        ("GET", "/services/some-service/logs"),
        ("GET", "/services/some-service/logs?stdout=1"),
        ("GET", "/tasks"),
        ("GET", "/tasks/some-task"),
        ("GET", "/tasks/some-task/logs?stderr=true"),
        ("GET", "/secrets"),
        ("POST", "/secrets/create"),
        ("GET", "/configs"),
        ("DELETE", "/configs/some-config"),
        ("GET", "/v1.41/services"),
    ];
    for (method, path) in cases {
        let answer = refused_alike(&mut daemon, method, path, b"{}");
        assert!(answer.status >= 500, "{method} {path}: {}", answer.status);
    }
}
