//! The test harness the workspace's integration tests share (the CLI's, lab's, the Engine API
//! conformance suite): a private berthd per test on temporary roots with a network slot of its
//! own, the real Docker daemon to compare with, and raw HTTP requests to either over its socket.
//!
//! Everything a test makes is removed when its guard drops, also when the test fails: containers,
//! mounts under the daemon's roots, the roots themselves.

/// A private berthd per test, and the network slots that keep test daemons apart.
pub mod daemon;
/// The real Docker daemon and CLI, for comparisons.
pub mod docker;
/// A static HTTP server on 127.0.0.1 for download tests.
pub mod file_server;
/// Tars with raw headers, as an attack writes them.
pub mod hostile_tar;
/// Raw Engine API requests over a UNIX socket: exactly the bytes a test means to send.
pub mod http;
/// The workspace's binaries and files: where `berthd` and `stand-in-images.tar` are.
pub mod paths;
/// What /proc says of a process.
pub mod process;
/// Temporary directories and names unique to a test.
pub mod unique;

pub use daemon::{NetSlot, TestDaemon};
pub use docker::{docker, docker_cli, docker_host, docker_ok};
pub use file_server::FileServer;
pub use http::{Answer, request};
pub use paths::{bin_dir, stand_in_images, workspace_root};
pub use unique::{TempDir, unique_dir, unique_name};
