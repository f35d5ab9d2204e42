//! A small blocking client for berthd: start a shim and send it requests.
//!
//! Every call opens its own connection, as the protocol wants. The calls block (`wait` until the
//! process exits), so an async caller runs them on a blocking thread, or converts the
//! [`UnixStream`](std::os::unix::net::UnixStream) of [`ShimClient::attach`] with `tokio::net::UnixStream::from_std`.
//!
//! ```no_run
//! use berth_shim::ShimOptions;
//!
//! # fn main() -> Result<(), berth_shim::ShimError> {
//! let options = ShimOptions {
//!     shim_binary: "/usr/local/bin/berth-shim".into(),
//!     id: "4f1c…".into(),
//!     bundle: "/var/lib/berth/containers/4f1c…/bundle".into(),
//!     state_dir: "/run/berth/c/4f1c…".into(),
//!     runtime: "/usr/local/bin/berth-runtime".into(),
//!     runtime_root: "/run/berth/runtime".into(),
//!     log_path: "/var/lib/berth/containers/4f1c…/4f1c…-json.log".into(),
//!     tty: false,
//!     stdin: false,
//!     stdin_once: false,
//! };
//! let shim = options.spawn()?; // returns once the container is created
//! let output = shim.attach("init", false, true, true)?; // attach first, so nothing is missed…
//! let pid = shim.start()?; // …then start
//! let exit = shim.wait_init()?; // exit code, finished_at, oom_killed
//! # drop((output, pid, exit));
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;

use crate::exit::ExitStatus;
use crate::paths::StateDir;
use crate::protocol::{Empty, MAX_REQUEST, PidReply, Request, ShimState};

/// Why a shim call failed.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// could not run the shim {binary}: {source}
    #[error("could not run the shim {binary}: {source}")]
    Spawn {
        /// The shim binary.
        binary: String,
        /// The I/O error.
        source: io::Error,
    },
    /// {0} (the shim's own message: the container was not created)
    #[error("{0}")]
    Create(String),
    /// could not connect to the shim at {socket}: {source}
    #[error("could not connect to the shim at {socket}: {source}")]
    Connect {
        /// The socket path.
        socket: String,
        /// The I/O error.
        source: io::Error,
    },
    /// could not talk to the shim at {socket}: {source}
    #[error("could not talk to the shim at {socket}: {source}")]
    Io {
        /// The socket path.
        socket: String,
        /// The I/O error.
        source: io::Error,
    },
    /// bad reply from the shim: {0}
    #[error("bad reply from the shim: {0}")]
    BadReply(String),
    /// {0} (the shim refused the request and said why)
    #[error("{0}")]
    Refused(String),
}

/// The command line of one shim: everything berthd decides for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimOptions {
    /// The `berth-shim` binary.
    pub shim_binary: PathBuf,
    /// The container id (the runtime's id too).
    pub id: String,
    /// The OCI bundle: `config.json` and the rootfs.
    pub bundle: PathBuf,
    /// Where the shim keeps its socket, pid files and exit record.
    pub state_dir: PathBuf,
    /// The OCI runtime binary (runc's command line).
    pub runtime: PathBuf,
    /// The runtime's `--root`.
    pub runtime_root: PathBuf,
    /// The json-file log of the container's output.
    pub log_path: PathBuf,
    /// Give init a pty (`config.json` must say `process.terminal: true`).
    pub tty: bool,
    /// Give init a stdin to attach to (Docker's OpenStdin).
    pub stdin: bool,
    /// Close init's stdin when the first attached client closes its side (Docker's StdinOnce).
    pub stdin_once: bool,
}

