//! `--sig-proxy`: signals sent to the CLI go to the container (`POST /containers/{id}/kill`),
//! as Docker's `ForwardAllSignals` does, so `kill -TERM <berth pid>` stops the container and
//! Ctrl-C without a tty interrupts its process rather than the CLI.

use berth_api::client::Client;
use tokio::signal::unix::{SignalKind, signal};

/// The signals passed on, by the names the kill endpoint takes.
const FORWARDED: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("TERM", libc::SIGTERM),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("ALRM", libc::SIGALRM),
];

/// Aborts the forwarding when dropped.
#[derive(Debug)]
pub struct Forwarding(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Forward signals to container `id` until the returned value is dropped.
pub fn forward(client: &Client, id: &str) -> Forwarding {
    let mut tasks = Vec::new();
    for &(name, number) in FORWARDED {
        let Ok(mut stream) = signal(SignalKind::from_raw(number)) else {
            continue;
        };
        let (client, path) = (client.clone(), format!("/containers/{id}/kill?signal={name}"));
        tasks.push(tokio::spawn(async move {
            while stream.recv().await.is_some() {
                // The container may have exited already; Docker ignores the error too.
                let _ = client.call(http::Method::POST, &path).await;
            }
        }));
    }
    Forwarding(tasks)
}
