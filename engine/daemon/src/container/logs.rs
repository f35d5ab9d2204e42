//! `docker logs`: read the json-file log the shim writes, and follow it while the container runs.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use berth_shim::frame::{Stream, push_frame};
use berth_shim::json_log::LogEntry;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ContainerError, Containers};

/// What `GET /containers/{id}/logs` asks for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only lines at or after this Unix time.
    pub since: Option<f64>,
    /// Only lines before this Unix time.
    pub until: Option<f64>,
}

/// How often a followed log is checked for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(50);

fn unix_of(rfc3339: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
        .unwrap_or(0.0)
}

/// A log time as Docker prints it with `--timestamps`: always nine fraction digits
/// (Go's `RFC3339NanoFixed`), though the json-file log trims trailing zeros.
fn fixed_nanos(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(time) => time
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.9fZ")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

impl LogOptions {
    fn wants(&self, entry: &LogEntry) -> bool {
        let stream_ok = match entry.stream.as_str() {
            "stderr" => self.stderr,
            _ => self.stdout,
        };
        let time = unix_of(&entry.time);
        stream_ok && self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }

    /// One entry as the client receives it: framed without a tty, raw with one.
    fn render(&self, entry: &LogEntry, tty: bool, out: &mut Vec<u8>) {
        let mut text = String::new();
        if self.timestamps {
            text.push_str(&fixed_nanos(&entry.time));
            text.push(' ');
        }
        text.push_str(&entry.log);
        if tty {
            out.extend_from_slice(text.as_bytes());
        } else {
            let stream = if entry.stream == "stderr" {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            push_frame(out, stream, text.as_bytes());
        }
    }
}

impl Containers {
    /// Stream a container's log: returns whether it has a tty (raw output) and the chunks.
    pub fn logs(
        &self,
        name: &str,
        options: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<Bytes>), ContainerError> {
        if !options.stdout && !options.stderr {
            return Err(ContainerError::BadRequest(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        let container = self.get(name)?;
        let record = container.record();
        let (sender, receiver) = mpsc::channel(16);
        let mut exits = container.exits.subscribe();
        exits.mark_unchanged();
        let reader = LogReader {
            path: container.paths.log(&record.id),
            options,
            tty: record.config.tty,
            sender,
            exits,
            removed: container.removed.subscribe(),
            running_at_start: record.state.status.is_running(),
        };
        // Files are read on a blocking thread, never on the async workers.
        tokio::task::spawn_blocking(move || reader.stream());
        Ok((record.config.tty, receiver))
    }
}

/// Longest log line read; a longer one (the shim never writes one) is skipped.
const MAX_LINE: usize = 1 << 20;
/// How much of the log is read at a time when looking for its last lines.
const TAIL_BLOCK: u64 = 64 * 1024;
/// How much rendered output is gathered before it is sent on.
const SEND_CHUNK: usize = 64 * 1024;

/// One `logs` request's reader, on its blocking thread.
struct LogReader {
    path: std::path::PathBuf,
    options: LogOptions,
    tty: bool,
    sender: mpsc::Sender<Bytes>,
    exits: tokio::sync::watch::Receiver<u64>,
    removed: tokio::sync::watch::Receiver<bool>,
    running_at_start: bool,
}

impl LogReader {
    fn stream(self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        // With --tail N, start at the N-th wanted line from the end (found reading backwards,
        // never the whole log into memory).
        if let Some(n) = self.options.tail {
            let start = last_lines_start(&mut file, n, &self.options).unwrap_or(0);
            if file.seek(SeekFrom::Start(start)).is_err() {
                return;
            }
        }
        let mut reader = BufReader::new(file);
        if self.send_lines(&mut reader).is_err() || !self.options.follow {
            return;
        }
        // Once the container has stopped, one last pass drains what it wrote before.
        let mut stopped = !self.running_at_start;
        loop {
            if self.send_lines(&mut reader).is_err() || stopped {
                return;
            }
            std::thread::sleep(FOLLOW_POLL);
            if self.sender.is_closed() {
                return;
            }
            stopped = self.exits.has_changed().unwrap_or(true) || self.removed.has_changed().unwrap_or(true);
        }
    }

    /// Render and send every complete line from where `reader` is; a partial last line is left
    /// for the next pass. Errs when the client went away.
    fn send_lines(&self, reader: &mut BufReader<std::fs::File>) -> Result<(), ()> {
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = read_line_limited(reader, &mut line);
            match read {
                Ok(Line::Complete) => {
                    if let Ok(entry) = serde_json::from_slice::<LogEntry>(&line) {
                        if self.options.wants(&entry) {
                            self.options.render(&entry, self.tty, &mut out);
                        }
                    }
                    if out.len() >= SEND_CHUNK {
                        self.sender
                            .blocking_send(Bytes::from(std::mem::take(&mut out)))
                            .map_err(|_| ())?;
                    }
                }
                Ok(Line::TooLong) => {}
                Ok(Line::Partial(read)) => {
                    // Read again once the shim finishes writing it.
                    let _ = reader.seek_relative(-(read as i64));
                    break;
                }
                Err(_) => break,
            }
        }
        if !out.is_empty() {
            self.sender.blocking_send(Bytes::from(out)).map_err(|_| ())?;
        }
        Ok(())
    }
}

/// What reading one line found.
enum Line {
    /// A line with its newline (in the buffer, without it).
    Complete,
    /// A line longer than [`MAX_LINE`], skipped through its newline.
    TooLong,
    /// The end of the file came first: this many bytes of an unfinished line were read.
    Partial(usize),
}

/// Read one line into `line`, holding at most [`MAX_LINE`] bytes of it.
fn read_line_limited(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<Line> {
    let mut read = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Partial(read)
            });
        }
        let (part, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], at + 1),
            None => (available, available.len()),
        };
        if !too_long && line.len() + part.len() <= MAX_LINE {
            line.extend_from_slice(part);
        } else {
            too_long = true;
            line.clear();
        }
        let ended = done > part.len();
        reader.consume(done);
        read += done;
        if ended {
            return Ok(if too_long { Line::TooLong } else { Line::Complete });
        }
    }
}

