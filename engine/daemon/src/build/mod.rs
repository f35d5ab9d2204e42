//! The classic builder's pure half, as moby's `builder/dockerfile` and buildkit's `frontend/dockerfile`:
//! Dockerfile text to nodes (`parser`), nodes to typed, validated instructions (`instructions`), and
//! the shell-like word expansion the dispatcher applies to them (`shell_words`).
//!
//! Nothing here touches the kernel, the image store or a container: the dispatcher (stages, RUN in a
//! container, commits, the cache) builds on these types. `.dockerignore` lives in `berth_api::dockerignore`
//! since the CLI needs it as much as the daemon.

/// Nodes to typed instructions, validated with Docker's words (`instructions.Parse`).
pub mod instructions;
/// Dockerfile text to nodes: directives, comments, continuations, line numbers (buildkit's `parser`).
pub mod parser;
/// Docker's shell-like word expansion: `$VAR`, `${VAR:-word}`, quotes, escapes (buildkit's `shell.Lex`).
pub mod shell_words;
