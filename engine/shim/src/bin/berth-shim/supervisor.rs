//! The shim's event loop: one thread polling a handful of fds.
//!
//! Each turn polls: the signalfd (SIGCHLD: reap), the listening socket (new clients), the output
//! of each process (to the log and attached clients), stdin pipes with queued bytes, and client
//! connections. Nothing blocks except `poll` and the runtime commands run for requests.
//!
//! Backpressure instead of buffers: an output is not read while a client that takes it still has
//! bytes to send, and a client's input is not read while the process's stdin has bytes queued.
//! So the shim's memory stays at about one read per client, whatever the container writes.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_api::explain::TARGET;
use berth_shim::frame::{self, Stream};
use berth_shim::json_log::JsonLogWriter;
use berth_shim::paths::StateDir;
use berth_shim::protocol::{MAX_REQUEST, ProcessStatus, error_line};
use berth_shim::timefmt;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use tracing::{info, warn};

use crate::conn::{Conn, Input, Phase};
use crate::process::{Process, StdinState};
use crate::runtime::Runtime;
use crate::stdio;

/// The container's init is always the first process.
pub const INIT_INDEX: usize = 0;
/// How long a reaped process's output may take to reach its end (a process outside the
/// container's pid namespace can keep a pipe open forever).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// How long the shim waits, after init is done, for execs to be reaped and clients to read the
/// rest of their output.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// One read from a stream.
const READ_CHUNK: usize = 32 * 1024;
/// Exits of processes the shim does not know (yet) that it remembers.
const MAX_ORPHAN_EXITS: usize = 256;

/// What a polled fd is.
#[derive(Debug, Clone, Copy)]
enum Token {
    Signals,
    Listener,
    Output(usize, Stream),
    Stdin(usize),
    Conn(usize),
}

/// The fds of one poll, each with what it is.
#[derive(Default)]
struct PollSet<'fd> {
    tokens: Vec<Token>,
    fds: Vec<PollFd<'fd>>,
}

impl<'fd> PollSet<'fd> {
    fn add(&mut self, token: Token, fd: BorrowedFd<'fd>, flags: PollFlags) {
        self.tokens.push(token);
        self.fds.push(PollFd::new(fd, flags));
    }
}

/// The shim's whole state.
pub struct Supervisor {
    /// The container id.
    pub id: String,
    /// Files of the shim.
    pub state: StateDir,
    /// Runs the runtime's commands.
    pub runtime: Runtime,
    /// `linux.cgroupsPath` from the bundle, for the OOM counter.
    pub cgroups_path: Option<String>,
    /// `shim.sock`.
    pub listener: UnixListener,
    /// SIGCHLD as a readable fd.
    pub signals: SignalFd,
    /// The json-file log of init's output.
    pub log: JsonLogWriter<File>,
    /// A log write failed already (warned once).
    pub log_failed: bool,
    /// The container's lifecycle status.
    pub status: ProcessStatus,
    /// Init first, then execs in creation order.
    pub processes: Vec<Process>,
    /// Client connections.
    pub conns: Vec<Conn>,
    /// Exit codes and times of reaped pids no process claimed yet (an exec can exit before its
    /// pid file is read).
    pub orphan_exits: HashMap<i32, (i32, String)>,
    /// Init is done: the shim exits once clients are served.
    pub stopping_since: Option<Instant>,
}