impl ShimOptions {
    /// The shim's command line.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.shim_binary);
        command
            .arg("--id")
            .arg(&self.id)
            .arg("--bundle")
            .arg(&self.bundle)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--runtime")
            .arg(&self.runtime)
            .arg("--runtime-root")
            .arg(&self.runtime_root)
            .arg("--log-path")
            .arg(&self.log_path);
        for (flag, on) in [
            ("--tty", self.tty),
            ("--stdin", self.stdin),
            ("--stdin-once", self.stdin_once),
        ] {
            if on {
                command.arg(flag);
            }
        }
        command
    }

    /// Start the shim and return once the container is created and the socket is ready.
    ///
    /// On failure the error carries the shim's message (for a failed create, the runtime's).
    pub fn spawn(&self) -> Result<ShimClient, ShimError> {
        let output = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| ShimError::Spawn {
                binary: self.shim_binary.display().to_string(),
                source,
            })?;
        if !output.status.success() {
            let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let message = if message.is_empty() {
                format!("berth-shim failed: {}", output.status)
            } else {
                message
            };
            return Err(ShimError::Create(message));
        }
        Ok(ShimClient::for_state_dir(&self.state_dir))
    }
}

/// Talks to one shim over its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimClient {
    socket: PathBuf,
}

impl ShimClient {
    /// A client for the shim listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    /// A client for the shim whose state dir is `state_dir`.
    pub fn for_state_dir(state_dir: &Path) -> Self {
        Self::new(StateDir::new(state_dir).socket())
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Run `runtime start`; returns init's pid.
    pub fn start(&self) -> Result<i32, ShimError> {
        self.call::<PidReply>(&Request::Start).map(|reply| reply.pid)
    }

    /// Send `signal` to init (or to every process of the container with `all`).
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::Kill { signal, all }).map(drop)
    }

    /// Freeze every process of the container (`runtime pause`).
    pub fn pause(&self) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::Pause).map(drop)
    }

    /// Thaw a paused container (`runtime resume`).
    pub fn resume(&self) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::Resume).map(drop)
    }

    /// New cgroup limits for the live container (`runtime update`), in the OCI
    /// `linux.resources` form; what `resources` leaves out stays as it is.
    pub fn update(&self, resources: serde_json::Value) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::Update { resources }).map(drop)
    }

    /// Set the pty window size of `process` (`"init"` or an exec id).
    pub fn resize(&self, process: &str, width: u16, height: u16) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::Resize {
            process: process.to_owned(),
            width,
            height,
        })
        .map(drop)
    }

    /// Block until `process` has exited.
    pub fn wait(&self, process: &str) -> Result<ExitStatus, ShimError> {
        self.call(&Request::Wait {
            process: process.to_owned(),
        })
    }

    /// Wait for the container's init, or, when the shim has already recorded the exit and gone
    /// (nobody was waiting), read `exit.json` from the socket's directory.
    pub fn wait_init(&self) -> Result<ExitStatus, ShimError> {
        match self.wait(crate::protocol::INIT) {
            Err(ShimError::Connect { socket, source }) => self
                .read_exit_file()
                .unwrap_or(Err(ShimError::Connect { socket, source })),
            // The shim went away while we asked (it exits once the container is deleted): a
            // closed connection, or one reset because it closed with our request unread.
            Err(ShimError::Io { socket, source })
                if matches!(
                    source.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                ) =>
            {
                self.read_exit_file()
                    .unwrap_or(Err(ShimError::Io { socket, source }))
            }
            other => other,
        }
    }

    /// `exit.json` next to the socket, if it is there.
    fn read_exit_file(&self) -> Option<Result<ExitStatus, ShimError>> {
        let dir = self.socket.parent()?;
        match ExitStatus::read_from_state_dir(dir) {
            Ok(Some(status)) => Some(Ok(status)),
            Ok(None) => None,
            Err(e) => Some(Err(ShimError::BadReply(e.to_string()))),
        }
    }

    /// Prepare an exec: `process` is an OCI process object.
    pub fn exec_create(
        &self,
        id: &str,
        process: serde_json::Value,
        tty: bool,
        stdin: bool,
    ) -> Result<(), ShimError> {
        self.call::<Empty>(&Request::ExecCreate {
            id: id.to_owned(),
            process,
            tty,
            stdin,
        })
        .map(drop)
    }

    /// Run a prepared exec; returns its pid.
    pub fn exec_start(&self, id: &str) -> Result<i32, ShimError> {
        self.call::<PidReply>(&Request::ExecStart { id: id.to_owned() })
            .map(|reply| reply.pid)
    }

    /// The container's status and init pid.
    pub fn state(&self) -> Result<ShimState, ShimError> {
        self.call(&Request::State)
    }

    /// Attach to `process`; the returned stream carries its output (frames without a tty) and
    /// takes its stdin. Shut down the write side to detach stdin.
    pub fn attach(
        &self,
        process: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<UnixStream, ShimError> {
        let request = Request::Attach {
            process: process.to_owned(),
            stdin,
            stdout,
            stderr,
        };
        self.exchange::<Empty>(&request).map(|(stream, _)| stream)
    }

    /// Send one request and decode the reply's fields as `T`.
    pub fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T, ShimError> {
        self.exchange(request).map(|(_, reply)| reply)
    }

    fn exchange<T: DeserializeOwned>(&self, request: &Request) -> Result<(UnixStream, T), ShimError> {
        let io_error = |source| ShimError::Io {
            socket: self.socket.display().to_string(),
            source,
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(|source| ShimError::Connect {
            socket: self.socket.display().to_string(),
            source,
        })?;
        let mut line = serde_json::to_vec(request).map_err(|e| ShimError::BadReply(e.to_string()))?;
        line.push(b'\n');
        stream.write_all(&line).map_err(io_error)?;
        let reply = read_line(&mut stream).map_err(io_error)?;
        decode_reply(&reply).map(|body| (stream, body))
    }
}

/// Read up to and without the first newline, one byte at a time: after an attach reply the
/// stream's data follows at once and must stay in the socket.
fn read_line(stream: &mut UnixStream) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the shim closed the connection without a reply",
            ));
        }
        if byte[0] == b'\n' {
            return Ok(line);
        }
        if line.len() >= MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the shim's reply is too long",
            ));
        }
        line.push(byte[0]);
    }
}

