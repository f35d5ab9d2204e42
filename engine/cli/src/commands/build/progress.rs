//! The client's own progress lines, as docker/cli writes them through Docker's
//! `progress.Reader` and raw progress formatter: `Sending build context to Docker daemon
//! 3.072kB` and `Downloading build context from remote url: URL [====>] 31B/31B`. Each draw
//! ends in `\r` (the next one overwrites it on a terminal); the last one is followed by `\r\n`.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where progress text goes: stdout, or kept aside (`-q`: shown on stderr if the build fails).
#[derive(Clone)]
pub enum Sink {
    Stdout,
    Kept(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    pub fn write(&self, text: &str) {
        match self {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            Sink::Kept(buffer) => buffer
                .lock()
                .expect("the progress buffer is never poisoned")
                .extend_from_slice(text.as_bytes()),
        }
    }

    /// What was kept aside, as text.
    pub fn kept(&self) -> String {
        match self {
            Sink::Stdout => String::new(),
            Sink::Kept(buffer) => {
                String::from_utf8_lossy(&buffer.lock().expect("never poisoned")).into_owned()
            }
        }
    }
}

/// Progress of one transfer.
pub struct Progress {
    action: String,
    /// Bytes expected, 0 when unknown.
    total: u64,
    sink: Sink,
    /// Only the final line (docker/cli's `lastProgressOutput`, for a stdout that is no terminal).
    last_only: bool,
    current: u64,
    last_update: u64,
    /// Docker's progress reader draws at most every 100ms (its rate limiter, a token each
    /// 100ms), but always when the count reaches the total (without taking a token).
    last_token: Option<Instant>,
}

impl Progress {
    pub fn new(action: impl Into<String>, total: u64, sink: Sink, last_only: bool) -> Progress {
        Progress {
            action: action.into(),
            total,
            sink,
            last_only,
            current: 0,
            last_update: 0,
            last_token: None,
        }
    }

    /// `Sending build context to Docker daemon`: to `sink`, only the last line unless stdout
    /// is a terminal.
    pub fn sending(sink: Sink) -> Progress {
        let last_only = !io::stdout().is_terminal();
        Progress::new("Sending build context to Docker daemon", 0, sink, last_only)
    }

    /// `n` more bytes went through.
    pub fn advance(&mut self, n: usize) {
        self.current += n as u64;
        // Every 512 KiB, or every 1% of a known total when that is less.
        let mut every = 512 * 1024;
        if self.total > 0 {
            every = every.min(self.total / 100);
        }
        if self.current - self.last_update > every {
            if self.current == self.total || self.take_token() {
                self.draw();
            }
            self.last_update = self.current;
        }
    }

    /// The transfer ended: the last line, then `\r\n`.
    pub fn finish(mut self) {
        self.last_only = false;
        self.draw();
        self.sink.write("\r\n");
    }

    /// The rate limiter's `Allow`.
    fn take_token(&mut self) -> bool {
        let due = self
            .last_token
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if due {
            self.last_token = Some(Instant::now());
        }
        due
    }

    fn draw(&mut self) {
        if self.last_only {
            return;
        }
        let counts = counts(self.current, self.total, stdin_width());
        let endl = if counts.is_empty() { "\r\n" } else { "\r" };
        self.sink.write(&format!("{} {counts}{endl}", self.action));
    }
}

/// go-units `HumanSize`.
fn human(bytes: u64) -> String {
    crate::format::human_size_with_precision(bytes as f64, 4)
}

/// Docker's `JSONProgress.String`: the count alone when the total is unknown, else a bar
/// (when `width` is over 110) and `current/total`.
fn counts(current: u64, total: u64, width: usize) -> String {
    if current == 0 && total == 0 {
        return String::new();
    }
    if total == 0 {
        return format!("{:>8}", human(current));
    }
    let percentage = ((current as f64 / total as f64 * 100.0) as usize / 2).min(50);
    let bar = if width > 110 {
        format!("[{}>{}] ", "=".repeat(percentage), " ".repeat(50 - percentage))
    } else {
        String::new()
    };
    let numbers = if current > total {
        format!("{:>8}", human(current))
    } else {
        format!("{:>8}/{}", human(current), human(total))
    };
    bar + &numbers
}

/// The width Docker's progress measures: that of the terminal on fd 0 (it never sets another),
/// 200 when fd 0 is no terminal.
fn stdin_width() -> usize {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a `winsize` into the one we own, and fails harmlessly on a
    // descriptor that is not a terminal.
    let ok = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok { usize::from(size.ws_col) } else { 200 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_docker_prints_them() {
        assert_eq!(counts(3072, 0, 200), " 3.072kB");
        assert_eq!(counts(512, 0, 200), "    512B");
        assert_eq!(counts(0, 0, 200), "");
        assert_eq!(counts(31, 31, 200), format!("[{}>]      31B/31B", "=".repeat(50)));
        assert_eq!(counts(10, 40, 80), "     10B/40B");
    }

    #[test]
    fn without_a_terminal_only_the_last_line_is_written() {
        let kept = Sink::Kept(Arc::default());
        let mut progress = Progress::new("Sending", 0, kept.clone(), true);
        progress.advance(600 * 1024);
        progress.advance(10);
        progress.finish();
        assert_eq!(kept.kept(), "Sending  614.4kB\r\r\n");
    }
}
