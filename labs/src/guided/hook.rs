//! The hook's protocol: how the trainee's shell tells lab what happened, and gets its answer.
//!
//! The shell's rc (`lab.bashrc`) runs `lab __hook report STATUS STARTED ENDED PWD LINE` before
//! each prompt that follows a command, and `lab __hook ask WORD` for the lab's own words
//! (`step`, `hint`, `check`, `explain`, `skip`). That client sends one JSON line to lab over
//! the session's UNIX socket and copies what lab answers to the terminal until lab closes the
//! connection; lab writes the prompt and whether the lab is over to the state file the rc reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The socket's path, for the client.
pub const SOCKET_ENV: &str = "__LAB_SOCKET";

/// What the shell tells lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// A command line ran.
    Report(Report),
    /// One of the lab's words was typed.
    Ask(String),
}

/// One command line, as the shell saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// As typed (one history entry: a pipeline, `a; b`, a multi-line command).
    pub line: String,
    pub status: i32,
    /// Unix seconds, from bash's `$EPOCHREALTIME`.
    pub started: f64,
    pub ended: f64,
    /// Where the shell is now.
    pub pwd: PathBuf,
}

impl Report {
    /// Parse the rc's arguments: STATUS STARTED ENDED PWD LINE, the line as `history 1` shows
    /// it (`  42  docker ps`).
    pub fn from_args(args: &[String]) -> Option<Report> {
        let [status, started, ended, pwd, line] = args else {
            return None;
        };
        Some(Report {
            line: without_history_number(line).to_owned(),
            status: status.parse().ok()?,
            started: seconds(started)?,
            ended: seconds(ended)?,
            pwd: PathBuf::from(pwd),
        })
    }
}

/// `  42  docker ps` → `docker ps`.
fn without_history_number(entry: &str) -> &str {
    let rest = entry.trim_start();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return entry.trim();
    }
    // A history entry that was edited after recall is marked `*` after its number.
    rest[digits..].trim_start_matches('*').trim()
}

/// `$EPOCHREALTIME`: seconds with a fraction, its separator the locale's (`.` or `,`).
fn seconds(text: &str) -> Option<f64> {
    text.replace(',', ".").parse().ok()
}

/// The client: `lab __hook report …` or `lab __hook ask WORD`. Sends the request, prints what
/// lab answers. Exits 0 whatever happens: a broken hook must never break the trainee's shell.
pub fn client_main(args: &[String]) -> std::process::ExitCode {
    let request = match args.first().map(String::as_str) {
        Some("report") => Report::from_args(&args[1..]).map(Request::Report),
        Some("ask") => args.get(1).map(|word| Request::Ask(word.clone())),
        _ => None,
    };
    let Some(request) = request else {
        eprintln!("lab __hook: usage: report STATUS STARTED ENDED PWD LINE | ask WORD");
        return std::process::ExitCode::SUCCESS;
    };
    let Some(socket) = std::env::var_os(SOCKET_ENV) else {
        return std::process::ExitCode::SUCCESS;
    };
    if let Err(e) = exchange(Path::new(&socket), &request) {
        eprintln!(
            "lab is not listening ({e}): your commands are not checked; `exit` and run `lab run` again"
        );
    }
    std::process::ExitCode::SUCCESS
}

fn exchange(socket: &Path, request: &Request) -> std::io::Result<()> {
    let mut stream = UnixStream::connect(socket)?;
    // A check may wait for a server to come up, but never forever.
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut stdout = std::io::stdout().lock();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        stdout.write_all(&chunk[..n])?;
        stdout.flush()?;
    }
}

/// What lab does with each request; the answer is written to `out` (the trainee's terminal,
/// through the client) as it comes.
pub trait Listener {
    fn handle(&mut self, request: Request, out: &mut dyn Write);
}

/// The server side: a socket that answers one request at a time, until [`Server::stop`].
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    stopping: Arc<AtomicBool>,
}

/// Stops a [`Server`] from another thread.
#[derive(Clone)]
pub struct StopHandle {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
}

impl StopHandle {
    /// Make the server's loop end (it wakes on a connection of our own).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path);
    }
}

impl Server {
    /// Listen at `path` (a stale socket from an earlier run is replaced).
    pub fn bind(path: &Path) -> std::io::Result<Server> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        Ok(Server {
            listener,
            path: path.to_owned(),
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            path: self.path.clone(),
            stopping: self.stopping.clone(),
        }
    }

    /// Answer requests until stopped.
    pub fn serve(&self, listener: &mut dyn Listener) {
        for stream in self.listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let Ok(request) = serde_json::from_str::<Request>(&line) else {
                continue;
            };
            let mut out = &stream;
            listener.handle(request, &mut out);
            let _ = out.flush();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_entries_lose_their_numbers() {
        assert_eq!(without_history_number("  42  docker ps"), "docker ps");
        assert_eq!(without_history_number(" 7* docker ps -a"), "docker ps -a");
        assert_eq!(without_history_number("docker ps"), "docker ps");
        assert_eq!(
            without_history_number("  3  echo 1\n2"),
            "echo 1\n2",
            "a multi-line command stays whole"
        );
    }

    #[test]
    fn reports_parse_from_the_rcs_arguments() {
        let args: Vec<String> = ["130", "1700000000,5", "1700000001.25", "/tmp", "  9  sleep 100"]
            .map(String::from)
            .to_vec();
        let report = Report::from_args(&args).unwrap();
        assert_eq!(report.status, 130);
        assert_eq!(report.started, 1_700_000_000.5);
        assert_eq!(report.ended, 1_700_000_001.25);
        assert_eq!(report.line, "sleep 100");
        assert!(Report::from_args(&args[1..]).is_none());
    }

    #[test]
    fn a_request_is_answered_through_the_socket() {
        struct Echo;
        impl Listener for Echo {
            fn handle(&mut self, request: Request, out: &mut dyn Write) {
                let _ = writeln!(out, "got {request:?}");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.sock");
        let server = Server::bind(&path).unwrap();
        let stop = server.stop_handle();
        std::thread::scope(|scope| {
            scope.spawn(|| server.serve(&mut Echo));
            let mut stream = UnixStream::connect(&path).unwrap();
            stream.write_all(b"{\"ask\":\"hint\"}\n").unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert_eq!(answer, "got Ask(\"hint\")\n");
            stop.stop();
        });
        assert!(!path.exists(), "the socket is removed when the server stops");
    }
}
