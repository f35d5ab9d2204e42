//! Berth's shared vocabulary: the Docker Engine API v1.41 types (serde), the explain-event format
//! every process of the chain writes, and (feature `client`) a small client over berthd's UNIX socket.

/// The API version berth speaks; every client path is sent as `/v1.41/…`.
pub const API_VERSION: &str = "1.41";
/// Where berthd listens unless told otherwise.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A client for berthd (or any Docker daemon) over a UNIX socket.
#[cfg(feature = "client")]
pub mod client;
/// Explain events: one plain sentence per kernel-facing step, as JSON lines.
pub mod explain;
/// Docker Engine API v1.41 request and response shapes.
pub mod types;
/// Docker's human units: durations and sizes.
pub mod units;
