#![recursion_limit = "256"]
//! berthd: the Berth engine. One module per concept, named as the book names them.
//!
//! Only `layer`, `volume` and `network` touch the kernel; `server` only turns HTTP into engine calls.

/// Content digests (`sha256:…`), chain ids, hashing readers and writers.
pub mod digest;
/// Explain events: the plain sentences that tell a trainee what the kernel was asked to do.
pub mod explain;
/// Layer tars: apply (with whiteouts, safely), diff an overlay upper dir back into a tar.
pub mod layer;
/// Image references: `busybox` is `docker.io/library/busybox:latest`.
pub mod reference;
