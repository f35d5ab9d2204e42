//! berth's integration tests: each test starts its own berthd on temporary roots, drives it
//! with the `berth` CLI (and the real docker CLI), and cleans up after itself.
//! Run as root: `cargo test --workspace` builds every binary these tests start.

mod build;
mod common;
mod compose;
mod containers_common;
mod containers_copy;
mod containers_docker;
mod containers_exec;
mod containers_inspect;
mod containers_lifecycle;
mod containers_run;
mod containers_stats;
mod events;
mod images;
mod network;
mod network_common;
mod network_ipv6;
mod network_user;
mod registry;
mod registry_support;
mod volumes;