impl Supervisor {
    /// Serve until init has exited and everything is recorded, then remove the socket and pid file.
    pub fn run(mut self) -> anyhow::Result<()> {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            self.finish_exited_processes();
            self.serve_hung_up_conns(&mut buf);
            // Dropping a closed connection is what the client sees as the end of its stream.
            self.conns.retain(|c| !c.closed);
            if self.can_exit() {
                break;
            }
            for (token, events) in self.poll()? {
                self.handle(token, events, &mut buf);
            }
        }
        self.remove_files();
        self.serve_last_clients(&mut buf);
        Ok(())
    }

    /// The socket file is gone, so no client can connect any more: answer the ones that
    /// connected just before (their requests are in the socket already), then exit.
    fn serve_last_clients(&mut self, buf: &mut [u8]) {
        self.accept();
        for index in 0..self.conns.len() {
            if self.conns[index].phase == Phase::Request {
                self.pump_input(index, buf);
            }
            self.conns[index].flush();
        }
    }

    /// Process `index` by name.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.processes.iter().position(|p| p.name == name)
    }

    fn poll(&self) -> anyhow::Result<Vec<(Token, PollFlags)>> {
        let mut set = PollSet::default();
        set.add(Token::Signals, self.signals.as_fd(), PollFlags::POLLIN);
        set.add(Token::Listener, self.listener.as_fd(), PollFlags::POLLIN);
        for (index, process) in self.processes.iter().enumerate() {
            for stream in [Stream::Stdout, Stream::Stderr] {
                if let Some(fd) = process.output(stream) {
                    if !self.output_blocked(index, stream) {
                        set.add(Token::Output(index, stream), fd.as_fd(), PollFlags::POLLIN);
                    }
                }
            }
            if let Some(sink) = &process.stdin {
                if sink.is_busy() {
                    set.add(Token::Stdin(index), sink.fd().as_fd(), PollFlags::POLLOUT);
                }
            }
        }
        for (index, conn) in self.conns.iter().enumerate() {
            if conn.hung_up || conn.closed {
                continue;
            }
            let mut flags = PollFlags::empty();
            if conn.has_output() {
                flags |= PollFlags::POLLOUT;
            }
            if self.wants_input(conn) {
                flags |= PollFlags::POLLIN;
            }
            // Polled even with no flags: POLLHUP and POLLERR always report a client that left.
            set.add(Token::Conn(index), conn.stream.as_fd(), flags);
        }
        let timeout = match self.next_deadline() {
            None => PollTimeout::NONE,
            Some(deadline) => {
                // Round up, so the loop does not wake just before the deadline and spin.
                let nanos = deadline.saturating_duration_since(Instant::now()).as_nanos();
                let millis = nanos.div_ceil(1_000_000).min(60_000) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        let PollSet { tokens, mut fds } = set;
        loop {
            match poll(&mut fds, timeout) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e).context("poll failed"),
            }
        }
        Ok(tokens
            .into_iter()
            .zip(fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty())))
            .filter(|(_, events)| !events.is_empty())
            .collect())
    }

    fn handle(&mut self, token: Token, events: PollFlags, buf: &mut [u8]) {
        match token {
            Token::Signals => {
                while let Ok(Some(_)) = self.signals.read_signal() {}
                self.reap();
            }
            Token::Listener => self.accept(),
            Token::Output(index, stream) => self.read_output(index, stream, buf),
            Token::Stdin(index) => self.flush_stdin(index),
            Token::Conn(index) => {
                if events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                    // Gone for good: read what it sent before leaving, then drop it.
                    self.conns[index].hung_up = true;
                    return;
                }
                if events.contains(PollFlags::POLLOUT) {
                    self.conns[index].flush();
                }
                if events.contains(PollFlags::POLLIN) {
                    self.pump_input(index, buf);
                }
            }
        }
    }

    // --- processes -----------------------------------------------------------------------------

    /// Reap every exited child: the container's processes are re-parented to us (subreaper).
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) => {
                    if let (Some(pid), Some(code)) = (status.pid(), berth_shim::ExitStatus::code_of(status)) {
                        self.record_exit(pid.as_raw(), code);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    warn!("waitpid failed: {e}");
                    break;
                }
            }
        }
    }

    fn record_exit(&mut self, pid: i32, code: i32) {
        let finished_at = timefmt::now_rfc3339_nano();
        let how = if code > 128 {
            format!("killed by signal {}", code - 128)
        } else {
            format!("exited with code {code}")
        };
        let Some(index) = self
            .processes
            .iter()
            .position(|p| p.pid == Some(pid) && p.exit.is_none())
        else {
            if self.orphan_exits.len() >= MAX_ORPHAN_EXITS {
                self.orphan_exits.clear();
            }
            self.orphan_exits.insert(pid, (code, finished_at));
            return;
        };
        info!(target: TARGET, "reaped {} (pid {pid}): {how}", self.processes[index].name);
        self.set_exit(index, code, finished_at);
    }

    /// After learning a pid: it may have been reaped already.
    pub fn claim_orphan_exit(&mut self, index: usize) {
        let Some(pid) = self.processes[index].pid else {
            return;
        };
        if let Some((code, finished_at)) = self.orphan_exits.remove(&pid) {
            info!(target: TARGET, "reaped {} (pid {pid}): exited with code {code}", self.processes[index].name);
            self.set_exit(index, code, finished_at);
        }
    }

    /// Record how process `index` ended (its output still drains).
    pub fn set_exit(&mut self, index: usize, code: i32, finished_at: String) {
        let process = &mut self.processes[index];
        process.exit = Some(berth_shim::ExitStatus {
            exit_code: code,
            finished_at,
            oom_killed: false,
        });
        process.reaped_at = Some(Instant::now());
        if index == INIT_INDEX {
            self.status = ProcessStatus::Stopped;
        }
    }

    /// Complete every reaped process whose output has ended (or whose grace period is over).
    fn finish_exited_processes(&mut self) {
        for index in 0..self.processes.len() {
            let process = &self.processes[index];
            if process.done || process.exit.is_none() {
                continue;
            }
            let overdue = process.reaped_at.is_some_and(|t| t.elapsed() >= OUTPUT_GRACE);
            if !process.outputs_closed() {
                if !overdue {
                    continue;
                }
                self.drain_output_now(index);
            }
            if index == INIT_INDEX {
                self.record_container_exit();
            }
            self.complete_process(index);
        }
    }

    /// The grace period is over: take what is in the pipes now, then stop reading them.
    fn drain_output_now(&mut self, index: usize) {
        let mut buf = vec![0u8; READ_CHUNK];
        for stream in [Stream::Stdout, Stream::Stderr] {
            while let Some(fd) = self.processes[index].output(stream) {
                match stdio::read(fd.as_fd(), &mut buf) {
                    Ok(n @ 1..) => self.dispatch_output(index, stream, &buf[..n]),
                    _ => self.end_output(index, stream),
                }
            }
        }
    }

    /// Release the process's fds, answer its waiters, end its attach streams.
    fn complete_process(&mut self, index: usize) {
        let process = &mut self.processes[index];
        process.release_io();
        process.done = true;
        let Some(exit) = process.exit.clone() else { return };
        let reply = berth_shim::protocol::ok_line(&exit);
        for conn in &mut self.conns {
            match conn.phase {
                Phase::Waiting(waited) if waited == index => conn.reply_and_close(&reply),
                Phase::Attached(attachment) if attachment.process == index => conn.close_when_flushed(),
                _ => {}
            }
        }
    }

    fn can_exit(&self) -> bool {
        let Some(since) = self.stopping_since else {
            return false;
        };
        since.elapsed() >= SHUTDOWN_GRACE
            || (self.processes.iter().all(|p| p.done || !p.started)
                && self
                    .conns
                    .iter()
                    .all(|c| !c.has_output() && c.phase != Phase::Request))
    }

    fn next_deadline(&self) -> Option<Instant> {
        let outputs = self
            .processes
            .iter()
            .filter(|p| !p.done)
            .filter_map(|p| p.reaped_at)
            .map(|t| t + OUTPUT_GRACE);
        let shutdown = self.stopping_since.map(|t| t + SHUTDOWN_GRACE);
        outputs.chain(shutdown).min()
    }

    fn remove_files(&self) {
        for path in [self.state.socket(), self.state.shim_pid()] {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    warn!("could not remove {}: {e}", path.display());
                }
            }
        }
        info!(target: TARGET, "removed {}; the shim of container {} exits", self.state.socket().display(), self.id);
    }

    // --- output ----------------------------------------------------------------------------------

    /// A client that takes this output still has bytes to send: wait for it.
    fn output_blocked(&self, index: usize, stream: Stream) -> bool {
        self.conns
            .iter()
            .any(|c| c.takes(index, stream) && c.has_output())
    }

    fn read_output(&mut self, index: usize, stream: Stream, buf: &mut [u8]) {
        let Some(fd) = self.processes[index].output(stream) else {
            return;
        };
        match stdio::read(fd.as_fd(), buf) {
            Ok(0) => self.end_output(index, stream),
            Ok(n) => self.dispatch_output(index, stream, &buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => {
                warn!(
                    "could not read {} of {}: {e}",
                    stream.name(),
                    self.processes[index].name
                );
                self.end_output(index, stream);
            }
        }
    }

    fn end_output(&mut self, index: usize, stream: Stream) {
        self.processes[index].close_output(stream);
        if index == INIT_INDEX {
            let result = self.log.finish(stream);
            self.note_log_result(result);
        }
    }

    /// Output goes to the log (init only) and to every client that takes it.
    fn dispatch_output(&mut self, index: usize, stream: Stream, data: &[u8]) {
        if index == INIT_INDEX {
            let result = self.log.write(stream, data);
            self.note_log_result(result);
        }
        let tty = self.processes[index].tty;
        let mut framed = Vec::new();
        for conn in self.conns.iter_mut().filter(|c| c.takes(index, stream)) {
            if tty {
                conn.send(data);
            } else {
                if framed.is_empty() {
                    frame::push_frame(&mut framed, stream, data);
                }
                conn.send(&framed);
            }
        }
    }

    fn note_log_result(&mut self, result: io::Result<()>) {
        match result {
            Ok(()) => {}
            Err(e) if !self.log_failed => {
                self.log_failed = true;
                warn!("could not write the container log: {e}");
            }
            Err(_) => {}
        }
    }

    // --- input -----------------------------------------------------------------------------------

    fn flush_stdin(&mut self, index: usize) {
        let process = &mut self.processes[index];
        let Some(sink) = &mut process.stdin else { return };
        let failed = sink.flush().is_err();
        if failed || sink.is_finished() {
            // Failed: the process closed its stdin. Finished: stdin-once, all written.
            process.stdin = None;
        }
    }

    /// Does the connection's next input have somewhere to go?
    fn wants_input(&self, conn: &Conn) -> bool {
        match conn.phase {
            Phase::Request => true,
            Phase::Attached(attachment) if attachment.stdin => {
                matches!(
                    self.processes[attachment.process].stdin_state(),
                    StdinState::Ready | StdinState::Gone
                )
            }
            _ => false,
        }
    }

    /// Read from the client while its input has somewhere to go.
    fn pump_input(&mut self, index: usize, buf: &mut [u8]) {
        while !self.conns[index].closed && self.wants_input(&self.conns[index]) {
            match self.conns[index].read(buf) {
                Input::Data(n) => self.take_input(index, &buf[..n]),
                Input::End => {
                    self.end_input(index);
                    break;
                }
                Input::Nothing => break,
            }
        }
    }

    fn take_input(&mut self, index: usize, data: &[u8]) {
        match self.conns[index].phase {
            Phase::Request => {
                let conn = &mut self.conns[index];
                conn.request.extend_from_slice(data);
                if let Some(newline) = conn.request.iter().position(|&b| b == b'\n') {
                    let rest = conn.request.split_off(newline + 1);
                    let mut line = std::mem::take(&mut conn.request);
                    line.pop();
                    self.handle_request(index, &line, &rest);
                } else if conn.request.len() > MAX_REQUEST {
                    conn.reply_and_close(&error_line("request too long"));
                }
            }
            Phase::Attached(attachment) if attachment.stdin => self.write_stdin(attachment.process, data),
            _ => {}
        }
    }

    /// Client bytes for a process's stdin (dropped when it has none).
    pub fn write_stdin(&mut self, process: usize, data: &[u8]) {
        let process = &mut self.processes[process];
        if let Some(sink) = &mut process.stdin {
            if sink.push(data).is_err() {
                process.stdin = None;
            }
        }
    }

    /// The client shut down its write side.
    fn end_input(&mut self, index: usize) {
        let conn = &mut self.conns[index];
        match conn.phase {
            Phase::Request => conn.closed = true,
            Phase::Attached(mut attachment) if attachment.stdin => {
                attachment.stdin = false;
                conn.phase = Phase::Attached(attachment);
                self.processes[attachment.process].client_stdin_closed();
            }
            _ => {}
        }
    }

    /// Clients that hung up: take their remaining input once it has somewhere to go, then drop them.
    fn serve_hung_up_conns(&mut self, buf: &mut [u8]) {
        for index in 0..self.conns.len() {
            let conn = &self.conns[index];
            if !conn.hung_up || conn.closed {
                continue;
            }
            let reads_input = match conn.phase {
                Phase::Request => true,
                Phase::Attached(attachment) => attachment.stdin,
                _ => false,
            };
            if !reads_input {
                self.conns[index].closed = true;
                continue;
            }
            self.pump_input(index, buf);
            let conn = &mut self.conns[index];
            let input_done = match conn.phase {
                Phase::Attached(attachment) => !attachment.stdin,
                Phase::Request => false,
                _ => true,
            };
            if input_done {
                conn.closed = true;
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => match Conn::new(stream) {
                    Ok(conn) => self.conns.push(conn),
                    Err(e) => warn!("could not set up a client connection: {e}"),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!("could not accept a client: {e}");
                    break;
                }
            }
        }
    }
}
