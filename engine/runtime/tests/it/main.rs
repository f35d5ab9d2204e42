//! berth-runtime on the real kernel, as root. Every test uses its own container ids, bundles
//! and state roots, and deletes its containers through guards, so they run in parallel.

mod cgroups;
mod cli;
mod common;
mod compare_runc;
mod conformance;
mod events;
mod exec;
mod hooks;
mod init;
mod lifecycle;
mod lifecycle_rules;
mod pause;
mod seccomp;
mod security;
mod update;
