//! Docker's classic builder (`docker build`, `POST /build`), shaped as moby's
//! `builder/dockerfile`: the context a client sends, the Dockerfile parsed into instructions,
//! each instruction dispatched on the image built so far, and the cache that skips what was
//! built before. A RUN is an ordinary container of the engine, committed as a layer; the builder
//! never touches the kernel itself.
//!
//! Code map:
//! - [`cache`]: the images committed before, found again by parent and container config.
//! - [`copy`]: COPY and ADD: sources, their checksum, the copy into a step's root.
//! - [`context`]: the context tar extracted into a private directory, paths resolved in it.
//! - [`options`]: what `POST /build` asks for.
//! - [`output`]: progress as Docker's JSON message stream.
//! - [`step`]: a step's container: create, run, commit, remove.
//! - [`tarsum`]: Docker's checksum of each context file, the cache key of COPY and ADD.

pub mod cache;
pub mod context;
pub mod copy;
mod error;
pub mod options;
pub mod output;
pub mod step;
pub mod tarsum;

pub use error::BuildError;
