//! The Engine API conformance suite: requests sent straight to berthd's socket — including
//! what the CLI would never send — beside the same requests to Docker 20.10 where Docker runs
//! here. Each case checks the status and message, that nothing was left half-made, and that the
//! daemon still answers `_ping` afterwards.

mod support;

mod archives;
mod build;
mod copy;
mod create;
mod detach;
mod disk_usage;
mod events;
mod exec;
mod health;
mod hostile;
mod images;
mod limits;
mod links;
mod metrics;
mod networks;
mod networks_ipv6;
mod pause;
mod prune;
mod races;
mod stats;
mod swarm;
mod update;
