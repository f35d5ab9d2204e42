//! berth-shim: the per-container supervisor (containerd-shim's role).
//!
//! berthd starts one `berth-shim` process per container. The shim runs in its own session as a
//! child subreaper, holds the container's stdio, writes its logs, serves attach, reaps the
//! container's processes, records the exit and outlives berthd. This library holds what berthd
//! needs to talk to it: the socket protocol types, the exit record, the log format and a small
//! blocking client. The `berth-shim` binary (src/bin/berth-shim) is the shim itself.
//!
//! # The contract
//!
//! ## 1. Start
//!
//! ```text
//! berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH --runtime-root DIR --log-path FILE
//!            [--tty] [--stdin] [--stdin-once]
//! ```
//!
//! The invoked process forks the real shim (new session, child subreaper, cwd `/`, stdio on
//! `/dev/null`, every inherited fd above 2 closed) and waits. The shim makes the container's stdio
//! (pipes; or with `--tty` a pty received through `runtime create --console-socket`), runs
//! `runtime --root R --log <state-dir>/explain.jsonl --log-format json create --bundle B
//! --pid-file <state-dir>/init.pid ID`, binds `<state-dir>/shim.sock`, writes
//! `<state-dir>/shim.pid` and only then tells the invoking process, which exits 0. If anything
//! fails the invoker exits 1 with the reason (the runtime's own error message for a failed
//! create) on stderr, and nothing is left: no socket, no pid file, no runtime state. The
//! container does not run until [`Request::Start`]. [`ShimOptions::spawn`] does all of this.
//!
//! A stale `exit.json` from an earlier run in the same state dir is removed at start.
//! UNIX socket paths are limited to 107 bytes: keep the state dir short.
//!
//! ## 2. Socket protocol
//!
//! Each connection to `shim.sock` sends one JSON line, a [`Request`] tagged by `"op"`, and gets one
//! JSON line back: `{"ok":true,...}` with the fields of the reply type flattened in, or
//! `{"ok":false,"error":"..."}`. See [`protocol`] for each request and its reply. After an
//! `attach` reply the connection is a stream ([`frame`] describes the non-tty framing; with a tty
//! it is the raw pty output, sent when `stdout` was asked for). Bytes the client sends are stdin;
//! when the client shuts down its write side, stdin detaches, and with `--stdin-once` (and always
//! for an exec, as Docker does) the process's stdin pipe is closed. A pty is never closed under a
//! running process (Docker does not either). Output keeps flowing after stdin detaches, until the
//! process exits or the client closes the connection; Docker ends the whole attach when stdin ends
//! without StdinOnce, so berthd closes the stream itself when it wants that. The output stream
//! ends when the process has exited and its output is flushed. Output produced while nobody is
//! attached is not kept for attach (it is in the log); attach before `start` (or `exec_start`)
//! to see everything. A slow attach client slows the container's output down instead of growing
//! the shim's memory (Docker's attach behaves the same).
//!
//! `wait` replies once the process is reaped and its output has reached its end (normally at
//! once; at most 2 s later when a process outside the container's pid namespace holds the pipe).
//! An exec whose `exec_start` failed has exit code 126. After init is done the shim leaves as
//! soon as its clients have their data (at most 10 s later); a client that connects in that
//! window still gets answers, and after it [`ShimClient::wait_init`] reads `exit.json`.
//!
//! ## 3. Logs
//!
//! The init process's stdout and stderr go to `--log-path` in Docker's json-file format, see
//! [`json_log`]. Exec output is not logged.
//!
//! ## 4. Exit
//!
//! When init exits (code; or 128+signal when killed) the shim reads the container cgroup's
//! `oom_kill` counter (cgroup v1 `memory.oom_control`, v2 `memory.events`; the cgroup is
//! `linux.cgroupsPath` of the bundle's config.json), writes `<state-dir>/exit.json`
//! ([`ExitStatus`], atomically), runs `runtime delete ID`, answers waiters, flushes and closes the
//! attach streams, removes `shim.sock` and `shim.pid` and exits. berthd reads `exit.json` with
//! [`ExitStatus::read_from_state_dir`] when it was not listening.
//!
//! ## 5. Explain events
//!
//! The shim appends [`berth_api::explain::ExplainEvent`] lines (source `berth-shim`) to
//! `<state-dir>/explain.jsonl`, next to the runtime's own log lines: stdio made, runtime
//! create/start/exec/kill/delete run, cgroup counter read, exit recorded. berth-runtime writes
//! explain events there too; runc writes its own `{"level","msg","time"}` lines, so a reader
//! skips lines that do not parse as an `ExplainEvent`. The shim's own warnings (which nobody
//! would see on `/dev/null`) go to `<state-dir>/shim.log`.
//!
//! ## What the shim does not do
//!
//! No pause/resume, checkpoint or log rotation; no restart policy (berthd decides); no output
//! buffer for late attach clients; the OOM check understands cgroupfs paths, not systemd's
//! `slice:prefix:name`. One request at a time: a runtime command (start, exec, kill) runs to its
//! end before the next request is read.

/// Atomic file writes (temp, fsync, rename), as every state file is written.
pub mod atomic;
/// Blocking client for berthd: start a shim, send it requests, attach to a process.
pub mod client;
/// The exit record: `exit.json` in the state dir and the `wait` reply.
pub mod exit;
/// Docker's multiplexed stream framing for attach without a tty.
pub mod frame;
/// Docker's json-file log format: entries and the line splitter.
pub mod json_log;
/// Well-known file names inside a shim's state dir.
pub mod paths;
/// The socket protocol: requests, replies, process names.
pub mod protocol;
/// Signal names and numbers as Docker's API and runc accept them.
pub mod signal;
/// RFC 3339 timestamps the way Docker writes them.
pub mod timefmt;

pub use client::{ShimClient, ShimError, ShimOptions};
pub use exit::ExitStatus;
pub use protocol::{ProcessStatus, Request, ShimState};
