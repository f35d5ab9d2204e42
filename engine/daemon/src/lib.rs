#![recursion_limit = "256"]
//! berthd: the Berth engine. One module per concept, named as the book names them.
//!
//! Only `layer`, `volume` and `network` touch the kernel; `server` only turns HTTP into engine calls.

/// A container's files as tars (`docker cp`, `docker export`): paths resolved in its scope.
pub mod archive;
/// Docker's classic builder: contexts, Dockerfiles, instructions, the build cache.
pub mod build;
/// Containers: records, lifecycle, bundles.
pub mod container;
/// Start and stop: flags, socket, pid file, signals.
pub mod daemon;
/// Content digests (`sha256:…`), chain ids, hashing readers and writers.
pub mod digest;
/// `system df`: what images, containers and volumes take on disk.
pub mod disk_usage;
/// The engine: every service behind one handle.
pub mod engine;
/// The engine's event stream.
pub mod events;
/// Explain events: the plain sentences that tell a trainee what the kernel was asked to do.
pub mod explain;
/// OS errors as Go prints them ("no such file or directory"), for Docker's messages.
pub mod go_error;
/// JSON request bodies refused in Go's words, as dockerd's decoder refuses them.
pub mod go_json;
/// Random ids (64 hex digits) for containers, execs, networks, volumes.
pub mod id;
/// Images: list, inspect, history, tag, rmi, prune, load, save, import.
pub mod image;
/// Layer tars: apply (with whiteouts, safely), diff an overlay upper dir back into a tar.
pub mod layer;
/// The Prometheus endpoint (`--metrics-addr`): engine, API and per-container metrics.
pub mod metrics;
/// Networks: bridges, sandboxes, published ports, embedded DNS, nftables rules.
pub mod network;
/// Shell patterns as Docker's filters take them (Go's `path.Match`), in bounded time: berth-api's,
/// shared with the CLI's `.dockerignore`.
pub use berth_api::pattern;
/// What a prune may delete: Docker's `until`, `label` and `label!` filters.
pub mod prune;
/// Image references: `busybox` is `docker.io/library/busybox:latest`.
pub mod reference;
/// Registries: pull and push over the distribution API, and login.
pub mod registry;
/// The Engine API server: routes that turn HTTP into engine calls.
pub mod server;
/// Container statistics: samples of cgroup and network counters, `docker stats`' JSON, the collector.
pub mod stats;
/// The image store: blobs, layers, images, tags.
pub mod store;
/// Directory trees containers and images make: sized and removed iteratively, whatever their depth.
pub mod tree;
/// Volumes: named and anonymous directories containers mount, and copy-up.
pub mod volume;
