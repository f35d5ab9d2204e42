//! berthd: the Berth engine. One module per concept, named as the book names them.
//!
//! Only `layer`, `volume` and `network` touch the kernel; `server` only turns HTTP into engine calls.

/// Content digests (`sha256:…`), chain ids, hashing readers and writers.
pub mod digest;
/// Layer tars: apply (with whiteouts, safely), diff an overlay upper dir back into a tar.
pub mod layer;
/// Explain events: the plain sentences that tell a trainee what the kernel was asked to do.
pub mod explain;
