//! One client connection to `shim.sock`: a request line, then a reply, a wait or an attach stream.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use berth_shim::frame::Stream;

/// What an attached connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment {
    /// Index of the process in the supervisor's list.
    pub process: usize,
    /// Client bytes still go to the process's stdin (false once the client shut its side).
    pub stdin: bool,
    /// Send stdout (with a tty: the whole pty output).
    pub stdout: bool,
    /// Send stderr.
    pub stderr: bool,
}

/// Where a connection is in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the request line.
    Request,
    /// The reply is queued; the connection closes once it is sent.
    Replied,
    /// Parked on `wait` for a process (index).
    Waiting(usize),
    /// A stdio stream.
    Attached(Attachment),
}

/// What one read from the client gave.
pub enum Input {
    /// Some bytes (in the caller's buffer).
    Data(usize),
    /// The client shut down its write side (or closed).
    End,
    /// Nothing right now.
    Nothing,
}

/// A client connection, nonblocking.
pub struct Conn {
    /// The socket.
    pub stream: UnixStream,
    /// The request line read so far.
    pub request: Vec<u8>,
    /// Bytes waiting to be sent; while any wait, the output this connection takes is not read.
    out: Vec<u8>,
    /// Where it is in the protocol.
    pub phase: Phase,
    /// Close once `out` is sent.
    pub close_after_flush: bool,
    /// The client hung up completely: it is no longer polled, only drained of input.
    pub hung_up: bool,
    /// Done: dropped at the end of the loop turn.
    pub closed: bool,
}

impl Conn {
    /// Wrap an accepted socket.
    pub fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            request: Vec::new(),
            out: Vec::new(),
            phase: Phase::Request,
            close_after_flush: false,
            hung_up: false,
            closed: false,
        })
    }

    /// Bytes wait to be sent.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Does this connection take `stream` of process `process`?
    pub fn takes(&self, process: usize, stream: Stream) -> bool {
        match self.phase {
            Phase::Attached(a) if a.process == process && !self.closed => match stream {
                Stream::Stdout => a.stdout,
                Stream::Stderr => a.stderr,
            },
            _ => false,
        }
    }

    /// Queue bytes and send what the socket takes now.
    pub fn send(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.flush();
    }

    /// Queue a reply line, to be followed by closing.
    pub fn reply_and_close(&mut self, line: &str) {
        self.phase = Phase::Replied;
        self.close_after_flush = true;
        self.send(line.as_bytes());
    }

    /// Close once everything queued is sent.
    pub fn close_when_flushed(&mut self) {
        self.close_after_flush = true;
        self.flush();
    }

    /// Send what the socket takes now; a client that is gone is closed.
    pub fn flush(&mut self) {
        while !self.out.is_empty() && !self.closed {
            match self.stream.write(&self.out) {
                Ok(n) => drop(self.out.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
        if self.out.is_empty() && self.close_after_flush {
            self.closed = true;
        }
    }

    /// Read once from the client into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> Input {
        match self.stream.read(buf) {
            Ok(0) => Input::End,
            Ok(n) => Input::Data(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
                Input::Nothing
            }
            Err(_) => Input::End,
        }
    }
}
