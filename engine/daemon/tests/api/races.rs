//! Requests that race: what one removes while another uses it.

use std::sync::Barrier;

use crate::support::{TestDaemon, assert_alive, berth};

#[test]
fn an_image_removed_while_containers_are_created_from_it_keeps_their_layers() {
    let mut daemon = TestDaemon::start();
    daemon.load_stand_in_images();
    let mut created = Vec::new();
    for round in 0..6 {
        // An image of its own (a layer nothing else has), so removing it would delete layers.
        let base = format!("base{round}");
        let image = format!("racy:{round}");
        daemon.ok(&["run", "--name", &base, "busybox", "sh", "-c", "echo made > /made"]);
        daemon.ok(&["commit", &base, &image]);
        daemon.ok(&["rm", &base]);
        // Creates and a forced removal, let go at once.
        let start = Barrier::new(5);
        std::thread::scope(|scope| {
            let creating: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        let body = format!(r#"{{"Image": "{image}", "Cmd": ["cat", "/made"]}}"#);
                        let answer = berth(&daemon, "POST", "/containers/create", body.as_bytes());
                        (answer.status == 201)
                            .then(|| answer.json()["Id"].as_str().unwrap_or_default().to_owned())
                    })
                })
                .collect();
            start.wait();
            let removed = berth(&daemon, "DELETE", &format!("/images/{image}?force=1"), b"");
            assert!(
                matches!(removed.status, 200 | 409),
                "{} {}",
                removed.status,
                removed.text()
            );
            for thread in creating {
                created.extend(thread.join().expect("a creating thread"));
            }
        });
    }
    // `rmi -f` may take the image from stopped containers (as Docker's does), never their
    // layers: every container listed runs, and finds the image's file.
    assert!(!created.is_empty());
    for id in &created {
        let out = daemon.output(&["start", "-a", id]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "made\n",
            "container {id}: {out:?}"
        );
    }
    assert_alive(&mut daemon);
}