/// Where the last `n` wanted lines of the log begin: the file read backwards a block at a time,
/// lines counted from the end (an unfinished last line does not count).
fn last_lines_start(file: &mut std::fs::File, n: usize, options: &LogOptions) -> std::io::Result<u64> {
    use std::io::Read;
    if n == 0 {
        return file.seek(SeekFrom::End(0));
    }
    let len = file.seek(SeekFrom::End(0))?;
    let mut end = len;
    // Bytes after the block being read, up to the first newline in them (the line the next
    // block ends).
    let mut carry: Vec<u8> = Vec::new();
    let mut found = 0;
    let mut seen_last_newline = false;
    while end > 0 {
        let start = end.saturating_sub(TAIL_BLOCK);
        let mut block = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        block.extend_from_slice(&carry);
        // Newlines in this block, last first: each ends a line that begins after the one before.
        let newlines: Vec<usize> = block
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let mut line_end = block.len();
        for &at in newlines.iter().rev() {
            if !seen_last_newline {
                // What follows the log's last newline is unfinished: not a line yet.
                seen_last_newline = true;
                line_end = at;
                continue;
            }
            let line = &block[at + 1..line_end];
            if serde_json::from_slice::<LogEntry>(line).is_ok_and(|e| options.wants(&e)) {
                found += 1;
                if found == n {
                    return Ok(start + at as u64 + 1);
                }
            }
            line_end = at;
        }
        carry = block[..line_end].to_vec();
        if carry.len() > MAX_LINE + TAIL_BLOCK as usize {
            // A line longer than any the shim writes: not a line to count.
            carry.clear();
        }
        end = start;
    }
    // Fewer than `n` wanted lines: all of them, from the start.
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> String {
        format!(
            "{{\"log\":\"line {n}\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T05:22:55.{n:09}Z\"}}\n"
        )
    }

    fn all() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            ..LogOptions::default()
        }
    }

    #[test]
    fn the_last_lines_are_found_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        // Many blocks' worth of lines, and an unfinished one at the end.
        let text: String = (0..20_000).map(entry).collect::<String>() + "{\"log\":\"unfin";
        std::fs::write(&path, &text).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let start = last_lines_start(&mut file, 3, &all()).unwrap() as usize;
        assert_eq!(
            &text[start..],
            (19_997..20_000).map(entry).collect::<String>() + "{\"log\":\"unfin"
        );
        // More lines asked than there are: all of them.
        assert_eq!(last_lines_start(&mut file, 1_000_000, &all()).unwrap(), 0);
        assert_eq!(
            last_lines_start(&mut file, 0, &all()).unwrap() as usize,
            text.len()
        );
        // Only stderr is wanted, and there is none: from the start, which holds nothing wanted.
        let stderr = LogOptions {
            stderr: true,
            ..LogOptions::default()
        };
        assert_eq!(last_lines_start(&mut file, 2, &stderr).unwrap(), 0);
    }

    #[test]
    fn a_line_too_long_is_skipped_and_an_unfinished_one_waits() {
        let text = format!("{}\nshort\nunfinished", "x".repeat(MAX_LINE + 10));
        let mut reader = BufReader::new(std::io::Cursor::new(text.into_bytes()));
        let mut line = Vec::new();
        assert!(matches!(
            read_line_limited(&mut reader, &mut line),
            Ok(Line::TooLong)
        ));
        line.clear();
        assert!(matches!(
            read_line_limited(&mut reader, &mut line),
            Ok(Line::Complete)
        ));
        assert_eq!(line, b"short");
        line.clear();
        assert!(matches!(
            read_line_limited(&mut reader, &mut line),
            Ok(Line::Partial(10))
        ));
    }

    #[test]
    fn timestamps_keep_nine_digits() {
        assert_eq!(
            fixed_nanos("2026-11-28T05:22:55.60851738Z"),
            "2026-11-28T05:22:55.608517380Z"
        );
        assert_eq!(
            fixed_nanos("2026-11-28T05:22:55Z"),
            "2026-11-28T05:22:55.000000000Z"
        );
    }
}
