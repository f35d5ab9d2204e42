//! Docker's classic builder (`docker build`, `POST /build`), shaped as moby's
//! `builder/dockerfile`: the context a client sends, the Dockerfile parsed into instructions,
//! each instruction dispatched on the image built so far, and the cache that skips what was
//! built before. A RUN is an ordinary container of the engine, committed as a layer; the builder
//! never touches the kernel itself. `.dockerignore` lives in `berth_api::dockerignore`, since the
//! CLI needs it as much as the daemon.
//!
//! Code map:
//! - [`parser`]: Dockerfile text to nodes: directives, comments, continuations, line numbers.
//! - [`instructions`]: nodes to typed instructions, validated with Docker's words.
//! - [`shell_words`]: Docker's word expansion: `$VAR`, `${VAR:-word}`, quotes, escapes.
//! - [`context`]: the context tar extracted into a private directory, paths resolved in it.
//! - [`tarsum`]: Docker's checksum of each context file, the cache key of COPY and ADD.
//! - [`copy`]: COPY and ADD: sources, their checksum, the copy into a step's root.
//! - [`cache`]: the images committed before, found again by parent and container config.
//! - [`builder`]: one build from start to end: context, Dockerfile, stages, tags.
//! - [`dispatch`]: each instruction run on the stage's image (one file per family).
//! - [`step`]: a step's container: create, run, commit, remove.
//! - [`options`]: what `POST /build` asks for.
//! - [`output`]: progress as Docker's JSON message stream.

pub mod builder;
pub mod cache;
pub mod context;
pub mod copy;
pub mod dispatch;
mod error;
/// Nodes to typed instructions, validated with Docker's words (`instructions.Parse`).
pub mod instructions;
pub mod options;
pub mod output;
/// Dockerfile text to nodes: directives, comments, continuations, line numbers (buildkit's `parser`).
pub mod parser;
/// Docker's shell-like word expansion: `$VAR`, `${VAR:-word}`, quotes, escapes (buildkit's `shell.Lex`).
pub mod shell_words;
pub mod step;
pub mod tarsum;

pub use builder::build;
pub use error::BuildError;
pub use options::BuildOptions;
pub use output::Output;