fn decode_reply<T: DeserializeOwned>(line: &[u8]) -> Result<T, ShimError> {
    let bad = |e: serde_json::Error| ShimError::BadReply(format!("{e}: {}", String::from_utf8_lossy(line)));
    let mut value: serde_json::Value = serde_json::from_slice(line).map_err(bad)?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| ShimError::BadReply(format!("not an object: {}", String::from_utf8_lossy(line))))?;
    match object.remove("ok") {
        Some(serde_json::Value::Bool(true)) => serde_json::from_value(value).map_err(bad),
        Some(serde_json::Value::Bool(false)) => {
            let message = object
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("the shim refused the request");
            Err(ShimError::Refused(message.to_owned()))
        }
        _ => Err(ShimError::BadReply(format!(
            "no \"ok\" field: {}",
            String::from_utf8_lossy(line)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ProcessStatus, error_line, ok_line};

    #[test]
    fn decodes_success_and_refusal() {
        let line = ok_line(&ShimState {
            status: ProcessStatus::Created,
            pid: 12,
        });
        let state: ShimState = decode_reply(line.trim_end().as_bytes()).unwrap();
        assert_eq!(
            state,
            ShimState {
                status: ProcessStatus::Created,
                pid: 12
            }
        );
        let err = decode_reply::<Empty>(error_line("no such process: e1").trim_end().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "no such process: e1");
        assert!(matches!(
            decode_reply::<Empty>(b"[1]"),
            Err(ShimError::BadReply(_))
        ));
        assert!(matches!(
            decode_reply::<Empty>(b"{}"),
            Err(ShimError::BadReply(_))
        ));
    }

    #[test]
    fn command_line_follows_the_contract() {
        let options = ShimOptions {
            shim_binary: "/usr/bin/berth-shim".into(),
            id: "c1".into(),
            bundle: "/b".into(),
            state_dir: "/s".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_root: "/r".into(),
            log_path: "/l.json".into(),
            tty: true,
            stdin: false,
            stdin_once: true,
        };
        let command = options.command();
        let args: Vec<_> = command.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--id",
                "c1",
                "--bundle",
                "/b",
                "--state-dir",
                "/s",
                "--runtime",
                "/usr/sbin/runc",
                "--runtime-root",
                "/r",
                "--log-path",
                "/l.json",
                "--tty",
                "--stdin-once"
            ]
        );
    }

    #[test]
    fn a_missing_shim_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ShimClient::for_state_dir(dir.path()).state().unwrap_err();
        assert!(matches!(err, ShimError::Connect { .. }), "{err}");
    }
}
