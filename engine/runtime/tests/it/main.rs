//! berth-runtime on the real kernel, as root. Every test uses its own container ids, bundles
//! and state roots, and deletes its containers through guards, so they run in parallel.

mod cgroups;
mod common;
mod compare_runc;
mod conformance;
mod exec;
mod init;
mod lifecycle;
mod seccomp;
mod security;
