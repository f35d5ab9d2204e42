//! Docker's multiplexed stream framing ("stdcopy"), used for attach without a tty.
//!
//! Each frame is an 8-byte header, `[stream, 0, 0, 0, len (u32 big-endian)]`, then `len` bytes of
//! payload. Stream 1 is stdout and 2 is stderr. berthd passes these frames straight to a Docker
//! client (`application/vnd.docker.raw-stream`). With a tty the stream is raw bytes instead.

use std::io::{self, Read};

/// Length of a frame header.
pub const HEADER_LEN: usize = 8;

/// Which output stream a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The process's standard output (1).
    Stdout,
    /// The process's standard error (2).
    Stderr,
}

impl Stream {
    /// The stream byte in a frame header.
    pub fn id(self) -> u8 {
        match self {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        }
    }

    /// The name Docker's json-file log uses (`"stdout"`, `"stderr"`).
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The header of a frame carrying `len` bytes of `stream`.
pub fn header(stream: Stream, len: u32) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = len.to_be_bytes();
    [stream.id(), 0, 0, 0, a, b, c, d]
}

/// Append `payload` as a frame (header and payload) to `out`; an empty payload adds nothing.
pub fn push_frame(out: &mut Vec<u8>, stream: Stream, payload: &[u8]) {
    // Payloads are one read of a pipe (at most a few KiB); split anyway so the length always fits.
    for chunk in payload.chunks(u32::MAX as usize) {
        out.extend_from_slice(&header(stream, chunk.len() as u32));
        out.extend_from_slice(chunk);
    }
}

/// Reads frames back from a multiplexed stream (for clients and tests).
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
}

impl<R: Read> FrameReader<R> {
    /// Read frames from `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }

    /// The next frame, or `None` at a clean end of stream.
    ///
    /// A stream id other than 1 or 2, or a stream that ends inside a frame, is an
    /// `InvalidData`/`UnexpectedEof` error.
    pub fn next_frame(&mut self) -> io::Result<Option<(Stream, Vec<u8>)>> {
        let mut head = [0u8; HEADER_LEN];
        let mut filled = 0;
        while filled < HEADER_LEN {
            let n = self.inner.read(&mut head[filled..])?;
            if n == 0 {
                if filled == 0 {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
        let stream = match head[0] {
            1 => Stream::Stdout,
            2 => Stream::Stderr,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown stream {other} in a frame header"),
                ));
            }
        };
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let mut payload = vec![0u8; len];
        self.inner.read_exact(&mut payload)?;
        Ok(Some((stream, payload)))
    }

    /// Read every frame until the end, concatenating stdout and stderr separately.
    pub fn read_to_end(&mut self) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some((stream, payload)) = self.next_frame()? {
            match stream {
                Stream::Stdout => stdout.extend_from_slice(&payload),
                Stream::Stderr => stderr.extend_from_slice(&payload),
            }
        }
        Ok((stdout, stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_docker_layout() {
        assert_eq!(header(Stream::Stdout, 5), [1, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(header(Stream::Stderr, 0x0102_0304), [2, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn frames_round_trip() {
        let mut out = Vec::new();
        push_frame(&mut out, Stream::Stdout, b"hello\n");
        push_frame(&mut out, Stream::Stderr, b"oops\n");
        push_frame(&mut out, Stream::Stdout, b"");
        assert_eq!(out.len(), 2 * HEADER_LEN + 11);
        let mut reader = FrameReader::new(&out[..]);
        assert_eq!(
            reader.next_frame().unwrap(),
            Some((Stream::Stdout, b"hello\n".to_vec()))
        );
        assert_eq!(
            reader.next_frame().unwrap(),
            Some((Stream::Stderr, b"oops\n".to_vec()))
        );
        assert_eq!(reader.next_frame().unwrap(), None);
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut out = Vec::new();
        push_frame(&mut out, Stream::Stdout, b"hello");
        out.truncate(10);
        let err = FrameReader::new(&out[..]).next_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = FrameReader::new(&out[..3]).next_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn unknown_stream_is_an_error() {
        let bytes = [7u8, 0, 0, 0, 0, 0, 0, 0];
        let err = FrameReader::new(&bytes[..]).next_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
