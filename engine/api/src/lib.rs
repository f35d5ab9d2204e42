//! Berth's shared vocabulary: the Docker Engine API v1.41 types (serde), the explain-event format
//! every process of the chain writes, and (feature `client`) a small client over berthd's UNIX socket.

/// The API version berth speaks; every client path is sent as `/v1.41/…`.
pub const API_VERSION: &str = "1.41";
/// Where berthd listens unless told otherwise.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// A client for berthd (or any Docker daemon) over a UNIX socket.
#[cfg(feature = "client")]
pub mod client;
/// Detach keys (`ctrl-p,ctrl-q`): parsing and the input filter that watches for them.
pub mod detach_keys;
/// `.dockerignore`: reading it as Docker does, and matching context paths against it.
pub mod dockerignore;
/// Explain events: one plain sentence per kernel-facing step, as JSON lines.
pub mod explain;
/// Go's `time.ParseDuration`, with Go's errors.
pub mod go_duration;
/// Go's `path.Clean` and `path.Dir`.
pub mod go_path;
/// Go's `strconv.Quote`, as Docker's messages quote names and values.
pub mod go_quote;
/// Shell patterns as Docker's filters take them (Go's `path.Match`), in bounded time.
pub mod pattern;
/// Docker Engine API v1.41 request and response shapes.
pub mod types;
/// Docker's human units: durations and sizes.
pub mod units;

/// Make every panic of this process abort it once the panic is reported, whatever the build's
/// panic strategy: for the programs whose invariants leave nothing safe to unwind into (the
/// shim, the runtime), while berthd unwinds to answer a failed request with a 500.
pub fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
}
