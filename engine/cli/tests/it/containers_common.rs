//! Helpers for the container tests: a command on a real pseudo-terminal, output awaited line by
//! line, and what a container leaves in the kernel.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen at once (a generous bound that only
/// stops a broken test from hanging; no test depends on it for its result).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Text arriving from a reader (a pty master or a pipe), gathered on a thread.
pub struct Gathered {
    chunks: mpsc::Receiver<Vec<u8>>,
    pub text: String,
}

impl Gathered {
    pub fn new(mut reader: impl Read + Send + 'static) -> Gathered {
        let (sender, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // A pty master reads EIO once every slave fd is closed: that is its EOF.
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Gathered {
            chunks,
            text: String::new(),
        }
    }

    /// Wait until the gathered text contains `needle`; false if the stream ended without it.
    pub fn wait_for(&mut self, needle: &str) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while !self.text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return false,
            }
        }
        true
    }

    /// Wait until `needle` appears at or after byte `from` of the gathered text.
    pub fn wait_for_after(&mut self, needle: &str, from: usize) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while !self.text.get(from..).is_some_and(|t| t.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return false,
            }
        }
        true
    }

    /// Everything until the stream ends.
    pub fn rest(&mut self) -> &str {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return &self.text,
            }
        }
    }
}

/// A command running on the slave side of a new pty pair (its controlling terminal), driven
/// through the master like a user at a terminal.
pub struct PtySession {
    child: Child,
    master: std::fs::File,
    pub output: Gathered,
}

impl PtySession {
    /// Start `command` on a new pty of `rows`×`columns`.
    pub fn spawn(mut command: Command, rows: u16, columns: u16) -> PtySession {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("open a pty pair");
        let slave: OwnedFd = pty.slave;
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        command
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        // SAFETY: between fork and exec the child only calls setsid and ioctl, both
        // async-signal-safe, on its own stdin (the pty slave dup'ed onto fd 0).
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start the command on the pty");
        drop(slave);
        let master = std::fs::File::from(pty.master);
        let reader = master.try_clone().expect("dup the pty master");
        PtySession {
            child,
            master,
            output: Gathered::new(reader),
        }
    }

    /// Type `text` at the terminal.
    pub fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).expect("write to the pty");
    }

    /// Resize the terminal: the kernel sends SIGWINCH to the command.
    pub fn resize(&mut self, rows: u16, columns: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the struct, which lives for the call; the
        // master fd is open.
        let result = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(result, 0, "resize the pty");
    }

    /// Run `stty size` in the shell on this terminal until it answers `rows columns` (the size
    /// reaches the container's pty a moment after start or SIGWINCH); false if it never does.
    pub fn stty_size_becomes(&mut self, rows: u16, columns: u16) -> bool {
        let wanted = format!("{rows} {columns}\r\n");
        for _ in 0..50 {
            let mark = self.output.text.len();
            self.type_text("stty size\n");
            // The answer, then the next prompt.
            if !self.output.wait_for_after("\r\n", mark + "stty size".len())
                || !self.output.wait_for_after("# ", mark + "stty size".len())
            {
                return false;
            }
            if self.output.text[mark..].contains(&wanted) {
                return true;
            }
        }
        false
    }

    /// Wait for the command to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_with_patience(&mut self.child)
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Wait for a child, killing it if it outlasts [`PATIENCE`] (then the test fails on its status).
pub fn wait_with_patience(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return child.wait().expect("wait for the killed child");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed (if still running) when the test ends, however it ends.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The cgroup directories a container may have (v1 controllers and the v2 tree), by full id.
pub fn cgroup_dirs(id: &str) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for entry in entries.flatten() {
            let dir = entry.path().join("berth").join(id);
            if dir.exists() {
                dirs.push(dir);
            }
        }
    }
    let v2 = std::path::Path::new("/sys/fs/cgroup/berth").join(id);
    if v2.exists() && !dirs.contains(&v2) {
        dirs.push(v2);
    }
    dirs
}

/// Mount points whose source or target mention `needle`.
pub fn mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Processes whose command line mentions `needle` (a shim names its container's id).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let own = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == own {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}
