//! Docker's json-file log format, as the shim writes it for the init process.
//!
//! One JSON object per line: `{"log":"text\n","stream":"stdout","time":"2026-…Z"}`. Output is cut
//! into entries at each `"\n"` (kept in `log`) and, like Docker's log copier with its 16 KiB
//! buffer, after 16 KiB without one (that entry has no newline). Whatever is left when a stream
//! ends is written as a last entry without a newline. With a tty everything is `stdout` and lines
//! end in `"\r\n"` as the pty produces them. `time` is Go's RFC3339Nano in UTC.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::frame::Stream;
use crate::timefmt;

/// The longest entry: Docker's log copier buffer size.
pub const MAX_ENTRY: usize = 16 * 1024;

/// One line of a json-file log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The text, with its trailing newline when it had one.
    pub log: String,
    /// `"stdout"` or `"stderr"`.
    pub stream: String,
    /// When the shim read it: Go's RFC3339Nano, UTC.
    pub time: String,
}

/// Cuts a byte stream into log entries: at each newline, or after [`MAX_ENTRY`] bytes without one.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Add bytes read from the stream; `emit` gets each complete entry.
    pub fn push(&mut self, data: &[u8], mut emit: impl FnMut(&[u8])) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            // Docker never sees a newline beyond its 16 KiB buffer, so neither do we.
            let window = &rest[..rest.len().min(MAX_ENTRY)];
            if let Some(newline) = window.iter().position(|&b| b == b'\n') {
                emit(&rest[..=newline]);
                start += newline + 1;
            } else if rest.len() >= MAX_ENTRY {
                emit(&rest[..MAX_ENTRY]);
                start += MAX_ENTRY;
            } else {
                break;
            }
        }
        self.pending.drain(..start);
    }

    /// The stream ended: `emit` gets the unfinished last line, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.pending);
            self.pending.clear();
        }
    }
}

/// Writes both streams of a process to a json-file log, one `write` per entry.
#[derive(Debug)]
pub struct JsonLogWriter<W> {
    out: W,
    stdout: LineSplitter,
    stderr: LineSplitter,
}

impl<W: Write> JsonLogWriter<W> {
    /// Write entries to `out` (the log file, opened for appending).
    pub fn new(out: W) -> Self {
        Self {
            out,
            stdout: LineSplitter::default(),
            stderr: LineSplitter::default(),
        }
    }

    /// Log bytes read from `stream`.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let (splitter, out) = self.parts(stream);
        let mut result = Ok(());
        splitter.push(data, |entry| {
            if result.is_ok() {
                result = write_entry(out, stream, entry);
            }
        });
        result
    }

    /// `stream` ended: log its unfinished last line.
    pub fn finish(&mut self, stream: Stream) -> io::Result<()> {
        let (splitter, out) = self.parts(stream);
        let mut result = Ok(());
        splitter.finish(|entry| result = write_entry(out, stream, entry));
        result
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn parts(&mut self, stream: Stream) -> (&mut LineSplitter, &mut W) {
        match stream {
            Stream::Stdout => (&mut self.stdout, &mut self.out),
            Stream::Stderr => (&mut self.stderr, &mut self.out),
        }
    }
}

fn write_entry(out: &mut impl Write, stream: Stream, bytes: &[u8]) -> io::Result<()> {
    let entry = LogEntry {
        // Go's encoder replaces invalid UTF-8 with U+FFFD too.
        log: String::from_utf8_lossy(bytes).into_owned(),
        stream: stream.name().to_owned(),
        time: timefmt::now_rfc3339_nano(),
    };
    let mut line = serde_json::to_vec(&entry).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut entries = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |e| entries.push(e.to_vec()));
        }
        splitter.finish(|e| entries.push(e.to_vec()));
        entries
    }

    #[test]
    fn splits_at_newlines_across_chunks() {
        let entries = split(&[b"hel", b"lo\nwor", b"ld\n\nend"]);
        assert_eq!(
            entries,
            vec![
                b"hello\n".to_vec(),
                b"world\n".to_vec(),
                b"\n".to_vec(),
                b"end".to_vec()
            ]
        );
    }

    #[test]
    fn splits_long_lines_at_16k() {
        let mut long = vec![b'a'; 20_000];
        long.push(b'\n');
        let entries = split(&[&long]);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].len(), MAX_ENTRY);
        assert!(!entries[0].contains(&b'\n'));
        assert_eq!(entries[1].len(), 20_001 - MAX_ENTRY);
        assert!(entries[1].ends_with(b"\n"));
    }

    #[test]
    fn a_newline_just_past_16k_starts_its_own_entry() {
        let mut line = vec![b'a'; MAX_ENTRY];
        line.push(b'\n');
        let entries = split(&[&line]);
        assert_eq!(entries, vec![vec![b'a'; MAX_ENTRY], b"\n".to_vec()]);
    }

    #[test]
    fn keeps_carriage_returns_of_a_tty() {
        assert_eq!(split(&[b"hi\r\n"]), vec![b"hi\r\n".to_vec()]);
    }

    #[test]
    fn writer_emits_docker_json_lines() {
        let mut writer = JsonLogWriter::new(Vec::new());
        writer.write(Stream::Stdout, b"out\npart").unwrap();
        writer.write(Stream::Stderr, b"err\n").unwrap();
        writer.finish(Stream::Stdout).unwrap();
        writer.finish(Stream::Stderr).unwrap();
        let text = String::from_utf8(writer.get_ref().clone()).unwrap();
        let entries: Vec<LogEntry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.log.as_str(), e.stream.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![("out\n", "stdout"), ("err\n", "stderr"), ("part", "stdout")]
        );
        for entry in &entries {
            assert!(
                chrono::DateTime::parse_from_rfc3339(&entry.time).is_ok(),
                "{}",
                entry.time
            );
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut writer = JsonLogWriter::new(Vec::new());
        writer.write(Stream::Stdout, b"a\xffb\n").unwrap();
        let entry: LogEntry = serde_json::from_slice(writer.get_ref().strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(entry.log, "a\u{fffd}b\n");
    }
}
