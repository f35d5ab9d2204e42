//! One process the shim supervises (the container's init or an exec): its stdio, pid and exit.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use berth_shim::ExitStatus;
use berth_shim::frame::Stream;

use crate::runtime::ProcessIo;
use crate::stdio;

/// Bytes on their way to a process's stdin. A client's input is read only when this is empty, so
/// a process that does not read its stdin slows its clients down instead of filling memory.
pub struct StdinSink {
    fd: OwnedFd,
    pending: Vec<u8>,
    close_when_flushed: bool,
}

impl StdinSink {
    fn new(fd: OwnedFd) -> io::Result<Self> {
        stdio::set_nonblocking(fd.as_fd())?;
        Ok(Self {
            fd,
            pending: Vec::new(),
            close_when_flushed: false,
        })
    }

    /// The fd to poll for writability.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Bytes wait to be written.
    pub fn is_busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Queue `data` and write what the pipe takes now.
    pub fn push(&mut self, data: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        self.flush()
    }

    /// Write what the pipe takes now. An error (the process closed its stdin) means the sink is gone.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            match stdio::write(self.fd.as_fd(), &self.pending) {
                Ok(n) => drop(self.pending.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Everything is written and the sink should close (stdin-once).
    pub fn is_finished(&self) -> bool {
        self.close_when_flushed && self.pending.is_empty()
    }
}

/// Whether a process can take stdin from an attached client now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinState {
    /// Ready for more bytes.
    Ready,
    /// Still writing earlier bytes.
    Busy,
    /// Will have a stdin: a tty exec gets its pty at start.
    NotYet,
    /// Has none (never had, or closed): client input is dropped.
    Gone,
}

/// A supervised process.
pub struct Process {
    /// `"init"` or the exec id.
    pub name: String,
    /// Has a pty: output is one raw stream.
    pub tty: bool,
    /// Close stdin when an attached client closes its side.
    pub stdin_once: bool,
    /// Was given a stdin (for a tty it appears with the pty).
    pub wants_stdin: bool,
    /// The write side of stdin (pipe, or a dup of the pty master).
    pub stdin: Option<StdinSink>,
    /// Read ends of stdout and stderr (for a tty: a dup of the master, as stdout).
    pub stdout: Option<OwnedFd>,
    /// See `stdout`.
    pub stderr: Option<OwnedFd>,
    /// The pty master, kept for resize.
    pub master: Option<OwnedFd>,
    /// The ends the runtime hands to the process (without a tty), until create or exec uses them.
    pub child_io: Option<ProcessIo>,
    /// The exec's OCI process object, until exec_start writes it for the runtime.
    pub spec: Option<serde_json::Value>,
    /// Host pid, once known.
    pub pid: Option<i32>,
    /// `start` or `exec_start` has run.
    pub started: bool,
    /// How it ended, once reaped.
    pub exit: Option<ExitStatus>,
    /// When it was reaped: its output gets a short grace period to drain after this.
    pub reaped_at: Option<Instant>,
    /// Exit handled: output drained, waiters answered, attach streams closing.
    pub done: bool,
}

impl Process {
    /// A process with pipes for stdout, stderr and (when `stdin`) stdin.
    pub fn with_pipes(name: &str, stdin: bool, stdin_once: bool) -> io::Result<Self> {
        let (stdout_read, stdout_write) = stdio::pipe()?;
        let (stderr_read, stderr_write) = stdio::pipe()?;
        stdio::set_nonblocking(stdout_read.as_fd())?;
        stdio::set_nonblocking(stderr_read.as_fd())?;
        let (stdin_sink, stdin_child) = if stdin {
            let (read, write) = stdio::pipe()?;
            (Some(StdinSink::new(write)?), Some(read))
        } else {
            (None, None)
        };
        let mut process = Self::empty(name, false, stdin, stdin_once);
        process.stdin = stdin_sink;
        process.stdout = Some(stdout_read);
        process.stderr = Some(stderr_read);
        process.child_io = Some(ProcessIo {
            stdin: stdin_child,
            stdout: stdout_write,
            stderr: stderr_write,
        });
        Ok(process)
    }

    /// A process whose stdio will be a pty, given by [`Process::attach_pty`].
    pub fn for_pty(name: &str, stdin: bool, stdin_once: bool) -> Self {
        Self::empty(name, true, stdin, stdin_once)
    }

    fn empty(name: &str, tty: bool, stdin: bool, stdin_once: bool) -> Self {
        Self {
            name: name.to_owned(),
            tty,
            stdin_once,
            wants_stdin: stdin,
            stdin: None,
            stdout: None,
            stderr: None,
            master: None,
            child_io: None,
            spec: None,
            pid: None,
            started: false,
            exit: None,
            reaped_at: None,
            done: false,
        }
    }

    /// Take the pty master the runtime sent: output is read from it and stdin written to it.
    pub fn attach_pty(&mut self, master: OwnedFd) -> io::Result<()> {
        self.stdout = Some(master.try_clone()?);
        if self.wants_stdin {
            self.stdin = Some(StdinSink::new(master.try_clone()?)?);
        }
        self.master = Some(master);
        Ok(())
    }

    /// The read end of `stream`, while open.
    pub fn output(&self, stream: Stream) -> Option<&OwnedFd> {
        match stream {
            Stream::Stdout => self.stdout.as_ref(),
            Stream::Stderr => self.stderr.as_ref(),
        }
    }

    /// Stop reading `stream` (it ended).
    pub fn close_output(&mut self, stream: Stream) {
        match stream {
            Stream::Stdout => self.stdout = None,
            Stream::Stderr => self.stderr = None,
        }
    }

    /// Both output streams have ended.
    pub fn outputs_closed(&self) -> bool {
        self.stdout.is_none() && self.stderr.is_none()
    }

    /// Can an attached client's input go to stdin now?
    pub fn stdin_state(&self) -> StdinState {
        match &self.stdin {
            Some(sink) if sink.is_busy() || sink.close_when_flushed => StdinState::Busy,
            Some(_) => StdinState::Ready,
            None if self.tty && self.wants_stdin && self.master.is_none() && !self.done => StdinState::NotYet,
            None => StdinState::Gone,
        }
    }

    /// A client closed its side of stdin: with stdin-once, close the process's stdin once the
    /// queued bytes are written. Never for a tty: like Docker (`CloseStdin && !TTY`), a pty's
    /// input stays open, so a client that detached (Ctrl-P Ctrl-Q) can attach and type again.
    pub fn client_stdin_closed(&mut self) {
        if !self.stdin_once || self.tty {
            return;
        }
        if let Some(sink) = &mut self.stdin {
            sink.close_when_flushed = true;
            if sink.is_finished() {
                self.stdin = None;
            }
        }
    }

    /// Drop every fd the shim holds for this process.
    pub fn release_io(&mut self) {
        self.stdin = None;
        self.stdout = None;
        self.stderr = None;
        self.master = None;
        self.child_io = None;
    }
}
